"""The realtime hub: committed engine events to Socket.IO rooms.

Rooms: ``office:<id>`` (boards, counters and dashboards of an office),
``counter:<id>`` (one counter screen), ``ticket:<id>`` (one tracker page).
Every event carries the office's sequence number so a client can detect a
gap and fetch a snapshot.
"""

from __future__ import annotations

from flask import Flask

from .extensions import socketio


def office_room(office_id: int) -> str:
    return f"office:{office_id}"


def counter_room(counter_id: int) -> str:
    return f"counter:{counter_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def broadcast(events: list[dict]) -> None:
    """Emit committed events: to the office board, the counter concerned and the ticket."""
    for event in events:
        socketio.emit("queue_event", event, to=office_room(event["office_id"]))
        if event.get("counter_id"):
            socketio.emit("queue_event", event, to=counter_room(event["counter_id"]))
        if event.get("ticket_id"):
            socketio.emit("queue_event", event, to=ticket_room(event["ticket_id"]))


def init_realtime(app: Flask) -> None:
    app.extensions["xephang.hub"].subscribe(broadcast)
