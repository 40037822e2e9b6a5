"""Fake providers on 127.0.0.1 that speak the real protocols, for tests and benchmarks.

``FakeHttpService`` is an HTTP/1.1 server (keep-alive) that records every
request and answers by its ``mode``: ``ok`` (the responder's answer, 200 by
default), ``refuse`` (nothing listens on the port: connections are refused),
``hang`` (accept, read the request, never answer until the mode changes),
``error`` (500). It plays the SMS gateway (it keeps each message ``id`` once,
as a provider that drops repeats does), the Zalo endpoint, a webhook receiver
and a push service. ``FakeSmtpServer`` is aiosmtpd's controller with a
recording handler.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from requests.structures import CaseInsensitiveDict


@dataclass
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict
    body: bytes
    answered: int | None = None  # the status sent back (None: refused or hung)

    def json(self):
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a worker opens a batch's connections at once


class FakeHttpService:
    """An HTTP server on 127.0.0.1 that misbehaves on demand; ``stop()`` ends it."""

    def __init__(self, responder=None, port: int = 0):
        self.responder = responder or (lambda request: (200, {"ok": True}))
        self.mode = "ok"
        self.received: list[Received] = []
        self.delivered: dict[str, Received] = {}  # SMS gateway: message id -> first accepted
        self.repeats: list[str] = []  # ids posted again after they were accepted
        self.changed = threading.Condition()
        self.released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = Received(
                    "POST", self.path, CaseInsensitiveDict(self.headers.items()), body
                )
                fake._handle(self, request)

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _handle(self, handler: BaseHTTPRequestHandler, request: Received) -> None:
        with self.changed:
            mode = self.mode
            self.received.append(request)
            self.changed.notify_all()
        if mode == "hang":
            self.released.wait(120)
            handler.close_connection = True
            return
        if mode == "error":
            status, answer = 500, {"ok": False, "error": "internal"}
        else:
            status, answer = self.responder(request)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        with self.changed:
            request.answered = status
            if 200 <= status < 300:
                try:
                    key = str(request.json().get("id"))
                except (ValueError, AttributeError):
                    key = None
                if key and key != "None":
                    if key in self.delivered:
                        self.repeats.append(key)
                    else:
                        self.delivered[key] = request
            self.changed.notify_all()

    def set_mode(self, mode: str) -> None:
        """Change behaviour: ``ok``, ``refuse``, ``hang`` or ``error``."""
        assert mode in ("ok", "refuse", "hang", "error")
        previous, self.mode = self.mode, mode
        if previous == "hang":
            self.released.set()
        self.released = threading.Event()
        if mode == "refuse" and self._server is not None:
            self._close()
        elif mode != "refuse" and self._server is None:
            self._listen()  # the same port again

    def _close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def answered(self, status_low: int = 200, status_high: int = 299) -> list[Received]:
        with self.changed:
            return [
                r
                for r in self.received
                if r.answered is not None and status_low <= r.answered <= status_high
            ]

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        """Block until ``predicate(self)`` holds (a guard against a hang, not a speed test)."""
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self), timeout), "fake waited in vain"

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class _Recorder:
    mails: list[ReceivedMail] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.changed:
            self.mails.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
            self.changed.notify_all()
        return "250 OK"


class FakeSmtpServer:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every mail it is given."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.recorder = _Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.stopped = False

    @property
    def mails(self) -> list[ReceivedMail]:
        return self.recorder.mails

    def wait_for(self, count: int, timeout: float = 60.0) -> list[ReceivedMail]:
        with self.recorder.changed:
            assert self.recorder.changed.wait_for(lambda: len(self.mails) >= count, timeout)
            return list(self.mails)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.controller.stop()
