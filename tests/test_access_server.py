"""Access rules that only a real server can show: the Origin check on sockets, revocations
reaching sockets held by another process, and slow clients timed out (issue 9)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import requests
import socketio as socketio_client

from xephang.queries import people
from xephang.storage import connect

WAIT_S = 20  # how long a test waits for an event before calling it missing


def client_for(server, auth, origin=None):
    """A python-socketio client over WebSocket, with its disconnect as an event."""
    sio = socketio_client.Client(reconnection=False)
    gone = threading.Event()
    sio.on("disconnect", lambda *a: gone.set())
    headers = {"Origin": origin} if origin else {}
    sio.connect(
        server.url, auth=auth, transports=["websocket"], headers=headers, wait_timeout=WAIT_S
    )
    return sio, gone


def test_sockets_from_another_origin_are_refused(start_demo_server):
    server = start_demo_server()
    board = {"board": server.demo["board_id"]}
    handshake = server.url + "/socket.io/?EIO=4&transport=polling"
    evil = requests.get(handshake, headers={"Origin": "http://evil.example"}, timeout=10)
    assert evil.status_code == 400
    assert requests.get(handshake, headers={"Origin": server.url}, timeout=10).ok
    assert requests.get(handshake, timeout=10).ok
    scripted, _ = client_for(server, board)  # no Origin: an LED sign or a script
    assert scripted.connected
    scripted.disconnect()


def test_a_token_revoked_from_the_command_line_ends_its_socket_in_the_server(start_demo_server):
    server = start_demo_server()
    token = server.officer["Authorization"][7:]
    sio, gone = client_for(server, {"token": token})
    db = connect(server.db_path)
    token_id = people.principal_for_token(db, token).token_id
    db.close()
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from xephang.cli import main; main()",
            "token",
            "revoke",
            str(token_id),
            "--db",
            str(server.db_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert gone.wait(WAIT_S), "the socket outlived its revoked token"
    print(f"revoked socket closed {time.monotonic() - started:.2f} s after the command ran")
    assert (
        requests.get(server.url + "/api/v1/offices", headers=server.officer, timeout=10).status_code
        == 401
    )


def test_a_half_sent_request_gives_its_connection_back(start_demo_server):
    server = start_demo_server(env={"XEPHANG_REQUEST_TIMEOUT_S": "1"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as slow:
        slow.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        answer = b""
        try:
            while chunk := slow.recv(1024):  # until the server closes (or WAIT_S passes)
                answer += chunk
            closed = True
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
    assert closed, "the server kept waiting for the rest of the request"
    assert b"200 OK" not in answer
    assert requests.get(server.url + "/api/v1/health", timeout=10).ok


def test_an_open_websocket_outlives_the_request_timeout(start_demo_server):
    server = start_demo_server(env={"XEPHANG_REQUEST_TIMEOUT_S": "1"})
    sio, gone = client_for(server, {"token": server.demo["display_token"]})
    got = threading.Event()
    sio.on("queue_event", lambda payload: got.set())
    time.sleep(3)  # idle for three request timeouts
    requests.post(
        server.url + "/api/v1/tickets",
        json={"service": "A"},
        headers={"Authorization": "Bearer " + server.demo["kiosk_token"]},
        timeout=10,
    )
    assert got.wait(WAIT_S) and not gone.is_set()
    sio.disconnect()
