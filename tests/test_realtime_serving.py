"""The production server's configuration (xephang/serving.py)."""

from __future__ import annotations

import resource
import socket

from xephang.web import serving


def test_accepted_connections_get_tcp_nodelay():
    """Without TCP_NODELAY a keep-alive client waits on Nagle + delayed ACK for every response."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    conn, address = listener.accept()
    try:
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        serving.handler_class()(conn, address, server=None)
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (conn, client, listener):
            s.close()


def test_server_options_bound_connections(app):
    app.config["SERVER_WORKER_CONNECTIONS"] = 3000
    assert serving.server_options(app) == {"spawn": 3000, "backlog": 2048}


def test_open_files_limit_raised_within_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        got = serving.raise_open_files_limit(soft + 16)
        assert got >= min(soft + 16, hard if hard != resource.RLIM_INFINITY else soft + 16)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
