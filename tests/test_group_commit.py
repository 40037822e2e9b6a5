"""Group commit (storage/group.py): writes that arrive together share one transaction;
each is its own savepoint, answered only after the shared commit."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from tests.helpers import LockPauses, hold_write_lock, make_office
from xephang import engine
from xephang.errors import ConflictError
from xephang.storage import GroupCommit, connect, migrate
from xephang.storage import group as group_module
from xephang.storage import transaction as transaction_module

WAIT_S = 60  # a guard against a hang, never expected to run out


@pytest.fixture
def office_file(tmp_path):
    path = tmp_path / "group.db"
    db = connect(path)
    migrate(db)
    office = make_office(db, services="AB", counters={1: "AB"})
    db.close()
    return path, office


def run_together(group: GroupCommit, jobs: list) -> list:
    """Submit ``jobs`` (fn, args) while the writer is held inside a first job, so they
    queue up and form one group; results (or exceptions) in order."""
    release, entered = threading.Event(), threading.Event()

    def hold(db):
        entered.set()
        assert release.wait(WAIT_S)
        return "held"

    results: list = [None] * len(jobs)

    def submit(index, fn, args):
        try:
            results[index] = group.run(fn, *args)
        except Exception as err:  # handed back to the test
            results[index] = err

    first = threading.Thread(target=submit, args=(0, hold, ()))
    results.insert(0, None)
    first.start()
    assert entered.wait(WAIT_S)
    threads = [
        threading.Thread(target=submit, args=(i + 1, fn, args)) for i, (fn, args) in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + WAIT_S
    while len(group._pending) < len(jobs):  # every job queued behind the held one
        assert time.monotonic() < deadline
        time.sleep(0.005)
    release.set()
    for t in [first, *threads]:
        t.join(WAIT_S)
    assert results[0] == "held"
    return results[1:]


def test_writes_that_arrive_together_share_one_commit(office_file):
    path, q = office_file
    group = GroupCommit(path)
    results = run_together(group, [(engine.issue_ticket, (q.office, "A"))] * 20)
    assert group.jobs == 21 and group.batches == 2  # the held job, then the other twenty
    numbers = sorted(r.ticket["number"] for r in results)
    assert numbers == list(range(1, 21))
    db = connect(path)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 20
    assert engine.verify_log(db) == []


def test_a_writer_pauses_only_right_after_a_commit_that_answered_others(office_file, monkeypatch):
    """The pause lets the callers a commit just answered join the next group; a lone
    writer has nobody to wait for, and pausing would put the loop's other work first."""
    path, q = office_file
    # "right after": within a millisecond in the server; here the threads' joins
    # between the group and the next write take longer than that.
    monkeypatch.setattr(group_module, "PAUSE_WITHIN_S", 60.0)
    pauses: list[int] = []
    group = GroupCommit(path, pause=lambda: pauses.append(group.batches))
    for _ in range(3):
        group.run(engine.issue_ticket, q.office, "A")
    assert pauses == []  # one write at a time: never
    run_together(group, [(engine.issue_ticket, (q.office, "A"))] * 3)
    assert group.batches == 5  # the held job, then the three together
    group.run(engine.issue_ticket, q.office, "A")  # at once after the group of three
    assert pauses == [5]


def test_a_failing_write_rolls_back_only_its_own_savepoint(office_file):
    path, q = office_file
    group = GroupCommit(path)

    def issue_then_fail(db):
        engine.issue_ticket(db, q.office, "B")
        raise ConflictError("thử lỗi", "test failure")

    results = run_together(
        group,
        [
            (engine.issue_ticket, (q.office, "A")),
            (issue_then_fail, ()),
            (engine.issue_ticket, (q.office, "A")),
        ],
    )
    assert isinstance(results[1], ConflictError)
    assert [r.ticket["code"] for r in (results[0], results[2])] == ["A001", "A002"]
    db = connect(path)
    assert [r[0] for r in db.execute("SELECT code FROM tickets ORDER BY id")] == ["A001", "A002"]
    assert engine.verify_log(db) == []  # the failed job's event left no gap in the chain


def test_nobody_is_answered_before_the_commit(office_file, monkeypatch):
    path, q = office_file
    seen_at_commit: list[int] = []
    answered: list[int] = []

    def offload(fn, *args):
        if args == ("COMMIT",):
            seen_at_commit.append(len(answered))
        return fn(*args)

    group = GroupCommit(path, offload=offload)

    def issue_and_look(index):
        ticket = group.run(engine.issue_ticket, q.office, "A").ticket
        # once answered, another connection sees it: it is committed. A connection of its
        # own: on one shared by the threads, a statement another thread has not finished
        # keeps that connection's read snapshot from before this commit.
        watcher = connect(path)
        try:
            seen = watcher.execute("SELECT 1 FROM tickets WHERE id = ?", [ticket["id"]]).fetchall()
        finally:
            watcher.close()
        assert seen
        answered.append(index)

    threads = [threading.Thread(target=issue_and_look, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert sorted(answered) == list(range(10))
    # each commit happened before any job of its group was answered
    assert seen_at_commit[0] == 0 and len(seen_at_commit) == group.batches


def test_a_job_that_loses_the_transaction_fails_alone_and_the_others_run_again(office_file):
    path, q = office_file
    group = GroupCommit(path)

    def destroy(db):
        db.conn.execute("ROLLBACK")  # as SQLite does on some errors (a full disk)

    results = run_together(
        group,
        [
            (engine.issue_ticket, (q.office, "A")),
            (destroy, ()),
            (engine.issue_ticket, (q.office, "A")),
        ],
    )
    assert isinstance(results[1], sqlite3.Error)
    assert sorted(r.ticket["code"] for r in (results[0], results[2])) == ["A001", "A002"]
    db = connect(path)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    assert engine.verify_log(db) == []


def test_a_job_may_run_another_inline(office_file):
    path, q = office_file
    group = GroupCommit(path)

    def two(db):
        first = engine.issue_ticket(db, q.office, "A")
        return first, group.run(engine.issue_ticket, q.office, "B")

    first, second = group.run(two)
    assert (first.ticket["code"], second.ticket["code"]) == ("A001", "B001")


def test_concurrent_api_requests_are_committed_and_numbered_without_gaps(app, demo, tokens):
    assert app.extensions["xephang.group_commit"] is not None
    codes, lock = [], threading.Lock()

    def issue():
        client = app.test_client()
        for _ in range(5):
            r = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["officer"])
            assert r.status_code == 201, r.json
            with lock:
                codes.append(r.json["ticket"]["code"])

    threads = [threading.Thread(target=issue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert sorted(codes) == [f"A{n:03d}" for n in range(1, 41)]


def test_a_writer_behind_another_process_tries_again_within_a_millisecond(office_file, monkeypatch):
    path, q = office_file
    holder = hold_write_lock(path)
    pauses = LockPauses(holder, release_after=6)
    monkeypatch.setattr(transaction_module, "time", pauses)
    outcome = GroupCommit(path).run(engine.issue_ticket, q.office, "A")
    assert outcome.ticket["number"] == 1
    # short pauses, growing to a millisecond and no further (SQLite's own busy handler
    # sleeps 1, 2, 5, 10 ms...: a writer that missed twice waited 3 ms and lost again)
    assert pauses.taken[:4] == list(transaction_module.LOCK_PAUSES_S)
    assert len(pauses.taken) == 6 and max(pauses.taken) <= 0.001
    db = connect(path)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    assert engine.verify_log(db) == []


def test_a_lock_never_released_ends_in_the_busy_error_and_writes_nothing(office_file, monkeypatch):
    path, q = office_file
    holder = hold_write_lock(path)
    pauses = LockPauses(holder, release_after=None)
    monkeypatch.setattr(transaction_module, "time", pauses)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        GroupCommit(path, busy_timeout_ms=50).run(engine.issue_ticket, q.office, "A")
    assert pauses.taken and max(pauses.taken) <= 0.001
    holder.execute("ROLLBACK")
    db = connect(path)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


GREENLETS = """
from gevent import monkey
monkey.patch_all()
from gevent import monkey

monkey.patch_all()
import sys
import gevent
from xephang import engine
from xephang.storage import connect, migrate
from xephang.web.context import group_commit

path = sys.argv[1]
db = connect(path)
migrate(db)
office = engine.create_office(db, "Greenlets")
services = [engine.add_service(db, office, p, p) for p in "ABCDEF"]
counters = [engine.add_counter(db, office, k + 1, [services[k]]) for k in range(6)]
db.close()
group = group_commit(path, 10000)  # as the server makes it

def counter(k):
    for _ in range(10):
        group.run(engine.issue_ticket, office, services[k], check_hours=False)
        called = group.run(engine.call_next, counters[k])
        group.run(engine.start, called.ticket["id"])
        group.run(engine.finish, called.ticket["id"])

gevent.joinall([gevent.spawn(counter, k) for k in range(6)], raise_error=True)
print(group.jobs, group.batches)
"""


def test_under_gevent_the_writes_that_come_while_the_disk_syncs_share_the_next_commit(
    tmp_path,
):
    """As `xephang serve` runs it: six counters' greenlets on one loop, the commit in a
    thread of gevent's pool. A fast disk too (a commit's sync here takes a fraction of a
    millisecond): the others' writes gather while it syncs and go in the next commit, and
    the writer that finds nobody writing waits for the greenlets the last commit woke."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", GREENLETS, str(tmp_path / "green.db")],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert done.returncode == 0, done.stderr
    jobs, batches = map(int, done.stdout.split())
    assert jobs == 6 * 10 * 4
    # Committing on the loop: one write a commit (240 commits). Leading at once: the
    # groups were 1 and 5 writes in turn (3.4 a commit); with the pause all six.
    assert jobs / batches >= 5
