"""One framed write per recipient for room emits under the production gevent server.

python-engineio hands every packet for every recipient to that socket's writer
greenlet through a queue: a put, a wake-up, a timed get, an encode and
gevent-websocket's framing, per recipient. A call with 10,000 trackers in the
service's room spent ~45 µs of server CPU per tracker there, against ~15 µs for
the write itself (BENCHMARKS.md, "Framed fan-out").

A room emit hands every recipient the same Engine.IO packet object, so here it is
framed once and written straight to each recipient's socket when nothing is ahead
of it: the socket is an open, upgraded WebSocket with an empty queue and no write
in progress. Anything else (a long-polling client, an upgrade under way, packets
queued, a write under way, TLS in the process) takes Engine.IO's own path, so a
client still gets its packets in the order they were sent. Every write to a
WebSocket, the writer greenlet's included, holds that socket's lock, and a write
the kernel takes only part of is finished by a greenlet of its own that keeps
the lock, so frames never interleave and the fan-out never waits for one slow
client.
"""

from __future__ import annotations

import gevent
from engineio.async_drivers.gevent import WebSocketWSGI
from gevent.lock import Semaphore
from gevent.socket import socket as gevent_socket
from geventwebsocket.websocket import Header
from prometheus_client.core import CounterMetricFamily

OPCODE_TEXT, OPCODE_BINARY = 0x1, 0x2
WS_ATTR = "_xephang_ws"
counts = {"direct": 0, "queued": 0}  # recipients' packets by the way they went (tests, benches)


class SendsCollector:
    """``counts`` on /metrics: how this process's packets to Socket.IO clients went
    (``queued`` rising against ``direct``: clients that do not keep up)."""

    def collect(self):
        sends = CounterMetricFamily(
            "xephang_socket_sends",
            "Packets to Socket.IO clients by the way they went: direct (framed once and"
            " written at once) or queued (through the socket's queue: packets were waiting,"
            " or it is not a WebSocket yet).",
            labels=["way"],
        )
        for way, count in counts.items():
            sends.add_metric([way], count)
        yield sends


class FramedWebSocket(WebSocketWSGI):
    """Engine.IO's gevent-websocket wrapper that its Engine.IO socket can find, with a
    write lock shared by the writer greenlet and the direct writes."""

    def __call__(self, environ, start_response):
        self.lock = Semaphore()
        ws = environ.get("wsgi.websocket")
        sock = getattr(getattr(ws, "handler", None), "socket", None)
        # a plain gevent TCP socket only: under TLS the bytes must go through the SSL layer
        self.sock = sock if type(sock) is gevent_socket else None
        owner = getattr(self.app, "__self__", None)  # the Engine.IO socket's bound handler
        if owner is not None:
            setattr(owner, WS_ATTR, self)
        try:
            return super().__call__(environ, start_response)
        finally:
            if owner is not None:
                setattr(owner, WS_ATTR, None)

    def send(self, message):
        with self.lock:
            return super().send(message)

    def close(self):
        # after a write under way, not in its middle (a dead peer's write gives up in time)
        held = self.lock.acquire(timeout=1.0)
        try:
            return super().close()
        finally:
            if held:
                self.lock.release()

    def try_write(self, frame: bytes) -> bool:
        """Write a whole frame now, or finish it in the background holding the lock;
        False (nothing written) when a write is under way or the socket is gone."""
        if self.sock is None or self._sock.closed or self.lock.locked():
            return False
        self.lock.acquire()
        try:
            sent = self.sock._sock.send(frame)  # the real socket: never waits
        except BlockingIOError:
            sent = 0
        except OSError:
            self.lock.release()
            return False
        if sent == len(frame):
            self.lock.release()
        else:
            gevent.spawn(self._finish, memoryview(frame)[sent:])
        return True

    def _finish(self, rest) -> None:
        try:
            self.sock.sendall(rest)  # gevent's: waits for room, other greenlets run
        except Exception:  # noqa: BLE001 - a dead socket: its reader ends the session
            pass
        finally:
            self.lock.release()


def frame_of(pkt) -> bytes:
    """An Engine.IO packet as one unmasked WebSocket frame, as gevent-websocket writes it."""
    data = pkt.encode()
    if isinstance(data, str):
        data, opcode = data.encode("utf-8"), OPCODE_TEXT
    else:
        opcode = OPCODE_BINARY
    return Header.encode_header(True, opcode, b"", len(data), 0) + data


def install(sio_server) -> None:
    """Route this Socket.IO server's Engine.IO writes through ``FramedWebSocket``."""
    eio = sio_server.eio
    eio._async = dict(eio._async, websocket=FramedWebSocket)
    queued_send = eio.send_packet
    sockets = eio.sockets
    last: list = [None, b""]  # the packet framed last, and its frame

    def send_packet(sid, pkt):
        s = sockets.get(sid)
        ws = getattr(s, WS_ATTR, None) if s is not None else None
        if (
            ws is not None
            and not s.closed
            and s.upgraded
            and not s.queue.qsize()
            and s.check_ping_timeout()
        ):
            if last[0] is not pkt:
                last[0], last[1] = pkt, frame_of(pkt)
            if ws.try_write(last[1]):
                counts["direct"] += 1
                return
        counts["queued"] += 1
        queued_send(sid, pkt)

    eio.send_packet = send_packet
