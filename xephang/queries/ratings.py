"""Ratings as the citizens' screens read them: whether a visit is rated, and what a counter's
rating tablet shows.

The tablet is a citizen-facing screen at one counter: it gets the public
shape of a ticket (code, service, status), the counter, and the one piece
of staff data a citizen at that counter may see, the officer's display name
(docs/security.md). Never a username, reason, outcome, dossier code or
priority category.
"""

from __future__ import annotations

from datetime import timedelta

import sqlite_utils

from ..clock import iso, resolve_now
from ..engine.log import last_seq
from ..engine.lookups import get_office
from ..engine.settings import office_setting
from ..engine.views import public_ticket, ticket_views
from ..errors import NotFoundError
from ..storage import one, read


def visit_rating(db: sqlite_utils.Database, visit_id: int) -> dict | None:
    """The rating of a visit (on whichever of its tickets), or None: a visit is rated once."""
    return one(
        db,
        "SELECT id, ticket_id, level, channel, created_at FROM ratings WHERE visit_id = ?"
        " ORDER BY id LIMIT 1",
        [visit_id],
    )


def tablet_state(db: sqlite_utils.Database, counter_id: int, window_s: float, now=None) -> dict:
    """What a counter's rating tablet shows: the counter, its officer's display name, the
    ticket at the counter, and ``pending``: the latest ticket the counter finished in the
    last ``window_s`` seconds whose visit is not rated yet (None when there is none)."""
    with read(db):
        counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
        if counter is None:
            raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
        office = get_office(db, counter["office_id"])
        officer = None
        if counter["state"] != "closed" and counter["officer_id"]:
            officer = one(
                db, "SELECT display_name FROM users WHERE id = ?", [counter["officer_id"]]
            )
        current = None
        if counter["current_ticket_id"]:
            current = public_ticket(ticket_views(db, counter["current_ticket_id"])[1])
            if current["status"] not in ("called", "serving"):
                current = None
        since = iso(resolve_now(now) - timedelta(seconds=window_s))
        done = one(
            db,
            "SELECT t.id FROM tickets t WHERE t.counter_id = ? AND t.status = 'done'"
            " AND t.finished_at >= ? AND NOT EXISTS (SELECT 1 FROM ratings r"
            " WHERE r.visit_id = t.visit_id) ORDER BY t.finished_at DESC, t.id DESC LIMIT 1",
            [counter_id, since],
        )
        pending = None
        if done is not None:
            view = ticket_views(db, done["id"])[1]
            pending = {
                "ticket_id": view["id"],
                "code": view["code"],
                "service": {k: view["service"][k] for k in ("name_vi", "name_en")},
                "finished_at": view["finished_at"],
            }
        return {
            "office": {"id": office["id"], "name": office["name"]},
            "counter": {
                "id": counter["id"],
                "number": counter["number"],
                "name": counter["name"],
                "state": counter["state"],
            },
            "officer": (officer["display_name"] or None) if officer else None,
            "ticket": current,
            "pending": pending,
            "scale": office_setting(db, office["id"], "rating_scale"),
            "attributes": office_setting(db, office["id"], "rating_attributes"),
            "seq": last_seq(db, office["id"]),
        }
