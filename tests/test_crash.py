"""SIGKILL the real server while 8 clients issue tickets: no acknowledged ticket is lost.

The server is `xephang serve` in its own process on a SQLite file; a ticket
whose issue request was answered (201) must be in the file after the kill
and a restart, and numbering must continue without duplicates.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter

import pytest
import requests

from xephang import engine
from xephang.engine import accounts
from xephang.storage import connect

CLIENTS = 8
KILL_AFTER = 120  # acknowledged tickets before the kill
MAX_PER_CLIENT = 400
WAIT_S = 300  # a guard against a hang, never expected to run out
SERVER_ENV = {
    "XEPHANG_PRINT_WORKER": "false",
    "XEPHANG_PRINTER": "none",
    "XEPHANG_LOG_LEVEL": "WARNING",
}


@pytest.mark.slow
def test_sigkill_while_issuing_loses_no_acknowledged_ticket(demo_file, live_servers):
    db_path, _ = demo_file
    db = connect(db_path)  # staff issue without the kiosk's rate limit
    headers = {"Authorization": f"Bearer {accounts.add_user_token(db, 'canbo1')}"}
    db.close()
    server = live_servers(db_path, env=SERVER_ENV)
    url = f"{server.url}/api/v1/tickets"

    acknowledged: list[dict] = []
    lock = threading.Lock()
    enough = threading.Event()  # KILL_AFTER tickets acknowledged, or every client stopped
    cut_off: list[int] = []  # clients whose request was in flight when the server died
    refused: list[str] = []  # answers other than 201 (a client stops at the first)
    running = [CLIENTS]

    def client(index: int) -> None:
        try:
            issue(index)
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    enough.set()

    def issue(index: int) -> None:
        session = requests.Session()
        for n in range(MAX_PER_CLIENT):
            try:
                response = session.post(
                    url,
                    json={"service": "ABCDEF"[(index + n) % 6]},
                    headers=headers,
                    timeout=WAIT_S,
                )
            except requests.RequestException:
                with lock:
                    cut_off.append(index)
                return  # the server is gone: this request was never acknowledged
            if response.status_code != 201:
                with lock:
                    refused.append(f"{response.status_code} {response.text[:300]}")
                return
            ticket = response.json()["ticket"]
            with lock:
                acknowledged.append(ticket)
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=WAIT_S), "the clients hang"
    assert len(acknowledged) >= KILL_AFTER, refused
    process = server.proc
    server.kill()  # SIGKILL mid-run: clients are still issuing
    for t in threads:
        t.join(timeout=WAIT_S)
    assert not any(t.is_alive() for t in threads)
    assert process.returncode == -signal.SIGKILL
    assert cut_off, "the kill should land while clients are issuing"

    # A new server on the same file; numbering must continue where the file left off.
    server = live_servers(db_path, env=SERVER_ENV)
    after = requests.post(server.url + "/api/v1/tickets", json={"service": "A"}, headers=headers)
    assert after.status_code == 201
    server.stop()

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
