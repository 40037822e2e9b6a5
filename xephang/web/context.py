"""Request-scoped plumbing shared by every room: the database, publishing events, URLs."""

from __future__ import annotations

from flask import current_app, g

from ..engine import Outcome
from ..storage import ConnectionPool


def init_app(app) -> None:
    """Return each request's connection to the pool when its context ends."""
    app.teardown_appcontext(close_db)


def _pool() -> ConnectionPool:
    pool = current_app.extensions.get("xephang.db_pool")
    if pool is None:
        pool = current_app.extensions.setdefault(
            "xephang.db_pool",
            ConnectionPool(current_app.config["DB"], current_app.config["BUSY_TIMEOUT_MS"]),
        )
    return pool


def get_db():
    """This request's database connection (from the app's pool, returned at teardown)."""
    if "db" not in g:
        g.db = _pool().acquire()
    return g.db


def close_db(_exc=None) -> None:
    """Give this request's connection back to the pool (teardown)."""
    db = g.pop("db", None)
    if db is not None:
        _pool().release(db)


def publish(outcome: Outcome) -> Outcome:
    """Hand an operation's committed events to the realtime hub."""
    if outcome.events:
        current_app.extensions["xephang.hub"].publish(outcome.events)
    return outcome


def tracker_url(token: str) -> str:
    """The address the ticket's QR code opens."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/t/" + token
