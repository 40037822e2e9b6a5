"""The queue's hot path reads index ranges and kept counts, never the whole line, and gives
the same answers as sorting and counting the whole line (the definitions below, which is
what engine/order.py did before migration 0011)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import ticket_plans
from xephang import engine
from xephang.engine import booking, checkin, order
from xephang.engine.lookups import counter_services
from xephang.errors import QueueError
from xephang.queries import queue as queue_queries
from xephang.storage import file_of

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội
KEY = booking.identity_key("scale")


def reference_pick(db, counter: dict, callable_only: bool = True) -> int | None:
    """Call-next by sorting every waiting ticket (the pre-0011 query), online numbers still
    to check in left out (with ``callable_only``)."""
    services = counter_services(db, counter["id"]) or [0]
    preference = " ".join(f"WHEN {sid} THEN {pos}" for pos, sid in enumerate(services))
    marks = ",".join("?" * len(services))
    base = (
        f"SELECT t.id FROM tickets t NOT INDEXED WHERE t.office_id = ? AND t.status = 'waiting'"
        f"{' AND t.awaiting_checkin = 0' if callable_only else ''}"
        f" AND (t.service_id IN ({marks}) AND t.target_counter_id IS NULL"
        f" OR t.target_counter_id = ?)"
    )
    params = [counter["office_id"], *services, counter["id"]]
    place = f"t.target_counter_id IS NULL, CASE t.service_id {preference} END, {order.ARRIVAL_SQL}"
    streak_max = engine.office_setting(db, counter["office_id"], "priority_streak_max")
    if streak_max <= 0:
        sql = f"{base} ORDER BY {place} LIMIT 1"
    else:
        cls = order.CLASS_SQL
        prefer = cls if counter["priority_streak"] < streak_max else f"NOT {cls}"
        sql = f"{base} ORDER BY {prefer}, {order.RANK_SQL}, {place} LIMIT 1"
    row = db.execute(sql, params).fetchone()
    return row[0] if row else None


def reference_ahead(db, ticket: dict) -> int:
    priority = order.priority_first(db, ticket["office_id"])
    key = order.queue_key(ticket, priority)
    expr = order.KEY_SQL if priority else order.ARRIVAL_SQL
    return db.execute(
        f"SELECT count(*) FROM tickets t NOT INDEXED WHERE t.office_id = ? AND t.status ="
        f" 'waiting' AND t.service_id = ? AND ({expr}) < ({','.join('?' * len(key))})",
        [ticket["office_id"], ticket["service_id"], *key],
    ).fetchone()[0]


def reference_counts(db, office: int) -> dict[int, int]:
    return dict(
        db.execute(
            "SELECT service_id, count(*) FROM tickets NOT INDEXED WHERE office_id = ? AND"
            " status = 'waiting' GROUP BY service_id",
            [office],
        ).fetchall()
    )


def reference_not_arrived(db, office: int) -> dict[int, int]:
    return dict(
        db.execute(
            "SELECT service_id, count(*) FROM tickets NOT INDEXED WHERE office_id = ? AND"
            " status = 'waiting' AND awaiting_checkin GROUP BY service_id",
            [office],
        ).fetchall()
    )


def reference_order(db, office: int, limit: int, service: int | None = None) -> list[int]:
    expr = order.KEY_SQL if order.priority_first(db, office) else order.ARRIVAL_SQL
    only = "" if service is None else f" AND t.service_id = {int(service)}"
    return [
        r[0]
        for r in db.execute(
            f"SELECT t.id FROM tickets t NOT INDEXED WHERE t.office_id = ? AND"
            f" t.status = 'waiting'{only} ORDER BY {expr} LIMIT ?",
            [office, limit],
        )
    ]


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_queue_answers_like_the_whole_line_sorted(queue, seed):
    db, office = queue.db, queue.office
    rng = random.Random(seed)
    streak = [0, 2, 3][seed % 3]
    engine.set_office_settings(db, office, {"priority_streak_max": str(streak)})
    now = START
    counters = list(queue.counters.values())
    compared = passed_over = 0  # calls, and those that passed over a number not here yet
    for step in range(160):
        now += timedelta(seconds=rng.randint(0, 40))  # equal queue times happen too
        roll = rng.random()
        try:
            if roll < 0.45:
                # Some online numbers that must check in: in line, not callable until then.
                away = rng.random() < 0.25
                engine.issue_ticket(
                    db,
                    office,
                    rng.choice("ABC"),
                    priority=rng.choice([None, None, None, "elderly", "child"]),
                    now=now,
                    check_hours=False,
                    channel="online" if away else "kiosk",
                    awaiting_checkin=away,
                )
            elif roll < 0.52:
                away = db.execute(  # chosen by the seeded rng: one seed, one run
                    "SELECT code FROM tickets WHERE office_id = ? AND status = 'waiting'"
                    " AND awaiting_checkin ORDER BY id",
                    [office],
                ).fetchall()
                if away:
                    checkin.check_in(db, office, rng.choice(away)[0], KEY, now=now)
            else:
                counter = engine.get_counter(db, rng.choice(counters))
                expected = reference_pick(db, counter)
                if counter["current_ticket_id"]:
                    held = engine.get_ticket(db, counter["current_ticket_id"])
                    if held["status"] == "called":
                        act = rng.choice(["no_show", "return", "start", "transfer"])
                        if act == "no_show":
                            engine.no_show(db, held["id"], now=now)
                        elif act == "return":
                            engine.return_to_queue(db, held["id"], reason="thiếu", now=now)
                        elif act == "transfer":
                            engine.start(db, held["id"], now=now)
                            engine.transfer(
                                db, held["id"], counter_id=rng.choice(counters), now=now
                            )
                        else:
                            engine.start(db, held["id"], now=now)
                        continue
                    if held["status"] == "serving" and rng.random() < 0.3:
                        engine.finish(db, held["id"], now=now)
                        counter = engine.get_counter(db, counter["id"])
                        expected = reference_pick(db, counter)
                picked = order.pick_next(db, counter)
                assert (picked["id"] if picked else None) == expected, step
                compared += 1
                passed_over += expected != reference_pick(db, counter, callable_only=False)
                engine.call_next(db, counter["id"], now=now)
        except QueueError:
            pass
        assert queue_queries.waiting_counts(db, office) == reference_counts(db, office)
        assert queue_queries.not_arrived_counts(db, office) == reference_not_arrived(db, office)
        assert [t["id"] for t in order.waiting_in_order(db, office, None, 15)] == (
            reference_order(db, office, 15)
        )
        priority = order.priority_first(db, office)
        for service in queue.services.values():  # the front the notifiers' "turn near" reads
            front = [row[0] for row in order.line(db, office, service, priority, 6)]
            assert front == reference_order(db, office, 6, service)
    assert compared > 30 and passed_over > 0, (compared, passed_over)
    waiting = db.query("SELECT * FROM tickets WHERE status = 'waiting'")
    for ticket in waiting:
        assert order.people_ahead(db, ticket) == reference_ahead(db, ticket)


def test_people_ahead_counts_from_the_near_end_of_a_long_line(queue):
    """More than BEHIND_PROBE behind a priority ticket: it counts those ahead instead."""
    db, office = queue.db, queue.office
    first = None
    for i in range(order.BEHIND_PROBE + 20):
        out = engine.issue_ticket(
            db, office, "A", priority="elderly" if i in (3, 9) else None, now=START
        )
        first = first or out.ticket
    tickets = list(db.query("SELECT * FROM tickets WHERE status = 'waiting' ORDER BY id"))
    for ticket in tickets:
        assert order.people_ahead(db, ticket) == reference_ahead(db, ticket)
    assert order.people_ahead(db, tickets[9]) == 1  # behind the other elderly ticket only


def test_kept_counts_follow_every_write_even_by_hand(queue):
    db, office = queue.db, queue.office
    ids = [engine.issue_ticket(db, office, "A", now=START).ticket["id"] for _ in range(5)]
    service_b = queue.services["B"]
    db.execute("UPDATE tickets SET service_id = ? WHERE id = ?", [service_b, ids[0]])
    db.execute("UPDATE tickets SET status = 'cancelled' WHERE id = ?", [ids[1]])
    db.execute("DELETE FROM ticket_events WHERE ticket_id = ?", [ids[2]])
    db.execute("DELETE FROM tickets WHERE id = ?", [ids[2]])
    assert queue_queries.waiting_counts(db, office) == reference_counts(db, office)
    assert queue_queries.waiting_counts(db, office) == {queue.services["A"]: 2, service_b: 1}


def test_the_hot_path_reads_no_whole_line(queue):
    """No query of issue, call-next or the broadcast's reads sorts or scans the waiting
    line: every plan is an index search, and no temporary sort is over more than the
    per-service candidates."""
    db, office = queue.db, queue.office
    for i in range(300):
        engine.issue_ticket(db, office, "ABC"[i % 3], priority="elderly" if i % 40 == 0 else None)

    def issue_and_call():
        issued = engine.issue_ticket(db, office, "A")
        called = engine.call_next(db, queue.counters[1])
        queue_queries.queue_moves(db, issued.events + called.events, {})

    plans = ticket_plans(
        db,
        [
            issue_and_call,
            lambda: queue_queries.waiting_counts(db, office),
            lambda: order.waiting_in_order(db, office, None, 10),
            *(
                lambda priority=priority: order.line(db, office, queue.services["A"], priority, 10)
                for priority in (True, False)
            ),
        ],
    )
    assert plans
    for sql, plan in plans:
        merged = "CO-ROUTINE t" in plan  # the outer query over the per-service candidates
        for step in plan:
            assert not step.startswith("SCAN tickets"), (sql, plan)
            assert step != "SCAN t" or merged, (sql, plan)
            assert "tickets_waiting (office_id=? AND status=?)" not in step, (sql, plan)


def test_a_ticket_lifecycle_writes_few_pages(queue):
    """Write amplification: each commit writes every page it changed (the table's and each
    index's). Indexes hold only the rows they are read for (migration 0018: no entry for a
    ticket without a dossier code, a device, or not waiting), so a lifecycle of four
    commits here writes 37 pages, not 44. Counted in WAL frames: deterministic, not a timing."""
    db = queue.db
    for i in range(150):  # a line and a history, so every index has some depth
        engine.issue_ticket(db, queue.office, "AB"[i % 2], now=START)
    for _ in range(100):
        called = engine.call_next(db, queue.counters[1], now=START)
        engine.start(db, called.ticket["id"], now=START)
        engine.finish(db, called.ticket["id"], now=START)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = file_of(db) + "-wal"
    page = db.execute("PRAGMA page_size").fetchone()[0]
    lifecycles = 40
    for _ in range(lifecycles):
        engine.issue_ticket(db, queue.office, "C", now=START)
        called = engine.call_next(db, queue.counters[3], now=START)
        engine.start(db, called.ticket["id"], now=START)
        engine.finish(db, called.ticket["id"], now=START)
    frames = (os.path.getsize(wal) - 32) / (page + 24)
    assert frames / lifecycles <= 41, frames / lifecycles
