"""Room emits framed once and written straight to each WebSocket (xephang/web/fanout.py),
on the production server's parts (tests/fanout_app.py in a process of its own)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from engineio import packet as eio_packet

from tests.helpers import dies_with_parent, free_port
from xephang.web import fanout

APP = Path(__file__).with_name("fanout_app.py")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(APP), str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=dies_with_parent,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the fan-out test app did not start") from None
            time.sleep(0.05)  # a port that starts listening sends no event to wait on
    yield port
    proc.kill()
    proc.wait()


class RawClient:
    """A Socket.IO client over a raw WebSocket that reads frames only when asked."""

    def __init__(self, port: int, receive_buffer: int | None = None, sid: str | None = None):
        """A new session, or (``sid``) the upgrade of a long-polling one."""
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /socket.io/?EIO=4&transport=websocket{'&sid=' + sid if sid else ''} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        self.deadline = time.monotonic() + 60  # a broken frame fails the test, not hangs it
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head
        if sid:
            self.send("2probe")
            assert self.message() == "3probe"
            self.send("5")  # upgrade: from now on everything comes this way
            return
        assert self.message().startswith("0")  # Engine.IO open
        self.send("40")
        assert self.message().startswith("40")  # Socket.IO connected

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        return data

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            assert time.monotonic() < self.deadline, f"still {n - len(self.buf)} bytes short"
            self.buf += self._recv()

    def frame(self) -> tuple[int, bytes]:
        """One whole frame (opcode, payload); fails on a masked or fragmented one."""
        self._need(2)
        fin, opcode, masked, n = (
            self.buf[0] >> 7,
            self.buf[0] & 0x0F,
            self.buf[1] >> 7,
            self.buf[1] & 0x7F,
        )
        assert fin == 1 and masked == 0 and opcode in (1, 2), self.buf[:16]
        off = 2
        if n == 126:
            self._need(4)
            n, off = int.from_bytes(self.buf[2:4], "big"), 4
        elif n == 127:
            self._need(10)
            n, off = int.from_bytes(self.buf[2:10], "big"), 10
        self._need(off + n)
        payload, self.buf = self.buf[off : off + n], self.buf[off + n :]
        return opcode, payload

    def message(self) -> str:
        while True:
            opcode, payload = self.frame()
            text = payload.decode("utf-8")
            if text == "2":  # Engine.IO ping
                self.send("3")
                continue
            if text == "6":  # Engine.IO noop (the end of a poll, after an upgrade)
                continue
            return text

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def event(self) -> tuple[str, object]:
        text = self.message()
        assert text.startswith("42"), text[:80]
        name, data = json.loads(text[2:])
        return name, data

    def counts(self) -> dict:
        self.send('42["counts"]')
        name, data = self.event()
        assert name == "counts"
        return data

    def close(self):
        self.sock.close()


def test_a_client_that_reads_late_gets_every_frame_whole_and_in_order(server):
    """With a receive buffer of a few KB the kernel takes part of a frame: the rest is
    finished holding the socket's lock while later packets queue behind it."""
    client = RawClient(server, receive_buffer=4096)
    try:
        n = 400
        burst = {"n": n, "size": 20_000, "pause": 0.002}  # emits go on as it catches up
        client.send(json.dumps(["burst", burst]).join(["42", ""]))
        time.sleep(0.2)  # let the server fill the small buffer before anything is read
        got = []
        for _ in range(n):
            name, data = client.event()
            assert name == "e" and len(data["pad"]) == 20_000
            got.append(data["i"])
        assert got == list(range(n))
        counts = client.counts()
        assert counts["direct"] >= 1  # the first frames went straight to the socket
        assert counts["queued"] >= 1  # and those behind a partial write waited their turn
    finally:
        client.close()


def test_a_reading_client_gets_room_emits_straight_to_its_socket(server):
    client = RawClient(server)
    try:
        before = client.counts()
        client.send('42["burst", {"n": 100, "size": 10}]')
        assert [client.event()[1]["i"] for _ in range(100)] == list(range(100))
        after = client.counts()
        assert after["direct"] - before["direct"] >= 90
    finally:
        client.close()


def polling_session(port: int) -> str:
    """A long-polling Socket.IO session's URL, connected to the default namespace."""
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(requests.get(base, timeout=30).text[1:])["sid"]
    url = f"{base}&sid={sid}"
    requests.post(url, data="40", timeout=30)
    assert requests.get(url, timeout=30).text.startswith("40")
    return url


def polled_events(url: str) -> list:
    """The ``e`` events of one poll, in the order of its payload."""
    parts = requests.get(url, timeout=30).text.split("\x1e")
    return [json.loads(p[2:])[1]["i"] for p in parts if p.startswith('42["e"')]


def test_a_long_polling_client_gets_room_emits_in_order(server):
    url = polling_session(server)
    requests.post(url, data='42["burst", {"n": 60, "size": 10}]', timeout=30)
    got: list = []
    deadline = time.monotonic() + 30
    while len(got) < 60 and time.monotonic() < deadline:
        got += polled_events(url)
    assert got == list(range(60))


def test_packets_queued_before_an_upgrade_come_before_those_written_straight(server):
    """Packets queued while a client polled go out first over the new WebSocket; only
    once its queue is empty are packets written straight to it."""
    url = polling_session(server)
    burst = '42["burst", {"n": 300, "size": 2000, "pause": 0.002}]'  # ~0.1 s or more
    requests.post(url, data=burst, timeout=30)
    got = polled_events(url)  # the first few, while still polling
    client = RawClient(server, sid=url.rsplit("sid=", 1)[1])  # upgrade during the burst
    try:
        while len(got) < 300:
            name, data = client.event()
            got.append(data["i"])
        assert got == list(range(300))
        before = client.counts()["direct"]
        client.send('42["burst", {"n": 50, "size": 10}]')  # the upgraded socket, idle
        assert [client.event()[1]["i"] for _ in range(50)] == list(range(50))
        assert client.counts()["direct"] - before >= 40
    finally:
        client.close()


@pytest.mark.parametrize("size", [10, 200, 70_000])
def test_a_frame_is_what_gevent_websocket_would_write(size):
    from geventwebsocket.websocket import WebSocket

    written = []

    class Stream:
        write = written.append
        read = None

    ws = WebSocket({}, Stream(), handler=None)
    pkt = eio_packet.Packet(eio_packet.MESSAGE, data='2["e","' + "é" * size + '"]')
    ws.send(pkt.encode())
    assert fanout.frame_of(pkt) == b"".join(written)


class FakeEngineSocket:
    """What ``send_packet`` reads of an Engine.IO socket, and what it was handed."""

    def __init__(self, queued=0, upgraded=True, closed=False, alive=True, writable=True):
        self.closed, self.upgraded, self.alive = closed, upgraded, alive
        self.queue = type("Q", (), {"qsize": lambda q: queued})()
        self.sent, self.written = [], []
        ws = type("WS", (), {})()
        ws.try_write = lambda frame: writable and (self.written.append(frame) or True)
        setattr(self, fanout.WS_ATTR, ws)

    def check_ping_timeout(self):
        return self.alive

    def send(self, pkt):
        self.sent.append(pkt)


@pytest.mark.parametrize(
    ("state", "direct"),
    [
        ({}, True),
        ({"queued": 1}, False),  # packets ahead of it: it waits its turn
        ({"upgraded": False}, False),  # long-polling, or an upgrade under way
        ({"closed": True}, False),  # Engine.IO drops it
        ({"alive": False}, False),  # no pong in time: Engine.IO closes it
        ({"writable": False}, False),  # a write under way
    ],
)
def test_a_packet_goes_straight_only_when_nothing_is_ahead_of_it(state, direct):
    import socketio

    server = socketio.Server(async_mode="gevent")
    fanout.install(server)
    sock = FakeEngineSocket(**state)
    server.eio.sockets["sid"] = sock
    pkt = eio_packet.Packet(eio_packet.MESSAGE, data='2["e",1]')
    server.eio.send_packet("sid", pkt)
    assert sock.written == ([fanout.frame_of(pkt)] if direct else [])
    # otherwise Engine.IO's own path, which drops a packet for a closed socket
    assert sock.sent == ([] if direct or state.get("closed") else [pkt])
