"""The one definition of queue order: who a counter calls next, and who is ahead of whom.

A waiting ticket's place in its service's line is its *queue key*:

    (class, rank, queue_at, id)

``class`` is 0 for a priority category and 1 for everyone else, ``rank``
the category's rank when the ticket was issued (lower first), ``queue_at``
when it joined the line (a transfer keeps the visit's first arrival; a
return to the queue goes to the back), ``id`` breaks ties. When an office
gives priority no precedence (``priority_streak_max`` = 0) the key is just
(queue_at, id).

Call-next (``pick_next``) takes, at a counter: tickets transferred to that
counter first, then the counter's services, and within them the smallest
key, except that after ``priority_streak_max`` priority calls in a row the
walk-ins' class goes first once (the interleave that keeps walk-ins from
starving). Appointments checked in on time are in line from their slot's start
(``queue_at``); after ``booking_streak_max`` of them in a row at a counter (priority
calls between do not count, a walk-in's call ends the run) the walk-ins of the line go
first once: between two walk-in calls a counter makes at most K appointment calls and
N priority calls before each non-priority call, so a waiting walk-in's line gets a
call at least every (K + 1)(N + 1) calls. ``people_ahead`` counts the smaller keys of
the same service;
the realtime hub sends keys in ``queue_moved`` and trackers compare them
(``live.js applyMove``): all three read the expressions below.
"""

from __future__ import annotations

import sqlite_utils

from ..storage import one, scalar
from .lookups import counter_services
from .settings import office_setting
from .states import WAITING

CLASS_SQL = "(t.priority IS NULL)"
# An appointment in its booked place: checked in on time, in line from its slot's start.
BOOKED_SQL = "(t.channel = 'appointment' AND t.queue_at = t.slot_at)"
RANK_SQL = "coalesce(t.priority_rank, 0)"
ARRIVAL_SQL = "t.queue_at, t.id"
KEY_SQL = f"{CLASS_SQL}, {RANK_SQL}, {ARRIVAL_SQL}"


def in_booked_place(ticket: dict) -> bool:
    """Whether a ticket is an appointment in line from its slot's start (``BOOKED_SQL``)."""
    return (
        ticket.get("channel") == "appointment"
        and ticket.get("slot_at") is not None
        and ticket["queue_at"] == ticket["slot_at"]
    )


def priority_first(db: sqlite_utils.Database, office_id: int) -> bool:
    """Whether the office gives priority categories precedence at all."""
    return office_setting(db, office_id, "priority_streak_max") > 0


def queue_key(ticket: dict, priority: bool = True) -> list:
    """A waiting ticket's queue key as a list (JSON-friendly; compared element by element)."""
    if not priority:
        return [ticket["queue_at"], ticket["id"]]
    return [
        0 if ticket["priority"] else 1,
        ticket["priority_rank"] or 0,
        ticket["queue_at"],
        ticket["id"],
    ]


def _key_sql(priority: bool) -> str:
    return KEY_SQL if priority else ARRIVAL_SQL


def people_ahead(db: sqlite_utils.Database, ticket: dict, priority: bool | None = None) -> int:
    """Waiting tickets of the same service whose queue key is smaller than this one's."""
    if ticket["status"] != WAITING:
        return 0
    if priority is None:
        priority = priority_first(db, ticket["office_id"])
    key = queue_key(ticket, priority)
    return scalar(
        db,
        f"SELECT count(*) FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
        f" AND t.service_id = ? AND ({_key_sql(priority)}) < ({','.join('?' * len(key))})",
        [ticket["office_id"], ticket["service_id"], *key],
    )


def anyone_behind(db: sqlite_utils.Database, ticket: dict, priority: bool) -> bool:
    """Whether a waiting ticket of the service has a larger queue key than ``ticket``."""
    key = queue_key(ticket, priority)
    return (
        db.execute(
            f"SELECT 1 FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
            f" AND t.service_id = ? AND ({_key_sql(priority)}) > ({','.join('?' * len(key))})"
            " LIMIT 1",
            [ticket["office_id"], ticket["service_id"], *key],
        ).fetchone()
        is not None
    )


def waiting_counts(db: sqlite_utils.Database, office_id: int) -> dict[int, int]:
    """Waiting tickets per service id of an office."""
    return dict(
        db.execute(
            "SELECT service_id, count(*) FROM tickets WHERE office_id = ? AND status = 'waiting'"
            " GROUP BY service_id",
            [office_id],
        ).fetchall()
    )


def line(
    db: sqlite_utils.Database, office_id: int, service_id: int, priority: bool, limit: int
) -> list[tuple[int, int]]:
    """(ticket id, visit id) of the first ``limit`` waiting tickets of a service in queue
    order: the n-th has n people ahead (``people_ahead`` for a whole line at once)."""
    return db.execute(
        f"SELECT t.id, t.visit_id FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
        f" AND t.service_id = ? ORDER BY {_key_sql(priority)} LIMIT ?",
        [office_id, service_id, limit],
    ).fetchall()


def waiting_in_order(
    db: sqlite_utils.Database, office_id: int, service_ids: list[int] | None = None, limit: int = 50
) -> list[dict]:
    """Waiting ticket rows of an office in queue-key order, optionally of some services."""
    sql = "SELECT t.* FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
    params: list = [office_id]
    if service_ids:
        sql += f" AND t.service_id IN ({','.join('?' * len(service_ids))})"
        params += service_ids
    sql += f" ORDER BY {_key_sql(priority_first(db, office_id))} LIMIT ?"
    return list(db.query(sql, [*params, limit]))


def pick_next(db: sqlite_utils.Database, counter: dict) -> dict | None:
    """The ticket call-next would take at this counter, without taking it."""
    services = counter_services(db, counter["id"]) or [0]
    preference = " ".join(f"WHEN {sid} THEN {pos}" for pos, sid in enumerate(services))
    marks = ",".join("?" * len(services))
    base = (
        f"SELECT t.* FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
        f" AND (t.service_id IN ({marks}) AND t.target_counter_id IS NULL"
        f" OR t.target_counter_id = ?)"
    )
    params = [counter["office_id"], *services, counter["id"]]
    # Targeted tickets first (explicitly: CASE gives NULL for an unserved service,
    # which would otherwise sort first only by accident), then service preference.
    # After booking_streak_max appointments in their booked place in a row (since the
    # last walk-in), they go behind the counter's walk-ins, of any of its services, once.
    booked_max = office_setting(db, counter["office_id"], "booking_streak_max")
    demote = f"{BOOKED_SQL}, " if 0 < booked_max <= counter["booking_streak"] else ""
    place = (
        f"t.target_counter_id IS NULL, {demote}CASE t.service_id {preference} END, {ARRIVAL_SQL}"
    )
    streak_max = office_setting(db, counter["office_id"], "priority_streak_max")
    if streak_max <= 0:  # priority gets no precedence: one line in arrival order
        return one(db, f"{base} ORDER BY {place} LIMIT 1", params)
    # The preferred class sorts first: priority, or walk-ins once the streak is full.
    prefer = CLASS_SQL if counter["priority_streak"] < streak_max else f"NOT {CLASS_SQL}"
    return one(db, f"{base} ORDER BY {prefer}, {RANK_SQL}, {place} LIMIT 1", params)
