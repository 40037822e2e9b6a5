"""Read-only state the live screens need beyond the engine snapshot.

The board (today's average wait against the target, the board settings),
the counter screen (next tickets, the officer's figures today) and the
tracker page (a visit's tickets and its place in the queue). No writes.
"""

from __future__ import annotations

import sqlite_utils

from . import engine
from .db import one
from .engine.core import WAITING, local_day, resolve_now
from .engine.tickets import estimate_wait
from .reports.facts import Targets
from .reports.live import today_tally
from .reports.rollup import lowest_rating_level

BOARD_SETTINGS = ("announce_template", "number_reading", "number_dialect", "board_message",
                  "voice_enabled")


def office_for_board(db: sqlite_utils.Database, board_id: str) -> int | None:
    """The office whose public board link has this unguessable id."""
    row = one(db, "SELECT id FROM offices WHERE board_id = ?", [board_id or ""])
    return row["id"] if row else None


def today_wait(db: sqlite_utils.Database, office_id: int, now=None) -> dict:
    """Today's average wait per visit against the target in force: the dashboard's figure.

    The same tally as the manager's dashboard and reports (wait of a visit =
    the sum of its tickets' first call − issue), so the board never shows a
    different number from the one the office is judged by.
    """
    office = engine.get_office(db, office_id)
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    targets = Targets(db, office_id)
    target = targets.on("avg_wait_s", day)
    figures = today_tally(db, office_id, day, targets, lowest_rating_level(db, office_id)
                          ).figures(target, targets.on("satisfied_share", day))
    return {"day": day, "called": figures["visits_waited"], "avg_s": figures["avg_wait_s"],
            "target_s": target}


def board_snapshot(db: sqlite_utils.Database, office_id: int, now=None) -> dict:
    """The engine snapshot plus what boards show: today's wait vs target and board settings."""
    snap = engine.snapshot(db, office_id, now=now)
    settings = engine.office_settings(db, office_id)
    snap["wait_today"] = today_wait(db, office_id, now=now)
    snap["board"] = {name: settings[name] for name in BOARD_SETTINGS}
    return snap


def queue_key(ticket: dict) -> list:
    """A waiting ticket's place in its service's queue; smaller keys are called first.

    Priority tickets come before others, then by queue time, then id, as
    ``people_ahead`` counts. Trackers compare keys sent in ``queue_moved``.
    """
    return [0 if ticket["priority"] else 1, ticket["queue_at"], ticket["id"]]


def visit_tickets(db: sqlite_utils.Database, token: str) -> list[dict]:
    """The tickets of the visit a tracker token belongs to, oldest first."""
    return list(db.query(
        "SELECT t.* FROM tickets t JOIN visits v ON v.id = t.visit_id WHERE v.token = ?"
        " ORDER BY t.id", [token or ""]))


def tracker_state(db: sqlite_utils.Database, token: str, default_service_s: int = 300
                  ) -> dict | None:
    """What a tracker page shows: the visit's current ticket, people ahead, its queue key."""
    rows = visit_tickets(db, token)
    if not rows:
        return None
    current = rows[-1]
    view = engine.ticket_view(db, current)
    state = {
        "office_id": current["office_id"],
        "seq": engine.current_seq(db, current["office_id"]),
        "ticket": view,
        "tickets": [{"id": r["id"], "code": r["code"], "status": r["status"]} for r in rows],
        "people_ahead": None, "estimated_wait_s": None, "queue_key": None,
    }
    if current["status"] == WAITING:
        ahead, wait_s = estimate_wait(db, current, default_service_s)
        state.update(people_ahead=ahead, estimated_wait_s=wait_s, queue_key=queue_key(current))
    return state


def counter_state(db: sqlite_utils.Database, counter_id: int, user_id: int | None,
                  now=None, next_limit: int = 10) -> dict:
    """The counter screen's own part: its services' waiting counts, next tickets, figures."""
    counter = engine.get_counter(db, counter_id)
    office = engine.get_office(db, counter["office_id"])
    services = [r[0] for r in db.execute(
        "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
        [counter_id]).fetchall()]
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    nxt = engine.pick_next(db, counter)
    waiting = engine.waiting_list(db, office["id"], services or [-1], next_limit)
    if nxt is not None:  # the ticket call-next would take goes first, as it will be called
        waiting = [engine.ticket_view(db, nxt)] + [t for t in waiting if t["id"] != nxt["id"]]
        waiting = waiting[:next_limit]
    mine = {"called": 0, "done": 0, "no_show": 0, "avg_service_s": None}
    if user_id is not None:
        row = db.execute(
            "SELECT count(*), sum(status = 'done'), sum(status = 'no_show'),"
            " avg(CASE WHEN status = 'done' AND started_at IS NOT NULL THEN"
            " (julianday(finished_at) - julianday(started_at)) * 86400.0 END)"
            " FROM tickets WHERE office_id = ? AND day = ? AND officer_id = ?"
            " AND called_at IS NOT NULL", [office["id"], day, user_id]).fetchone()
        mine = {"called": row[0], "done": row[1] or 0, "no_show": row[2] or 0,
                "avg_service_s": round(row[3]) if row[3] is not None else None}
    return {"counter_id": counter_id, "services": services, "next_tickets": waiting,
            "next_ticket_id": nxt["id"] if nxt else None, "mine": mine, "day": day}
