"""Waiting lines as people follow them: counts, the next tickets, a tracker's place, a
counter screen's own figures, and the ``queue_moved`` notices trackers count from.

Queue order itself is ``engine.order`` (one definition); this module only reads it.
"""

from __future__ import annotations

import sqlite_utils

from ..clock import local_day, local_iso, resolve_now
from ..engine import estimate, order, states
from ..engine.calls import WITHDRAWN_SQL
from ..engine.log import last_seq
from ..engine.lookups import counter_services, get_counter, get_office
from ..engine.order import (  # noqa: F401  (the one count; callers read it here)
    kept_counts,
    not_arrived_counts,
    waiting_counts,
)
from ..engine.views import ticket_view
from ..storage import one, rows


def waiting_list(
    db: sqlite_utils.Database, office_id: int, service_ids: list[int] | None = None, limit: int = 50
) -> list[dict]:
    """Waiting tickets in queue order, optionally of some services (public views)."""
    return [
        ticket_view(db, row) for row in order.waiting_in_order(db, office_id, service_ids, limit)
    ]


def visit_tickets(db: sqlite_utils.Database, token: str) -> list[dict]:
    """The tickets of the visit a tracker token belongs to, oldest first (withdrawn
    ones left out: the last is the visit's current ticket)."""
    return list(
        db.query(
            "SELECT t.* FROM tickets t JOIN visits v ON v.id = t.visit_id WHERE v.token = ?"
            f" AND NOT {WITHDRAWN_SQL} ORDER BY t.id",
            [token or ""],
        )
    )


def tracker_state(
    db: sqlite_utils.Database, token: str, default_service_s: int = 300
) -> dict | None:
    """What a tracker page shows: the visit's current ticket, people ahead, its queue key."""
    rows = visit_tickets(db, token)
    if not rows:
        return None
    current = rows[-1]
    state = {
        "office_id": current["office_id"],
        "seq": last_seq(db, current["office_id"]),
        "ticket": ticket_view(db, current),
        "tickets": [{"id": r["id"], "code": r["code"], "status": r["status"]} for r in rows],
        "people_ahead": None,
        "counters_open": None,
        "estimated_wait_s": None,
        "estimate_range_s": None,
        "estimate_shown": False,
        "past_closing": False,
        "queue_key": None,
    }
    if current["status"] == states.WAITING:
        priority = order.priority_first(db, current["office_id"])
        state.update(
            estimate.for_citizen(db, current, default_service_s),
            queue_key=order.queue_key(current, priority),
        )
    return state


def counter_state(
    db: sqlite_utils.Database, counter_id: int, user_id: int | None, now=None, next_limit: int = 10
) -> dict:
    """The counter screen's own part: its services' waiting counts, next tickets, today's
    no-shows of its services (the latest, and how many; they may be called again or
    returned), the officer's figures,
    and the ticket it finished last today (a dossier code can still be scanned onto it)."""
    counter = get_counter(db, counter_id)
    office = get_office(db, counter["office_id"])
    services = counter_services(db, counter_id)
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    nxt = order.pick_next(db, counter)
    waiting = waiting_list(db, office["id"], services or [-1], next_limit)
    if nxt is not None:  # the ticket call-next would take goes first, as it will be called
        waiting = [ticket_view(db, nxt)] + [t for t in waiting if t["id"] != nxt["id"]]
        waiting = waiting[:next_limit]
    todays_no_shows = (
        "FROM tickets WHERE office_id = ? AND day = ? AND status = 'no_show'"
        f" AND service_id IN ({','.join('?' * len(services or [-1]))})"
    )
    params = [office["id"], day, *(services or [-1])]
    no_shows = [
        ticket_view(db, row)
        for row in db.query(
            f"SELECT * {todays_no_shows} ORDER BY finished_at DESC, id DESC LIMIT ?",
            [*params, next_limit],
        )
    ]
    no_show_count = (
        len(no_shows)
        if len(no_shows) < next_limit
        else db.execute(f"SELECT count(*) {todays_no_shows}", params).fetchone()[0]
    )
    mine = {"called": 0, "done": 0, "no_show": 0, "avg_service_s": None}
    if user_id is not None:
        row = db.execute(
            "SELECT count(*), sum(status = 'done'), sum(status = 'no_show'),"
            " avg(CASE WHEN status = 'done' AND started_at IS NOT NULL THEN"
            " (julianday(finished_at) - julianday(started_at)) * 86400.0 END)"
            " FROM tickets WHERE office_id = ? AND day = ? AND officer_id = ?"
            " AND called_at IS NOT NULL",
            [office["id"], day, user_id],
        ).fetchone()
        mine = {
            "called": row[0],
            "done": row[1] or 0,
            "no_show": row[2] or 0,
            "avg_service_s": round(row[3]) if row[3] is not None else None,
        }
    last = one(
        db,
        "SELECT id, code, finished_at, dossier_code IS NOT NULL AS has_dossier_code FROM tickets"
        " WHERE counter_id = ? AND status = 'done' AND day = ?"
        " ORDER BY finished_at DESC, id DESC LIMIT 1",
        [counter_id, day],
    )
    if last is not None:
        last["has_dossier_code"] = bool(last["has_dossier_code"])
        last["finished_at"] = local_iso(last["finished_at"], office["timezone"])
    return {
        "counter_id": counter_id,
        "office_id": office["id"],
        "services": services,
        "next_tickets": waiting,
        "next_ticket_id": nxt["id"] if nxt else None,
        "no_shows": no_shows,
        "no_show_count": no_show_count,  # all of today's, the list holds the latest
        "mine": mine,
        "day": day,
        "last_finished": last,
    }


def queue_moves(
    db: sqlite_utils.Database, events: list[dict], waiting: dict[str, int]
) -> list[dict]:
    """One ``queue_moved`` per ticket joining or leaving a service's waiting line.

    A tracker compares ``key`` with its own queue key: a smaller key leaving
    means one person fewer ahead, a smaller key joining one more. Nothing is
    sent when nobody waits behind the ticket (the usual case for a new one).
    Which events join or leave a line is the transition table's answer.
    """
    moving = [
        e
        for e in events
        if e["ticket_id"]
        and (
            states.joins_line(e["type"], e.get("from_status"))
            or states.leaves_line(e["type"], e.get("from_status"))
        )
    ]
    if not moving:
        return []
    ids = sorted({e["ticket_id"] for e in moving})
    found = {
        r["id"]: r
        for r in rows(db, f"SELECT * FROM tickets WHERE id IN ({','.join('?' * len(ids))})", ids)
    }
    priority = order.priority_first(db, moving[0]["office_id"])
    moves = []
    for e in moving:
        row = found[e["ticket_id"]]
        if not order.anyone_behind(db, row, priority):
            continue  # joining or leaving at the back moves nobody
        joined = states.joins_line(e["type"], e.get("from_status"))
        moves.append(
            {
                "office_id": e["office_id"],
                "seq": e["seq"],
                "service_id": row["service_id"],
                "change": "joined" if joined else "left",
                "cause": e["type"],
                "ticket_id": row["id"],
                "key": order.queue_key(row, priority),
                "waiting": waiting.get(str(row["service_id"]), 0),
            }
        )
    return moves


def ticket_events(db: sqlite_utils.Database, ticket_id: int) -> list[dict]:
    """A ticket's events in order, for staff (seq, type, when, counter, who, details)."""
    return [
        {k: e[k] for k in ("seq", "type", "at", "counter_id", "user_id", "details")}
        for e in db.query(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [ticket_id]
        )
    ]
