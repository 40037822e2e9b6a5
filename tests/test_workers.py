"""`xephang serve --workers N`: N web processes on one port, one background process, Redis
between them; a worker that dies is started again while the others keep serving."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio
from click.testing import CliRunner

from tests.helpers import free_ports_after
from xephang.cli import cli
from xephang.storage import connect

WAIT_S = 120  # a guard against a hang, never expected to run out


def test_several_workers_need_the_message_queue(tmp_path, monkeypatch):
    monkeypatch.delenv("XEPHANG_MESSAGE_QUEUE", raising=False)
    result = CliRunner().invoke(
        cli, ["serve", "--db", str(tmp_path / "x.db"), "--workers", "2"], env={}
    )
    assert result.exit_code == 2
    assert "XEPHANG_MESSAGE_QUEUE" in result.output and "Redis" in result.output


def children(pid: int) -> dict[tuple[str, int], int]:
    """The supervisor's workers: (role, slot) -> pid, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid != pid or b"serve-worker" not in args:
            continue
        words = [a.decode() for a in args]
        role, slot = words[words.index("--role") + 1], int(words[words.index("--slot") + 1])
        found[(role, slot)] = int(entry.name)
    return found


def kiosk_issue(server) -> dict:
    """Pair a kiosk in a browser-like session and press service A, as the kiosk page does."""
    kiosk = requests.Session()
    link = f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}"
    shown = kiosk.get(link, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown.text).group(1)
    token = server.demo["kiosk_token"]
    paired = kiosk.post(
        f"{server.url}/kiosk/pair", data={"token": token, "csrf_token": csrf}, timeout=30
    )
    assert paired.ok, paired.text[:300]
    page = kiosk.get(f"{server.url}/kiosk/", timeout=30)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    r = kiosk.post(
        f"{server.url}/kiosk/api/tickets",
        json={"service": "A"},
        headers={"X-CSRF-Token": csrf, "Origin": server.url},
        timeout=30,
    )
    assert r.status_code == 201, r.text[:300]
    assert r.json()["print"]["state"] == "queued"
    return r.json()["ticket"]


def wait_answering(url: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            requests.get(url + "/api/v1/health", timeout=10)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)  # a port that starts listening sends no event


class Board:
    """A board client on one port: counts its connects and keeps the events it gets."""

    def __init__(self, url: str, board_id: str):
        self.events: list[dict] = []
        self.connects = 0
        self.connected = threading.Event()
        self.got = threading.Condition()
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2)

        @self.client.on("connect")
        def on_connect():
            self.connects += 1
            self.connected.set()

        @self.client.on("queue_event")
        def on_event(event):
            with self.got:
                self.events.append(event)
                self.got.notify_all()

        self.client.connect(url, auth={"board": board_id}, transports=["websocket"])

    def wait_for(self, predicate) -> dict:
        with self.got:
            assert self.got.wait_for(lambda: any(predicate(e) for e in self.events), WAIT_S), (
                self.events
            )
            return next(e for e in self.events if predicate(e))


@pytest.mark.slow
def test_a_killed_web_worker_is_replaced_while_the_others_serve(start_demo_server, redis_url):
    base = free_ports_after(2)  # workers 1 and 2 listen alone on base + 1 and base + 2
    server = start_demo_server(
        # the client names each worker's own port as its origin (behind a proxy a browser
        # names the public one): not what this test is about
        env={"XEPHANG_MESSAGE_QUEUE": redis_url, "XEPHANG_SOCKET_ORIGINS": "*"},
        args=["--workers", "2", "--worker-ports", str(base)],
    )
    kiosk = {"Authorization": f"Bearer {server.demo['kiosk_token']}"}
    # the background worker's heartbeat reaches every web worker's health check
    deadline = time.monotonic() + WAIT_S
    while True:
        health = requests.get(server.url + "/api/v1/health", timeout=10).json()
        if health["ok"]:
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.2)  # the first heartbeat has no event to wait on
    assert health["checks"]["spooler"]["in"] == "background worker"
    assert health["checks"]["message_queue"]["ok"]
    own = {slot: f"http://127.0.0.1:{base + slot}" for slot in (1, 2)}
    for url in own.values():  # each worker answers on its own port too
        wait_answering(url)
    pids = children(server.proc.pid)  # the workers that answer (one may have been restarted)
    assert set(pids) == {("background", 0), ("web", 1), ("web", 2)}
    boards = {slot: Board(own[slot], server.demo["board_id"]) for slot in (1, 2)}
    try:
        os.kill(pids[("web", 1)], signal.SIGKILL)
        # the shared port keeps answering: only live workers accept on it
        codes = []
        for _ in range(5):
            r = requests.post(server.url + "/api/v1/tickets", json={"service": "A"}, headers=kiosk)
            assert r.status_code == 201, r.text
            codes.append(r.json()["ticket"]["code"])
        boards[2].wait_for(lambda e: e["type"] == "issued" and e["ticket"]["code"] == codes[-1])
        # the supervisor starts worker 1 again; its board reconnects to it and resyncs
        deadline = time.monotonic() + WAIT_S
        while boards[1].connects < 2:
            assert time.monotonic() < deadline, "board 1 never reconnected"
            time.sleep(0.05)  # python-socketio's reconnect has no event of its own here
        assert children(server.proc.pid)[("web", 1)] != pids[("web", 1)]
        ack = boards[1].client.call("sync", timeout=WAIT_S)
        assert ack["ok"] and ack["snapshot"]["waiting_total"] == 5
        r = requests.post(
            server.url + "/api/v1/counters/1/call-next", headers=server.officer, timeout=30
        )
        assert r.status_code == 200 and r.json()["ticket"]["code"] == codes[0]
        for board in boards.values():
            called = board.wait_for(lambda e: e["type"] == "called")
            assert called["ticket"]["code"] == codes[0]
        # a kiosk's receipt, queued by whichever web worker answers, is printed once, by
        # the background worker (the one spooler), and its `printed` event reaches boards
        ticket = kiosk_issue(server)
        printed = boards[2].wait_for(lambda e: e["type"] == "printed")
        assert printed["ticket_id"] == ticket["id"]
        db = connect(server.db_path)
        jobs = db.execute("SELECT state FROM print_jobs WHERE ticket_id = ?", [ticket["id"]])
        assert [r[0] for r in jobs] == ["done"]
        db.close()
        assert len(list(server.printed.glob("*.png"))) == 1
    finally:
        for board in boards.values():
            board.client.disconnect()


@pytest.mark.slow
def test_messages_queued_by_any_web_worker_are_sent_once_by_the_background_worker(
    start_demo_server, demo_file, redis_url, provider
):
    """One outbox worker in all: the background worker's. Its poll is longer than the test
    may take, so only the web workers' wake-ups (through Redis) send the messages in time."""
    from xephang import engine

    path, info = demo_file
    db = connect(path)
    engine.set_office_settings(db, info["office_id"], {"notify_near_people": 50})
    db.close()
    server = start_demo_server(
        env={
            "XEPHANG_MESSAGE_QUEUE": redis_url,
            "XEPHANG_SMS_URL": provider.url + "/sms",
            "XEPHANG_NOTIFY_POLL_S": str(WAIT_S * 5),
        },
        args=["--workers", "2"],
    )
    outbox = requests.get(server.url + "/api/v1/health", timeout=10).json()["checks"]["outbox"]
    assert outbox["ok"] and (outbox["state"], outbox["in"]) == ("ok", "background worker")
    for i in range(6):  # over the shared port: both web workers take some
        r = requests.post(
            server.url + "/api/v1/tickets",
            json={"service": "A", "notify": {"phone": f"09123400{i:02d}", "consent": True}},
            headers=server.officer,
            timeout=30,
        )
        assert r.status_code == 201, r.text
    provider.wait_for(lambda p: len(p.delivered) >= 6, WAIT_S)  # "near" for each
    r = requests.post(server.url + "/api/v1/counters/1/call-next", headers=server.officer)
    assert r.status_code == 200
    provider.wait_for(lambda p: len(p.delivered) >= 7, WAIT_S)  # "called" for the first
    db = connect(path)
    try:
        rows = db.execute("SELECT purpose, state FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()
    assert sorted(p for p, _ in rows) == ["called"] + ["near"] * 6
    assert provider.repeats == [] and len(provider.received) == 7  # each sent once
