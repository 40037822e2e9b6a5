"""A write that finds another process holding the lock waits without holding gevent's loop.

Under gevent (every `xephang serve` worker) SQLite's own busy handler sleeps inside C:
the whole process, every request and socket, stops until the other writer lets go.
``storage.write`` waits in greenlet sleeps instead (``transaction.begin_immediate``).
The proof needs no clock: the lock is released only when another greenlet of the waiting
process asks for it, which it can do only if the loop keeps running while the write waits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.helpers import LockPauses, hold_write_lock
from xephang.storage import connect, migrate, write
from xephang.storage import transaction as transaction_module

WAIT_S = 60  # a guard against a hang, never expected to run out

WAITER = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()

    import json, sys
    import gevent
    from xephang.storage import connect, write

    db = connect(sys.argv[1], busy_timeout_ms=int(sys.argv[2]))
    state = {"waiting": False, "asked": False}

    def ticker():
        # another greenlet of this process: it can run only while the loop runs
        while not state["asked"]:
            if state["waiting"]:
                print("release", flush=True)
                state["asked"] = True
            gevent.sleep(0.001)

    gevent.spawn(ticker)
    gevent.sleep(0)
    state["waiting"] = True
    try:
        with write(db):
            db.execute("UPDATE offices SET name = 'written by the waiter'")
        print(json.dumps({"ok": True, "asked": state["asked"]}), flush=True)
    except Exception as err:
        print(json.dumps({"ok": False, "error": str(err)}), flush=True)
    """
)


def _office_file(tmp_path):
    path = tmp_path / "wait.db"
    db = connect(path)
    migrate(db)
    db.execute(
        "INSERT INTO offices (id, name, board_id, created_at) VALUES (1, 'x', 'b', '2026-12-02')"
    )
    db.close()
    return path


def test_a_gevent_writer_behind_another_process_keeps_its_loop_running(tmp_path):
    path = _office_file(tmp_path)
    holder = hold_write_lock(path)
    # The waiter's busy timeout is long enough for the release to come, were its loop
    # running; with the loop held (SQLite's busy handler) nobody asks and it times out.
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER, str(path), "3000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = waiter.stdout.readline().strip()
        if first == "release":
            holder.execute("COMMIT")
            answer = json.loads(waiter.stdout.readline())
        else:
            holder.execute("ROLLBACK")
            answer = json.loads(first)
        waiter.wait(WAIT_S)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert first == "release", answer
    assert answer == {"ok": True, "asked": True}
    db = connect(path)
    assert db.execute("SELECT name FROM offices").fetchone()[0] == "written by the waiter"


def test_a_lock_never_released_ends_in_the_busy_error_and_writes_nothing(tmp_path):
    path = _office_file(tmp_path)
    holder = hold_write_lock(path)
    waiter = subprocess.run(
        [sys.executable, "-c", WAITER, str(path), "200"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    holder.execute("ROLLBACK")
    lines = waiter.stdout.splitlines()
    assert lines[0] == "release"  # asked, and nobody let go
    answer = json.loads(lines[-1])
    assert answer["ok"] is False and "locked" in answer["error"]
    db = connect(path)
    assert db.execute("SELECT name FROM offices").fetchone()[0] == "x"


def test_the_wait_is_its_own_and_the_connection_keeps_its_busy_timeout(tmp_path, monkeypatch):
    path = _office_file(tmp_path)
    holder = hold_write_lock(path)
    pauses = LockPauses(holder, release_after=3)
    monkeypatch.setattr(transaction_module, "time", pauses)
    monkeypatch.setattr(transaction_module, "_cooperative", lambda: True)
    db = connect(path, busy_timeout_ms=4321)
    with write(db):
        db.execute("UPDATE offices SET name = 'after three pauses'")
    assert pauses.taken == list(transaction_module.LOCK_PAUSES_S[:3])
    # the reads and statements after it still wait as SQLite waits
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 4321
    assert connect(path).execute("SELECT name FROM offices").fetchone()[0] == "after three pauses"
