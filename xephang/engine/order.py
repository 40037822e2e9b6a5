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
call at least every (K + 1)(N + 1) calls. An online number still to check in (the
office's ``online_checkin``; ``tickets.awaiting_checkin``) keeps its key from the moment
it was taken but is not *callable*: call-next passes over it until it checks in, then
takes it in that same place. ``people_ahead`` counts the smaller keys of the same
service, callable or not (one still to check in may yet be called first: the estimate
is a promise);
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
# A waiting ticket call-next may take: not an online number still to check in.
CALLABLE_SQL = "t.awaiting_checkin = 0"


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


# How many of the last tickets of a line people_ahead reads before counting from the front:
# a new ticket is almost always at the back, and counting an index range costs a step per row.
BEHIND_PROBE = 64


def _key_parts(priority: bool) -> list[str]:
    return [CLASS_SQL, RANK_SQL, "t.queue_at", "t.id"] if priority else ["t.queue_at", "t.id"]


def _line_sql(priority: bool) -> str:
    """A service's waiting line on the index whose order is the queue key (migration 0006,
    or 0001's tickets_waiting for arrival order), named so no other plan is taken."""
    index = "tickets_queue" if priority else "tickets_waiting"
    return (
        f"FROM tickets t INDEXED BY {index}"
        " WHERE t.office_id = ? AND t.status = 'waiting' AND t.service_id = ?"
    )


def _last_keys_cursor(db, ticket: dict, priority: bool, limit: int):
    """The queue keys of the last ``limit`` tickets of the ticket's line, last first, as
    a cursor read row by row (a walk back from the end of the index)."""
    parts = _key_parts(priority)
    return db.conn.execute(
        f"SELECT {', '.join(parts)} {_line_sql(priority)}"
        f" ORDER BY {', '.join(p + ' DESC' for p in parts)} LIMIT ?",
        [ticket["office_id"], ticket["service_id"], limit],
    )


def _last_keys(db, ticket: dict, priority: bool, limit: int) -> list[tuple]:
    """The queue keys of the last ``limit`` tickets of the ticket's line, last first
    (``limit`` rows read)."""
    return _last_keys_cursor(db, ticket, priority, limit).fetchall()


def _count_smaller(db, ticket: dict, priority: bool, key: list) -> int:
    """Waiting tickets of the line with a smaller key, as index ranges (SQLite does not
    range-scan a row value over expression columns): equal on the first parts, smaller
    on the next one."""
    parts, total = _key_parts(priority), 0
    for j, part in enumerate(parts):
        terms = [f"{p} = ?" for p in parts[:j]] + [f"{part} < ?"]
        total += scalar(
            db,
            f"SELECT count(*) {_line_sql(priority)} AND {' AND '.join(terms)}",
            [ticket["office_id"], ticket["service_id"], *key[: j + 1]],
        )
    return total


def waiting_count(db: sqlite_utils.Database, service_id: int) -> int:
    """The service's waiting tickets: the kept count (migration 0011), not a recount."""
    return scalar(db, "SELECT waiting FROM queue_counts WHERE service_id = ?", [service_id]) or 0


def people_ahead(db: sqlite_utils.Database, ticket: dict, priority: bool | None = None) -> int:
    """Waiting tickets of the same service whose queue key is smaller than this one's.

    Counted from whichever end is near: the kept waiting count minus those
    behind (a new walk-in has none) and minus the ticket itself (unless it is
    ``unsaved``: what a ticket taken now would be told), or, when many are behind (a priority
    ticket near the front), those ahead. The cost follows the shorter side.
    """
    if ticket["status"] != WAITING:
        return 0
    if priority is None:
        priority = priority_first(db, ticket["office_id"])
    key = tuple(queue_key(ticket, priority))
    # Walk back from the end only as far as the ticket's own place: a new walk-in is read
    # at once (the first key is its own), a ticket further up after those behind it.
    behind = 0
    cursor = _last_keys_cursor(db, ticket, priority, BEHIND_PROBE)
    try:
        for row in cursor:
            if tuple(row) <= key:
                break
            behind += 1
    finally:
        cursor.close()
    if behind < BEHIND_PROBE:
        itself = 0 if ticket.get("unsaved") else 1  # a ticket not written is not counted
        return max(waiting_count(db, ticket["service_id"]) - itself - behind, 0)
    return _count_smaller(db, ticket, priority, list(key))


def anyone_behind(db: sqlite_utils.Database, ticket: dict, priority: bool) -> bool:
    """Whether a waiting ticket of the service has a larger queue key than ``ticket``."""
    last = _last_keys(db, ticket, priority, 1)
    return bool(last) and tuple(last[0]) > tuple(queue_key(ticket, priority))


def _first_of_each(selects: list[str], params: list, order_by: str, limit: int) -> str:
    """One statement: the first ``limit`` rows of each per-service index walk, merged in
    queue order. Each walk reads ``limit`` index rows; no sort of the whole line."""
    parts = " UNION ALL ".join(f"SELECT * FROM ({sql} LIMIT {int(limit)})" for sql in selects)
    return f"SELECT * FROM ({parts}) t ORDER BY {order_by} LIMIT {int(limit)}"


def _office_services(db, office_id: int) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM services WHERE office_id = ?", [office_id])]


def waiting_counts(db: sqlite_utils.Database, office_id: int) -> dict[int, int]:
    """Waiting tickets per service id of an office (services with someone waiting).

    Read from the kept counts (migration 0011): one row per service, however long
    the lines are.
    """
    return dict(
        db.execute(
            "SELECT service_id, waiting FROM queue_counts WHERE office_id = ? AND waiting > 0",
            [office_id],
        ).fetchall()
    )


def kept_counts(db: sqlite_utils.Database, office_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """Per service id of an office with someone waiting: the waiting tickets, and those of
    them still to check in (``not_arrived``, online numbers under ``online_checkin``; kept
    by migration 0017's triggers). One read of the kept counts."""
    waiting, not_arrived = {}, {}
    for service_id, count, away in db.execute(
        "SELECT service_id, waiting, not_arrived FROM queue_counts WHERE office_id = ?"
        " AND waiting > 0",
        [office_id],
    ).fetchall():
        waiting[service_id] = count
        if away:
            not_arrived[service_id] = away
    return waiting, not_arrived


def not_arrived_counts(db: sqlite_utils.Database, office_id: int) -> dict[int, int]:
    """Waiting tickets still to check in per service id (services with some)."""
    return kept_counts(db, office_id)[1]


def line(
    db: sqlite_utils.Database, office_id: int, service_id: int, priority: bool, limit: int
) -> list[tuple[int, int, int]]:
    """(ticket id, visit id, awaiting check-in) of the first ``limit`` waiting tickets of a
    service in queue order: the n-th has n people ahead (``people_ahead`` for a whole line
    at once). The same walk of the queue index as ``people_ahead``: ``limit`` rows read."""
    return db.execute(
        f"SELECT t.id, t.visit_id, t.awaiting_checkin {_line_sql(priority)}"
        f" ORDER BY {_key_sql(priority)} LIMIT ?",
        [office_id, service_id, limit],
    ).fetchall()


def waiting_in_order(
    db: sqlite_utils.Database, office_id: int, service_ids: list[int] | None = None, limit: int = 50
) -> list[dict]:
    """Waiting ticket rows of an office in queue-key order, optionally of some services."""
    services = list(dict.fromkeys(service_ids or _office_services(db, office_id)))
    if not services:
        return []
    key = _key_sql(priority_first(db, office_id))
    one_service = (
        "SELECT t.* FROM tickets t WHERE t.office_id = ? AND t.status = 'waiting'"
        f" AND t.service_id = ? ORDER BY {key}"
    )
    params = [p for sid in services for p in (office_id, sid)]
    sql = _first_of_each([one_service] * len(services), params, key, limit)
    return list(db.query(sql, params))


def pick_next(db: sqlite_utils.Database, counter: dict) -> dict | None:
    """The ticket call-next would take at this counter, without taking it.

    The candidates are few: the first untargeted callable ticket of each class
    (priority, walk-in) of each service the counter serves, read off the queue index
    of callable tickets, and the tickets transferred to this counter; the order below
    picks among them, and gives the same ticket as ordering the whole line of callable
    tickets would.
    """
    services = counter_services(db, counter["id"]) or [0]
    preference = " ".join(f"WHEN {sid} THEN {pos}" for pos, sid in enumerate(services))
    # Targeted tickets first (explicitly: CASE gives NULL for an unserved service,
    # which would otherwise sort first only by accident), then service preference.
    # After booking_streak_max appointments in their booked place in a row (since the
    # last walk-in), they go behind the counter's walk-ins, of any of its services, once.
    streak_max = office_setting(db, counter["office_id"], "priority_streak_max")
    booked_max = office_setting(db, counter["office_id"], "booking_streak_max")
    demote = f"{BOOKED_SQL}, " if 0 < booked_max <= counter["booking_streak"] else ""
    place = (
        f"t.target_counter_id IS NULL, {demote}CASE t.service_id {preference} END, {ARRIVAL_SQL}"
    )
    office = counter["office_id"]
    # Only callable tickets: an online number still to check in keeps its place but is
    # passed over, read off the partial index that leaves it out (migration 0017). In
    # arrival order (no precedence for priority, a rare setup) the walk of tickets_waiting
    # steps over such numbers at the front: as many steps as there are, at most the
    # day's online share (a second partial index cost every issue more than it saved).
    index = "tickets_queue_callable" if streak_max > 0 else "tickets_waiting"
    untargeted = (
        f"SELECT t.* FROM tickets t INDEXED BY {index} WHERE t.office_id = ?"
        f" AND t.status = 'waiting' AND {CALLABLE_SQL} AND t.service_id = ?"
        " AND t.target_counter_id IS NULL"
    )
    targeted = (
        "SELECT t.* FROM tickets t INDEXED BY tickets_targeted WHERE t.status = 'waiting'"
        f" AND t.target_counter_id = ? AND t.office_id = ? AND {CALLABLE_SQL}"
    )
    # With appointments demoted, the first ticket that is not one is a candidate too (the
    # first by arrival may be an appointment in its booked place).
    kinds = ("", f" AND NOT {BOOKED_SQL}") if demote else ("",)
    selects, params = [], []
    if streak_max <= 0:  # priority gets no precedence: one line in arrival order
        order_by = place
        for sid in services:
            for kind in kinds:
                selects.append(f"{untargeted}{kind} ORDER BY {ARRIVAL_SQL}")
                params += [office, sid]
    else:
        # The preferred class sorts first: priority, or walk-ins once the streak is full.
        prefer = CLASS_SQL if counter["priority_streak"] < streak_max else f"NOT {CLASS_SQL}"
        order_by = f"{prefer}, {RANK_SQL}, {place}"
        for sid in services:
            for walk_in in (0, 1):
                for kind in kinds:
                    selects.append(
                        f"{untargeted} AND {CLASS_SQL} = ?{kind} ORDER BY {RANK_SQL}, {ARRIVAL_SQL}"
                    )
                    params += [office, sid, walk_in]
    selects.append(f"{targeted} ORDER BY {order_by}")
    params += [counter["id"], office]
    return one(db, _first_of_each(selects, params, order_by, 1), params)
