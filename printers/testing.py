"""A fake ESC/POS network printer on 127.0.0.1, for tests and benchmarks.

It parses what it receives (so raster bytes are never mistaken for status
queries), answers DLE EOT like a real printer, and records each job. Its
``mode`` makes it misbehave: ``refuse`` connections, ``hang`` (accept, never
answer), ``paper_out`` or ``cover_open`` (answer so), ``drop`` (close the
connection after ``drop_after`` bytes of a job), ``paper_out_after`` (fine
before printing, out of paper after).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

OK_STATUS = {1: 0x12, 2: 0x12, 4: 0x12}
STATUS_BY_MODE = {
    "paper_out": {1: 0x1A, 2: 0x32, 4: 0x72},
    "cover_open": {1: 0x1A, 2: 0x16, 4: 0x12},
}
FIXED_LENGTH = {b"\x1b@": 2, b"\x1bd": 3, b"\x1bJ": 3, b"\x1b3": 3, b"\x1b2": 2, b"\x1ba": 3}


@dataclass
class ReceivedJob:
    """The non-status bytes one connection delivered, and when the last arrived."""

    data: bytearray = field(default_factory=bytearray)
    last_at: float = 0.0
    status_queries: int = 0
    complete: bool = False  # a cut command arrived


class EscposStream:
    """Splits a byte stream into commands: status queries are answered, the rest kept."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, chunk: bytes):
        """Yield ('status', n) and ('data', bytes) items for every complete command."""
        self.buffer += chunk
        while self.buffer:
            b = self.buffer
            size = self._command_size(b)
            if size is None or size > len(b):
                return
            command = bytes(b[:size])
            del b[:size]
            if command[:2] == b"\x10\x04":
                yield "status", command[2]
            else:
                yield "data", command

    @staticmethod
    def _command_size(b: bytearray) -> int | None:
        if b[:1] == b"\x10":
            return 3 if len(b) >= 3 else None
        if b[:1] == b"\x1d":
            if len(b) < 3:
                return None
            if b[1:3] == b"v0":
                if len(b) < 8:
                    return None
                return 8 + (b[4] | b[5] << 8) * (b[6] | b[7] << 8)
            if b[1:2] == b"V":
                return 4 if b[2] in (65, 66, 97, 98) else 3
            return 3
        if b[:1] == b"\x1b":
            if len(b) < 2:
                return None
            return FIXED_LENGTH.get(bytes(b[:2]), 2)
        return 1


class FakeNetworkPrinter:
    """A TCP printer on 127.0.0.1:<free port>; ``stop()`` closes everything."""

    def __init__(self, mode: str = "ok", drop_after: int = 1000):
        self.mode = mode
        self.drop_after = drop_after
        self.jobs: list[ReceivedJob] = []
        self.connections = 0
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()
        if mode == "refuse":  # the port stays reserved for this printer's spec
            self.mode = "ok"
            self.set_mode("refuse")

    @property
    def spec(self) -> str:
        return f"network:127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def set_mode(self, mode: str) -> None:
        """Change behaviour; 'refuse' closes the port, any other mode reopens it."""
        with self.changed:
            if mode == "refuse" and self._listener is not None:
                try:  # stop listening now, even while the accept thread polls it
                    self._listener.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._listener.close()
                self._listener = None
            elif mode != "refuse" and self._listener is None:
                self._listen()
            self.mode = mode

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.append(conn)
            with self.changed:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        job = ReceivedJob()
        stream = EscposStream()
        mode = self.mode
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():
                if mode == "hang":
                    time.sleep(0.02)  # accepted, never reads nor answers
                    continue
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                now = time.perf_counter()
                for kind, value in stream.feed(chunk):
                    if kind == "status":
                        job.status_queries += 1
                        conn.sendall(bytes([self._status_byte(value, job)]))
                        continue
                    job.data += value
                    job.last_at = now
                    if value[:2] == b"\x1dV":
                        job.complete = True
                if mode == "drop" and len(job.data) >= self.drop_after:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    break
        except OSError:
            pass
        finally:
            conn.close()
            if job.data:
                with self.changed:
                    self.jobs.append(job)
                    self.changed.notify_all()

    def _status_byte(self, n: int, job: ReceivedJob) -> int:
        mode = self.mode
        if mode == "paper_out_after" and job.data:
            mode = "paper_out"
        return STATUS_BY_MODE.get(mode, OK_STATUS).get(n, 0x12)

    def complete_jobs(self) -> list[ReceivedJob]:
        with self.changed:
            return [j for j in self.jobs if j.complete]

    def wait_for_jobs(self, count: int, timeout: float = 10.0) -> list[ReceivedJob]:
        """Block until ``count`` complete jobs arrived (or timeout); return them."""
        with self.changed:
            self.changed.wait_for(lambda: sum(j.complete for j in self.jobs) >= count, timeout)
            return [j for j in self.jobs if j.complete]

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
        self._accepter.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
