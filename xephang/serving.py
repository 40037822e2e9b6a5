"""The production server: one gevent process serving HTTP and WebSockets.

Why gevent (see docs/deployment.md): threading mode needs several OS
threads per Socket.IO client; gevent holds thousands of sockets in one
process at tens of KB each. Scale-out beyond one process goes through the
Redis message queue (XEPHANG_MESSAGE_QUEUE).
"""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO


def run_production(app: Flask, socketio: SocketIO, host: str, port: int) -> None:
    """Serve until interrupted."""
    socketio.run(app, host=host, port=port, log_output=False, use_reloader=False)
