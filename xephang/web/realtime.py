"""Who may listen, and the Socket.IO handlers: connect, join, leave, sync.

Who may connect, from ``auth`` in the Socket.IO handshake or the session
cookie: a user (session or ``{"token": <bearer>}``) for their office's staff
room; a paired display or kiosk (session or ``{"token": <device token>}``)
and a public board (``{"board": <board id>}``) for its office's board room,
read-only; a tracker (``{"visit": <tracker token>}``) for its own tickets
only; a counter's rating tablet (session or device token) for that counter's
public events only. What each room receives is in ``broadcast``; a browser's handshake
must come from the server's own origin (``SOCKET_ORIGINS``); open sockets
end when their access does (``revocations``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from .. import engine
from ..engine import accounts
from ..engine.accounts import Principal
from ..engine.lookups import storable_id
from ..engine.views import public_snapshot
from ..errors import QueueError
from ..queries import office as office_queries
from ..queries import people
from ..queries import queue as queue_queries
from ..queries import ratings as rating_queries
from ..reports.live import board_snapshot
from . import broadcast, metrics, revocations
from .auth import current_principal
from .broadcast import (
    board_room,
    counter_room,
    service_room,
    staff_room,
    tablet_room,
    ticket_room,
)
from .context import get_db
from .extensions import socketio

OFFICE_DEVICES = ("display", "kiosk")
TABLET_TOUCH_S = 30.0  # a tablet's sync records it as seen at most this often
SYNC_LIMIT, SYNC_WINDOW_S = 20, 10.0  # well above what live.js asks for (it coalesces)


@dataclass
class LiveClient:
    """One connected socket: who it is and which office it may follow."""

    kind: str  # user, device, board, tracker or tablet
    office_id: int | None
    principal: Principal | None = None
    visit_token: str | None = None
    rooms: set[str] = field(default_factory=set)
    syncs: list[float] = field(default_factory=list)
    touched: float = 0.0

    @property
    def is_staff(self) -> bool:
        return self.kind == "user"

    def office_room(self, office_id: int) -> str:
        """Staff follow an office's staff room, everyone else its board room."""
        return staff_room(office_id) if self.is_staff else board_room(office_id)

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
    """The connected socket this handler runs for."""
    return clients().get(request.sid)


def message_id(value) -> int:
    """An id from a socket message; ValueError for anything else (a bool, "abc", 2**70)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not an id")
    number = int(value)
    if not storable_id(number):
        raise ValueError("id out of range")
    return number


def message_text(value, max_len: int = 200) -> str | None:
    """A string from a socket message the database can take (bounded, no lone
    surrogate), or None for anything else."""
    if not isinstance(value, str) or len(value) > max_len:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


# --- who is connecting -------------------------------------------------------------------


def identify(auth) -> LiveClient | None:
    """The client a handshake authenticates, or None."""
    auth = auth if isinstance(auth, dict) else {}
    db = get_db()
    if auth.get("token"):
        token = message_text(auth["token"])
        return _principal_client(people.principal_for_token(db, token)) if token else None
    if auth.get("board"):
        board = message_text(auth["board"])
        office_id = office_queries.office_for_board(db, board) if board else None
        return LiveClient("board", office_id) if office_id else None
    if auth.get("visit"):
        token = message_text(auth["visit"])
        rows = queue_queries.visit_tickets(db, token) if token else []
        return LiveClient("tracker", rows[0]["office_id"], visit_token=token) if rows else None
    return _principal_client(current_principal())


def _principal_client(principal) -> LiveClient | None:
    if principal is None:
        return None
    if principal.kind == "device":
        if principal.role == "rating" and principal.counter_id:
            return LiveClient("tablet", principal.office_id, principal)
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
    if client.kind == "tablet":  # its counter's room only
        return False
    if client.kind in ("board", "tracker"):
        return client.office_id == office_id
    return client.principal.may_access_office(office_id)


def join_counter(client: LiveClient, counter_id) -> str:
    """Join a counter's room: staff of the counter's office only."""
    if not client.is_staff:
        raise PermissionError("staff only")
    counter = engine.get_counter(get_db(), message_id(counter_id))
    if not client.principal.may_access_office(counter["office_id"]):
        raise PermissionError("other office")
    room = counter_room(counter["id"])
    enter(client, room)
    return room


def _refuse(status: int, error: str):
    client = clients().pop(request.sid, None)
    if client is not None:
        metrics.socket_connected(client.kind, -1)
    return ConnectionRefusedError({"error": error, "status": status})


@socketio.on("connect")
def on_connect(auth=None):
    """Sent by every client on connect and reconnect; joins its rooms or refuses it.

    Staff join their office's staff room, a display, kiosk or public board
    (``board``) the office's board room, a tracker (``visit``) its tickets;
    ``counter`` in ``auth`` also joins a counter's room.
    """
    client = identify(auth)
    if client is None:
        raise ConnectionRefusedError({"error": "unauthorized", "status": 401})
    clients()[request.sid] = client
    metrics.socket_connected(client.kind, 1)
    auth = auth if isinstance(auth, dict) else {}
    if client.kind == "tracker":
        join_visit(get_db(), client, client.visit_token)
        return True
    if client.kind == "tablet":
        enter(client, tablet_room(client.principal.counter_id))
        return True
    if client.office_id is None and auth.get("office") is not None and client.is_staff:
        try:  # an admin of every office, or a province user, picks one of its offices
            office_id = message_id(auth["office"])
        except ValueError:
            raise _refuse(400, "bad office") from None
        if not client.principal.may_access_office(office_id):
            raise _refuse(403, "other office")
        client.office_id = office_id
    if client.office_id is not None:
        enter(client, client.office_room(client.office_id))
    if auth.get("counter") is not None:
        try:
            join_counter(client, auth["counter"])
        except (PermissionError, QueueError, ValueError, TypeError):
            raise _refuse(403, "counter not allowed") from None
    return True


@socketio.on("disconnect")
def on_disconnect(*_args):
    """Forget the socket (Socket.IO leaves its rooms by itself)."""
    client = clients().pop(request.sid, None)
    if client is not None:
        metrics.socket_connected(client.kind, -1)


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
            office_id = message_id(data["office"])
            if not may_follow_office(client, office_id):
                return _fail(403, "other office")
            client.office_id = office_id
            enter(client, client.office_room(office_id))
            return {"ok": True, "rooms": [client.office_room(office_id)]}
        if "visit" in data:
            token = message_text(data["visit"])
            rooms = join_visit(get_db(), client, token) if token else []
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
    try:
        room = counter_room(message_id(data["counter"]))
    except ValueError:
        return _fail(400, "give counter")
    leave_room(room)
    client.rooms.discard(room)
    return {"ok": True}


@socketio.on("sync")
def on_sync(data=None):
    """Sent by a client after (re)connecting or on a sequence gap; the ack is its snapshot.

    Staff get the office snapshot (``board_snapshot``), public screens its
    public shape; a tracker gets its visit's state and re-joins the rooms of
    a transferred ticket.
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
    if client.kind == "tablet":
        return _tablet_sync(db, client)
    if client.office_id is None:
        return _fail(400, "join an office first")
    snap = board_snapshot(db, client.office_id)
    if not client.is_staff:
        snap = public_snapshot(snap)
    if client.kind == "device" and client.principal.role == "display":
        snap["zone"] = people.device_zone(db, client.principal.device_id)  # set in setup
    return {"ok": True, "snapshot": snap, "seq": snap["seq"]}


def _tablet_sync(db, client: LiveClient) -> dict:
    """A rating tablet's state (its counter, officer, current ticket, the ticket to rate);
    the sync also records the tablet as seen for the dashboard."""
    now = time.monotonic()
    if now - client.touched >= TABLET_TOUCH_S:
        client.touched = now
        accounts.touch_device(db, client.principal.device_id)
    state = rating_queries.tablet_state(
        db, client.principal.counter_id, current_app.config["RATING_TABLET_WINDOW_S"]
    )
    return {"ok": True, "tablet": state, "seq": state["seq"]}


def init_app(app: Flask) -> None:
    """Subscribe the broadcaster to the app's hub; end sockets whose access ends."""
    app.extensions["xephang.hub"].subscribe(broadcast.make_broadcaster(app))
    revocations.init_app(app)
