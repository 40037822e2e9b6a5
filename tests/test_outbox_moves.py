""" "Turn near" written by the outbox worker: a call that moves a line notes the move (one
row per service, in its own transaction) and the worker turns the note into the ``near``
messages of the line as it then is (``outbox.expand_moves``), in its own transaction.

Each test drives the worker in the test thread, or as threads where concurrency is the
point; time is the worker's injected clock, never a sleep.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from datetime import timedelta

import pytest

from notifiers.channels import SmsChannel
from notifiers.worker import Notifier
from xephang.clock import iso, parse_iso, utcnow
from xephang.engine import order, outbox
from xephang.storage import connect

WAIT_S = 120  # a guard against a hang, never expected to run out
PHONES = [f"09123457{i:02d}" for i in range(60)]


@pytest.fixture
def office(notify_office, provider):
    return notify_office(SMS_URL=provider.url + "/sms")


def near_told(office) -> dict[int, str]:
    """ticket id -> payload of every ``near`` message written."""
    return {m["ticket_id"]: m["payload"] for m in office.messages(expand=False, purpose="near")}


def near_by_the_rule(office, limit: int) -> dict[int, str]:
    """What the rule says now, worked out ticket by ticket: every subscribed waiting
    ticket with at most ``limit`` people ahead (``order.people_ahead``)."""
    rows = office.db.query(
        "SELECT t.* FROM tickets t WHERE t.status = 'waiting' AND EXISTS (SELECT 1 FROM"
        " subscriptions s WHERE s.visit_id = t.visit_id AND s.ended_at IS NULL)"
    )
    found = {}
    for ticket in rows:
        ahead = order.people_ahead(office.db, ticket)
        if ahead <= limit:
            found[ticket["id"]] = f'{{"ahead":{ahead},"wait_s":null}}'
    return found


def test_a_call_notes_the_move_and_writes_no_near_message(office):
    """The call that makes 51 trackers near writes one row per line it moved and its
    own ``called``; the 51 ``near`` come from the worker."""
    office.set(notify_near_people=0, notify_near_minutes=0)
    for phone in PHONES:  # 60 subscribed in line; no "near" while the office sends none
        office.issue(phone=phone, consent=True)
    assert office.moves() == [] and office.messages() == []
    office.set(notify_near_people=50)
    called = office.call()
    assert [m["purpose"] for m in office.messages(expand=False)] == ["called"]
    counter_serves = {
        r[0]
        for r in office.db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ?", [office.counters[1]]
        )
    }
    moves = office.moves()
    assert {m["service_id"] for m in moves} == counter_serves | {called["service"]["id"]}
    assert {m["office_id"] for m in moves} == {office.office}
    assert office.expand() == 51
    assert office.moves() == []
    assert near_told(office) == near_by_the_rule(office, 50)
    assert len(near_told(office)) == 51
    assert office.expand() == 0  # nothing moved since


def test_the_worker_writes_the_near_messages_the_inline_rule_wrote(office, provider):
    """Expanded after each operation, the messages are those the rule gave at each step
    (the rule that ran inside the call before): once per ticket, with the people ahead
    when it became near."""
    office.set(notify_near_people=2, notify_near_minutes=0)
    expected: dict[int, str] = {}
    for phone in PHONES[:6]:
        office.issue(phone=phone, consent=True)
        office.expand()
        expected = {**near_by_the_rule(office, 2), **expected}
        assert near_told(office) == expected
    for counter in (1, 2, 6):  # counters that serve A
        office.call(counter)
        office.expand()
        expected = {**near_by_the_rule(office, 2), **expected}
        assert near_told(office) == expected
    assert len(expected) == 6
    assert [m["payload"] for m in office.messages(expand=False, purpose="near")] == [
        '{"ahead":0,"wait_s":null}',
        '{"ahead":1,"wait_s":null}',
        '{"ahead":2,"wait_s":null}',
        '{"ahead":2,"wait_s":null}',
        '{"ahead":2,"wait_s":null}',
        '{"ahead":2,"wait_s":null}',
    ]


def test_moves_of_one_line_are_one_row_and_expand_once(office):
    """A second move of a line before the worker came only moves the note's time; the
    worker reads the line once, as it is then (payloads computed then)."""
    office.set(notify_near_people=3, notify_near_minutes=0)
    service = None
    for phone in PHONES[:5]:
        service = office.issue(phone=phone, consent=True)["ticket"]["service"]["id"]
    (move,) = office.moves()
    assert move["service_id"] == service and move["first_at"] <= move["last_at"]
    first = move["first_at"]
    office.issue()
    (move,) = office.moves()
    assert move["first_at"] == first and move["last_at"] >= first
    assert office.expand() == 4  # 0, 1, 2 and 3 ahead
    assert near_told(office) == near_by_the_rule(office, 3)
    message = office.messages(expand=False, purpose="near")[0]
    assert message["created_at"] == message["next_attempt_at"] == move["last_at"]
    assert parse_iso(message["give_up_at"]) == parse_iso(move["last_at"]) + timedelta(
        seconds=outbox.PURPOSES["near"].max_age_s
    )


def test_an_office_with_no_subscriber_or_no_near_message_notes_no_move(office):
    office.set(notify_near_people=5)
    office.issue()
    office.issue()
    office.call()
    assert office.moves() == []  # nobody subscribed: the one probe, nothing written
    office.set(notify_near_people=0, notify_near_minutes=0)
    office.issue(phone=PHONES[0], consent=True)
    office.call(2)
    assert office.moves() == []  # subscribers, but the office sends no "near"
    assert office.messages(purpose="near") == []


def test_a_move_older_than_the_give_up_time_writes_nothing(office):
    office.set(notify_near_people=5)
    office.issue(phone=PHONES[0], consent=True)
    (move,) = office.moves()
    late = parse_iso(move["last_at"]) + timedelta(seconds=outbox.PURPOSES["near"].max_age_s)
    assert outbox.expand_moves(office.db, now=late) == 0
    assert office.moves() == [] and office.messages(expand=False) == []


def test_a_crash_between_the_call_and_the_expansion_loses_no_message(office, provider):
    """The process that committed the call is gone before any worker ran: a worker
    started later, on its own connection, finds the move and sends the message."""
    office.set(notify_near_people=5)
    office.issue(phone=PHONES[0], consent=True)
    config = office.worker.config
    office.close()  # the server process stops; only the file remains
    fresh = connect(office.path)
    try:
        assert fresh.execute("SELECT count(*) FROM outbox_moves").fetchone()[0] == 1
        assert fresh.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    finally:
        fresh.close()
    worker = Notifier(config, {"sms": SmsChannel(provider.url + "/sms", "", "", True, 30.0)})
    try:
        assert worker.drain(timeout=WAIT_S) == 1
    finally:
        worker.stop()
    (request,) = provider.received
    assert request.json()["text"].startswith("Sap den luot so")
    office.db = connect(office.path)  # for the fixture's close()
    assert office.moves() == []


def test_a_failed_expansion_keeps_its_move_and_holds_back_no_other_message(
    office, provider, monkeypatch
):
    """An expansion that fails half-way writes nothing and keeps its move for the next
    round; the ``called`` of the same call still goes out meanwhile."""
    office.set(notify_near_people=5)
    office.issue(phone=PHONES[0], consent=True)
    office.issue(phone=PHONES[1], consent=True)
    office.call()  # PHONES[0]'s ticket: "called"; PHONES[1]'s is near
    real = outbox.queue_near

    def broken(*args, **kwargs):
        real(*args, **kwargs)  # its rows are written, then the round fails
        raise RuntimeError("bug")

    monkeypatch.setattr(outbox, "queue_near", broken)
    assert office.worker.drain() == 1
    assert [m["purpose"] for m in office.messages(expand=False)] == ["called"]
    assert len(office.moves()) >= 1  # kept, and counted by health and metrics
    assert office.worker.sleep_time() == office.worker.config.poll_s  # no busy retry
    monkeypatch.setattr(outbox, "queue_near", real)
    assert office.worker.drain() == 1  # the next round writes and sends "near"
    assert office.moves() == []
    assert sorted(m["purpose"] for m in office.messages(expand=False)) == ["called", "near"]


def test_a_pending_move_makes_the_worker_look_at_once(office):
    office.set(notify_near_people=5)
    assert office.worker.sleep_time() == office.worker.config.poll_s
    office.issue(phone=PHONES[0], consent=True)
    assert outbox.next_due(office.db) == office.moves()[0]["first_at"]
    assert office.worker.sleep_time() <= 0.01


def test_a_move_expanded_twice_writes_each_message_once(office):
    """Whatever expands a line again (a note written anew, a second worker), the unique
    index keeps one message per ticket and channel."""
    office.set(notify_near_people=5)
    for phone in PHONES[:3]:
        office.issue(phone=phone, consent=True)
    (move,) = office.moves()
    assert office.expand() == 3
    office.db.execute(
        "INSERT INTO outbox_moves (service_id, office_id, first_at, last_at) VALUES (?, ?, ?, ?)",
        [move["service_id"], office.office, iso(utcnow()), iso(utcnow())],
    )
    assert office.expand() == 0
    assert len(office.messages(expand=False)) == 3


def test_two_workers_expanding_at_once_write_each_message_once(office):
    """Two workers' expansions of the same notes, started together on their own
    connections, serialise on the write lock: one writes the messages, the other finds
    no note."""
    office.set(notify_near_people=50)
    for phone in PHONES[:40]:
        office.issue(phone=phone, consent=True)
    start = threading.Barrier(2)
    queued = [0, 0]

    def run(i):
        db = connect(office.path)
        try:
            start.wait()
            queued[i] = outbox.expand_moves(db)
        finally:
            db.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert sorted(queued) == [0, 40]
    assert office.moves() == []
    tickets = [m["ticket_id"] for m in office.messages(expand=False)]
    assert len(tickets) == len(set(tickets)) == 40


def test_two_workers_expanding_and_sending_send_each_message_once(office, provider):
    """Moves keep coming while two workers expand and send: every subscriber near the
    front gets one message, sent once."""
    office.set(notify_near_people=50)
    config = dataclasses.replace(office.worker.config, batch=3, poll_s=0.01)
    workers = [
        Notifier(config, {"sms": SmsChannel(provider.url + "/sms", "", "", True, 30.0)})
        for _ in range(2)
    ]
    for worker in workers:  # their own threads, looking every poll (no commit wakes them)
        worker.start()
    try:
        for phone in PHONES[:30]:
            office.issue(phone=phone, consent=True)
        provider.wait_for(lambda p: len(p.delivered) >= 30, WAIT_S)
    finally:
        for worker in workers:
            worker.stop()
    assert not any(w.expansion_failed for w in workers)
    assert office.moves() == [] or office.expand() == 0  # nothing left to write
    posted = Counter(r.json()["id"] for r in provider.received)
    assert len(posted) == 30 and set(posted.values()) == {1}
    assert provider.repeats == []
    assert len(office.messages(expand=False, purpose="near")) == 30


def test_notify_status_counts_the_lines_waiting_for_their_near_messages(office):
    from click.testing import CliRunner

    from notifiers.cli import notify

    office.set(notify_near_people=5)
    office.issue(phone=PHONES[0], consent=True)
    run = CliRunner().invoke(
        notify, ["status", "--db", str(office.path), "--office", str(office.office)]
    )
    assert run.exit_code == 0, run.output
    moves = json.loads(run.output)["moves"]
    assert (moves["pending"], moves["late"]) == (1, 0)
    assert moves["oldest_at"] == office.moves()[0]["first_at"]
