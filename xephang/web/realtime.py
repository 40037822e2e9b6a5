"""The realtime hub: committed engine events to Socket.IO rooms, and who may listen.

Rooms: ``office:<id>`` (boards, counters, dashboards of an office: every
event), ``counter:<id>`` (one counter screen or LED sign: that counter's
events), ``ticket:<id>`` (the tracker page of a ticket) and
``service:<id>`` (trackers of waiting tickets: one ``queue_moved`` per change
of the queue instead of one emit per waiting ticket). Every event carries
the office's sequence number ``seq`` so a client can detect a gap and fetch
a snapshot. ``docs/realtime.md`` is the contract.

Who may connect, from ``auth`` in the Socket.IO handshake or the session
cookie: a user (session or ``{"token": <bearer>}``) for their office, a
paired display or kiosk (session or ``{"token": <device token>}``) for its
office, a public board (``{"board": <board id>}``) read-only, a tracker
(``{"visit": <tracker token>}``) for its own tickets only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context, request
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from .. import engine
from ..engine.accounts import Principal
from ..engine.announcements import announcement
from ..errors import QueueError
from ..queries import office as office_queries
from ..queries import people
from ..queries import queue as queue_queries
from ..reports.live import board_snapshot
from .auth import current_principal
from .context import get_db
from .extensions import socketio

log = logging.getLogger(__name__)

OFFICE_DEVICES = ("display", "kiosk")
ANNOUNCED = ("called", "recalled")
PRIVATE_DETAILS = ("dossier_code",)
SYNC_LIMIT, SYNC_WINDOW_S = 20, 10.0  # well above what live.js asks for (it coalesces)


def office_room(office_id: int) -> str:
    return f"office:{office_id}"


def counter_room(counter_id: int) -> str:
    return f"counter:{counter_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def service_room(service_id: int) -> str:
    return f"service:{service_id}"


@dataclass
class LiveClient:
    """One connected socket: who it is and which office it may follow."""

    kind: str  # user, device, board or tracker
    office_id: int | None
    principal: Principal | None = None
    visit_token: str | None = None
    rooms: set[str] = field(default_factory=set)
    syncs: list[float] = field(default_factory=list)

    @property
    def is_staff(self) -> bool:
        return self.kind == "user"

    def may_sync(self, now: float) -> bool:
        """At most SYNC_LIMIT snapshots per SYNC_WINDOW_S: a snapshot costs the server queries."""
        self.syncs = [t for t in self.syncs if now - t < SYNC_WINDOW_S]
        if len(self.syncs) >= SYNC_LIMIT:
            return False
        self.syncs.append(now)
        return True


def clients() -> dict[str, LiveClient]:
    """Connected sockets of this process by sid."""
    return current_app.extensions.setdefault("xephang.live_clients", {})


def this_client() -> LiveClient | None:
    return clients().get(request.sid)


# --- broadcasting committed events -------------------------------------------------------


def public_event(event: dict, waiting: dict[str, int], settings: dict | None = None) -> dict:
    """An engine event as sent to rooms: no dossier code, plus the waiting counts after it."""
    payload = dict(event)
    details = dict(event.get("details") or {})
    for key in PRIVATE_DETAILS:
        if details.pop(key, None) is not None:
            details["has_" + key] = True
    payload["details"] = details
    payload["waiting"] = waiting
    payload["waiting_total"] = sum(waiting.values())
    ticket = event.get("ticket")
    if event["type"] in ANNOUNCED and ticket and ticket.get("counter") and settings:
        payload["announcement"] = announcement(
            ticket["code"],
            ticket["counter"]["number"],
            settings["announce_template"],
            settings["number_reading"],
            settings["number_dialect"],
        )
    return payload


def waiting_counts(db, office_id: int) -> dict[str, int]:
    """Waiting tickets per service of an office (service id as a string key, as in JSON)."""
    return {str(k): v for k, v in queue_queries.waiting_counts(db, office_id).items()}


def broadcast_with(db, events: list[dict]) -> None:
    """Emit committed events to their rooms, then the queue moves to the trackers."""
    by_office: dict[int, list[dict]] = {}
    for event in events:
        by_office.setdefault(event["office_id"], []).append(event)
    for office_id, office_events in by_office.items():
        waiting = waiting_counts(db, office_id)
        settings = None
        if any(e["type"] in ANNOUNCED for e in office_events):
            settings = engine.office_settings(db, office_id)
        for event in office_events:
            rooms = [office_room(office_id)]
            if event.get("counter_id"):
                rooms.append(counter_room(event["counter_id"]))
            if event.get("ticket_id"):
                rooms.append(ticket_room(event["ticket_id"]))
            socketio.emit("queue_event", public_event(event, waiting, settings), to=rooms)
        moves = queue_queries.queue_moves(db, office_events, waiting)
        if not moves:
            continue
        if _cooperative():
            # boards, counters and the HTTP answer go first; the tracker fan-out (one
            # send per tracker) runs once this request yields. Greenlets start in order.
            socketio.start_background_task(emit_moves, moves)
        else:
            socketio.sleep(0)
            emit_moves(moves)


def _cooperative() -> bool:
    """Whether we serve under gevent with patched I/O (``xephang serve``), not a test client."""
    if socketio.async_mode != "gevent":
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket")


def emit_moves(moves: list[dict]) -> None:
    """Send ``queue_moved`` to the trackers of each service concerned."""
    for move in moves:
        socketio.emit("queue_moved", move, to=service_room(move["service_id"]))


def make_broadcaster(app: Flask):
    """The hub subscriber: uses the request's connection, or its own outside a request."""

    def broadcast(events: list[dict]) -> None:
        if has_app_context():
            broadcast_with(get_db(), events)
            return
        with app.app_context():  # a worker thread (the print spooler): the app's pool
            broadcast_with(get_db(), events)

    return broadcast


# --- who is connecting -------------------------------------------------------------------


def identify(auth) -> LiveClient | None:
    """The client a handshake authenticates, or None."""
    auth = auth if isinstance(auth, dict) else {}
    db = get_db()
    if auth.get("token"):
        principal = people.principal_for_token(db, str(auth["token"]))
        return _principal_client(principal)
    if auth.get("board"):
        office_id = office_queries.office_for_board(db, str(auth["board"]))
        return LiveClient("board", office_id) if office_id else None
    if auth.get("visit"):
        token = str(auth["visit"])
        rows = queue_queries.visit_tickets(db, token)
        return LiveClient("tracker", rows[0]["office_id"], visit_token=token) if rows else None
    return _principal_client(current_principal())


def _principal_client(principal) -> LiveClient | None:
    if principal is None:
        return None
    if principal.kind == "device":
        if principal.role not in OFFICE_DEVICES:
            return None
        return LiveClient("device", principal.office_id, principal)
    return LiveClient("user", principal.office_id, principal)


def enter(client: LiveClient, room: str) -> None:
    join_room(room)
    client.rooms.add(room)


def join_visit(db, client: LiveClient, token: str) -> list[str]:
    """Join the rooms of a visit's tickets and its waiting ticket's service room.

    Service rooms of tickets no longer waiting are left: once called, a
    tracker has no more use for the queue moves of its service.
    """
    joined, waiting_in = [], set()
    for row in queue_queries.visit_tickets(db, token):
        enter(client, ticket_room(row["id"]))
        joined.append(ticket_room(row["id"]))
        if row["status"] == "waiting":
            waiting_in.add(service_room(row["service_id"]))
    for room in waiting_in:
        enter(client, room)
        joined.append(room)
    for room in [r for r in client.rooms if r.startswith("service:") and r not in waiting_in]:
        leave_room(room)
        client.rooms.discard(room)
    return joined


def may_follow_office(client: LiveClient, office_id: int) -> bool:
    if client.kind in ("board", "tracker"):
        return client.office_id == office_id
    return client.principal.may_access_office(office_id)


def join_counter(client: LiveClient, counter_id) -> str:
    """Join a counter's room: staff of the counter's office only."""
    if not client.is_staff:
        raise PermissionError("staff only")
    counter = engine.get_counter(get_db(), int(counter_id))
    if not client.principal.may_access_office(counter["office_id"]):
        raise PermissionError("other office")
    room = counter_room(counter["id"])
    enter(client, room)
    return room


@socketio.on("connect")
def on_connect(auth=None):
    """Sent by every client on connect and reconnect; joins its rooms or refuses it.

    A display or kiosk (device token or paired session), a public board
    (``board``) and staff are joined to their office room; a tracker
    (``visit``) to its tickets; ``counter`` in ``auth`` also joins a counter's room.
    """
    client = identify(auth)
    if client is None:
        raise ConnectionRefusedError({"error": "unauthorized", "status": 401})
    clients()[request.sid] = client
    auth = auth if isinstance(auth, dict) else {}
    if client.kind == "tracker":
        join_visit(get_db(), client, client.visit_token)
        return True
    office_id = client.office_id
    if office_id is None and auth.get("office") is not None and client.is_staff:
        office_id = int(auth["office"])  # an admin of every office picks one
        client.office_id = office_id
    if office_id is not None:
        enter(client, office_room(office_id))
    if auth.get("counter") is not None:
        try:
            join_counter(client, auth["counter"])
        except (PermissionError, QueueError, ValueError, TypeError):
            clients().pop(request.sid, None)
            raise ConnectionRefusedError({"error": "counter not allowed", "status": 403}) from None
    return True


@socketio.on("disconnect")
def on_disconnect(*_args):
    """Forget the socket (Socket.IO leaves its rooms by itself)."""
    clients().pop(request.sid, None)


def _fail(status: int, error: str) -> dict:
    return {"ok": False, "status": status, "error": error}


@socketio.on("join")
def on_join(data=None):
    """Sent by a client to follow more: ``{"office"}``, ``{"counter"}`` or ``{"visit": token}``.

    Acknowledged with ``{"ok": true, "rooms": [...]}`` or an error; nothing is emitted.
    """
    client = this_client()
    data = data if isinstance(data, dict) else {}
    if client is None:
        return _fail(401, "not connected")
    try:
        if "counter" in data:
            return {"ok": True, "rooms": [join_counter(client, data["counter"])]}
        if "office" in data:
            office_id = int(data["office"])
            if not may_follow_office(client, office_id):
                return _fail(403, "other office")
            client.office_id = office_id
            enter(client, office_room(office_id))
            return {"ok": True, "rooms": [office_room(office_id)]}
        if "visit" in data:
            rooms = join_visit(get_db(), client, str(data["visit"]))
            return {"ok": True, "rooms": rooms} if rooms else _fail(404, "no such visit")
    except PermissionError as err:
        return _fail(403, str(err))
    except QueueError as err:
        return _fail(err.status, err.message)
    except (TypeError, ValueError):
        return _fail(400, "bad request")
    return _fail(400, "give office, counter or visit")


@socketio.on("leave")
def on_leave(data=None):
    """Sent by a counter screen switching counters: ``{"counter": id}``; acknowledged."""
    client = this_client()
    data = data if isinstance(data, dict) else {}
    if client is None or "counter" not in data:
        return _fail(400, "give counter")
    room = counter_room(int(data["counter"]))
    leave_room(room)
    client.rooms.discard(room)
    return {"ok": True}


@socketio.on("sync")
def on_sync(data=None):
    """Sent by a client after (re)connecting or on a sequence gap; the ack is its snapshot.

    Boards and staff get the office snapshot (``board_snapshot``); a tracker
    gets its visit's state and re-joins the rooms of a transferred ticket.
    """
    client = this_client()
    if client is None:
        return _fail(401, "not connected")
    if not client.may_sync(time.monotonic()):
        return _fail(429, "too many sync requests")
    db = get_db()
    if client.kind == "tracker":
        join_visit(db, client, client.visit_token)
        state = queue_queries.tracker_state(
            db, client.visit_token, current_app.config["DEFAULT_SERVICE_TIME_S"]
        )
        return {"ok": True, "tracker": state, "seq": state["seq"] if state else 0}
    if client.office_id is None:
        return _fail(400, "join an office first")
    snap = board_snapshot(db, client.office_id)
    return {"ok": True, "snapshot": snap, "seq": snap["seq"]}


def init_app(app: Flask) -> None:
    """Subscribe the broadcaster to the app's hub."""
    app.extensions["xephang.hub"].subscribe(make_broadcaster(app))
