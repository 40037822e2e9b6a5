"""Targets with effective dates: the average wait and the satisfaction share an office owes.

The target in force on a day is the latest one effective on or before that
day; a service's own target wins over the office's. ``Targets`` is that
rule, read once per report or screen; ``set_target`` and ``delete_target``
change the table (audited).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date

import sqlite_utils

from ..errors import BadInputError, ConflictError, NotFoundError
from ..storage import one, write
from . import audit
from .lookups import get_office

METRICS = ("avg_wait_s", "satisfied_share")
# A new office's targets: 30 minutes from 2022, 15 minutes from 2023, 95% satisfied.
DEFAULT_TARGETS = (
    ("avg_wait_s", 1800, "2022-01-01"),
    ("avg_wait_s", 900, "2023-01-01"),
    ("satisfied_share", 0.95, "2022-01-01"),
)


class Targets:
    """An office's targets, resolved for any day and service."""

    def __init__(self, db: sqlite_utils.Database, office_id: int) -> None:
        self.rows = [
            (r[0], r[1], r[2], r[3], r[4])
            for r in db.execute(
                "SELECT metric, service_id, effective_from, id, value FROM targets"
                " WHERE office_id = ?",
                [office_id],
            ).fetchall()
        ]
        # Service-specific first, then latest effective date, then latest row.
        self.rows.sort(key=lambda r: (r[1] is None, _neg_date(r[2]), -r[3]))
        self._dates = sorted({r[2] for r in self.rows})
        self._cache: dict = {}

    def on(self, metric: str, day: str, service_id: int | None = None):
        """The target value in force on a day (a service's own target wins)."""
        key = (metric, day, service_id)
        if key not in self._cache:
            value = None
            for m, sid, since, _id, val in self.rows:
                if m == metric and since <= day and (sid is None or sid == service_id):
                    value = val
                    break
            self._cache[key] = value
        return self._cache[key]

    def fingerprint(self, day: str, service_ids, lowest_level) -> str:
        """What the stored figures of a day depend on besides the tickets themselves.

        Days after the same latest effective date have the same targets in force,
        so they share one fingerprint: a month of days is one computation, not 30.
        """
        services = tuple(sorted(service_ids))
        key = ("fingerprint", bisect_right(self._dates, day), services, lowest_level)
        if key not in self._cache:
            parts = [f"L{lowest_level}"]
            for sid in [None, *services]:
                parts.append(
                    f"{sid}:{self.on('avg_wait_s', day, sid)}"
                    f":{self.on('satisfied_share', day, sid)}"
                )
            self._cache[key] = "|".join(parts)
        return self._cache[key]


def _neg_date(text: str) -> tuple:
    # Sort dates descending without parsing: invert each character code.
    return tuple(-ord(ch) for ch in text)


def add_default_targets(db: sqlite_utils.Database, office_id: int) -> None:
    """The default targets of a new office (caller's transaction)."""
    for metric, value, since in DEFAULT_TARGETS:
        db.execute(
            "INSERT INTO targets (office_id, metric, value, effective_from) VALUES (?, ?, ?, ?)",
            [office_id, metric, value, since],
        )


def set_target(
    db,
    office_id: int,
    metric: str,
    value: float,
    effective_from: str,
    service_id: int | None = None,
    user_id: int | None = None,
) -> int:
    """A target in force from a date (per office, optionally per service)."""
    if metric not in METRICS:
        raise BadInputError("Chỉ tiêu không hợp lệ", "Unknown metric")
    try:
        date.fromisoformat(effective_from)
    except (TypeError, ValueError):
        raise BadInputError("Ngày hiệu lực không hợp lệ (YYYY-MM-DD)", "Invalid date") from None
    if metric == "satisfied_share" and not 0 <= value <= 1:
        raise BadInputError("Tỷ lệ hài lòng phải từ 0 đến 1", "Share must be within 0..1")
    if metric == "avg_wait_s" and value <= 0:
        raise BadInputError("Thời gian chờ phải dương", "Wait must be positive")
    with write(db):
        get_office(db, office_id)
        if service_id is not None and not one(
            db, "SELECT id FROM services WHERE id = ? AND office_id = ?", [service_id, office_id]
        ):
            raise NotFoundError(f"Không có dịch vụ {service_id}", f"No service {service_id}")
        target_id = db.execute(
            "INSERT INTO targets (office_id, service_id, metric, value, effective_from)"
            " VALUES (?, ?, ?, ?, ?)",
            [office_id, service_id, metric, value, effective_from],
        ).lastrowid
        audit.record(
            db,
            office_id,
            user_id,
            "target.add",
            {"metric": metric, "value": value, "from": effective_from, "service_id": service_id},
        )
        return target_id


def delete_target(db, target_id: int, user_id: int | None = None) -> None:
    """Remove a target entered by mistake (the office keeps at least one wait target)."""
    with write(db):
        target = one(db, "SELECT * FROM targets WHERE id = ?", [target_id])
        if target is None:
            raise NotFoundError("Không có chỉ tiêu này", "No such target")
        left = db.execute(
            "SELECT count(*) FROM targets WHERE office_id = ? AND metric = ? AND"
            " service_id IS NULL AND id != ?",
            [target["office_id"], target["metric"], target_id],
        ).fetchone()[0]
        if target["service_id"] is None and left == 0:
            raise ConflictError(
                "Phải còn ít nhất một chỉ tiêu chung của văn phòng",
                "The office needs one office-wide target",
            )
        db.execute("DELETE FROM targets WHERE id = ?", [target_id])
        audit.record(
            db,
            target["office_id"],
            user_id,
            "target.delete",
            {
                "metric": target["metric"],
                "value": target["value"],
                "from": target["effective_from"],
            },
        )
