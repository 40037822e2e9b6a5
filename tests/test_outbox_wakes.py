"""The outbox worker is woken by the commits that gave it work, and its rounds with
nothing to do take no write lock (under gevent they ran on the same loop as requests:
a round that waited for a request's lock held every other request meanwhile)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from xephang.engine import outbox
from xephang.storage import connect


@pytest.fixture
def office(notify_office, provider, monkeypatch):
    office = notify_office(SMS_URL=provider.url + "/sms", SMS_TOKEN="t", SMS_SENDER="UBND")
    office.wakes = []
    monkeypatch.setattr(office.worker, "wake", lambda: office.wakes.append(1))
    return office


def test_a_commit_wakes_the_outbox_worker_only_when_it_gave_it_work(office):
    office.issue()  # nobody subscribed: nothing for the worker
    office.call()
    assert office.wakes == [] and office.messages() == []
    office.issue(phone="0912 345 678", consent=True)  # a line with a subscriber moved
    assert office.wakes == [1] and len(office.moves()) == 1
    office.wakes.clear()
    office.expand()  # the worker's round: the note read ("near" queued or not)
    called = office.call(2)  # the subscriber's turn: "called" queued, the worker woken
    assert [m["purpose"] for m in office.messages(ticket_id=called["id"])][-1] == "called"
    assert office.wakes == [1]


def test_a_booking_with_a_contact_wakes_the_worker_for_its_confirmation(office):
    slot = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).strftime(
        "%Y-%m-%dT09:00"
    )
    body = {"service": "A", "slot": slot, "notify": {"phone": "0912345678", "consent": True}}
    r = office.client.post(f"/api/v1/offices/{office.office}/appointments", json=body)
    assert r.status_code == 201, r.json
    assert "booking_confirmed" in [m["purpose"] for m in office.messages()]
    assert office.wakes == [1]


@contextlib.contextmanager
def locked(office):
    """Another writer holding the office file's write lock (a request's group), and a
    connection of the worker's that waits 50 ms for it."""
    holder, worker = connect(office.path), connect(office.path, busy_timeout_ms=50)
    holder.conn.execute("BEGIN IMMEDIATE")
    holder.conn.execute("UPDATE offices SET name = name")
    try:
        yield worker
    finally:
        holder.conn.execute("ROLLBACK")
        worker.close()
        holder.close()


def test_a_round_with_nothing_due_takes_no_write_lock(office):
    with locked(office) as db:
        assert outbox.claim(db) == []
        assert outbox.expand_moves(db) == 0


def test_a_round_with_work_still_takes_the_lock(office):
    office.db.execute(
        "INSERT INTO outbox_moves (service_id, office_id, first_at, last_at)"
        " SELECT id, office_id, '2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.000+00:00'"
        " FROM services WHERE office_id = ? LIMIT 1",
        [office.office],
    )
    with locked(office) as db, pytest.raises(sqlite3.OperationalError, match="locked"):
        outbox.expand_moves(db)
