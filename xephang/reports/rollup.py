"""Stored tallies of closed days, so a year's report does not re-read a million tickets.

A closed day (before the office's today) is tallied once and stored in
``report_rollup`` (one row per group of each dimension, with the sorted
visit waits as a blob). A stored day is dropped and rebuilt when:

- any event touching one of its tickets is appended after it was built
  (a late rating, a ticket finished after midnight, a close of day), found
  through the office's event sequence watermark in ``report_state``; or
- the targets or the rating scale in force that day change, or the
  definitions do (``ROLLUP_VERSION``): its ``fingerprint`` no longer matches.

Today is always tallied live from the tickets table.
"""

from __future__ import annotations

import json
from array import array
from datetime import date, timedelta

import sqlite_utils

from ..clock import iso, utcnow
from ..engine.log import last_seq
from ..engine.retention import purged_before
from ..engine.targets import Targets
from ..queries.office import lowest_rating_level, services
from ..storage import write
from .facts import DIMS, day_tallies
from .stats import Tally

# Bump when a definition of docs/reports.md changes: every stored day is rebuilt.
# 2: tickets that left the line uncalled count in the waits (left_unserved, judged).
# 3: an appointment waits from the later of check-in and slot start;
# 4: a ticket withdrawn by an undone transfer is no part of any figure.
# (An online number that never checked in is no visit either, since migration 0017: no
# day stored before it has one, so nothing stored changes and the version stays.)
ROLLUP_VERSION = 4


def invalidate_touched_days(db: sqlite_utils.Database, office_id: int) -> int:
    """Drop stored days touched by events since the watermark; return the number dropped."""
    if last_seq(db, office_id) == _mark(db, office_id):
        return 0  # nothing new: no need for the write lock
    with write(db):
        current, mark = last_seq(db, office_id), _mark(db, office_id)
        if current == mark:
            return 0
        stored = db.execute(
            "SELECT 1 FROM report_days WHERE office_id = ? LIMIT 1", [office_id]
        ).fetchone()
        days = (
            []
            if not stored
            else [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT t.day FROM ticket_events e"
                    " JOIN tickets t ON t.id = e.ticket_id WHERE e.office_id = ? AND e.seq > ?",
                    [office_id, mark],
                ).fetchall()
            ]
        )
        for day in days:
            _drop_day(db, office_id, day)
        db.execute(
            "INSERT INTO report_state (office_id, seq) VALUES (?, ?) ON CONFLICT"
            " (office_id) DO UPDATE SET seq = excluded.seq",
            [office_id, current],
        )
        return len(days)


def _mark(db, office_id: int) -> int:
    row = db.execute("SELECT seq FROM report_state WHERE office_id = ?", [office_id]).fetchone()
    return row[0] if row else 0


def _drop_day(db, office_id: int, day: str) -> None:
    db.execute("DELETE FROM report_rollup WHERE office_id = ? AND day = ?", [office_id, day])
    db.execute("DELETE FROM report_days WHERE office_id = ? AND day = ?", [office_id, day])


def build_day(
    db: sqlite_utils.Database,
    office: dict,
    day: str,
    targets: Targets,
    lowest_level,
    fingerprint: str,
) -> None:
    """Tally one closed day and store it (one short write transaction)."""
    with write(db):
        tallies = day_tallies(db, office, day, targets, lowest_level)
        _drop_day(db, office["id"], day)
        db.conn.executemany(
            "INSERT INTO report_rollup (office_id, day, dim, key, counts, waits)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    office["id"],
                    day,
                    dim,
                    key,
                    json.dumps({k: v for k, v in t.counts.items() if v}),
                    t.waits.tobytes(),
                )
                for (dim, key), t in tallies.items()
            ],
        )
        db.execute(
            "INSERT INTO report_days (office_id, day, fingerprint, built_at) VALUES (?, ?, ?, ?)",
            [office["id"], day, fingerprint, iso(utcnow())],
        )


def days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def ensure_days(
    db: sqlite_utils.Database,
    office: dict,
    first: str,
    last: str,
    today: str,
    targets: Targets,
    lowest_level,
) -> int:
    """Make sure every closed day in [first, last] is stored and current; return days built."""
    invalidate_touched_days(db, office["id"])
    service_ids = [s["id"] for s in services(db, office["id"], active_only=False)]
    stored = dict(
        db.execute(
            "SELECT day, fingerprint FROM report_days WHERE office_id = ? AND day BETWEEN ? AND ?",
            [office["id"], first, last],
        ).fetchall()
    )
    frozen = purged_before(db, office["id"]) or ""
    built = 0
    for day in days_between(max(first, frozen), min(last, _day_before(today))):
        fingerprint = f"v{ROLLUP_VERSION}|" + targets.fingerprint(day, service_ids, lowest_level)
        if stored.get(day) != fingerprint:
            build_day(db, office, day, targets, lowest_level, fingerprint)
            built += 1
    return built


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def stored_tallies(
    db: sqlite_utils.Database,
    office_id: int,
    dim: str,
    first: str,
    last: str,
    with_waits: bool = True,
):
    """Yield (day, key, Tally) of stored days in [first, last] for one dimension."""
    assert dim in DIMS
    columns = "day, key, counts" + (", waits" if with_waits else "")
    for row in db.execute(
        f"SELECT {columns} FROM report_rollup WHERE office_id = ? AND dim = ?"
        " AND day BETWEEN ? AND ?",
        [office_id, dim, first, last],
    ).fetchall():
        tally = Tally(counts=json.loads(row[2]))  # sparse: only non-zero counts are stored
        if with_waits:
            waits = array("q")
            waits.frombytes(row[3])
            tally.waits = waits
        tally.days.add(row[0])
        yield row[0], row[1], tally


def keep_figures(db: sqlite_utils.Database, office: dict, cutoff_day: str, today: str) -> None:
    """Store the daily tallies of every day before ``cutoff_day`` (run before a purge)."""
    first = db.execute(
        "SELECT min(day) FROM tickets WHERE office_id = ?", [office["id"]]
    ).fetchone()[0]
    if not first or first >= cutoff_day:
        return
    ensure_days(
        db,
        office,
        first,
        _day_before(cutoff_day),
        today,
        Targets(db, office["id"]),
        lowest_rating_level(db, office["id"]),
    )
