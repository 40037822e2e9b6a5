"""The production server: one gevent process serving HTTP and WebSockets.

Chosen on evidence (docs/realtime.md, BENCHMARKS.md): threading mode needs
several OS threads per Socket.IO client and fell over at 1,000 sockets;
gevent's pywsgi with gevent-websocket holds thousands of sockets in one
process at tens of KB each. ``socketio.run`` starts exactly that server; we
only raise the limits a busy office hits first: open files (one per socket)
and the number of concurrent connections (``SERVER_WORKER_CONNECTIONS``, the
equivalent of gunicorn's ``worker_connections``, whose default of 1,000 is a
hard cap). More processes or hosts share events through the Redis message
queue (``--message-queue redis://...`` / ``XEPHANG_MESSAGE_QUEUE``).
"""

from __future__ import annotations

import logging
import resource

from flask import Flask
from flask_socketio import SocketIO

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


def run_production(app: Flask, socketio: SocketIO, host: str, port: int) -> None:
    """Serve until interrupted."""
    files = raise_open_files_limit(int(app.config.get("SERVER_WORKER_CONNECTIONS") or 10000)
                                   + 1024)
    options = server_options(app)
    log.info("gevent server on %s:%s, up to %s connections, %s open files",
             host, port, options["spawn"], files)
    socketio.run(app, host=host, port=port, log_output=False, use_reloader=False, **options)
