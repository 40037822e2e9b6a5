"""The wait estimate is a promise: it counts the open counters that serve the service, the
people ahead across the lines those counters share, what each is busy with, the day's
breaks; it is a range where the data is thin, it is kept on the ticket, and screens say it
only while its track record holds (engine/estimate.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.helpers import MONDAY_9AM, make_office
from xephang import engine
from xephang.engine import estimate
from xephang.errors import NoCounterError
from xephang.queries import office as office_queries

T0 = datetime.fromisoformat(MONDAY_9AM)
DAY_HOURS = {"mon": [["07:30", "11:30"], ["13:00", "16:00"]]}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def issue(q, prefix="A", minutes=0, **kw):
    return engine.issue_ticket(q.db, q.office, prefix, now=at(minutes), **kw).ticket


def serve(q, counter_number, minutes, took_min):
    """Counter calls its next ticket at ``minutes`` and finishes it ``took_min`` later."""
    ticket = engine.call_next(q.db, q.counters[counter_number], now=at(minutes)).ticket
    engine.start(q.db, ticket["id"], now=at(minutes))
    engine.finish(q.db, ticket["id"], now=at(minutes + took_min))
    return ticket


@pytest.fixture(autouse=True)
def _fresh_track_records():
    estimate.forget_track_records()
    yield
    estimate.forget_track_records()


def row(q, ticket_id):
    return q.db.execute(
        "SELECT estimated_wait_s, estimate_low_s, estimate_high_s FROM tickets WHERE id = ?",
        [ticket_id],
    ).fetchone()


# --- no counter --------------------------------------------------------------------------


def test_no_open_counter_serving_the_service_gives_no_estimate(queue):
    ticket = issue(queue, "A")  # counters 1 and 2 serve A, both closed
    assert ticket["counters_open"] == 0 and ticket["estimated_wait_s"] is None
    assert ticket["estimate_range_s"] is None and row(queue, ticket["id"]) == (None, None, None)
    words = estimate.wait_words(ticket)
    assert words == {
        "kind": "no_counter",
        "vi": "Hiện chưa có quầy nào phục vụ dịch vụ này",
        "en": "No counter is serving this service right now",
    }
    engine.open_counter(queue.db, queue.counters[3])  # serves C only: still none for A
    assert (
        estimate.for_citizen(queue.db, engine.get_ticket(queue.db, ticket["id"]))["counters_open"]
        == 0
    )
    engine.open_counter(queue.db, queue.counters[2])
    live = estimate.for_citizen(queue.db, engine.get_ticket(queue.db, ticket["id"]), now=at(1))
    assert live["counters_open"] == 1 and live["estimated_wait_s"] == 0


def test_a_service_no_counter_serves_is_not_offered_and_not_issued(bare_db):
    q = make_office(bare_db, services="ABK", counters={1: "A", 2: "B"})
    menu = office_queries.kiosk_menu(q.db, q.office, now=T0)
    prefixes = [s["prefix"] for group in menu["fields"] for s in group["services"]]
    assert prefixes == ["A", "B"]
    before = q.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    with pytest.raises(NoCounterError) as refused:
        issue(q, "K")
    assert refused.value.code == "no_counter" and refused.value.status == 409
    assert q.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == before
    # A counter taken out of use takes its only service off the kiosk with it.
    engine.update_counter(q.db, q.counters[2], "Quầy 2", False, [q.services["B"]])
    menu = office_queries.kiosk_menu(q.db, q.office, now=T0)
    assert [s["prefix"] for g in menu["fields"] for s in g["services"]] == ["A"]
    with pytest.raises(NoCounterError):
        issue(q, "B")


# --- the model ---------------------------------------------------------------------------


def test_thin_data_gives_the_default_as_a_range_and_keeps_it_on_the_ticket(queue):
    engine.open_counter(queue.db, queue.counters[1])
    first = issue(queue, "A", minutes=0, default_service_s=300)
    assert (first["people_ahead"], first["estimated_wait_s"]) == (0, 0)
    third = [issue(queue, "A", minutes=m, default_service_s=300) for m in (1, 2)][-1]
    # Two ahead, nothing finished today or in the last 7 days: 300 s ± 50 % a person.
    assert (third["people_ahead"], third["counters_open"]) == (2, 1)
    assert third["estimated_wait_s"] == 600 and third["estimate_range_s"] == [300, 900]
    assert row(queue, third["id"]) == (600, 300, 900)  # the promise, kept


def test_counters_share_the_people_ahead_and_the_lines_they_prefer(queue):
    # Counter 1 serves A then B, counter 2 B then A: both call A, counter 2 takes B first.
    engine.open_counter(queue.db, queue.counters[1])
    engine.open_counter(queue.db, queue.counters[2])
    for m in range(3):
        issue(queue, "A", minutes=m)
    mine = issue(queue, "A", minutes=3)
    assert (mine["people_ahead"], mine["counters_open"]) == (3, 2)
    # Two of the three ahead are called at once, the third when a counter frees (300 s),
    # and the ticket at the same moment by the other counter.
    assert mine["estimated_wait_s"] == 300
    for m in (4, 5):
        issue(queue, "B", minutes=m)
    # Counter 2 prefers B: its share of the two B waiting (a line both counters serve) comes
    # first there, 300 s; then A's three ahead: counter 1 at 0 and 300, counter 2 at 300;
    # both are free again at 600.
    live = estimate.for_citizen(queue.db, engine.get_ticket(queue.db, mine["id"]), now=at(6))
    assert live["estimated_wait_s"] == 600
    # The B tickets are not ahead of A's at counter 1, which prefers A.
    b = estimate.for_citizen(queue.db, engine.get_ticket(queue.db, mine["id"] + 2), now=at(6))
    assert b["people_ahead"] == 1  # one B ahead of the second B


def test_todays_service_times_replace_the_default_and_the_range_closes(queue):
    engine.open_counter(queue.db, queue.counters[1])
    for m in range(5):
        issue(queue, "A", minutes=m)
    for k in range(5):
        serve(queue, 1, 10 + 4 * k, 4)  # five served today, 4 minutes each
    for m in (31, 32):
        issue(queue, "A", minutes=m)
    mine = issue(queue, "A", minutes=33)
    assert mine["people_ahead"] == 2
    assert mine["estimated_wait_s"] == 2 * 240 and mine["estimate_range_s"] is None
    assert estimate.wait_words({**mine, "estimate_shown": True})["vi"] == "khoảng 8 phút"


def test_the_counters_current_citizen_adds_the_rest_of_their_time(queue):
    engine.open_counter(queue.db, queue.counters[1])
    for m in range(6):
        issue(queue, "A", minutes=m)
    for k in range(5):
        serve(queue, 1, 10 + 4 * k, 4)
    busy = engine.call_next(queue.db, queue.counters[1], now=at(40)).ticket
    engine.start(queue.db, busy["id"], now=at(40))
    mine = issue(queue, "A", minutes=41)
    # Nobody ahead, but counter 1 is one minute into a 4-minute citizen.
    assert mine["people_ahead"] == 0 and mine["estimated_wait_s"] == 180


def test_history_of_the_last_seven_days_gives_the_range_in_the_morning(queue):
    engine.open_counter(queue.db, queue.counters[1])
    yesterday = -24 * 60
    for m in range(8):
        issue(queue, "A", minutes=yesterday + m, check_hours=False)
    for k, took in enumerate((2, 4, 4, 6, 8, 8, 10, 14)):
        serve(queue, 1, yesterday + 10 + 15 * k, took)
    engine.close_day(queue.db, queue.office, now=at(-10 * 60))
    engine.open_counter(queue.db, queue.counters[1])
    issue(queue, "A", minutes=0)
    mine = issue(queue, "A", minutes=1)
    low, high = mine["estimate_range_s"]
    mean = (2 + 4 + 4 + 6 + 8 + 8 + 10 + 14) * 60 / 8
    assert mine["estimated_wait_s"] == mean and low < mean < high  # quartiles around it
    # Quartiles at ranks (n + 1)/4 and 3(n + 1)/4 of the 8 sorted times: 2.25th, 6.75th.
    assert (low, high) == (4 * 60, (8 + 0.75 * (10 - 8)) * 60)


def test_a_lunch_break_inside_the_wait_is_added_and_the_end_of_day_is_said(bare_db):
    q = make_office(bare_db, hours=DAY_HOURS)
    engine.open_counter(q.db, q.counters[1])
    for m in (0, 1, 2):
        issue(q, "A", minutes=140 + m / 10)  # 11:20 local
    mine = issue(q, "A", minutes=140.5)
    # 900 s of work from 11:20:30: 570 s before the 11:30 break, 330 s from 13:00.
    assert mine["estimated_wait_s"] == (13 * 60 + 5.5 - (11 * 60 + 20.5)) * 60
    assert mine["past_closing"] is False
    late = [issue(q, "B", minutes=410 + m) for m in range(4)][-1]  # 15:50 local
    assert late["past_closing"] is True
    words = estimate.wait_words({**late, "estimate_shown": True})
    assert words["vi"].endswith("(có thể không kịp trong giờ làm việc hôm nay)")


def test_a_ticket_sent_to_a_closed_counter_has_no_estimate_and_a_transfer_promises(queue):
    engine.open_counter(queue.db, queue.counters[1])
    issue(queue, "A")
    called = engine.call_next(queue.db, queue.counters[1], now=at(1)).ticket
    engine.start(queue.db, called["id"], now=at(1))
    sent = engine.transfer(queue.db, called["id"], counter_id=queue.counters[3], now=at(2)).ticket
    assert sent["counters_open"] == 0 and sent["estimated_wait_s"] is None
    engine.open_counter(queue.db, queue.counters[2])
    issue(queue, "A", minutes=3)
    again = engine.call_next(queue.db, queue.counters[2], now=at(4)).ticket
    engine.start(queue.db, again["id"], now=at(4))
    moved = engine.transfer(queue.db, again["id"], service="B", now=at(5)).ticket
    assert moved["counters_open"] == 2 and moved["estimated_wait_s"] is not None
    assert row(queue, moved["id"])[0] == moved["estimated_wait_s"]


# --- the track record --------------------------------------------------------------------


def judged_day(q, errors_min):
    """One ticket of A per error: its kept estimate is off by that many minutes."""
    engine.open_counter(q.db, q.counters[1])
    tickets = [issue(q, "A", minutes=k / 10) for k in range(len(errors_min))]
    for k in range(len(tickets)):
        serve(q, 1, 60 + k, 0.5)
    for ticket, error in zip(tickets, errors_min, strict=True):
        actual = q.db.execute(
            "SELECT (julianday(called_at) - julianday(issued_at)) * 86400 FROM tickets"
            " WHERE id = ?",
            [ticket["id"]],
        ).fetchone()[0]
        q.db.execute(
            "UPDATE tickets SET estimated_wait_s = ? WHERE id = ?",
            [round(actual + error * 60), ticket["id"]],
        )
    return tickets


def test_the_track_record_is_the_p90_error_of_the_last_seven_days(queue):
    errors = [1] * 17 + [-9, 12, 30]  # 20 judged: the 18th smallest |error| is 9 minutes
    judged_day(queue, errors)
    count, p90 = estimate.track_record(queue.db, queue.office, now=at(120))[queue.services["A"]]
    assert count == 20 and p90 == pytest.approx(9 * 60, abs=1)
    assert estimate.shown((count, p90), 10) and not estimate.shown((count, p90), 8)
    assert not estimate.shown((count, p90), 0)  # a bound of 0 turns "dự kiến" off
    assert not estimate.shown((19, p90), 10)  # too few judged: no record yet
    assert estimate.service_shown(queue.db, queue.office, queue.services["A"], now=at(120))
    assert not estimate.service_shown(queue.db, queue.office, queue.services["B"], now=at(120))
    # A week later the record has aged out.
    estimate.forget_track_records()
    assert estimate.track_record(queue.db, queue.office, now=at(8 * 24 * 60)) == {}


def test_the_office_bound_decides_whether_the_ticket_says_du_kien(queue):
    judged_day(queue, [1] * 17 + [-9, 12, 30])
    engine.open_counter(queue.db, queue.counters[1])
    mine = issue(queue, "A", minutes=120)
    assert mine["estimate_shown"] is True
    assert estimate.wait_words(mine)["kind"] == "estimate"
    engine.set_office_settings(queue.db, queue.office, {"estimate_max_p90_error_min": "5"})
    estimate.forget_track_records()
    later = issue(queue, "A", minutes=121)
    assert later["estimate_shown"] is False and later["estimated_wait_s"] is not None
    assert estimate.wait_words(later) == {"kind": "none", "vi": "", "en": ""}


# --- what the receipt and the dashboard say ------------------------------------------------


def test_the_receipt_says_no_counter_or_the_estimate_and_never_under_a_minute(queue):
    import printers

    closed = issue(queue, "A")
    assert printers.receipt_wait_lines(closed) == (
        "Hiện chưa có quầy nào phục vụ dịch vụ này",
        "No counter is serving this service right now",
    )
    engine.open_counter(queue.db, queue.counters[1])
    issue(queue, "A", minutes=1)
    unproven = issue(queue, "A", minutes=2)  # no track record yet: no words at all
    assert printers.receipt_wait_lines(unproven) == ("", "")
    shown = {**unproven, "estimate_shown": True}
    assert printers.receipt_wait_lines(shown) == (
        "Thời gian chờ dự kiến: khoảng 5–15 phút",
        "Estimated wait: about 5–15 min",
    )


def test_the_dashboard_warns_when_people_wait_for_a_service_no_open_counter_serves(queue):
    from xephang.reports import live

    engine.open_counter(queue.db, queue.counters[1], now=at(0))  # serves A and B, not C
    issue(queue, "C", minutes=1)
    issue(queue, "A", minutes=1)
    board = live.dashboard(queue.db, queue.office, now=at(5))
    by_prefix = {s["prefix"]: s for s in board["services"]}
    assert (by_prefix["A"]["counters_open"], by_prefix["C"]["counters_open"]) == (1, 0)
    alerts = [a for a in board["alerts"] if a["kind"] == "no_counter"]
    assert len(alerts) == 1 and "dịch vụ C" in alerts[0]["text"]
    engine.open_counter(queue.db, queue.counters[3], now=at(6))
    board = live.dashboard(queue.db, queue.office, now=at(7))
    assert not [a for a in board["alerts"] if a["kind"] == "no_counter"]


def test_a_long_line_is_counted_not_handed_out_one_by_one():
    """kth_slot's count over a long line gives what handing it out one by one gives."""
    import heapq
    import random

    rng = random.Random(5)
    for _ in range(2000):
        free = [
            rng.choice([0.0, 300.0, rng.uniform(0, 900), rng.uniform(0, 20000)])
            for _ in range(rng.randint(1, 6))
        ]
        per = rng.choice([30.0, 240.0, rng.uniform(30, 900)])
        k = rng.randint(1, 400)
        heap = list(free)
        heapq.heapify(heap)
        for _ in range(k - 1):
            heapq.heapreplace(heap, heap[0] + per)
        assert estimate.kth_slot(free, per, k) == pytest.approx(heap[0], abs=1e-6)
