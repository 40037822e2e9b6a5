"""A booking's messages through the outbox: its confirmation at once, a reminder an hour
before its slot, its ticket's messages once it checks in; a cancelled booking reminds
nobody. A real app, a real SQLite file, the outbox worker driven here, a fake SMS gateway
on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from xephang import engine

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912 345 678"


def tomorrow_at(hour: int) -> str:
    return (datetime.now(ZONE) + timedelta(days=1)).strftime(f"%Y-%m-%dT{hour:02d}:00")


def book(office, slot, **extra):
    body = {"service": "A", "slot": slot, **extra}
    r = office.client.post(f"/api/v1/offices/{office.office}/appointments", json=body)
    assert r.status_code == 201, r.json
    return r.json["appointment"]


def texts(provider) -> list[str]:
    return [r.json()["text"] for r in provider.received]


def test_confirmation_now_reminder_an_hour_before_none_once_cancelled(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    slot = tomorrow_at(10)
    kept = book(office, slot, notify={"phone": PHONE, "consent": True})
    dropped = book(office, tomorrow_at(11), notify={"phone": PHONE, "consent": True})
    office.client.post(dropped["booking_url"].replace("http://xephang.test", "") + "/cancel")
    office.worker.drain()
    sent = texts(provider)
    # the cancelled one was cancelled before its confirmation went out: skipped too
    assert len(sent) == 1 and sent[0].startswith("Da dat lich Ho tich luc 10:00")
    assert sent[0].endswith(kept["booking_url"]) and kept["code"] in sent[0]
    start = datetime.fromisoformat(kept["slot_start"])
    office.worker.clock = lambda: start - timedelta(minutes=59)
    office.worker.drain()
    reminders = [t for t in texts(provider) if t.startswith("Nhac lich hen")]
    assert len(reminders) == 1 and kept["booking_url"] in reminders[0]
    office.worker.clock = lambda: start + timedelta(minutes=1)  # 10:01: the 11:00 one's turn
    office.worker.drain()
    assert len(texts(provider)) == 2
    skipped = office.messages(appointment_id=dropped["id"], state="skipped")
    assert [m["purpose"] for m in skipped] == ["booking_confirmed", "booking_reminder"]
    assert {m["last_error"] for m in skipped} == {"booking is cancelled"}
    log = " ".join(r[0] for r in office.db.execute("SELECT details FROM ticket_events"))
    assert "912345678" not in log and "345 678" not in log


def test_a_checked_in_booking_is_told_when_it_is_called(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    now = datetime.now(ZONE)
    slot = (now + timedelta(minutes=30 - now.minute % 30)).strftime("%Y-%m-%dT%H:%M")
    if slot[:10] != now.strftime("%Y-%m-%d"):
        pytest.skip("no slot left today (after 23:30 in the office's zone)")
    appt = book(office, slot, notify={"phone": PHONE, "consent": True})
    r = office.client.post("/api/v1/checkins", json={"text": appt["code"]}, headers=office.officer)
    assert r.status_code == 201, r.json
    ticket = r.json["ticket"]
    office.call()
    office.worker.drain()
    assert f"Moi so {ticket['code']} den quay 1." in texts(provider)
    assert engine.verify_log(office.db, office.office) == []


def test_a_reminder_needs_consent_and_a_channel(notify_office):
    office = notify_office()  # no SMS gateway set up
    body = {"service": "A", "slot": tomorrow_at(9), "notify": {"phone": PHONE, "consent": True}}
    r = office.client.post(f"/api/v1/offices/{office.office}/appointments", json=body)
    assert r.status_code == 400 and "SMS/Zalo" in r.json["error"]
    body["notify"] = {"phone": PHONE}
    r = office.client.post(f"/api/v1/offices/{office.office}/appointments", json=body)
    assert r.status_code == 400
    assert office.db.execute("SELECT count(*) FROM appointments").fetchone()[0] == 0
