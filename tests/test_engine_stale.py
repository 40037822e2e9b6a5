"""Tickets left waiting overnight (close of day not run) never reach today's queue."""

import json
from datetime import datetime, timedelta

from tests.helpers import MONDAY_9AM, make_office
from xephang import engine
from xephang.queries import office as office_queries

MONDAY = datetime.fromisoformat(MONDAY_9AM)
TUESDAY = MONDAY + timedelta(days=1)


def test_the_first_issue_of_a_day_expires_yesterdays_waiting_tickets(bare_db):
    q = make_office(bare_db, counters={1: "A"})
    old = engine.issue_ticket(bare_db, q.office, "A", now=MONDAY).ticket
    fresh = engine.issue_ticket(bare_db, q.office, "A", now=TUESDAY)
    assert fresh.ticket["code"] == "A001" and fresh.ticket["people_ahead"] == 0
    assert engine.get_ticket(bare_db, old["id"])["status"] == "expired"
    expired = [e for e in fresh.events if e["type"] == "expired"]
    assert [e["ticket_id"] for e in expired] == [old["id"]]
    assert expired[0]["details"] == {"stale": True}
    assert engine.verify_log(bare_db) == []


def test_call_next_never_calls_yesterdays_ticket(bare_db):
    q = make_office(bare_db, counters={1: "A"})
    engine.issue_ticket(bare_db, q.office, "A", now=MONDAY)
    counter = q.counters[1]
    outcome = engine.call_next(bare_db, counter, now=TUESDAY)
    assert outcome.ticket is None
    assert [e["type"] for e in outcome.events] == ["expired"]
    assert office_queries.snapshot(bare_db, q.office, now=TUESDAY)["waiting_total"] == 0


def test_close_day_still_logs_who_closed_and_how_many(bare_db):
    q = make_office(bare_db, counters={1: "A"})
    engine.issue_ticket(bare_db, q.office, "A", now=MONDAY)
    outcome = engine.close_day(bare_db, q.office, now=MONDAY + timedelta(hours=9))
    assert outcome.extra["expired"] == 1
    closed = bare_db.execute("SELECT details FROM ticket_events WHERE type = 'day_closed'")
    assert json.loads(closed.fetchone()[0]) == {"day": "2026-03-02", "expired": 1}
