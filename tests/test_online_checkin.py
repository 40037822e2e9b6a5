"""An online number that must check in (the office's ``online_checkin``): in line from the
moment it is taken, passed over by call-next until its citizen checks in at the kiosk (or
staff check it in), then called in the place it took. A real SQLite file, the engine's
clock injected; the HTTP paths through the Flask test client."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from xephang import engine
from xephang.engine import accounts, booking, checkin, order, outbox, retention
from xephang.errors import BadInputError, ConflictError, NotFoundError, RateLimitError
from xephang.queries import office as office_queries
from xephang.queries import queue as queue_queries
from xephang.reports import facts, live
from xephang.reports.log import log_rows
from xephang.reports.report import channel_summary

from .helpers import make_office

KEY = booking.identity_key("test-secret")
HOURS = {d: [["07:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
# Wednesday 2 December 2026, 09:00 in Hà Nội (02:00 UTC).
NINE = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
CCCD = "001203004567"
CCCD_QR = f"{CCCD}|012345678|Nguyễn Văn A|01011990|Nam|Số 1 Tràng Tiền, Hà Nội|15062021"


def at(minutes: float) -> datetime:
    return NINE + timedelta(minutes=minutes)


@pytest.fixture
def office(bare_db):
    """Services A, B, C; counter 1 serves A then B (the only one open), check-in required."""
    made = make_office(bare_db, hours=json.dumps(HOURS))
    engine.open_counter(bare_db, made.counters[1], now=at(-60))
    engine.set_office_settings(bare_db, made.office, {"online_checkin": True})
    return made


def take(office, service="A", minutes=0, **kw):
    return booking.take_online_number(
        office.db, office.office, service, KEY, now=at(minutes), **kw
    ).ticket


def walk_in(office, service="A", minutes=0):
    return engine.issue_ticket(office.db, office.office, service, now=at(minutes)).ticket


def check_in(office, text, minutes=0, **kw):
    return checkin.check_in(office.db, office.office, text, KEY, now=at(minutes), **kw)


def call(office, minutes=0, counter=1):
    """Call next at a counter (finishing whoever it held); the ticket called, or None."""
    counter_id = office.counters[counter]
    held = engine.get_counter(office.db, counter_id)["current_ticket_id"]
    if held and engine.get_ticket(office.db, held)["status"] == "called":
        engine.start(office.db, held, now=at(minutes))
    return engine.call_next(office.db, counter_id, now=at(minutes)).ticket


def row(office, ticket_id):
    return engine.get_ticket(office.db, ticket_id)


def dump(db):
    """What a refused check-in must leave as it was."""
    return (
        db.execute("SELECT max(seq) FROM ticket_events").fetchone(),
        db.execute(
            "SELECT id, status, awaiting_checkin, checked_in_at, queue_at FROM tickets ORDER BY id"
        ).fetchall(),
        db.execute("SELECT count(*) FROM outbox").fetchone(),
    )


# --- the rule: in line, passed over until here, then in the place it took -----------------


def test_call_next_passes_over_an_online_number_until_it_checks_in_then_takes_it_in_place(office):
    online = take(office, minutes=0)
    assert online["awaiting_checkin"] is True and online["status"] == "waiting"
    first = walk_in(office, minutes=1)
    second = walk_in(office, minutes=2)
    queue_at = row(office, online["id"])["queue_at"]

    assert call(office, 3)["id"] == first["id"]  # the online number is not here: passed over
    checked = check_in(office, online["code"], minutes=4)
    assert checked.extra["kind"] == "online" and checked.extra["appointment"] is None
    assert checked.ticket["awaiting_checkin"] is False
    assert checked.ticket["checked_in_at"] == "2026-12-02T09:04:00+07:00"
    assert row(office, online["id"])["queue_at"] == queue_at  # its place is the one it took
    assert call(office, 5)["id"] == online["id"]  # ahead of the walk-in who came after it
    assert call(office, 6)["id"] == second["id"]
    types = [
        r[0]
        for r in office.db.execute(
            "SELECT type FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [online["id"]]
        )
    ]
    assert types[:3] == ["issued", "checked_in", "called"]
    assert engine.verify_log(office.db, office.office) == []


def test_off_by_default_an_online_number_is_callable_at_once(bare_db):
    made = make_office(bare_db, hours=json.dumps(HOURS))
    engine.open_counter(bare_db, made.counters[1], now=at(-60))
    assert engine.office_setting(bare_db, made.office, "online_checkin") is False
    online = booking.take_online_number(bare_db, made.office, "A", KEY, now=NINE).ticket
    engine.issue_ticket(bare_db, made.office, "A", now=at(1))
    assert online["awaiting_checkin"] is False
    assert engine.call_next(bare_db, made.counters[1], now=at(2)).ticket["id"] == online["id"]
    event = bare_db.execute(
        "SELECT details FROM ticket_events WHERE ticket_id = ? AND type = 'issued'",
        [online["id"]],
    ).fetchone()[0]
    assert "checkin" not in json.loads(event)


def test_a_number_taken_before_the_setting_changed_keeps_its_rule(office):
    must = take(office, minutes=0)
    engine.set_office_settings(office.db, office.office, {"online_checkin": False})
    free = take(office, "B", minutes=1)
    assert row(office, must["id"])["awaiting_checkin"] == 1
    assert row(office, free["id"])["awaiting_checkin"] == 0
    assert call(office, 2)["id"] == free["id"]


def test_nobody_else_waiting_call_next_calls_nobody_and_opens_nothing_wrong(office):
    take(office)
    take(office, "B", minutes=1)
    assert call(office, 2) is None
    assert order.pick_next(office.db, engine.get_counter(office.db, office.counters[1])) is None


def test_priority_and_arrival_order_modes_both_pass_it_over(office):
    for streak in (0, 3):
        engine.set_office_settings(office.db, office.office, {"priority_streak_max": streak})
        away = engine.issue_ticket(
            office.db, office.office, "A", priority="elderly", now=at(0),
            channel="online", awaiting_checkin=True,
        ).ticket  # fmt: skip
        here = walk_in(office, minutes=1)
        assert call(office, 2)["id"] == here["id"], streak
        engine.cancel(office.db, away["id"], reason="thử", now=at(3))


def test_staff_cannot_call_it_by_code_before_it_checks_in(office):
    online = take(office)
    counter = office.counters[1]
    ticket_id = engine.find_code_to_call(office.db, office.office, online["code"], now=at(1))
    before = dump(office.db)
    with pytest.raises(ConflictError, match="chưa xác nhận có mặt"):
        engine.call_ticket(office.db, counter, ticket_id, "đến quầy", now=at(1))
    assert dump(office.db) == before
    check_in(office, online["code"], minutes=2, user_id=None)
    called = engine.call_ticket(office.db, counter, ticket_id, "đến quầy", now=at(3)).ticket
    assert called["status"] == "called"


# --- how not-arrived numbers count --------------------------------------------------------


def test_people_ahead_and_estimates_count_a_number_not_here_yet(office):
    online = take(office, minutes=0)
    behind = walk_in(office, minutes=1)
    assert behind["people_ahead"] == 1  # it may still check in and be called first
    assert order.people_ahead(office.db, row(office, behind["id"])) == 1
    assert order.people_ahead(office.db, row(office, online["id"])) == 0
    state = queue_queries.tracker_state(office.db, behind_token(office, behind["id"]))
    assert state["people_ahead"] == 1


def behind_token(office, ticket_id):
    return office.db.execute(
        "SELECT v.token FROM tickets t JOIN visits v ON v.id = t.visit_id WHERE t.id = ?",
        [ticket_id],
    ).fetchone()[0]


def test_counts_show_numbers_not_here_yet_apart(office):
    a = office.services["A"]
    take(office, minutes=0)
    take(office, minutes=1)
    walk_in(office, minutes=2)
    assert queue_queries.waiting_counts(office.db, office.office) == {a: 3}
    assert queue_queries.not_arrived_counts(office.db, office.office) == {a: 2}
    snap = office_queries.snapshot(office.db, office.office, now=at(3))
    assert snap["waiting"] == {str(a): 3} and snap["not_arrived"] == {str(a): 2}
    assert snap["not_arrived_total"] == 2
    assert next(s for s in snap["services"] if s["id"] == a)["not_arrived"] == 2
    first = office.db.execute(
        "SELECT code FROM tickets WHERE awaiting_checkin ORDER BY id LIMIT 1"
    ).fetchone()[0]
    check_in(office, first, minutes=3)
    assert queue_queries.not_arrived_counts(office.db, office.office) == {a: 1}
    # Kept by triggers whatever writes the tickets, a hand-run UPDATE too.
    office.db.execute("UPDATE tickets SET status = 'cancelled' WHERE awaiting_checkin")
    assert queue_queries.not_arrived_counts(office.db, office.office) == {}
    assert queue_queries.waiting_counts(office.db, office.office) == {a: 2}
    office.db.execute("UPDATE tickets SET awaiting_checkin = 1 WHERE status = 'waiting'")
    office.db.execute(
        "UPDATE tickets SET service_id = ? WHERE id = (SELECT max(id) FROM tickets)",
        [office.services["B"]],
    )
    assert queue_queries.not_arrived_counts(office.db, office.office) == {
        a: 1,
        office.services["B"]: 1,
    }


def test_the_dashboard_counts_them_apart_and_raises_no_alert_for_them(office):
    engine.set_target(office.db, office.office, "avg_wait_s", 600, "2020-01-01")
    away = take(office, minutes=0)
    here = walk_in(office, minutes=1)
    board = live.dashboard(office.db, office.office, now=at(40))
    a = next(s for s in board["services"] if s["id"] == office.services["A"])
    assert a["waiting"] == 2 and a["not_arrived"] == 1
    assert a["longest_code"] == here["code"]  # the clock of one a counter could call
    assert board["not_arrived_total"] == 1 and board["waiting_total"] == 2
    codes = [x.get("code") for x in board["alerts"] if x["kind"] == "wait"]
    assert codes == [here["code"]] and away["code"] not in codes


def test_the_counter_screen_lists_it_marked_and_calls_the_next_one_here(office):
    online = take(office, minutes=0)
    here = walk_in(office, minutes=1)
    state = queue_queries.counter_state(office.db, office.counters[1], None, now=at(2))
    assert state["next_ticket_id"] == here["id"]
    marked = {t["code"]: t["awaiting_checkin"] for t in state["next_tickets"]}
    assert marked == {here["code"]: False, online["code"]: True}


# --- checking in: the ways in, and the refusals ---------------------------------------------


@pytest.mark.parametrize("how", ["code", "code_lower_spaced", "tracker_qr", "cccd_qr", "cccd"])
def test_it_checks_in_by_its_code_its_qr_or_a_cccd(office, how):
    engine.set_office_settings(office.db, office.office, {"online_identity": "cccd"})
    online = take(office, citizen_id=CCCD, consent=True)
    token = behind_token(office, online["id"])
    text = {
        "code": online["code"],
        "code_lower_spaced": " ".join(online["code"].lower()),
        "tracker_qr": f"http://xephang.test/t/{token}",
        "cccd_qr": CCCD_QR,
        "cccd": CCCD,
    }[how]
    outcome = check_in(office, text, minutes=5)
    assert outcome.ticket["id"] == online["id"] and outcome.extra["kind"] == "online"
    assert outcome.ticket["people_ahead"] == 0 and outcome.ticket["counters_open"] == 1
    with pytest.raises(ConflictError, match="đã được xác nhận có mặt"):
        check_in(office, text, minutes=6)


def test_a_cccd_prefers_todays_booking_still_to_check_in(office):
    engine.set_office_settings(
        office.db, office.office, {"online_identity": "cccd", "online_cap_per_field": 2}
    )
    online = take(office, citizen_id=CCCD, consent=True)
    booking.book_appointment(
        office.db, office.office, "B", "2026-12-02T10:00", KEY, citizen_id=CCCD, consent=True,
        now=NINE,
    )  # fmt: skip
    first = check_in(office, CCCD_QR, minutes=50)
    assert first.extra["kind"] == "appointment"
    second = check_in(office, CCCD_QR, minutes=51)
    assert second.extra["kind"] == "online" and second.ticket["id"] == online["id"]


@pytest.mark.parametrize(
    "text,error,words",
    [
        ("", BadInputError, "Vui lòng quét mã QR"),
        ("   ", BadInputError, "Vui lòng quét mã QR"),
        ("x" * 1001, BadInputError, "Vui lòng quét mã QR"),
        ("A999", NotFoundError, "Không tìm thấy"),
        ("ZZZZZZ", NotFoundError, "Không tìm thấy"),
        ("http://xephang.test/t/AAAAAAAAAAAAAAAAAAAAAA", NotFoundError, "Không tìm thấy"),
        ("999999999999|x", NotFoundError, "Không tìm thấy"),
        ("12|x", BadInputError, "12 chữ số"),
    ],
)
def test_bad_or_unknown_entries_are_refused_in_vietnamese_and_change_nothing(
    office, text, error, words
):
    take(office)
    before = dump(office.db)
    with pytest.raises(error, match=words):
        check_in(office, text, minutes=1)
    assert dump(office.db) == before


def test_numbers_that_need_no_check_in_say_so(office):
    kiosk = walk_in(office, minutes=0)
    engine.set_office_settings(office.db, office.office, {"online_checkin": False})
    free = take(office, "B", minutes=1)
    before = dump(office.db)
    for code in (kiosk["code"], free["code"]):
        with pytest.raises(ConflictError, match="không cần xác nhận có mặt"):
            check_in(office, code, minutes=2)
    assert dump(office.db) == before


def test_a_number_called_done_or_of_another_day_does_not_check_in(office):
    online = take(office, minutes=0)
    engine.cancel(office.db, online["id"], reason="thử", now=at(1))
    with pytest.raises(ConflictError, match="Đã hủy"):
        check_in(office, online["code"], minutes=2)
    yesterday = take(office, "B", minutes=-24 * 60)  # Tuesday 09:00
    token = behind_token(office, yesterday["id"])
    with pytest.raises(NotFoundError):  # a typed code names today's numbers only
        check_in(office, yesterday["code"], minutes=3)
    with pytest.raises(ConflictError, match="01/12/2026"):
        check_in(office, f"/t/{token}", minutes=3)


def kiosk_device(office) -> int:
    device_id, _ = accounts.add_device(office.db, office.office, "kiosk", "Kiosk sảnh")
    return device_id


def test_a_kiosk_takes_a_typed_online_number_only_with_its_check_in_code(office):
    """The board shows the numbers around one: at a kiosk "A001" alone would check in
    anyone's online number. Its check-in code (the number and four digits from its visit
    token) is on its tracker page only."""
    online = take(office, minutes=0)
    other = take(office, minutes=1)
    device = kiosk_device(office)
    code = checkin.checkin_code(online["code"], behind_token(office, online["id"]))
    number, digits = code.split(" ")
    assert number == online["code"] and len(digits) == 4 and digits.isdigit()
    assert digits != checkin.checkin_pin(behind_token(office, other["id"]))  # per visit
    before = dump(office.db)
    with pytest.raises(BadInputError, match=f"Số {online['code']} cần mã xác nhận"):
        check_in(office, online["code"], minutes=2, device_id=device)
    wrong = f"{(int(digits) + 1) % 10000:04d}"
    for text in (f"{number} {wrong}", f"{number}0000" if digits != "0000" else f"{number}0001"):
        with pytest.raises(NotFoundError):  # as an unknown code: the digits are not told
            check_in(office, text, minutes=2, device_id=device)
    assert dump(office.db) == before
    checked = check_in(office, f" {number.lower()}-{digits} ", minutes=3, device_id=device)
    assert checked.extra["kind"] == "online" and checked.ticket["id"] == online["id"]
    assert row(office, online["id"])["awaiting_checkin"] == 0
    other_code = checkin.checkin_code(other["code"], behind_token(office, other["id"]))
    assert (
        check_in(office, other_code.replace(" ", ""), minutes=4, device_id=device).ticket["id"]
        == other["id"]
    )


def wrong_digits(office, ticket) -> str:
    """The ticket's number with check-in digits that are not its own."""
    digits = checkin.checkin_pin(behind_token(office, ticket["id"]))
    return f"{ticket['code']} {(int(digits) + 1) % 10000:04d}"


def failures(office) -> list[tuple]:
    return office.db.execute(
        "SELECT office_id, ticket_id, device_id FROM checkin_failures ORDER BY id"
    ).fetchall()


def test_wrong_digits_for_one_number_stop_typed_check_in_for_it_a_while(office):
    """Four digits are guessed in 5,000 tries on average: after FAILURES_PER_NUMBER wrong
    ones for a number, typed digits for it are refused, its own included (guessing learns
    nothing), until the oldest leaves the window; its QR and the counter still work."""
    online, other = take(office, minutes=0), take(office, minutes=1)
    kiosks = [kiosk_device(office) for _ in range(checkin.FAILURES_PER_NUMBER)]
    right = checkin.checkin_code(online["code"], behind_token(office, online["id"]))
    events = office.db.execute("SELECT count(*) FROM ticket_events").fetchone()
    for n, kiosk in enumerate(kiosks):  # from several kiosks: the count is the number's
        with pytest.raises(NotFoundError):
            check_in(office, wrong_digits(office, online), minutes=2 + n, device_id=kiosk)
    assert failures(office) == [(office.office, online["id"], k) for k in kiosks]
    assert office.db.execute("SELECT count(*) FROM ticket_events").fetchone() == events
    before = dump(office.db)
    with pytest.raises(RateLimitError, match="quét mã QR trên trang theo dõi lượt") as refused:
        check_in(office, right, minutes=8, device_id=kiosks[0])
    assert "sau 9 phút" in refused.value.message_vi  # the first leaves it at 2 + 15
    assert refused.value.status == 429
    assert dump(office.db) == before and len(failures(office)) == len(kiosks)
    other_code = checkin.checkin_code(other["code"], behind_token(office, other["id"]))
    assert check_in(office, other_code, minutes=8, device_id=kiosks[0]).ticket["id"] == other["id"]
    # Once the first wrong try is 15 minutes old, its own digits work again.
    checked = check_in(office, right, minutes=17.5, device_id=kiosks[0])
    assert checked.ticket["id"] == online["id"] and not checked.ticket["awaiting_checkin"]


def test_the_qr_and_the_counter_check_in_a_number_whose_digits_are_refused(office):
    online, second = take(office, minutes=0), take(office, minutes=1)
    kiosk = kiosk_device(office)
    for _ in range(checkin.FAILURES_PER_NUMBER):  # the kiosk's limit too
        for ticket in (online, second):
            with pytest.raises(NotFoundError):
                check_in(office, wrong_digits(office, ticket), minutes=2, device_id=kiosk)
    token = behind_token(office, online["id"])
    assert check_in(office, f"http://xephang.test/t/{token}", minutes=3, device_id=kiosk)
    user_id = accounts.add_user(office.db, "canbo-quay", "officer", office.office, "Mua-thu-Ha-Noi")
    assert check_in(office, second["code"], minutes=3, user_id=user_id).ticket["id"] == second["id"]


def test_wrong_digits_at_one_kiosk_stop_typed_check_in_there_only(office):
    """Across many numbers (a few tries each, under the number's limit) a kiosk is
    stopped after FAILURES_PER_DEVICE; another kiosk is not."""
    numbers = [take(office, minutes=n * 0.1) for n in range(checkin.FAILURES_PER_DEVICE + 1)]
    kiosk, elsewhere = kiosk_device(office), kiosk_device(office)
    for ticket in numbers[:-1]:
        with pytest.raises(NotFoundError):
            check_in(office, wrong_digits(office, ticket), minutes=3, device_id=kiosk)
    last = numbers[-1]
    right = checkin.checkin_code(last["code"], behind_token(office, last["id"]))
    with pytest.raises(RateLimitError, match="nhập sai quá nhiều lần"):
        check_in(office, right, minutes=4, device_id=kiosk)
    assert check_in(office, right, minutes=4, device_id=elsewhere).ticket["id"] == last["id"]


def test_the_wrong_digits_count_goes_with_its_days_tickets(office):
    """Retention removes a day's tickets with their counts (a count left behind would
    hold its ticket against the foreign key); a new failure prunes old counts too."""
    online = take(office, minutes=0)
    kiosk = kiosk_device(office)
    with pytest.raises(NotFoundError):
        check_in(office, wrong_digits(office, online), minutes=1, device_id=kiosk)
    engine.set_office_settings(
        office.db, office.office, {"retention_days": 30, "comment_retention_days": 30}
    )
    removed = retention.purge(office.db, office.office, now=at(60 * 24 * 45))
    assert removed["tickets"] >= 1
    assert failures(office) == []
    assert office.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_staff_may_check_in_the_bare_number_of_the_citizen_before_them(office):
    online = take(office, minutes=0)
    user_id = accounts.add_user(office.db, "canbo-quay", "officer", office.office, "Mua-thu-Ha-Noi")
    checked = check_in(office, online["code"], minutes=2, user_id=user_id)
    assert checked.ticket["awaiting_checkin"] is False


def test_another_offices_number_answers_as_not_found(office, bare_db):
    online = take(office)
    token = behind_token(office, online["id"])
    other = make_office(bare_db, name="Văn phòng khác", hours=json.dumps(HOURS))
    before = dump(bare_db)
    for text in (online["code"], f"http://xephang.test/t/{token}"):
        with pytest.raises(NotFoundError):
            checkin.check_in(bare_db, other.office, text, KEY, now=at(1))
    assert dump(bare_db) == before
    assert row(office, online["id"])["awaiting_checkin"] == 1


# --- end of day, reports -------------------------------------------------------------------


def test_at_the_end_of_the_day_it_expires_and_never_came_is_no_visit(office):
    engine.set_target(office.db, office.office, "avg_wait_s", 600, "2020-01-01")
    gone = take(office, minutes=0)
    came = take(office, minutes=1)
    check_in(office, came["code"], minutes=20)
    assert call(office, 30)["id"] == came["id"]
    engine.close_day(office.db, office.office, now=at(9 * 60))  # 18:00
    assert row(office, gone["id"])["status"] == "expired"
    assert queue_queries.not_arrived_counts(office.db, office.office) == {}

    office_row = engine.get_office(office.db, office.office)
    tally = facts.day_tallies(
        office.db, office_row, "2026-12-02", engine.Targets(office.db, office.office), 1,
        dims=("office",),
    )[("office", 0)]  # fmt: skip
    counts = tally.counts
    assert counts["issued"] == 2 and counts["expired"] == 1
    # The one that came waited from the moment it was taken (30 min); the other is no visit.
    assert counts["visits"] == 1 and counts["visits_waited"] == 1
    assert counts["wait_sum_ms"] == 29 * 60 * 1000 and counts["left_unserved"] == 0
    assert channel_summary(office.db, office.office, "2026-12-02", "2026-12-02")["online"] == {
        "checked_in": 1,
        "never_came": 1,
    }
    logged = {r["code"]: r for r in log_rows(office.db, office.office, "2026-12-02", "2026-12-02")}
    assert logged[gone["code"]]["never_came"] and logged[gone["code"]]["wait_s"] is None
    assert not logged[gone["code"]]["left_unserved"]
    assert logged[came["code"]]["wait_s"] == 29 * 60


# --- messages: "come and check in" instead of "your turn is near" --------------------------


def near_rows(db):
    return db.execute(
        "SELECT t.code, o.purpose FROM outbox o JOIN tickets t ON t.id = o.ticket_id"
        " WHERE o.purpose IN ('near', 'checkin_window') ORDER BY o.id"
    ).fetchall()


def test_near_the_front_it_is_asked_to_check_in_and_told_once(office):
    engine.set_office_settings(
        office.db, office.office, {"notify_channels": "sms", "notify_near_people": 2}
    )
    phone = {"phone": "0912345678", "consent": True}
    channels = ("sms",)
    walk_in(office, minutes=0)
    away = booking.take_online_number(
        office.db, office.office, "A", KEY, now=at(1), notify=phone, message_channels=channels
    ).ticket
    kiosk = engine.issue_ticket(
        office.db, office.office, "A", now=at(2), notify=phone, message_channels=channels
    ).ticket
    outbox.expand_moves(office.db, now=at(2))  # what the outbox worker does after a move
    assert near_rows(office.db) == [(away["code"], "checkin_window"), (kiosk["code"], "near")]
    call(office, 3)
    outbox.expand_moves(office.db, now=at(3))
    assert near_rows(office.db) == [(away["code"], "checkin_window"), (kiosk["code"], "near")]
    # Checked in before it went out: the message is pointless, and skipped.
    check_in(office, away["code"], minutes=4)
    message = office.db.execute(f"{outbox.CLAIM_SQL} WHERE o.purpose = 'checkin_window'").fetchone()
    columns = [c[0] for c in office.db.execute(f"{outbox.CLAIM_SQL} LIMIT 0").description]
    assert outbox._moot(dict(zip(columns, message, strict=True))) == "already checked in"
    claimed = outbox.claim(office.db, now=at(5))
    assert {m["purpose"] for m in claimed} == {"near"}
    skipped = office.db.execute(
        "SELECT state, last_error FROM outbox WHERE purpose = 'checkin_window'"
    ).fetchone()
    assert tuple(skipped) == ("skipped", "already checked in")


def test_the_setting_is_typed_and_set_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from xephang.cli import cli

    path = str(tmp_path / "x.db")
    runner = CliRunner()
    office = runner.invoke(cli, ["office", "add", "Phường Ba", "--db", path]).output.strip()
    listed = runner.invoke(cli, ["office", "settings", office, "--db", path]).output
    assert "online_checkin = false" in listed
    done = runner.invoke(cli, ["office", "set", office, "online_checkin", "có", "--db", path])
    assert done.exit_code == 0 and "online_checkin = true" in done.output, done.output
    refused = runner.invoke(cli, ["office", "set", office, "online_checkin", "maybe", "--db", path])
    assert refused.exit_code == 1 and "phải là có/không" in refused.output
