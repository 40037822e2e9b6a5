"""Read-only views of an office's queue for the API, pages and the hub."""

from __future__ import annotations

import sqlite_utils

from ..db import read, scalar
from .core import get_office, local_day, resolve_now
from .views import event_view, ticket_view


def current_seq(db: sqlite_utils.Database, office_id: int) -> int:
    return scalar(db, "SELECT max(seq) FROM ticket_events WHERE office_id = ?", [office_id]) or 0


def snapshot(db: sqlite_utils.Database, office_id: int, now=None, recent_calls: int = 10
             ) -> dict:
    """The whole visible state of an office's queue, with the event sequence it reflects."""
    # One read transaction: the counts, counters and seq all describe the same moment,
    # so a client resuming from ``seq`` neither misses nor double-applies an event.
    with read(db):
        return _snapshot(db, office_id, now, recent_calls)


def waiting_counts(db: sqlite_utils.Database, office_id: int) -> dict[int, int]:
    """Waiting tickets per service id of an office."""
    return dict(db.execute(
        "SELECT service_id, count(*) FROM tickets WHERE office_id = ? AND status = 'waiting'"
        " GROUP BY service_id", [office_id]).fetchall())


def _snapshot(db: sqlite_utils.Database, office_id: int, now, recent_calls: int) -> dict:
    office = get_office(db, office_id)
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    seq = current_seq(db, office_id)
    waiting = waiting_counts(db, office_id)
    services = [
        {"id": s["id"], "prefix": s["prefix"], "name_vi": s["name_vi"], "name_en": s["name_en"],
         "field": s["field"], "daily_cap": s["daily_cap"], "waiting": waiting.get(s["id"], 0)}
        for s in db.query("SELECT * FROM services WHERE office_id = ? AND active"
                          " ORDER BY sort_order, prefix", [office_id])
    ]
    links = {}
    for counter_id, service_id in db.execute(
        "SELECT cs.counter_id, cs.service_id FROM counter_services cs JOIN counters c ON"
        " c.id = cs.counter_id WHERE c.office_id = ? ORDER BY cs.position", [office_id]
    ).fetchall():
        links.setdefault(counter_id, []).append(service_id)
    counters = []
    for c in db.query("SELECT * FROM counters WHERE office_id = ? AND active ORDER BY number",
                      [office_id]):
        current = None
        if c["current_ticket_id"]:
            row = next(db.query("SELECT * FROM tickets WHERE id = ?", [c["current_ticket_id"]]))
            current = ticket_view(db, row)
        counters.append({
            "id": c["id"], "number": c["number"], "name": c["name"],
            "services": links.get(c["id"], []), "state": c["state"],
            "pause_reason": c["pause_reason"], "officer_id": c["officer_id"],
            "current_ticket": current,
        })
    calls = [
        event_view(e, ticket_view(db, next(db.query("SELECT * FROM tickets WHERE id = ?",
                                                    [e["ticket_id"]]))), office["timezone"])
        for e in db.query(
            "SELECT * FROM ticket_events WHERE office_id = ? AND type IN ('called', 'recalled')"
            " ORDER BY seq DESC LIMIT ?", [office_id, recent_calls])
    ]
    totals = dict(db.execute(
        "SELECT status, count(*) FROM tickets WHERE office_id = ? AND day = ? GROUP BY status",
        [office_id, day]).fetchall())
    return {
        "office": {"id": office["id"], "name": office["name"], "timezone": office["timezone"]},
        "seq": seq,
        "day": day,
        "services": services,
        "waiting": {str(k): v for k, v in waiting.items()},
        "waiting_total": sum(waiting.values()),
        "counters": counters,
        "recent_calls": calls,
        "today": {"issued": sum(totals.values()), **totals},
    }


def waiting_list(db: sqlite_utils.Database, office_id: int, service_ids: list[int] | None = None,
                 limit: int = 50) -> list[dict]:
    """Waiting tickets in queue order (priority first), optionally for some services."""
    sql = ("SELECT * FROM tickets WHERE office_id = ? AND status = 'waiting'")
    params: list = [office_id]
    if service_ids:
        sql += f" AND service_id IN ({','.join('?' * len(service_ids))})"
        params += service_ids
    sql += " ORDER BY priority IS NULL, queue_at, id LIMIT ?"
    params.append(limit)
    return [ticket_view(db, row) for row in db.query(sql, params)]
