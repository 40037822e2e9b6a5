"""Online numbers and appointments in the engine: a real SQLite file, the engine's clock
injected. Every service here has an open counter (a service without one refuses)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from xephang import engine, reports
from xephang.engine import booking, checkin
from xephang.engine.retention import purge
from xephang.errors import (
    BadInputError,
    ConflictError,
    DailyCapError,
    NoCounterError,
    NoSlotError,
    NotFoundError,
    OfficeClosedError,
    OnlineCapError,
    OnlineClosedError,
    OnlineShareError,
    RateLimitError,
    SlotFullError,
)
from xephang.queries import booking as booking_queries
from xephang.reports import facts
from xephang.storage import connect

from .helpers import make_office

KEY = booking.identity_key("test-secret")
HOURS = {d: [["07:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
# Wednesday 2 December 2026, 09:00 in Hà Nội (02:00 UTC).
NINE = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
CCCD = "001203004567"
CCCD_QR = f"{CCCD}|012345678|Nguyễn Văn A|01011990|Nam|Số 1 Tràng Tiền, Hà Nội|15062021"


@pytest.fixture
def office(bare_db):
    """An office open Monday–Friday with services A (Hộ tịch), B (Hộ tịch), C (Đất đai),
    every counter open."""
    made = make_office(bare_db, hours=json.dumps(HOURS))
    for prefix, field in (("A", "Hộ tịch"), ("B", "Hộ tịch"), ("C", "Đất đai")):
        bare_db.execute(
            "UPDATE services SET field = ? WHERE id = ?", [field, made.services[prefix]]
        )
    for counter in made.counters.values():
        engine.open_counter(bare_db, counter, now=NINE - timedelta(hours=1))
    return made


def settings(db, office, **values):
    engine.set_office_settings(db, office.office, values)


def take(office, service="A", at=NINE, **kw):
    return booking.take_online_number(office.db, office.office, service, KEY, now=at, **kw)


def book(office, slot, service="A", at=NINE, **kw):
    return booking.book_appointment(office.db, office.office, service, slot, KEY, now=at, **kw)


def counts(db):
    return {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("tickets", "appointments", "online_claims", "ticket_events")
    }


def test_an_online_number_is_in_line_at_once_with_an_honest_estimate(office):
    outcome = take(office)
    ticket = outcome.ticket
    assert ticket["channel"] == "online" and ticket["status"] == "waiting"
    assert ticket["counters_open"] == 2 and ticket["estimated_wait_s"] is not None
    event = office.db.execute(
        "SELECT details FROM ticket_events WHERE ticket_id = ? AND type = 'issued'",
        [ticket["id"]],
    ).fetchone()[0]
    assert json.loads(event)["channel"] == "online"
    second = take(office).ticket
    assert second["people_ahead"] == 1


def test_availability_shows_what_a_new_ticket_would_be_told(office):
    take(office)
    take(office)
    found = booking_queries.availability(office.db, office.office, now=NINE, cached=False)
    a = next(s for s in found["services"] if s["prefix"] == "A")
    assert a["waiting"] == 2 and a["people_ahead"] == 2 and a["counters_open"] == 2
    assert a["online_open"] and a["online_left"] > 0
    assert found["online"]["open"] and found["open_now"]
    assert found["appointments"]["days"][0] == "2026-12-02"
    assert "2026-12-05" not in found["appointments"]["days"]  # a Saturday: closed


def test_availability_is_cached_until_a_queue_event(office):
    first = booking_queries.availability(office.db, office.office, now=NINE)
    assert booking_queries.availability(office.db, office.office, now=NINE) is first
    book(office, "2026-12-03T08:00")  # a booking changes its slot's places only
    assert booking_queries.availability(office.db, office.office, now=NINE) is first
    later = NINE + timedelta(seconds=booking_queries.AVAILABILITY_TTL_S + 1)
    assert booking_queries.availability(office.db, office.office, now=later) is not first
    first = booking_queries.availability(office.db, office.office, now=NINE)
    take(office)
    again = booking_queries.availability(office.db, office.office, now=NINE)
    assert again is not first
    assert next(s for s in again["services"] if s["prefix"] == "A")["waiting"] == 1


def test_two_numbers_with_one_cccd_succeed_and_a_third_is_refused(office):
    settings(office.db, office, online_identity="cccd", online_cap_per_field=2)
    take(office, citizen_id=CCCD, consent=True)
    take(office, "C", citizen_id="0012 0300 4567", consent=True)
    before = counts(office.db)
    with pytest.raises(OnlineCapError, match="tối đa 2 lượt"):
        take(office, "B", citizen_id=CCCD, consent=True)
    assert counts(office.db) == before
    take(office, citizen_id="079090001234", consent=True)  # someone else


def test_one_per_field(office):
    settings(office.db, office, online_identity="phone")
    take(office, "A", phone="0912 345 678", consent=True)
    with pytest.raises(OnlineCapError, match="lĩnh vực Hộ tịch"):
        take(office, "B", phone="+84912345678", consent=True)
    take(office, "C", phone="0912345678", consent=True)  # another field


@pytest.mark.parametrize(
    "mode,kw,field",
    [
        ("cccd", {}, "citizen_id"),
        ("cccd", {"citizen_id": "12345"}, "citizen_id"),
        ("cccd", {"citizen_id": "00120300456a"}, "citizen_id"),
        ("cccd", {"citizen_id": "001203004567"}, "consent"),
        ("phone", {"phone": "12345"}, "phone"),
        ("phone", {"phone": "0912345678", "consent": "yes"}, "consent"),
    ],
)
def test_missing_or_bad_identity_is_refused_and_changes_nothing(office, mode, kw, field):
    settings(office.db, office, online_identity=mode)
    before = counts(office.db)
    with pytest.raises(BadInputError) as refused:
        take(office, **kw)
    assert refused.value.extra.get("field") == field
    assert counts(office.db) == before


def test_online_numbers_stop_before_closing_and_outside_hours(office):
    with pytest.raises(OnlineClosedError, match="30 phút"):
        take(office, at=datetime(2026, 12, 2, 9, 45, tzinfo=UTC))  # 16:45 local
    with pytest.raises(OfficeClosedError):
        take(office, at=datetime(2026, 12, 2, 5, 0, tzinfo=UTC))  # 12:00 lunch
    settings(office.db, office, online_numbers_enabled=False)
    with pytest.raises(OnlineClosedError):
        take(office)


def test_online_numbers_stay_within_their_share(office):
    # A: 2 counters × 7.5 h ÷ 300 s = 180 a day; 1% of it is one number.
    settings(office.db, office, online_share=0.01)
    take(office)
    with pytest.raises(OnlineShareError, match="tại văn phòng"):
        take(office)
    engine.issue_ticket(office.db, office.office, "A", now=NINE)  # the kiosk still issues


def test_a_service_without_a_counter_takes_no_online_number(office):
    service = engine.add_service(office.db, office.office, "D", "Dịch vụ D")
    with pytest.raises(NoCounterError):
        take(office, service)


def test_the_address_rate_limit(office):
    settings(office.db, office, online_rate_per_hour=2)
    take(office, address="203.0.113.9")
    take(office, "C", address="203.0.113.9")
    with pytest.raises(RateLimitError):
        take(office, "B", address="203.0.113.9")
    take(office, "B", address="198.51.100.7")
    take(office, "B", address="203.0.113.9", at=NINE + timedelta(hours=1, minutes=1))


# --- appointments ---------------------------------------------------------------------------


def test_slots_follow_opening_hours_and_default_capacity(office):
    slots = booking_queries.slots(office.db, office.office, "A", "2026-12-03", now=NINE)
    assert [s["time"] for s in slots][:3] == ["07:30", "08:00", "08:30"]
    assert "11:30" not in [s["time"] for s in slots] and "13:30" in [s["time"] for s in slots]
    assert slots[-1]["time"] == "16:30"
    # 0.5 × 2 counters × 1800 s ÷ 300 s = 6 places
    assert {s["capacity"] for s in slots} == {6}
    today = booking_queries.slots(office.db, office.office, "A", "2026-12-02", now=NINE)
    assert today[0]["time"] == "09:30"  # past slots are gone
    assert booking_queries.slots(office.db, office.office, "A", "2026-12-05", now=NINE) == []


def test_the_managers_capacity_wins_and_a_full_slot_refuses(office):
    booking.set_slot_capacity(office.db, office.office, "A", "thu", "08:00", 1)
    book(office, "2026-12-03T08:00")
    before = counts(office.db)
    with pytest.raises(SlotFullError, match="08:00"):
        book(office, "2026-12-03T08:00")
    assert counts(office.db) == before
    assert book(office, "2026-12-03T08:30").extra["appointment"]["code"]


@pytest.mark.parametrize(
    "slot,error,message",
    [
        ("2026-12-05T08:00", NoSlotError, "không nhận đặt lịch"),  # Saturday
        ("2026-12-30T08:00", NoSlotError, "không nhận đặt lịch"),  # past the 14-day horizon
        ("2026-12-01T08:00", NoSlotError, "không nhận đặt lịch"),  # yesterday
        ("2026-12-03T08:10", NoSlotError, "không có hoặc đã qua"),
        ("2026-12-03T12:00", NoSlotError, "không có hoặc đã qua"),  # lunch
        ("2026-12-02T08:00", NoSlotError, "không có hoặc đã qua"),  # passed
        ("2026-02-30T08:00", NoSlotError, "Không có khung giờ"),
        ("tomorrow", BadInputError, "Khung giờ không hợp lệ"),
        ("2026-12-03 08:00", BadInputError, "Khung giờ không hợp lệ"),
    ],
)
def test_bad_slots_are_refused_and_change_nothing(office, slot, error, message):
    before = counts(office.db)
    with pytest.raises(error, match=message):
        book(office, slot)
    assert counts(office.db) == before


def test_a_booking_is_logged_without_personal_data_and_cancels_once(office):
    settings(office.db, office, online_identity="cccd")
    outcome = book(office, "2026-12-03T08:00", citizen_id=CCCD, consent=True)
    appt = outcome.extra["appointment"]
    assert appt["identity"] == "•••567" and len(appt["code"]) == 6
    assert [e["type"] for e in outcome.events] == ["booked"]
    cancelled = booking.cancel_appointment(office.db, appt["token"], now=NINE)
    assert cancelled.extra["appointment"]["status"] == "cancelled"
    with pytest.raises(ConflictError):
        booking.cancel_appointment(office.db, appt["token"], now=NINE)
    # the cap place is free again
    book(office, "2026-12-03T08:00", citizen_id=CCCD, consent=True)
    assert engine.verify_log(office.db, office.office) == []


def check_in(office, text, at):
    return checkin.check_in(office.db, office.office, text, KEY, now=at)


@pytest.mark.parametrize("how", ["code", "code_lower_spaced", "qr_link", "cccd_qr", "cccd"])
def test_check_in_by_code_link_or_cccd_qr(office, how):
    settings(office.db, office, online_identity="cccd")
    appt = book(office, "2026-12-02T10:00", citizen_id=CCCD, consent=True).extra["appointment"]
    text = {
        "code": appt["code"],
        "code_lower_spaced": " ".join(appt["code"].lower()),
        "qr_link": f"http://xephang.test/booking/b/{appt['token']}",
        "cccd_qr": CCCD_QR,
        "cccd": CCCD,
    }[how]
    outcome = check_in(office, text, NINE + timedelta(minutes=50))  # 09:50, early
    ticket = outcome.ticket
    assert ticket["channel"] == "appointment" and outcome.extra["on_time"]
    row = office.db.execute(
        "SELECT queue_at, slot_at FROM tickets WHERE id = ?", [ticket["id"]]
    ).fetchone()
    assert row[0] == row[1] == "2026-12-02T03:00:00.000+00:00"  # in line from 10:00
    with pytest.raises(ConflictError, match="đã được xác nhận"):
        check_in(office, text, NINE + timedelta(minutes=51))


def test_a_late_appointment_is_an_ordinary_ticket(office):
    appt = book(office, "2026-12-02T09:30").extra["appointment"]
    late = NINE + timedelta(minutes=30 + 16)  # 16 minutes after the slot started
    ticket = check_in(office, appt["code"], late).ticket
    queue_at = office.db.execute(
        "SELECT queue_at FROM tickets WHERE id = ?", [ticket["id"]]
    ).fetchone()[0]
    assert queue_at == "2026-12-02T02:46:00.000+00:00"


def test_an_on_time_appointment_goes_ahead_of_later_walk_ins(office):
    appt = book(office, "2026-12-02T09:30").extra["appointment"]
    walk_in = engine.issue_ticket(office.db, office.office, "A", now=NINE + timedelta(minutes=35))
    booked = check_in(office, appt["code"], NINE + timedelta(minutes=40)).ticket
    engine.close_counter(office.db, office.counters[2], now=NINE)
    called = engine.call_next(office.db, office.counters[1], now=NINE + timedelta(minutes=41))
    assert called.ticket["id"] == booked["id"] != walk_in.ticket["id"]


@pytest.mark.parametrize(
    "text,error",
    [("", BadInputError), ("ZZZZZZ", NotFoundError), ("999999999999|x", NotFoundError)],
)
def test_unknown_check_ins_are_refused(office, text, error):
    before = counts(office.db)
    with pytest.raises(error):
        check_in(office, text, NINE)
    assert counts(office.db) == before


def test_check_in_on_another_day_or_office_is_refused(office, bare_db):
    appt = book(office, "2026-12-03T08:00").extra["appointment"]
    with pytest.raises(ConflictError, match="03/12/2026"):
        check_in(office, appt["code"], NINE)
    other = make_office(bare_db, name="Văn phòng khác")
    with pytest.raises(NotFoundError):
        checkin.check_in(bare_db, other.office, appt["code"], KEY, now=NINE)
    with pytest.raises(NotFoundError):
        checkin.check_in(bare_db, other.office, f"/booking/b/{appt['token']}", KEY, now=NINE)


def test_the_wait_of_an_appointment_counts_from_the_later_of_check_in_and_slot(office):
    appt = book(office, "2026-12-02T10:00").extra["appointment"]
    ticket = check_in(office, appt["code"], NINE + timedelta(minutes=30)).ticket  # 09:30
    engine.call_ticket(
        office.db, office.counters[1], ticket["id"], "hẹn", now=NINE + timedelta(minutes=65)
    )
    late = book(office, "2026-12-02T10:30").extra["appointment"]
    other = check_in(office, late["code"], NINE + timedelta(minutes=100)).ticket  # 10:40
    engine.call_ticket(
        office.db, office.counters[2], other["id"], "hẹn", now=NINE + timedelta(minutes=110)
    )
    waits = dict(
        office.db.execute(
            f"SELECT t.id, {facts.WAIT_MS} FROM tickets t WHERE t.channel = 'appointment'"
        ).fetchall()
    )
    assert waits == {ticket["id"]: 5 * 60_000, other["id"]: 10 * 60_000}


def test_missed_bookings_and_forgotten_hashes_after_their_day(office):
    settings(office.db, office, online_identity="cccd")
    book(office, "2026-12-02T10:00", citizen_id=CCCD, consent=True)
    take(office, "C", citizen_id=CCCD, consent=True, address="203.0.113.9")
    tomorrow = NINE + timedelta(days=1)
    outcome = book(office, "2026-12-03T10:00", at=tomorrow, citizen_id=CCCD, consent=True)
    assert [e["type"] for e in outcome.events] == ["booking_missed", "booked"]
    rows = office.db.execute(
        "SELECT day, identity_hash IS NULL, address_hash IS NULL FROM online_claims ORDER BY id"
    ).fetchall()
    assert rows == [("2026-12-02", 1, 1), ("2026-12-02", 1, 1), ("2026-12-03", 0, 1)]


def test_no_raw_identity_in_the_database_file_or_the_log(office, tmp_path):
    settings(office.db, office, online_identity="cccd", online_cap_per_field=2)
    take(office, citizen_id=CCCD, consent=True, address="203.0.113.9")
    appt = book(office, "2026-12-02T10:00", citizen_id=CCCD, consent=True).extra["appointment"]
    check_in(office, CCCD_QR, NINE + timedelta(minutes=30))
    other = book(office, "2026-12-03T10:00", "C", citizen_id="079090001234", consent=True)
    booking.cancel_appointment(office.db, other.extra["appointment"]["token"], now=NINE)
    office.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = office.db.execute("PRAGMA database_list").fetchone()[2]
    raw = b"".join(open(p, "rb").read() for p in [path] if p)
    for secret in (CCCD, "079090001234", "Nguyễn Văn A", "203.0.113.9", "Tràng Tiền"):
        assert secret.encode() not in raw, secret
    events = " ".join(r[0] for r in office.db.execute("SELECT details FROM ticket_events"))
    assert CCCD not in events and "567" not in events and appt["code"] not in events


def test_fifty_concurrent_bookings_never_exceed_a_slot(office):
    booking.set_slot_capacity(office.db, office.office, "A", "thu", "08:00", 7)
    path = office.db.execute("PRAGMA database_list").fetchone()[2]
    results, start = [], threading.Barrier(50)

    def one_citizen(n):
        db = connect(path)
        try:
            start.wait()
            booking.book_appointment(
                db, office.office, "A", "2026-12-03T08:00", KEY, now=NINE, address=f"10.0.0.{n}"
            )
            results.append("ok")
        except SlotFullError:
            results.append("full")
        finally:
            db.close()

    threads = [threading.Thread(target=one_citizen, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 7 and results.count("full") == 43
    booked = office.db.execute(
        "SELECT count(*) FROM appointments WHERE status = 'booked'"
    ).fetchone()[0]
    assert booked == 7


def test_after_k_appointments_in_a_row_a_walk_in_goes_first(office):
    settings(office.db, office, booking_streak_max=1)
    booking.set_slot_capacity(office.db, office.office, "A", "wed", "09:30", 3)
    codes = [book(office, "2026-12-02T09:30").extra["appointment"]["code"] for _ in range(2)]
    walk_in = engine.issue_ticket(office.db, office.office, "A", now=NINE + timedelta(minutes=35))
    booked = [check_in(office, c, NINE + timedelta(minutes=40)).ticket["id"] for c in codes]
    engine.close_counter(office.db, office.counters[2], now=NINE)
    order = []
    for minute in (41, 42, 43):
        at = NINE + timedelta(minutes=minute)
        called = engine.call_next(office.db, office.counters[1], now=at).ticket
        order.append(called["id"])
        engine.start(office.db, called["id"], now=at)
        engine.finish(office.db, called["id"], now=at)
    assert order == [booked[0], walk_in.ticket["id"], booked[1]]


def test_with_no_precedence_an_appointment_queues_from_its_check_in(office):
    settings(office.db, office, booking_streak_max=0)
    appt = book(office, "2026-12-02T09:30").extra["appointment"]
    outcome = checkin.check_in(office.db, office.office, appt["code"], KEY, now=NINE)
    assert outcome.extra == {**outcome.extra, "on_time": False, "late": False}
    queue_at = office.db.execute(
        "SELECT queue_at FROM tickets WHERE id = ?", [outcome.ticket["id"]]
    ).fetchone()[0]
    assert queue_at == "2026-12-02T02:00:00.000+00:00"


def test_reports_split_by_channel_and_count_bookings(office):
    engine.issue_ticket(office.db, office.office, "A", now=NINE)
    take(office, "A")
    appt = book(office, "2026-12-02T10:00").extra["appointment"]
    ticket = check_in(office, appt["code"], NINE + timedelta(minutes=55)).ticket
    book(office, "2026-12-02T10:30")  # never comes
    cancelled = book(office, "2026-12-02T11:00").extra["appointment"]
    booking.cancel_appointment(office.db, cancelled["token"], now=NINE)
    engine.call_ticket(
        office.db, office.counters[1], ticket["id"], "hẹn", now=NINE + timedelta(hours=1, minutes=5)
    )
    report = reports.wait_report(
        office.db,
        office.office,
        "2026-12-02",
        "2026-12-02",
        "channel",
        now=NINE + timedelta(hours=2),
    )
    rows = {r["group"]: r for r in report["rows"]}
    assert {k: rows[k]["issued"] for k in rows} == {
        "Tại văn phòng (kiosk, quầy)": 1,
        "Lấy số trực tuyến": 1,
        "Lịch hẹn": 1,
    }
    assert rows["Lịch hẹn"]["avg_wait_s"] == 5 * 60  # from 10:00, not from the 09:55 check-in
    assert report["channels"]["bookings"] == {
        "booked": 1, "checked_in": 1, "cancelled": 1, "missed": 0, "no_show": 0
    }  # fmt: skip


def test_purge_takes_old_bookings_and_claims_and_keeps_future_ones(office):
    settings(office.db, office, online_identity="cccd", booking_horizon_days=60,
             retention_days=30, comment_retention_days=30, online_cap_per_field=3,
             online_cap_per_person=3)  # fmt: skip
    person = {"citizen_id": CCCD, "consent": True}
    take(office, **person)
    appt = book(office, "2026-12-02T10:00", **person).extra["appointment"]
    check_in(office, appt["code"], NINE + timedelta(minutes=50))
    book(office, "2026-12-02T10:30", **person)  # never comes
    future = book(office, "2027-01-28T10:00", **person).extra["appointment"]  # a Thursday
    later = NINE + timedelta(days=35)
    engine.issue_ticket(office.db, office.office, "A", now=later)  # the office goes on
    done = purge(office.db, office.office, now=later)
    assert done["tickets"] >= 2
    left = office.db.execute("SELECT code FROM appointments").fetchall()
    assert left == [(future["code"],)]
    assert (
        office.db.execute("SELECT count(*) FROM online_claims WHERE day < '2026-12-03'").fetchone()[
            0
        ]
        == 0
    )
    visit = office.db.execute("SELECT visit_id FROM appointments").fetchone()[0]
    assert office.db.execute("SELECT count(*) FROM visits WHERE id = ?", [visit]).fetchone()[0]
    assert engine.verify_log(office.db, office.office) == []
    ticket = check_in(office, future["code"], datetime(2027, 1, 28, 2, 55, tzinfo=UTC)).ticket
    assert ticket["visit_id"] == visit


def test_a_booking_checks_in_even_when_the_days_tickets_ran_out(office):
    engine.update_service(office.db, office.services["A"], "Dịch vụ A", daily_cap=1)
    appt = book(office, "2026-12-02T10:00").extra["appointment"]
    engine.issue_ticket(office.db, office.office, "A", now=NINE)
    with pytest.raises(DailyCapError):
        engine.issue_ticket(office.db, office.office, "A", now=NINE)
    assert check_in(office, appt["code"], NINE + timedelta(minutes=55)).ticket["code"] == "A002"
