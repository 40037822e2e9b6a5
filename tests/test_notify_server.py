"""The outbox worker inside a real ``xephang serve`` process (gevent): a server killed
(SIGKILL) while its messages hang at the SMS gateway loses none and duplicates none once
it is back; ``xephang notify run`` sends on its own, beside a server whose worker is off."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from xephang import engine
from xephang.storage import connect

WAIT_S = 120  # a guard against a hang, never expected to run out


def prepare(path, office_id: int) -> None:
    db = connect(path)
    try:
        engine.set_office_settings(db, office_id, {"notify_near_people": 50})
    finally:
        db.close()


def issue_with_phones(server, count: int) -> None:
    for i in range(count):
        r = requests.post(
            f"{server.url}/api/v1/tickets",
            json={"service": "A", "notify": {"phone": f"09123400{i:02d}", "consent": True}},
            headers=server.officer,
            timeout=30,
        )
        assert r.status_code == 201, r.text


def settled(path, count: int) -> dict[str, str]:
    """The outbox once ``count`` messages are sent (the gateway's answer comes a moment
    before the server records it; another process's commit sends no event to wait on)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        states = outbox_ids(path)
        if list(states.values()).count("sent") >= count:
            return states
        time.sleep(0.05)
    raise AssertionError(f"not sent in time: {outbox_ids(path)}")


def outbox_ids(path) -> dict[str, str]:
    db = connect(path)
    try:
        return {f"xephang-{r[0]}": r[1] for r in db.execute("SELECT id, state FROM outbox")}
    finally:
        db.close()


def pending_moves(path) -> int:
    db = connect(path)
    try:
        return db.execute("SELECT count(*) FROM outbox_moves").fetchone()[0]
    finally:
        db.close()


@pytest.mark.slow
def test_a_server_killed_while_sending_loses_no_message_and_duplicates_none(
    start_demo_server, demo_file, provider
):
    path, info = demo_file
    prepare(path, info["office_id"])
    provider.set_mode("hang")
    server = start_demo_server(
        env={
            "XEPHANG_SMS_URL": provider.url + "/sms",
            "XEPHANG_NOTIFY_TIMEOUT_S": "1",
            "XEPHANG_NOTIFY_BATCH": "4",
            "XEPHANG_NOTIFY_RETRY_BASE_S": "0.1",
            "XEPHANG_NOTIFY_RETRY_MAX_S": "0.2",
        }
    )
    issue_with_phones(server, 10)
    provider.wait_for(lambda p: len(p.received) >= 4, WAIT_S)  # a batch hangs in flight
    server.kill()
    assert "sending" in outbox_ids(path).values()  # claimed when the process died
    provider.set_mode("ok")
    server.restart()
    provider.wait_for(lambda p: len(p.delivered) >= 10, WAIT_S)
    states = settled(path, 10)
    assert len(states) == 10 and set(states.values()) == {"sent"}
    assert set(provider.delivered) == set(states)  # every message, each once
    assert provider.repeats == []
    answered = [r.json()["id"] for r in provider.answered()]
    assert sorted(answered) == sorted(states)  # nothing was accepted twice


@pytest.mark.slow
def test_notify_run_sends_beside_a_server_whose_worker_is_off(
    start_demo_server, demo_file, provider
):
    path, info = demo_file
    prepare(path, info["office_id"])
    env = {"XEPHANG_SMS_URL": provider.url + "/sms"}
    server = start_demo_server(env={**env, "XEPHANG_NOTIFY_WORKER": "0"})
    issue_with_phones(server, 3)
    # The server writes and sends nothing itself: the line's move waits for a worker
    assert outbox_ids(path) == {} and pending_moves(path) == 1
    command = [sys.executable, "-c", "from xephang.cli import main; main()", "notify", "run"]
    worker = subprocess.Popen(
        [*command, "--db", str(path)],
        env={**os.environ, **env, "XEPHANG_PUBLIC_URL": server.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        provider.wait_for(lambda p: len(p.delivered) >= 3, WAIT_S)
        assert set(settled(path, 3).values()) == {"sent"}
    finally:
        worker.terminate()
        worker.wait(30)
    assert all(server.url + "/t/" in r.json()["text"] for r in provider.received)
