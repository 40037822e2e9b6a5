"""A citizen's phone number or e-mail address: taken only with consent, kept only in
``subscriptions``, masked for staff, erased on schedule or on request, and never in the
event log, an outbox row, a log line or a public channel (boards, trackers).

The checks search the bytes: of the database file (after a checkpoint, so that the WAL
is in it), of every other table, of the log output and of every socket message."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from xephang.clock import utcnow
from xephang.engine import subscriptions
from xephang.web.extensions import socketio

PHONE = "0912 345 678"
FORMS = ("0912345678", "912345678", "+84912345678", "84912345678", "345 678", "345678")
EMAIL = "tran.thi.b@example.vn"


def file_bytes(path: Path) -> bytes:
    """The database file's bytes with its WAL folded in."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def holds_phone(data: bytes | str) -> bool:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return any(form in text for form in FORMS)


def rows_outside_subscriptions(db) -> str:
    tables = [
        r[0]
        for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if r[0] != "subscriptions"
    ]
    return "\n".join(
        repr(db.execute(f"SELECT * FROM {t}").fetchall())
        for t in tables  # noqa: S608
    )


@pytest.fixture
def office(notify_office, provider):
    return notify_office(SMS_URL=provider.url + "/sms")


def test_without_consent_no_ticket_is_issued(office):
    before = office.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    for notify in (
        {"phone": PHONE},
        {"phone": PHONE, "consent": False},
        {"email": EMAIL, "consent": "true"},
    ):
        answer = office.issue(status=400, **notify)
        assert answer["ok"] is False and answer["field"].endswith("consent"), answer
    assert office.issue(status=400, phone="12345", consent=True)["field"] == "phone"
    assert office.issue(status=400, email=EMAIL, consent=True)["code"] == "bad_input"  # no SMTP
    assert office.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == before
    assert office.db.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 0
    assert not holds_phone(file_bytes(office.path))


def test_the_number_lives_only_in_subscriptions_and_staff_see_it_masked(office, provider):
    ticket = office.issue(phone=PHONE, consent=True)["ticket"]
    office.worker.drain()
    office.call()
    office.worker.drain()
    assert len(provider.delivered) == 2  # near, called
    (sub,) = office.db.query("SELECT * FROM subscriptions")
    assert sub["address"] == "+84912345678" and sub["masked"] == "•••••••678"
    assert not holds_phone(rows_outside_subscriptions(office.db))
    events = office.db.execute("SELECT type, details FROM ticket_events").fetchall()
    assert ("subscribed", '{"channel": "sms"}') in events
    staff = office.client.get(f"/api/v1/tickets/{ticket['id']}", headers=office.officer).json
    assert not holds_phone(str(staff))
    (shown,) = staff["ticket"]["subscriptions"]
    assert (shown["channel"], shown["to"], shown["active"]) == ("sms", "•••••••678", True)
    assert [m["purpose"] for m in shown["messages"]] == ["near", "called"]


def test_no_personal_data_in_the_logs(office, provider, caplog):
    caplog.set_level(logging.DEBUG)
    office.issue(phone=PHONE, consent=True)
    provider.responder = lambda request: (503, {"error": f"busy, cannot reach {PHONE}"})
    office.worker.run_once()
    provider.set_mode("refuse")
    office.issue(email=EMAIL, consent=True, status=400)
    office.worker.run_once()
    provider.set_mode("ok")
    provider.responder = lambda request: (200, {"ok": True})
    office.worker.drain()
    assert len(provider.delivered) == 1
    assert caplog.records, "the worker logged its failures"
    assert not holds_phone(caplog.text) and EMAIL not in caplog.text
    assert not holds_phone(repr([m["last_error"] for m in office.messages()]))


def test_public_channels_carry_no_personal_data(office, provider):
    """Boards (the board link) and trackers get the subscription's events in their public
    shape: no channel, no number; the tracker's own state names only the channels."""
    board = socketio.test_client(office.app, auth={"board": office.demo["board_id"]})
    ticket = office.issue()["ticket"]
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    tracker = socketio.test_client(office.app, auth={"visit": token})
    assert board.is_connected() and tracker.is_connected()
    r = office.client.post(f"/t/{token}/subscribe", json={"phone": PHONE, "consent": True})
    assert r.status_code == 201, r.json
    assert r.json["notify"]["subscribed"] == ["sms"] and not holds_phone(str(r.json))
    office.call()
    office.client.post(f"/t/{token}/unsubscribe", json={})
    received = board.get_received() + tracker.get_received()
    kinds = [m["args"][0]["type"] for m in received if m["name"] == "queue_event"]
    assert "subscribed" in kinds and "unsubscribed" in kinds
    assert not holds_phone(repr(received)) and "sms" not in repr(
        [m for m in received if m["args"][0].get("type") == "subscribed"]
    )
    assert not holds_phone(office.client.get(f"/t/{token}").get_data(as_text=True))
    assert not holds_phone(str(office.client.get(f"/t/{token}.json").json))
    board.disconnect()
    tracker.disconnect()


def test_unsubscribing_erases_the_number_at_once(office, provider):
    office.set(notify_near_people=0)
    ticket = office.issue(phone=PHONE, consent=True)["ticket"]
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    office.call()  # "called" is queued...
    r = office.client.post(f"/t/{token}/unsubscribe", json={"channel": "sms"})
    assert r.status_code == 200 and r.json["notify"]["subscribed"] == []
    assert office.worker.drain() == 0  # ...and never sent
    assert [(m["state"], m["last_error"]) for m in office.messages()] == [
        ("skipped", "unsubscribed")
    ]
    assert provider.received == []
    assert not holds_phone(file_bytes(office.path))


def test_contacts_are_erased_at_the_end_of_the_day_plus_the_rating_window(office, provider):
    office.set(rating_window_days=1)
    office.issue(phone=PHONE, consent=True)
    office.issue(email=EMAIL, consent=True, status=400)
    office.worker.drain()
    (sub,) = office.db.query("SELECT * FROM subscriptions")
    erase_at = subscriptions.parse_iso(sub["erase_after"])
    assert timedelta(days=1) < erase_at - utcnow() <= timedelta(days=2)
    assert subscriptions.erase_expired_contacts(office.db, now=erase_at - timedelta(seconds=1)) == 0
    assert holds_phone(file_bytes(office.path))  # the search finds it while it is kept
    office.worker.clock = lambda: erase_at
    office.worker.housekeeping(force=True)
    (sub,) = office.db.query("SELECT address, end_reason FROM subscriptions")
    assert sub == {"address": None, "end_reason": "erased"}
    assert holds_phone(str(provider.received[0].json()))  # it was sent, and is gone now:
    assert not holds_phone(file_bytes(office.path))


def test_subscribing_after_the_visit_is_over_is_refused(office):
    ticket = office.issue()["ticket"]
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    later = utcnow() + timedelta(days=5)
    with pytest.raises(subscriptions.ConflictError):
        subscriptions.subscribe_visit(
            office.db, token, {"phone": PHONE, "consent": True}, {"sms"}, now=later
        )
