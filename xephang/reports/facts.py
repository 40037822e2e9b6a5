"""The facts of one office day: each ticket's wait and service time, each visit's wait.

This is where the definitions of docs/reports.md live:

- wait of a ticket = first call − issue (recalls do not reset it; a ticket
  never called has no wait);
- wait of a visit = the sum of its tickets' waits (transfers included); a
  visit none of whose tickets was called has no wait;
- service time = finish − start of a finished ticket (no-shows and
  transferred tickets have none);
- within target = visit wait ≤ the wait target in force that day for the
  visit's service;
- satisfied = a rating above the lowest level of the office's scale.

Attribution: ticket counts, service times and ratings belong to the
ticket's own service, counter, officer and hour of issue. A visit (its wait)
belongs to its first ticket: that ticket's day, service, hour of issue, and
the counter and officer that handled it.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta

import sqlite_utils

from ..clock import utc_offset
from ..engine.targets import Targets
from .stats import Tally

DIMS = ("office", "service", "counter", "officer", "hour")
NONE_KEY = 0  # office dimension, or "no counter / no officer"

TICKET_SQL = (
    "SELECT t.id, t.visit_id, t.from_ticket_id, t.service_id, t.counter_id, t.officer_id,"
    " t.status, t.issued_at, t.called_at, t.started_at, t.finished_at, r.level"
    " FROM tickets t LEFT JOIN ratings r ON r.ticket_id = t.id"
    " WHERE t.office_id = ? AND t.day = ?"
)


def _ms(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds() * 1000)


def ticket_facts(
    db: sqlite_utils.Database, office_id: int, day: str, offset: timedelta
) -> list[dict]:
    """Each ticket of the day with its wait, service time, local hour and rating."""
    facts = []
    for (
        tid,
        visit_id,
        from_id,
        service_id,
        counter_id,
        officer_id,
        status,
        issued,
        called,
        started,
        finished,
        level,
    ) in db.execute(TICKET_SQL, [office_id, day]).fetchall():
        issued_dt = datetime.fromisoformat(issued)
        facts.append(
            {
                "id": tid,
                "visit_id": visit_id,
                "root": from_id is None,
                "service": service_id,
                "counter": counter_id or NONE_KEY,
                "officer": officer_id or NONE_KEY,
                "status": status,
                "hour": (issued_dt.astimezone(UTC) + offset).hour,
                "wait_ms": _ms(issued, called),
                "service_ms": _ms(started, finished) if status == "done" else None,
                "level": level,
            }
        )
    return facts


def visit_facts(tickets: list[dict]) -> list[dict]:
    """Visits of the day: the first ticket's attributes and the summed waits of all tickets."""
    visits: dict[int, dict] = {}
    for t in tickets:
        visit = visits.setdefault(t["visit_id"], {"wait_ms": None, "root": None})
        if t["root"]:
            visit["root"] = t
        if t["wait_ms"] is not None:
            visit["wait_ms"] = (visit["wait_ms"] or 0) + t["wait_ms"]
    return [v for v in visits.values() if v["root"] is not None]


def day_tallies(
    db: sqlite_utils.Database,
    office_id: int,
    day: str,
    timezone: str,
    targets: Targets,
    lowest_level,
    dims=DIMS,
) -> dict[tuple[str, int], Tally]:
    """Tallies of one day for every group of every dimension: {(dim, key): Tally}."""
    tickets = ticket_facts(db, office_id, day, utc_offset(timezone, day))
    tallies: dict[tuple[str, int], Tally] = {}
    pending: dict[tuple[str, int], list[int]] = {}

    def tally(dim, key) -> Tally:
        found = tallies.get((dim, key))
        if found is None:
            found = tallies[(dim, key)] = Tally()
            found.days.add(day)
        return found

    for t in tickets:
        counts = {"issued": 1, _STATUS_COUNT.get(t["status"], "other"): 1}
        if t["service_ms"] is not None:
            counts["service_n"] = 1
            counts["service_sum_ms"] = t["service_ms"]
        if t["level"] is not None:
            counts["ratings"] = 1
            counts["satisfied"] = int(t["level"] != lowest_level)
            counts["sat_target_sum"] = targets.on("satisfied_share", day, t["service"]) or 0
        for dim in dims:
            tally(dim, NONE_KEY if dim == "office" else t[dim]).add_counts(counts)
    for v in visit_facts(tickets):
        root = v["root"]
        counts = {"visits": 1}
        wait = v["wait_ms"]
        if wait is not None:
            target = targets.on("avg_wait_s", day, root["service"])
            counts["visits_waited"] = 1
            counts["wait_sum_ms"] = wait
            counts["target_sum_s"] = target or 0
            counts["within"] = int(target is not None and wait <= target * 1000)
        for dim in dims:
            key = (dim, NONE_KEY if dim == "office" else root[dim])
            tally(*key).add_counts(counts)
            if wait is not None:
                pending.setdefault(key, []).append(wait)
    for key, group in tallies.items():
        group.counts.pop("other", None)
        group.waits = array("q", sorted(pending.get(key, ())))
    return tallies


_STATUS_COUNT = {
    "done": "served",
    "no_show": "no_show",
    "cancelled": "cancelled",
    "expired": "expired",
    "transferred": "transferred",
    "waiting": "in_progress",
    "called": "in_progress",
    "serving": "in_progress",
}
