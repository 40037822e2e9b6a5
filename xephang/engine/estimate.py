"""The wait estimate a citizen is shown: people ahead and how long they will take.

An estimate shown to a citizen is a promise (DESIGN): each person ahead
takes the service's recent mean counter time (call to finish), shared
among the open counters that serve the service.
"""

from __future__ import annotations

import math
from datetime import datetime

import sqlite_utils

from ..clock import day_bounds
from ..storage import scalar
from .order import people_ahead

MIN_SERVICE_S = 30.0


def recent_service_time(
    db: sqlite_utils.Database, service_id: int, day: str, default_s: int, window: int = 20
) -> float:
    """Mean service time (finish − call) of the service's last tickets finished today."""
    timezone = scalar(
        db,
        "SELECT o.timezone FROM services s JOIN offices o ON o.id = s.office_id WHERE s.id = ?",
        [service_id],
    )
    if timezone is None:
        return float(default_s)
    # The partial index tickets_done_recent (service_id, finished_at) WHERE
    # status = 'done' hands over the newest finishes first: `window` rows read.
    rows = db.execute(
        "SELECT called_at, finished_at FROM tickets WHERE service_id = ? AND status = 'done'"
        " AND finished_at >= ? ORDER BY finished_at DESC LIMIT ?",
        [service_id, day_bounds(day, timezone)[0], window],
    ).fetchall()
    if not rows:
        return float(default_s)
    total = sum(
        (datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() for c, f in rows
    )
    return max(total / len(rows), MIN_SERVICE_S)


def open_counters(db: sqlite_utils.Database, service_id: int) -> int:
    """Active, open counters that serve a service."""
    return scalar(
        db,
        "SELECT count(*) FROM counters c JOIN counter_services cs ON cs.counter_id = c.id"
        " WHERE cs.service_id = ? AND c.active AND c.state = 'open'",
        [service_id],
    )


def estimate_wait(
    db: sqlite_utils.Database, ticket: dict, default_service_s: int = 300
) -> tuple[int, int]:
    """(people ahead, estimated wait in seconds) for a waiting ticket."""
    ahead = people_ahead(db, ticket)
    counters = open_counters(db, ticket["service_id"])
    per_person = recent_service_time(db, ticket["service_id"], ticket["day"], default_service_s)
    wait = ahead * per_person / max(counters, 1)
    return ahead, int(math.ceil(wait))
