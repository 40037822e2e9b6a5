"""Committed engine events out to Socket.IO rooms: the hub's subscriber.

Rooms (``docs/realtime.md`` is the contract):

- ``staff:<office>``: staff screens of an office (counters, dashboards): every
  event as the engine logged it, staff text included (dossier codes are
  reduced to ``has_dossier_code``);
- ``counter:<id>``: one counter screen: that counter's events, as staff see them;
- ``board:<office>``: what a waiting room may see (board links, paired displays
  and kiosks): ``engine.views.public_event``, codes, counters, counts only;
- ``ticket:<id>``: the tracker of a ticket: public events of that ticket;
- ``tablet:<counter>``: a counter's rating tablet: public events of that counter
  (its calls, finishes and ratings), never staff text;
- ``service:<id>``: trackers of waiting tickets: one ``queue_moved`` per change
  of the line instead of one emit per waiting ticket.

Every event carries the office's sequence number ``seq`` so a client can
detect a gap and fetch a snapshot.
"""

from __future__ import annotations

from flask import Flask, has_app_context

from .. import engine
from ..engine.announcements import announcement
from ..engine.views import public_event, staff_event
from ..queries import queue as queue_queries
from . import redis_queue
from .context import get_db, on_gevent_loop
from .extensions import socketio

ANNOUNCED = ("called", "recalled")


def staff_room(office_id: int) -> str:
    return f"staff:{office_id}"


def board_room(office_id: int) -> str:
    return f"board:{office_id}"


def counter_room(counter_id: int) -> str:
    return f"counter:{counter_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def service_room(service_id: int) -> str:
    return f"service:{service_id}"


def tablet_room(counter_id: int) -> str:
    return f"tablet:{counter_id}"


def _with_counts(
    payload: dict, counts: tuple[dict[str, int], dict[str, int]], settings: dict | None
) -> dict:
    """The waiting counts after the event (and, of them, the online numbers still to check
    in) and, for a call, the announcement."""
    waiting, not_arrived = counts
    payload["waiting"] = waiting
    payload["waiting_total"] = sum(waiting.values())
    payload["not_arrived"] = not_arrived
    ticket = payload.get("ticket")
    if payload["type"] in ANNOUNCED and ticket and ticket.get("counter") and settings:
        payload["announcement"] = announcement(
            ticket["code"],
            ticket["counter"]["number"],
            settings["announce_template"],
            settings["number_reading"],
            settings["number_dialect"],
        )
    return payload


def kept_counts(db, office_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """Waiting tickets per service, and those still to check in (string keys, as in JSON),
    from one read."""
    waiting, not_arrived = queue_queries.kept_counts(db, office_id)
    return {str(k): v for k, v in waiting.items()}, {str(k): v for k, v in not_arrived.items()}


def broadcast_with(db, events: list[dict]) -> None:
    """Emit committed events to their rooms, then the queue moves to the trackers (to
    the other workers, the rooms' emits in one message: ``redis_queue.batch``).

    The moves go once that message is published: the tracker fan-out (thousands of
    sends) started inside the batch ran whenever the publish yielded (reading Redis's
    reply; connecting, for a process's first), ahead of the message, so the other
    workers' boards, and this request's answer, waited for this worker's trackers."""
    with redis_queue.batch(socketio.server):
        moves = _broadcast(db, events)
    if not moves:
        return
    if _cooperative():
        # boards, counters and the HTTP answer go first; the tracker fan-out (one
        # send per tracker) runs once this request yields. Greenlets start in order.
        socketio.start_background_task(emit_moves, moves)
    else:
        socketio.sleep(0)
        emit_moves(moves)


def _broadcast(db, events: list[dict]) -> list[dict]:
    """Emit the events to their rooms; return the queue moves they make."""
    moves: list[dict] = []
    by_office: dict[int, list[dict]] = {}
    for event in events:
        by_office.setdefault(event["office_id"], []).append(event)
    for office_id, office_events in by_office.items():
        counts = kept_counts(db, office_id)
        waiting = counts[0]
        settings = None
        if any(e["type"] in ANNOUNCED for e in office_events):
            settings = engine.office_settings(db, office_id)
        for event in office_events:
            staff = [staff_room(office_id)]
            public = [board_room(office_id)]
            if event.get("counter_id"):
                staff.append(counter_room(event["counter_id"]))
                public.append(tablet_room(event["counter_id"]))
            if event.get("ticket_id"):
                public.append(ticket_room(event["ticket_id"]))
            socketio.emit(
                "queue_event", _with_counts(staff_event(event), counts, settings), to=staff
            )
            socketio.emit(
                "queue_event", _with_counts(public_event(event), counts, settings), to=public
            )
        moves += queue_queries.queue_moves(db, office_events, waiting)
    return moves


def _cooperative() -> bool:
    """Whether we serve under gevent with patched I/O (``xephang serve``), not a test client."""
    return socketio.async_mode == "gevent" and on_gevent_loop()


def emit_moves(moves: list[dict]) -> None:
    """Send ``queue_moved`` to the trackers of each service concerned."""
    with redis_queue.batch(socketio.server):
        for move in moves:
            socketio.emit("queue_moved", move, to=service_room(move["service_id"]))


def make_broadcaster(app: Flask):
    """The hub subscriber: uses the request's connection, or the app's pool outside one."""

    def broadcast(events: list[dict]) -> None:
        if has_app_context():
            broadcast_with(get_db(), events)
            return
        with app.app_context():  # a worker thread (the print spooler)
            broadcast_with(get_db(), events)

    return broadcast
