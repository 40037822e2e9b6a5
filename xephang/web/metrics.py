"""``GET /metrics``: Prometheus text format (prometheus-client).

Who may read it: the bearer token of an admin of every office (the figures cover
every office), or a client whose address is in
``METRICS_ALLOW`` (default 127.0.0.1). Behind a proxy of ``TRUSTED_PROXIES`` the
client is the last ``X-Forwarded-For`` entry, the one the proxy added
(``context.client_address``). The names and labels are documented in docs/operations.md.

Two kinds of figures:

- kept by each process as things happen (requests, commits, events, sockets); with
  several processes (`xephang serve --workers N` sets ``PROMETHEUS_MULTIPROC_DIR``)
  prometheus-client's multiprocess mode adds them up, whichever process answers;
- read from the database when scraped (waiting, longest wait, print jobs, the
  notifiers' outbox), the same from every process. Other parts may add their own
  with ``register_collector``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from ..clock import iso
from ..engine import access, checkin
from ..errors import ForbiddenError
from ..queries.messages import pending_moves
from ..storage import connect, observe_commits
from .auth import current_principal, public
from .context import address_in, client_address

bp = Blueprint("metrics", __name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
COMMIT_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)

REQUESTS = Histogram(
    "xephang_http_request_duration_seconds",
    "Time to answer an HTTP request, by route group (the room or API that answered).",
    ["group", "method", "status_class"],
    buckets=LATENCY_BUCKETS,
)
COMMITS = Histogram(
    "xephang_db_commit_seconds",
    "Time of each durable commit of the database (the disk's sync), this server's writes.",
    buckets=COMMIT_BUCKETS,
)
WRITES_PER_COMMIT = Histogram(
    "xephang_db_writes_per_commit",
    "Write requests that shared one commit (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
EVENTS = Counter(
    "xephang_queue_events_total",
    "Events of the offices' logs this server committed, by type (issued, called, ...).",
    ["office", "type"],
)
ISSUED = Counter("xephang_tickets_issued_total", "Tickets issued.", ["office"])
SERVED = Counter("xephang_tickets_served_total", "Tickets finished at a counter.", ["office"])
SOCKETS = Gauge(
    "xephang_sockets",
    "Connected Socket.IO clients, by kind (user, device, board, tracker).",
    ["kind"],
    **({"multiprocess_mode": "livesum"} if MULTIPROCESS else {}),
)


def route_group() -> str:
    """The part of the app that answered: the blueprint (api, kiosk, counter, display,
    manager, ...), ``socketio``, ``static`` or ``other``."""
    if request.path.startswith("/socket.io"):
        return "socketio"
    if request.endpoint and request.endpoint.endswith("static"):
        return "static"
    return request.blueprint or ("other" if request.endpoint is None else "app")


def _begin() -> None:
    g.metrics_began = time.perf_counter()


def _end(response):
    began = g.get("metrics_began")
    if began is not None:
        REQUESTS.labels(route_group(), request.method, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - began
        )
    return response


def _observe_commit(seconds: float, writes: int) -> None:
    COMMITS.observe(seconds)
    WRITES_PER_COMMIT.observe(writes)


def count_events(events: list[dict]) -> None:
    """The hub's subscriber: count committed events (issued, finished, ...)."""
    for event in events:
        office = str(event["office_id"])
        EVENTS.labels(office, event["type"]).inc()
        if event["type"] == "issued":
            ISSUED.labels(office).inc()
        elif event["type"] == "finished":
            SERVED.labels(office).inc()


def socket_connected(kind: str, delta: int) -> None:
    """The realtime handlers tell of each socket that connects (+1) or goes (-1)."""
    SOCKETS.labels(kind).inc(delta)


class DatabaseCollector:
    """Figures read from the database at scrape time (the same from every process)."""

    def __init__(self, db_path: str):
        self.db_path = db_path

    def collect(self):
        db = connect(self.db_path)
        try:
            yield from self._collect(db)
        finally:
            db.close()

    def _collect(self, db):
        waiting = GaugeMetricFamily(
            "xephang_waiting_tickets",
            "Tickets waiting now, per office and service (prefix).",
            labels=["office", "service"],
        )
        for office, prefix, count in db.execute(
            "SELECT q.office_id, s.prefix, q.waiting FROM queue_counts q"
            " JOIN services s ON s.id = q.service_id WHERE s.active OR q.waiting > 0"
        ):
            waiting.add_metric([str(office), prefix], count)
        yield waiting
        longest = GaugeMetricFamily(
            "xephang_longest_wait_seconds",
            "How long the ticket waiting longest has waited (since it joined the line), by office.",
            labels=["office"],
        )
        now = time.time()
        for office, first in db.execute(
            "SELECT office_id, min(queue_at) FROM tickets INDEXED BY tickets_waiting_day"
            " WHERE status = 'waiting' GROUP BY office_id"
        ):
            since = datetime.fromisoformat(first).timestamp()
            longest.add_metric([str(office)], max(now - since, 0.0))
        yield longest
        jobs = GaugeMetricFamily(
            "xephang_print_jobs",
            "Print jobs of the last 24 hours by state (queued, claimed, sending, done, failed).",
            labels=["state"],
        )
        since = iso(datetime.fromtimestamp(now - 86400, UTC))
        counts = dict.fromkeys(("queued", "claimed", "sending", "done", "failed"), 0)
        for state, count in db.execute(
            "SELECT state, count(*) FROM print_jobs WHERE created_at >= ? GROUP BY state", [since]
        ):
            counts[state] = count
        for state, count in counts.items():
            jobs.add_metric([state], count)
        yield jobs
        outbox = GaugeMetricFamily(
            "xephang_outbox_messages",
            "Outgoing messages (SMS, Zalo, e-mail, Web Push, webhooks) of the last 24 hours"
            " by state (queued, sending, sent, failed, skipped).",
            labels=["state"],
        )
        counts = dict.fromkeys(("queued", "sending", "sent", "failed", "skipped"), 0)
        for state, count in db.execute(
            "SELECT state, count(*) FROM outbox WHERE created_at >= ? GROUP BY state", [since]
        ):
            counts[state] = count
        for state, count in counts.items():
            outbox.add_metric([state], count)
        yield outbox
        yield from _throttled(db, now)
        moves = pending_moves(db)
        yield GaugeMetricFamily(
            "xephang_outbox_moves",
            "Lines that moved whose 'turn near' messages the outbox worker has not written yet.",
            value=moves["pending"],
        )
        oldest = moves["oldest_at"]
        yield GaugeMetricFamily(
            "xephang_outbox_move_age_seconds",
            "How long the oldest of those moves has waited (0: none).",
            value=max(now - datetime.fromisoformat(oldest).timestamp(), 0.0) if oldest else 0.0,
        )


def _throttled(db, now: float):
    """What the throttles count now, over their windows: someone guessing shows here."""
    since = iso(datetime.fromtimestamp(now - checkin.FAILURE_WINDOW.total_seconds(), UTC))
    wrong = GaugeMetricFamily(
        "xephang_checkin_wrong_digits",
        "Wrong check-in digits typed for online numbers in the last 15 minutes, by office.",
        labels=["office"],
    )
    for office, count in db.execute(
        "SELECT office_id, count(*) FROM checkin_failures WHERE at > ? GROUP BY office_id",
        [since],
    ):
        wrong.add_metric([str(office)], count)
    yield wrong
    since = iso(datetime.fromtimestamp(now - access.LOGIN_WINDOW.total_seconds(), UTC))
    yield GaugeMetricFamily(
        "xephang_login_failures",
        "Failed staff logins in the last 15 minutes.",
        value=db.execute("SELECT count(*) FROM login_failures WHERE at > ?", [since]).fetchone()[0],
    )


def register_collector(app: Flask, collector) -> None:
    """Add a prometheus-client collector (an object with ``collect()``) to /metrics."""
    app.extensions.setdefault("xephang.metric_collectors", []).append(collector)


@bp.get("/metrics")
@public  # (decides itself: an admin's token or an allowed address)
def metrics():
    """Prometheus metrics, for an admin's bearer token or an address in METRICS_ALLOW."""
    principal = current_principal()
    # The figures cover every office of the server: an admin of every office only.
    is_admin = principal is not None and principal.kind == "user" and principal.is_global_admin
    if not is_admin and not address_in(client_address(), current_app.config["METRICS_ALLOW"]):
        raise ForbiddenError("Không được xem số liệu", "Metrics are not for this client")
    registry = CollectorRegistry()
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, COMMITS, WRITES_PER_COMMIT, EVENTS, ISSUED, SERVED, SOCKETS):
            registry.register(collector)
    registry.register(DatabaseCollector(current_app.config["DB"]))
    for collector in current_app.extensions.get("xephang.metric_collectors", []):
        registry.register(collector)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time every request, count committed events and commits; serve /metrics."""
    app.before_request(_begin)
    app.after_request(_end)
    app.extensions["xephang.hub"].subscribe(count_events)
    observe_commits(_observe_commit)
    app.register_blueprint(bp)
