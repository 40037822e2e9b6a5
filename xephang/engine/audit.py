"""The setup audit: who changed which part of an office's setup, and when.

Every setup change (offices, services, counters, priority, targets,
settings, users, devices) writes its audit row with ``record`` inside the
change's own transaction: a change is never committed without its line.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from ..clock import iso, resolve_now


def record(
    db: sqlite_utils.Database,
    office_id: int | None,
    user_id: int | None,
    action: str,
    details: dict | None = None,
    now: datetime | None = None,
) -> None:
    """Append a line to the setup audit (caller's transaction)."""
    db.execute(
        "INSERT INTO setup_audit (office_id, user_id, action, details, at) VALUES (?, ?, ?, ?, ?)",
        [
            office_id,
            user_id,
            action,
            json.dumps(details or {}, ensure_ascii=False, default=str),
            iso(resolve_now(now)),
        ],
    )
