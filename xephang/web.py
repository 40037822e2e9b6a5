"""Request-scoped plumbing shared by every room: the database and publishing events."""

from __future__ import annotations

from flask import current_app, g

from .db import connect
from .engine import Outcome


def get_db():
    """This request's database connection (opened on first use, closed at teardown)."""
    if "db" not in g:
        g.db = connect(current_app.config["DB"], current_app.config["BUSY_TIMEOUT_MS"])
    return g.db


def close_db(_exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def publish(outcome: Outcome) -> Outcome:
    """Hand an operation's committed events to the realtime hub."""
    if outcome.events:
        current_app.extensions["xephang.hub"].publish(outcome.events)
    return outcome


def tracker_url(token: str) -> str:
    """The address the ticket's QR code opens."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/t/" + token
