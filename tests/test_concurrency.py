"""Many threads, each with its own connection, on one SQLite file: nothing lost or doubled."""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.helpers import make_office
from xephang import engine
from xephang.errors import ConflictError, IllegalTransitionError
from xephang.storage import connect

THREADS = 50
# Fifty writers queue for one lock: on a loaded CI machine the last in line may wait
# longer than the server's 10 s. This test is about correctness, not latency.
BUSY_MS = 120_000


def run_threads(target, count=THREADS) -> list:
    """Start ``count`` threads together; return their results, re-raising any failure."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def body(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except BaseException as err:  # reported to the test below
            errors.append(err)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "threads did not finish"
    assert errors == [], errors[:3]
    return results


def test_fifty_threads_issuing_number_without_gap_or_duplicate(tmp_path):
    path = tmp_path / "issue.db"
    setup = connect(path)
    from xephang.storage import migrate

    migrate(setup)
    q = make_office(setup, services="AB", counters={1: "AB"})
    per_thread = 10

    def issue_many(index):
        db = connect(path, busy_timeout_ms=BUSY_MS)
        try:
            return [
                engine.issue_ticket(db, q.office, "A" if index % 5 else "B").ticket
                for _ in range(per_thread)
            ]
        finally:
            db.close()

    tickets = [t for batch in run_threads(issue_many) for t in batch]
    by_service = {
        "A": sorted(t["number"] for t in tickets if t["code"][0] == "A"),
        "B": sorted(t["number"] for t in tickets if t["code"][0] == "B"),
    }
    assert len(by_service["A"]) == 40 * per_thread and len(by_service["B"]) == 10 * per_thread
    for numbers in by_service.values():
        assert numbers == list(range(1, len(numbers) + 1))
    stored = setup.execute("SELECT count(*), count(DISTINCT code) FROM tickets").fetchone()
    assert stored == (len(tickets), len(tickets))
    assert engine.verify_log(setup) == []
    setup.close()


def test_fifty_threads_calling_on_ten_counters_call_each_ticket_once(tmp_path):
    path = tmp_path / "call.db"
    setup = connect(path)
    from xephang.storage import migrate

    migrate(setup)
    q = make_office(
        setup, services="AB", counters={n: "AB" if n % 2 else "BA" for n in range(1, 11)}
    )
    issued = [
        engine.issue_ticket(
            setup, q.office, "AB"[i % 2], priority="elderly" if i % 7 == 0 else None
        ).ticket["id"]
        for i in range(500)
    ]

    def work(index):
        """Five threads share each counter: call, then start+finish or no-show what we got.

        Call-next refuses while the counter holds a called ticket (ConflictError:
        try again) and finishes a ticket being served before calling the next.
        """
        db = connect(path, busy_timeout_ms=BUSY_MS)
        counter_id = q.counters[index % 10 + 1]
        mine = []
        try:
            while True:
                try:
                    outcome = engine.call_next(db, counter_id)
                except ConflictError:
                    # Another thread at this counter still holds its ticket: back off
                    # briefly rather than spin on the write lock.
                    time.sleep(0.001)
                    continue
                if outcome.ticket is None:
                    return mine
                ticket_id = outcome.ticket["id"]
                mine.append(ticket_id)
                if ticket_id % 3:
                    engine.start(db, ticket_id)
                    try:
                        engine.finish(db, ticket_id)
                    except IllegalTransitionError:
                        # Another thread's call-next at this counter finished it first,
                        # as call-next does with a ticket being served.
                        assert engine.get_ticket(db, ticket_id)["status"] == "done"
                else:
                    engine.no_show(db, ticket_id)
        finally:
            db.close()

    called = [tid for batch in run_threads(work) for tid in batch]
    assert sorted(called) == sorted(issued)  # every ticket, each exactly once
    assert Counter(called).most_common(1)[0][1] == 1
    call_events = Counter(
        r[0] for r in setup.execute("SELECT ticket_id FROM ticket_events WHERE type = 'called'")
    )
    assert set(call_events.values()) == {1} and len(call_events) == 500
    statuses = Counter(r[0] for r in setup.execute("SELECT status FROM tickets"))
    assert set(statuses) <= {"done", "no_show"} and sum(statuses.values()) == 500
    assert (
        setup.execute(
            "SELECT count(*) FROM counters WHERE current_ticket_id IS NOT NULL"
        ).fetchone()[0]
        == 0
    )
    assert engine.verify_log(setup) == []
    replayed = engine.replay_states(setup, q.office)
    assert replayed == dict(setup.execute("SELECT id, status FROM tickets").fetchall())
    setup.close()
