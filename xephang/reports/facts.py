"""The facts of one office day: each ticket's wait and service time, each visit's wait.

This is where the definitions of docs/reports.md live:

- wait of a ticket = first call − issue (recalls do not reset it); for an
  appointment, first call − the later of check-in and slot start. A ticket
  that leaves the line without being called (cancelled while waiting,
  expired) waited until it left: ``tickets.left_at``, set by the engine when
  it left (a cancellation's time; for an expired ticket the end of that
  day's opening hours, or the close of day if that came earlier). A ticket
  still waiting has no wait yet;
- wait of a visit = the sum of its tickets' waits (transfers included); a
  visit with a ticket still waiting is in progress and counts in no wait
  figure yet. A visit *left unserved* when one of its tickets left the line
  uncalled;
- within target = visit wait ≤ the wait target in force that day for the
  visit's service. A visit that left unserved after its target had passed
  is a miss; one that left before is neither a hit nor a miss (not
  *judged*): the share within target is hits ÷ judged visits;
- service time = finish − start of a finished ticket (no-shows and
  transferred tickets have none);
- a ticket withdrawn by an undone transfer (``engine.calls.WITHDRAWN_SQL``)
  is no part of its visit, nor of any figure: the visit went back to its
  earlier ticket;
- an online number that had to check in (``online_checkin``) and left the
  line without ever checking in (expired at closing, cancelled) never came:
  like a booking that was missed, it is no visit (no wait, not judged, not
  left unserved); its ticket still counts (issued, expired, cancelled). One
  that checked in waits like any online number, from the moment it was taken;
- satisfied = a rating above the lowest level of the office's scale.

Attribution: ticket counts, service times and ratings belong to the
ticket's own service, counter, officer, hour of issue and channel (kiosk, online,
appointment; a transfer's ticket keeps its visit's). A visit (its wait)
belongs to its first ticket: that ticket's day, service, hour of issue, and
the counter and officer that handled it.
"""

from __future__ import annotations

import functools
from array import array

import sqlite_utils

from ..clock import utc_offset
from ..engine.calls import KEPT_SQL
from ..engine.lookups import DAY_TICKETS
from ..engine.targets import Targets
from .stats import Tally

DIMS = ("office", "service", "counter", "officer", "hour", "channel")
# How a visit came in (its first ticket's channel), as the integer keys the rollup stores.
CHANNEL_KEYS = {"kiosk": 1, "online": 2, "appointment": 3}
NONE_KEY = 0  # office dimension, or "no counter / no officer"

# Times are stored in UTC at millisecond precision, so SQLite's julianday arithmetic
# rounded to the millisecond is exact. The per-ticket arithmetic and grouping run in
# SQLite; Python sees one row per group of tickets and one row per visit.
_MS = "CAST(round((julianday({end}) - julianday({start})) * 86400000) AS INTEGER)"
# A ticket's wait: until its first call, or until it left the line uncalled (left_at),
# from its issue or, for an appointment, from the later of check-in (its issue) and its
# slot's start (never below zero: a booking called before its slot waited nothing).
WAIT_FROM = "max(t.issued_at, coalesce(t.slot_at, t.issued_at))"
WAIT_MS = "max(0, {})".format(_MS.format(end="coalesce(t.called_at, t.left_at)", start=WAIT_FROM))
LEFT = "(t.called_at IS NULL AND t.left_at IS NOT NULL)"
# An online number that left the line still awaiting check-in: its citizen never came.
NEVER_CAME = f"({LEFT} AND t.awaiting_checkin = 1)"
SERVICE_MS = _MS.format(end="t.finished_at", start="t.started_at")
KEYS = {  # how each dimension's key is read from a ticket (the office has one group)
    "service": "t.service_id",
    "counter": "coalesce(t.counter_id, 0)",
    "officer": "coalesce(t.officer_id, 0)",
    "hour": "CAST(strftime('%H', t.issued_at, :offset) AS INTEGER)",
    "channel": "CASE t.channel WHEN 'online' THEN 2 WHEN 'appointment' THEN 3 ELSE 1 END",
}
_OF_DAY = f"FROM {DAY_TICKETS} WHERE t.office_id = :office AND t.day = :day AND {KEPT_SQL}"


@functools.lru_cache(maxsize=16)
def day_sql(dims: tuple[str, ...]) -> tuple[tuple[str, ...], str, str]:
    """The key columns and the two queries of a day's tally, reading only the keys asked
    for (the service always: targets are per service)."""
    keys = ("service", *(d for d in dims if d in KEYS and d != "service"))
    cols = ", ".join(f"{KEYS[k]} AS {k}" for k in keys)
    done_ms = f"CASE WHEN t.status = 'done' THEN {SERVICE_MS} END"
    groups = (
        f"SELECT {cols}, t.status, count(*), count({done_ms}), coalesce(sum({done_ms}), 0),"
        " count(r.level), coalesce(sum(r.level != :lowest), 0)"
        f" FROM {DAY_TICKETS} LEFT JOIN ratings r ON r.ticket_id = t.id"
        f" WHERE t.office_id = :office AND t.day = :day AND {KEPT_SQL}"
        f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys) + 1))}"
    )
    # Visits: the first ticket's keys, the summed waits of all its tickets (NULL while
    # one still waits) and whether one of them left the line uncalled.
    roots = ", ".join(f"max(CASE WHEN root THEN {k} END)" for k in keys)
    visits = (
        f"SELECT {roots}, CASE WHEN count(w) = count(*) THEN sum(w) END, max(gone)"
        f" FROM (SELECT t.visit_id, t.from_ticket_id IS NULL AS root, {cols},"
        f" {WAIT_MS} AS w, {LEFT} AS gone, {NEVER_CAME} AS away {_OF_DAY})"
        " GROUP BY visit_id HAVING max(root) AND NOT max(away)"
    )
    return keys, groups, visits


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


def visit_counts(wait_ms: int | None, left: bool, target_s) -> dict:
    """What one visit adds to a tally: the rules of within target, left unserved, judged."""
    if wait_ms is None:
        return {"visits": 1}  # still waiting: no wait yet
    met = target_s is not None and wait_ms <= target_s * 1000
    counts = {"visits": 1, "visits_waited": 1, "wait_sum_ms": wait_ms}
    counts["target_sum_s"] = target_s or 0
    if left:
        counts["left_unserved"] = 1
        counts["judged"] = int(not met)  # left after the target had passed: a miss
    else:
        counts["judged"] = 1
        counts["within"] = int(met)
    return counts


def day_tallies(
    db: sqlite_utils.Database,
    office: dict,
    day: str,
    targets: Targets,
    lowest_level,
    dims=DIMS,
) -> dict[tuple[str, int], Tally]:
    """Tallies of one day for every group of every dimension: {(dim, key): Tally}."""
    dims = tuple(dims)
    keys, groups_sql, visits_sql = day_sql(dims)
    offset = utc_offset(office["timezone"], day)
    params = {
        "office": office["id"],
        "day": day,
        "offset": f"{round(offset.total_seconds()):+d} seconds",
        "lowest": lowest_level,
    }
    tallies: dict[tuple[str, int], Tally] = {}
    waits: dict[tuple[str, int], list[int]] = {}
    wait_target = functools.lru_cache(None)(lambda sid: targets.on("avg_wait_s", day, sid))
    sat_target = functools.lru_cache(None)(lambda sid: targets.on("satisfied_share", day, sid))
    width = len(keys)

    def groups_of(row):
        for dim in dims:
            key = (dim, row[keys.index(dim)] if dim in keys else NONE_KEY)
            found = tallies.get(key)
            if found is None:
                found = tallies[key] = Tally()
                found.days.add(day)
            yield key, found.counts

    for row in db.execute(groups_sql, params).fetchall():
        status, n, service_n, service_ms, rated, happy = row[width:]
        for _key, c in groups_of(row):
            c["issued"] += n
            if status in _STATUS_COUNT:
                c[_STATUS_COUNT[status]] += n
            c["service_n"] += service_n
            c["service_sum_ms"] += service_ms
            if rated:
                c["ratings"] += rated
                c["satisfied"] += happy
                c["sat_target_sum"] += (sat_target(row[0]) or 0) * rated
    for row in db.execute(visits_sql, params).fetchall():
        wait_ms, left = row[width:]
        counts = visit_counts(wait_ms, bool(left), wait_target(row[0]))
        for key, c in groups_of(row):
            for name, value in counts.items():
                c[name] += value
            if wait_ms is not None:
                waits.setdefault(key, []).append(wait_ms)
    for key, group in tallies.items():
        group.waits = array("q", sorted(waits.get(key, ())))
    return tallies
