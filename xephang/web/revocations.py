"""Open sockets end when their access does: logout, deactivation, a new password, a revoked
token or device, a rotated board link.

The engine appends each ending to ``revocations`` (``engine.access``). Every
server process follows that table from where it was at start-up: after each
state-changing request of its own (at once), and every half second in the
background, so a revocation made by another process, or by the command
line, reaches this process's sockets within a second. A matching socket is
disconnected; the client's reconnect is then judged afresh.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from ..engine import access
from . import metrics
from .context import get_db
from .extensions import socketio

log = logging.getLogger(__name__)
POLL_S = 0.5


def _matches(client, kind: str, ref: int) -> bool:
    principal = client.principal
    if kind == "board":
        return client.kind == "board" and client.office_id == ref
    if principal is None:
        return False
    if kind == "session":
        return principal.session_id == ref
    if kind == "token":
        return principal.token_id == ref
    if kind == "user":
        return principal.kind == "user" and principal.user_id == ref
    return principal.kind == "device" and principal.device_id == ref  # device


def apply_revocations() -> int:
    """Disconnect this process's sockets that newer revocations name; how many."""
    app = current_app._get_current_object()
    state = app.extensions["xephang.revocations"]
    rows = access.revocations_after(get_db(), state["cursor"])
    if not rows:
        return 0
    state["cursor"] = rows[-1][0]
    live = app.extensions.setdefault("xephang.live_clients", {})
    ended = 0
    for _id, kind, ref in rows:
        for sid, client in list(live.items()):
            if _matches(client, kind, ref):
                if live.pop(sid, None) is not None:
                    metrics.socket_connected(client.kind, -1)
                socketio.server.disconnect(sid, namespace="/")
                ended += 1
    return ended


def apply_own_revocations() -> int:
    """After a write request: apply revocations at once when this process wrote one since
    the last look (a logout, a revoked device); other processes' wait for ``_follow``.
    Most writes revoke nothing and skip the query."""
    state = current_app.extensions["xephang.revocations"]
    written = access.revoked_here()
    if state.get("written") == written:
        return 0
    state["written"] = written
    return apply_revocations()


def _follow(app: Flask) -> None:
    """The background loop: follow the revocations table for the life of the process."""
    while True:
        socketio.sleep(POLL_S)
        try:
            with app.app_context():
                apply_revocations()
        except Exception:  # a locked or busy database: try again on the next turn
            log.exception("could not apply revocations")


def init_app(app: Flask) -> None:
    """Start following revocations from now; the background loop runs unless testing."""
    with app.app_context():
        cursor = access.last_revocation(get_db())
    app.extensions["xephang.revocations"] = {"cursor": cursor, "written": access.revoked_here()}
    app.extensions.setdefault("xephang.revocation_listeners", []).append(apply_own_revocations)
    if not app.testing:
        socketio.start_background_task(_follow, app)
