"""A phone verified by a one-time code before an online number or an appointment, where
the office asks for a phone and an SMS channel is set up: a real app on a real SQLite
file, the outbox worker driven here, a fake SMS gateway on 127.0.0.1."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from xephang import engine

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912 345 678"
PHONE_FORMS = ("0912 345 678", "0912345678", "912345678", "+84912345678", "84912345678")


def tomorrow_10() -> str:
    return (datetime.now(ZONE) + timedelta(days=1)).strftime("%Y-%m-%dT10:00")


def verifying(notify_office, provider, **values):
    office = notify_office(SMS_URL=provider.url + "/sms")
    office.set(online_identity="phone", **values)
    return office


def ask(office, phone=PHONE, status=201, **extra):
    body = {"phone": phone, "consent": True, **extra}
    r = office.client.post(f"/api/v1/offices/{office.office}/otp", json=body)
    assert r.status_code == status, r.json
    return r.json


def sent_code(office, provider, count=1) -> str:
    """The code in the last SMS the gateway got (after the worker ran)."""
    office.worker.drain()
    assert len(provider.received) == count
    text = provider.received[-1].json()["text"]
    return re.search(r"\b(\d{6})\b", text).group(1)


def take(office, status, **body):
    r = office.client.post(
        f"/api/v1/offices/{office.office}/online-tickets", json={"service": "A", **body}
    )
    assert r.status_code == status, r.json
    return r.json


def tickets(office) -> int:
    return office.db.execute("SELECT count(*) FROM tickets").fetchone()[0]


def test_the_code_is_sent_then_takes_one_number_once(notify_office, provider):
    office = verifying(notify_office, provider)
    answer = ask(office)["otp"]
    assert answer["channel"] == "sms" and answer["phone"].endswith("678")
    assert "912345678" not in str(answer)
    code = sent_code(office, provider)
    sms = provider.received[0].json()
    assert sms["to"] == "+84912345678"
    assert sms["text"].startswith("Van phong") or "ma xac nhan" in sms["text"]
    # without the code, or with a phone only, nothing is taken
    refused = take(office, 400, phone=PHONE, consent=True)
    assert refused["code"] == "otp_invalid" and "mã xác nhận" in refused["error"]
    before = tickets(office)
    ticket = take(office, 201, otp_id=answer["otp_id"], otp_code=code)["ticket"]
    assert ticket["channel"] == "online" and tickets(office) == before + 1
    again = take(office, 400, otp_id=answer["otp_id"], otp_code=code)
    assert "đã được dùng" in again["error"] and tickets(office) == before + 1
    # the code's message keeps no code, its phone is erased once used
    row = office.db.execute(
        "SELECT o.payload, o.state, s.address FROM outbox o JOIN subscriptions s"
        " ON s.id = o.subscription_id WHERE o.purpose = 'otp'"
    ).fetchone()
    assert row == ("{}", "sent", None)
    claim = office.db.execute("SELECT identity_hash FROM online_claims").fetchone()[0]
    assert claim == engine.booking.keyed_hash(
        engine.booking.identity_key("test"), office.office, "phone", "+84912345678"
    )


def test_a_wrong_code_is_refused_and_counted_five_end_it(notify_office, provider):
    office = verifying(notify_office, provider)
    otp_id = ask(office)["otp"]["otp_id"]
    code = sent_code(office, provider)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    before = tickets(office)
    first = take(office, 400, otp_id=otp_id, otp_code=wrong)
    assert first["code"] == "otp_invalid" and "còn 4 lần" in first["error"]
    attempts = "SELECT attempts FROM phone_codes WHERE token = ?"
    assert office.db.execute(attempts, [otp_id]).fetchone()[0] == 1
    for _ in range(4):
        take(office, 400, otp_id=otp_id, otp_code=wrong)
    assert office.db.execute(attempts, [otp_id]).fetchone()[0] == 5
    ended = take(office, 400, otp_id=otp_id, otp_code=code)  # the right code, too late
    assert "quá nhiều lần" in ended["error"]
    assert tickets(office) == before
    assert engine.verify_log(office.db, office.office) == []


def test_an_expired_code_is_refused_and_its_message_given_up(notify_office, provider):
    office = verifying(notify_office, provider)
    answer = ask(office)["otp"]
    expires = datetime.fromisoformat(answer["expires_at"])
    assert timedelta(minutes=4, seconds=59) < expires - datetime.now(ZONE) <= timedelta(minutes=5)
    office.worker.clock = lambda: expires + timedelta(seconds=1)  # the worker was down
    office.worker.drain()
    assert provider.received == []
    state, payload, address = office.db.execute(
        "SELECT o.state, o.payload, s.address FROM outbox o JOIN subscriptions s"
        " ON s.id = o.subscription_id WHERE o.purpose = 'otp'"
    ).fetchone()
    # the phone was erased with the code's time, and the message never sent
    assert (state, payload, address) == ("skipped", "{}", None)
    past = (datetime.now(ZONE) - timedelta(seconds=1)).astimezone(ZoneInfo("UTC"))
    office.db.execute("UPDATE phone_codes SET expires_at = ?", [past.isoformat()])
    refused = take(office, 400, otp_id=answer["otp_id"], otp_code="123456")
    assert "hết hạn" in refused["error"]
    assert office.db.execute("SELECT attempts FROM phone_codes").fetchone()[0] == 0


def test_codes_per_phone_are_rate_limited_never_deduplicated(notify_office, provider):
    office = verifying(notify_office, provider, online_otp_per_hour=2)
    first, second = ask(office)["otp"], ask(office)["otp"]
    assert first["otp_id"] != second["otp_id"]
    refused = ask(office, status=429)
    assert refused["code"] == "rate_limited" and "thử lại sau" in refused["error"]
    ask(office, phone="0987 654 321")  # another phone is another count
    office.worker.drain()
    assert len(provider.received) == 3  # two codes to the same phone: two messages
    assert office.db.execute("SELECT count(*) FROM phone_codes").fetchone()[0] == 3


def test_a_code_needs_consent_a_phone_and_a_verifying_office(notify_office, provider):
    office = verifying(notify_office, provider)
    url = f"/api/v1/offices/{office.office}/otp"
    no_consent = office.client.post(url, json={"phone": PHONE})
    assert no_consent.status_code == 400 and no_consent.json["field"] == "consent"
    bad = office.client.post(url, json={"phone": "12345", "consent": True})
    assert bad.status_code == 400
    office.set(online_identity="cccd")
    off = office.client.post(url, json={"phone": PHONE, "consent": True})
    assert off.status_code == 409
    assert office.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_without_an_sms_channel_a_phone_is_hashed_unverified(notify_office):
    office = notify_office()
    office.set(online_identity="phone")
    assert take(office, 201, phone=PHONE, consent=True)["ticket"]["channel"] == "online"
    r = office.client.post(
        f"/api/v1/offices/{office.office}/otp", json={"phone": PHONE, "consent": True}
    )
    assert r.status_code == 409
    availability = office.client.get(f"/api/v1/offices/{office.office}/availability").json
    assert availability["availability"]["identity"]["verified"] is False


def test_an_appointment_needs_the_code_too(notify_office, provider):
    office = verifying(notify_office, provider)
    availability = office.client.get(f"/api/v1/offices/{office.office}/availability").json
    assert availability["availability"]["identity"]["verified"] is True
    url = f"/api/v1/offices/{office.office}/appointments"
    body = {"service": "A", "slot": tomorrow_10()}
    assert (
        office.client.post(url, json={**body, "phone": PHONE, "consent": True}).status_code == 400
    )
    otp_id = ask(office)["otp"]["otp_id"]
    code = sent_code(office, provider)
    other = ask(office, phone="0987 654 321")["otp"]["otp_id"]
    mismatch = office.client.post(url, json={**body, "otp_id": other, "otp_code": code})
    assert mismatch.status_code == 400  # another phone's code
    r = office.client.post(url, json={**body, "phone": PHONE, "otp_id": otp_id, "otp_code": code})
    assert r.status_code == 201, r.json
    assert r.json["appointment"]["identity"] == "•••678"


def file_bytes(path) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_no_raw_phone_or_code_in_the_file_the_event_log_or_the_log_lines(
    notify_office, provider, caplog
):
    caplog.set_level(logging.DEBUG)
    office = verifying(notify_office, provider)
    provider.mode = "error"  # the first try fails and is logged
    otp_id = ask(office)["otp"]["otp_id"]
    office.worker.run_once()
    provider.mode = "ok"
    code = sent_code(office, provider, count=2)
    take(office, 400, otp_id=otp_id, otp_code=f"{(int(code) + 1) % 1_000_000:06d}")
    take(office, 201, otp_id=otp_id, otp_code=code)
    events = " ".join(r[0] for r in office.db.execute("SELECT details FROM ticket_events"))
    raw = file_bytes(office.path)
    for secret in (*PHONE_FORMS, code):
        assert secret not in caplog.text, secret
        assert secret not in events, secret
        assert secret.encode() not in raw, secret


def test_the_pages_ask_for_the_code_then_take_the_number(notify_office, provider):
    office = verifying(notify_office, provider)
    page = f"/booking/{office.office}/online"
    first = office.client.get(page)
    assert (
        first.status_code == 200 and 'id="send-otp"' in first.text and 'id="take"' not in first.text
    )
    form = {"service": "1", "phone": PHONE, "consent": "1", "step": "send"}
    service = office.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'A'", [office.office]
    ).fetchone()[0]
    form["service"] = str(service)
    step2 = office.client.post(page, data=form)
    assert step2.status_code == 200 and 'id="otp_code"' in step2.text
    assert "912345678" not in step2.text and "345 678" not in step2.text
    otp_id = re.search(r'name="otp_id" value="([^"]+)"', step2.text).group(1)
    code = sent_code(office, provider)
    taken = {"service": str(service), "otp_id": otp_id}
    wrong = office.client.post(
        page, data={**taken, "otp_code": "000000" if code != "000000" else "1"}
    )
    assert wrong.status_code == 400 and "Mã xác nhận không đúng" in wrong.text
    assert 'id="otp_code"' in wrong.text  # asked again, tries left
    done = office.client.post(page, data={**taken, "otp_code": code})
    assert done.status_code == 303 and "/t/" in done.headers["Location"]
    used = office.client.post(page, data={**taken, "otp_code": code})
    assert used.status_code == 400 and "đã được dùng" in used.text
    assert 'id="send-otp"' in used.text  # back to step 1


def test_the_appointment_page_asks_for_the_code_then_books(notify_office, provider):
    office = verifying(notify_office, provider)
    service = office.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'A'", [office.office]
    ).fetchone()[0]
    slot, day = tomorrow_10(), tomorrow_10()[:10]
    page = f"/booking/{office.office}/appointment?service={service}&day={day}"
    first = office.client.get(page).text
    assert 'id="send-otp"' in first
    slot = re.search(rf'name="slot" value="({slot}[^"]*)"', first).group(1)  # as offered
    chosen = {"service": str(service), "day": day, "slot": slot}
    step2 = office.client.post(
        page, data={**chosen, "phone": PHONE, "consent": "1", "step": "send"}
    )
    assert step2.status_code == 200 and 'id="otp_code"' in step2.text and 'id="book"' in step2.text
    assert re.search(rf'value="{re.escape(slot)}"\s+checked', step2.text)  # the slot kept
    otp_id = re.search(r'name="otp_id" value="([^"]+)"', step2.text).group(1)
    code = sent_code(office, provider)
    done = office.client.post(page, data={**chosen, "otp_id": otp_id, "otp_code": code})
    assert done.status_code == 303 and "/booking/b/" in done.headers["Location"]
    confirmation = office.client.get(done.headers["Location"])
    assert confirmation.status_code == 200 and "10:00" in confirmation.text
    identity = office.db.execute("SELECT identity_last3 FROM appointments").fetchone()[0]
    assert identity == "678"
