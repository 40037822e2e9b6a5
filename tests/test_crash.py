"""SIGKILL the real server while 8 clients issue tickets: no acknowledged ticket is lost.

The server is `xephang serve` in its own process on a SQLite file; a ticket
whose issue request was answered (201) must be in the file after the kill
and a restart, and numbering must continue without duplicates.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

from xephang import engine
from xephang.cli.demo import seed_demo
from xephang.storage import connect, migrate

CLIENTS = 8
KILL_AFTER = 120  # acknowledged tickets before the kill
MAX_PER_CLIENT = 400
TIME_LIMIT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_path, port) -> subprocess.Popen:
    """`xephang serve` in a child process; returns once it answers its health check."""
    command = [
        sys.executable,
        "-c",
        "from xephang.cli import main; main()",
        "serve",
        "--db",
        str(db_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {
        **os.environ,
        "XEPHANG_PRINT_WORKER": "false",
        "XEPHANG_PRINTER": "none",
        "XEPHANG_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.05)  # the port is not listening yet: nothing to await but the OS
    proc.kill()
    raise RuntimeError("server did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_sigkill_while_issuing_loses_no_acknowledged_ticket(tmp_path):
    db_path = tmp_path / "crash.db"
    db = connect(db_path)
    migrate(db)
    info = seed_demo(db)
    db.close()
    headers = {"Authorization": f"Bearer {info['kiosk_token']}"}
    port = free_port()
    server = start_server(db_path, port)
    url = f"http://127.0.0.1:{port}/api/v1/tickets"

    acknowledged: list[dict] = []
    lock = threading.Lock()
    enough = threading.Event()
    cut_off: list[int] = []  # clients whose request was in flight when the server died
    began = time.monotonic()

    def client(index: int) -> None:
        session = requests.Session()
        for n in range(MAX_PER_CLIENT):
            if time.monotonic() - began > TIME_LIMIT_S:
                return
            try:
                response = session.post(
                    url, json={"service": "ABCDEF"[(index + n) % 6]}, headers=headers, timeout=10
                )
            except requests.RequestException:
                with lock:
                    cut_off.append(index)
                return  # the server is gone: this request was never acknowledged
            if response.status_code != 201:
                return
            ticket = response.json()["ticket"]
            with lock:
                acknowledged.append(ticket)
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        assert enough.wait(timeout=TIME_LIMIT_S), "clients did not get enough tickets issued"
        os.kill(server.pid, signal.SIGKILL)  # mid-run: clients are still issuing
        server.wait(timeout=10)
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
    finally:
        stop(server)
    assert server.returncode == -signal.SIGKILL
    assert cut_off, "the kill should land while clients are issuing"

    # Restart on the same file; numbering must continue where the file left off.
    port = free_port()
    server = start_server(db_path, port)
    try:
        after = requests.post(
            f"http://127.0.0.1:{port}/api/v1/tickets",
            json={"service": "A"},
            headers=headers,
            timeout=10,
        )
        assert after.status_code == 201
    finally:
        stop(server)

    db = connect(db_path)
    try:
        stored = {r[0]: r[1] for r in db.execute("SELECT id, code FROM tickets")}
        for ticket in acknowledged:
            assert stored.get(ticket["id"]) == ticket["code"], ticket
        codes = Counter(
            r[0]
            for r in db.execute("SELECT service_id || '/' || day || '/' || number FROM tickets")
        )
        assert codes.most_common(1)[0][1] == 1  # no duplicate numbers
        for service_id, count, top in db.execute(
            "SELECT service_id, count(*), max(number) FROM tickets GROUP BY service_id, day"
        ):
            assert count == top, f"gap in the numbers of service {service_id}"
        new = after.json()["ticket"]
        assert (
            db.execute("SELECT code FROM tickets WHERE id = ?", [new["id"]]).fetchone()[0]
            == new["code"]
        )
        assert (
            new["number"]
            == db.execute(
                "SELECT max(number) FROM tickets WHERE service_id = ?", [new["service"]["id"]]
            ).fetchone()[0]
        )
        assert engine.verify_log(db) == []
        assert len(acknowledged) >= KILL_AFTER
    finally:
        db.close()
