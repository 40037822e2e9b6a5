"""Request-scoped plumbing shared by every room: the database, publishing events, URLs,
the client's address."""

from __future__ import annotations

import functools
import ipaddress
import sys

from flask import current_app, g, has_app_context, request

from .. import formats
from ..clock import shown, shown_day, written_day
from ..config import parse_rate
from ..engine import Outcome
from ..engine.booking import identity_key as derive_identity_key
from ..storage import ConnectionPool, GroupCommit

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# How every room's templates write times, dates and numbers: clock.py and formats.py.
FILTERS = {
    "localtime": shown,  # {{ row.at|localtime(office.timezone) }} → 26/11/2026 14:05
    "localday": shown_day,  # {{ report.from|localday }} → 01/01/2023
    "writtenday": written_day,  # ngày 05 tháng 3 năm 2026 (a printed report's date line)
    "number": formats.number,  # {{ t.issued|number }} → 12.345; {{ x|number(1) }} → 1,6
    "minutes": formats.minutes,  # seconds → minutes to a tenth: 96 → 1,6
    "percent": formats.percent,  # 0.95 → 95,0 %
}


def init_app(app) -> None:
    """Return each request's connection to the pool when its context ends; after a change,
    let the revocation listeners (the realtime hub) act on what it ended."""
    app.teardown_appcontext(close_db)
    if app.config.get("GROUP_COMMIT"):
        app.extensions["xephang.group_commit"] = group_commit(
            app.config["DB"], int(app.config["BUSY_TIMEOUT_MS"])
        )
    app.jinja_env.filters.update(FILTERS)
    app.extensions.setdefault("xephang.revocation_listeners", [])
    app.after_request(_after_change)


def _after_change(response):
    if request.method in UNSAFE_METHODS:
        for listener in current_app.extensions["xephang.revocation_listeners"]:
            listener()
    return response


def on_gevent_loop() -> bool:
    """Whether this process serves on gevent's loop with patched sockets (``xephang
    serve``), not through the test client or a thread per request: then a call that
    blocks stalls every other request of the process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def blocking(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` off the event loop when serving under gevent (in a
    thread of its pool), so password hashing, a long report or a commit's fsync never
    stalls boards and counters; called directly otherwise. Pass the request's
    ``get_db()`` in: the thread has no request context."""
    if not on_gevent_loop():
        return fn(*args, **kwargs)
    import gevent

    return gevent.get_hub().threadpool.apply(fn, args, kwargs)


def group_commit(path: str, busy_timeout_ms: int) -> GroupCommit:
    """The process's group commit as the server runs it: each commit in a thread of
    gevent's pool (``blocking``), so the loop serves while the disk syncs."""
    return GroupCommit(path, busy_timeout_ms, offload=blocking)


def grouped(fn, *args, **kwargs):
    """Run the engine operation ``fn(db, *args, **kwargs)`` in this process's group commit
    (``storage.GroupCommit``): with the writes that arrive at the same time, in one
    transaction, each in its own savepoint; returns once that transaction is durable.

    Without GROUP_COMMIT, on the request's own connection. The job may run in another
    request's greenlet (the one leading the group): it may use ``current_app``, never
    ``request`` or ``g``; give it what it needs from its request as arguments.
    """
    committer = current_app.extensions.get("xephang.group_commit")
    if committer is None:
        return fn(get_db(), *args, **kwargs)
    app = current_app._get_current_object()

    def job(db):
        if has_app_context():  # the leader's request context, of the same app
            return fn(db, *args, **kwargs)
        with app.app_context():
            return fn(db, *args, **kwargs)

    return committer.run(job)


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
    """Hand an operation's committed events to the realtime hub; wake the outbox worker
    if it queued messages (only then: a worker's round costs each commit a few reads)."""
    if outcome.events:
        current_app.extensions["xephang.hub"].publish(outcome.events)
    if outcome.messages:
        wake_outbox()
    return outcome


def wake_outbox() -> None:
    """Wake the outbox worker after a commit that queued a message (``publish`` does, for
    an operation's outcome; a one-time code, which logs no event, calls it itself): it
    need not wait for its next poll."""
    notifier = current_app.extensions.get("xephang.notifier")
    if notifier is not None:
        notifier.wake()


def device_rate_limit() -> tuple[int, float]:
    """KIOSK_RATE_LIMIT as (tickets, seconds): what one device may issue, by any path."""
    return parse_rate(current_app.config["KIOSK_RATE_LIMIT"])


def tracker_url(token: str) -> str:
    """The address the ticket's QR code opens."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/t/" + token


def identity_key() -> bytes:
    """The key citizens' phone and CCCD numbers are hashed with (from SECRET_KEY)."""
    return derive_identity_key(current_app.config["SECRET_KEY"])


def booking_url(token: str) -> str:
    """The address of a booking's page (its QR code opens it; the kiosk reads it)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/booking/b/" + token


@functools.lru_cache(maxsize=32)
def _networks(listed: str) -> tuple:
    found = []
    for entry in (e.strip() for e in str(listed or "").split(",")):
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # (an empty or mistyped entry matches nothing)
    return tuple(found)


def address_in(address: str | None, listed: str) -> bool:
    """Whether ``address`` is one of the addresses or networks ``listed`` (comma-separated,
    as METRICS_ALLOW and TRUSTED_PROXIES are written)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(listed))


def client_address() -> str | None:
    """The address of the client this request comes from: the peer, or, when the peer is
    a proxy of TRUSTED_PROXIES (nginx on this machine), the last ``X-Forwarded-For``
    entry, the one that proxy appended. What the throttles count, METRICS_ALLOW checks
    and the access log writes: behind nginx the peer is 127.0.0.1 for everyone."""
    peer = request.remote_addr
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and address_in(peer, current_app.config["TRUSTED_PROXIES"]):
        last = forwarded.split(",")[-1].strip()
        return last[:64] or peer
    return peer
