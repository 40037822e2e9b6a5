"""The production server: one gevent process serving HTTP and WebSockets.

Chosen on evidence (docs/realtime.md, BENCHMARKS.md): threading mode needs
several OS threads per Socket.IO client and fell over at 1,000 sockets;
gevent's pywsgi with gevent-websocket holds thousands of sockets in one
process at tens of KB each. We start the same server ``socketio.run``
would (gevent's WSGIServer with gevent-websocket's handler) with what a busy
office needs: TCP_NODELAY on every connection (without it a keep-alive
client waits ~40 ms per response on Nagle's algorithm and delayed ACKs),
more open files (one per socket), a bounded number of concurrent
connections (``SERVER_WORKER_CONNECTIONS``, the equivalent of gunicorn's
``worker_connections``, whose default of 1,000 is a hard cap), and full
garbage collections that skip what survived the last (``gc_policy``). More
processes or hosts share events through the Redis message queue
(``--message-queue redis://...`` / ``XEPHANG_MESSAGE_QUEUE``).
"""

from __future__ import annotations

import logging
import resource
import socket

from flask import Flask
from flask_socketio import SocketIO

from .metrics import register_collector

log = logging.getLogger(__name__)


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit towards ``wanted`` (each socket is a file)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit above %s", soft)
    return soft


def server_options(app: Flask) -> dict:
    """Keyword arguments for gevent's WSGIServer: a bounded greenlet pool and a deep backlog."""
    connections = int(app.config.get("SERVER_WORKER_CONNECTIONS") or 10000)
    return {"spawn": connections, "backlog": 2048}


def handler_class(request_timeout_s: float | None = None):
    """gevent-websocket's handler: TCP_NODELAY on each accepted connection, and a read
    timeout so a client that sends half a request (or idles on keep-alive) gives its
    connection back instead of holding it; a WebSocket, once open, is exempt (its own
    pings keep it honest). No line of its own per request: the app writes one
    (``logs``, ``xephang.access``)."""
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayHandler(WebSocketHandler):
        def __init__(self, sock, address, server, rfile=None):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):  # a UNIX socket has no Nagle to turn off
                pass
            if request_timeout_s:
                sock.settimeout(request_timeout_s)
            super().__init__(sock, address, server, rfile)

        def log_request(self):
            # (gevent-websocket's own line per request, besides the app's xephang.access)
            pass

        def run_websocket(self):
            self.socket.settimeout(None)
            return super().run_websocket()

    return NoDelayHandler


def make_server(app: Flask, host: str, port: int, listener=None):
    """The gevent WSGI server for the app (HTTP, long-polling and WebSocket), on
    (host, port) or on an already bound ``listener`` socket (a worker of several)."""
    from gevent import pywsgi

    options = server_options(app)
    if listener is not None:
        options.pop("backlog")  # the socket was bound, and its backlog set, by the supervisor
    return pywsgi.WSGIServer(
        listener if listener is not None else (host, port),
        app,
        handler_class=handler_class(float(app.config.get("REQUEST_TIMEOUT_S") or 0)),
        log=None,
        **options,
    )


def run_production(
    app: Flask, socketio: SocketIO, host: str, port: int, listener=None, extra_ports=()
) -> None:
    """Serve until interrupted (``socketio`` is bound to ``app``; its middleware is in place).

    ``listener``: a socket bound by the process that started this one (the shared port
    of `xephang serve --workers N`); ``extra_ports``: more ports this process alone
    listens on (a worker's own port, for a proxy's sticky routing).
    """
    if socketio.server is None or socketio.server.eio.async_mode != "gevent":
        # not under gevent (e.g. ASYNC_MODE=threading): let Flask-SocketIO pick the server
        socketio.run(app, host=host, port=port, log_output=False, use_reloader=False)
        return
    from . import fanout
    from .gc_policy import FreezeSurvivors

    fanout.install(socketio.server)  # room emits framed once (gevent-websocket's handler)
    register_collector(app, fanout.SendsCollector())
    register_collector(app, FreezeSurvivors().install())  # short full collections
    files = raise_open_files_limit(int(app.config.get("SERVER_WORKER_CONNECTIONS") or 10000) + 1024)
    server = make_server(app, host, port, listener)
    for extra in extra_ports:
        make_server(app, host, extra).start()
    log.info(
        "gevent server on %s:%s%s, up to %s connections, %s open files",
        host,
        port,
        "".join(f" and :{p}" for p in extra_ports),
        server_options(app)["spawn"],
        files,
    )
    server.serve_forever()
