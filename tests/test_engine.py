"""The queue engine's rules, with an injected clock, on a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.helpers import MONDAY_9AM, make_office
from xephang import engine
from xephang.engine import log
from xephang.errors import (
    BadInputError,
    ConflictError,
    DailyCapError,
    IllegalTransitionError,
    NotFoundError,
    OfficeClosedError,
    QueueError,
)
from xephang.queries import office as office_queries
from xephang.storage import write

T0 = datetime.fromisoformat(MONDAY_9AM)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def dump(db) -> dict:
    """Everything an operation may change, to compare before and after."""
    return {
        table: list(db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall())
        for table in ("tickets", "ticket_events", "counters", "visits", "ratings")
    }


def issue(q, prefix="A", minutes=0, **kw):
    return engine.issue_ticket(q.db, q.office, prefix, now=at(minutes), **kw).ticket


def call(q, counter_number, minutes=0):
    return engine.call_next(q.db, q.counters[counter_number], now=at(minutes)).ticket


# --- issuing and numbering -------------------------------------------------------------


def test_issue_returns_the_contract_fields(queue):
    ticket = issue(queue)
    assert ticket["code"] == "A001" and ticket["number"] == 1 and ticket["status"] == "waiting"
    assert ticket["service"]["prefix"] == "A" and ticket["day"] == "2026-03-02"
    assert ticket["issued_at"] == "2026-03-02T09:00:00+07:00"  # local time with its offset
    # No counter is open yet: no estimate, and the ticket says so.
    assert ticket["people_ahead"] == 0 and ticket["counters_open"] == 0
    assert ticket["estimated_wait_s"] is None and ticket["estimate_range_s"] is None
    assert ticket["tracker_token"]
    events = queue.db.execute(
        "SELECT type, seq FROM ticket_events WHERE ticket_id = ?", [ticket["id"]]
    ).fetchall()
    assert events == [("issued", events[0][1])]


def test_numbers_count_per_service_and_office(queue, bare_db):
    codes = [issue(queue, p)["code"] for p in "AABAC"]
    assert codes == ["A001", "A002", "B001", "A003", "C001"]
    other = make_office(bare_db, services="A", counters={1: "A"}, name="Văn phòng khác")
    assert engine.issue_ticket(bare_db, other.office, "A", now=T0).ticket["code"] == "A001"


def test_service_found_by_prefix_any_case_or_id(queue):
    assert issue(queue, "b")["code"] == "B001"
    assert (
        engine.issue_ticket(queue.db, queue.office, queue.services["B"], now=T0).ticket["code"]
        == "B002"
    )
    assert (
        engine.issue_ticket(queue.db, queue.office, str(queue.services["C"]), now=T0).ticket["code"]
        == "C001"
    )
    for bad in ("Z", 9999, ""):
        with pytest.raises((NotFoundError, BadInputError)):
            issue(queue, bad)


def test_numbering_restarts_at_local_midnight(queue):
    # 16:59 UTC is 23:59 in Hà Nội; 17:00 UTC is 00:00 of the next local day.
    late = datetime.fromisoformat("2026-03-02T16:59:00+00:00")
    midnight = datetime.fromisoformat("2026-03-02T17:00:00+00:00")
    first = [engine.issue_ticket(queue.db, queue.office, "A", now=late).ticket for _ in range(3)]
    assert [t["number"] for t in first] == [1, 2, 3]
    assert {t["day"] for t in first} == {"2026-03-02"}
    assert first[0]["issued_at"] == "2026-03-02T23:59:00+07:00"
    after = engine.issue_ticket(queue.db, queue.office, "A", now=midnight).ticket
    assert (after["number"], after["code"], after["day"]) == (1, "A001", "2026-03-03")
    assert after["issued_at"] == "2026-03-03T00:00:00+07:00"
    # The UTC date did not change: numbering follows the office's zone, not UTC.
    assert midnight.date() == late.date()


def test_numbering_follows_the_office_time_zone(bare_db):
    office = engine.create_office(bare_db, "Office in UTC", timezone="UTC")
    engine.add_counter(bare_db, office, 1, [engine.add_service(bare_db, office, "A", "Dịch vụ A")])
    late = datetime.fromisoformat("2026-03-02T17:00:00+00:00")  # midnight in Hà Nội, not here
    numbers = [
        engine.issue_ticket(bare_db, office, "A", now=late + timedelta(hours=h)).ticket["number"]
        for h in (0, 6, 7)
    ]
    assert numbers == [1, 2, 1]  # 17:00 and 23:00 UTC share a day; 00:00 UTC starts one


def test_daily_cap_refuses_and_changes_nothing(queue):
    queue.db.execute("UPDATE services SET daily_cap = 2 WHERE id = ?", [queue.services["A"]])
    issue(queue)
    issue(queue)
    before = dump(queue.db)
    with pytest.raises(DailyCapError) as info:
        issue(queue)
    assert info.value.status == 409
    assert dump(queue.db) == before
    # Other services are not capped; the next local day starts afresh.
    assert issue(queue, "B")["code"] == "B001"
    assert issue(queue, "A", minutes=24 * 60)["code"] == "A001"


def test_transfers_do_not_count_against_the_daily_cap(queue):
    queue.db.execute("UPDATE services SET daily_cap = 1 WHERE id = ?", [queue.services["B"]])
    issue(queue, "B")
    issue(queue, "A")
    called = call(queue, 1)
    moved = engine.transfer(queue.db, called["id"], service="B", now=at(1)).ticket
    assert moved["code"] == "B002"


HOURS = {"mon": [["07:30", "11:30"], ["13:30", "17:00"]], "tue": [["13:00", "24:00"]]}


@pytest.mark.parametrize(
    "local, is_open",
    [
        ("2026-03-02T07:29:59", False),
        ("2026-03-02T07:30:00", True),
        ("2026-03-02T11:29:00", True),
        ("2026-03-02T11:30:00", False),
        ("2026-03-02T12:15:00", False),
        ("2026-03-02T16:59:59", True),
        ("2026-03-02T17:00:00", False),
        ("2026-03-03T23:59:00", True),  # an afternoon span ending at 24:00
        ("2026-03-08T09:00:00", False),  # Sunday: no hours that day
    ],
)
def test_opening_hours(bare_db, local, is_open):
    q = make_office(bare_db, hours=HOURS)
    moment = datetime.fromisoformat(local + "+07:00")
    if is_open:
        assert engine.issue_ticket(bare_db, q.office, "A", now=moment).ticket["number"] == 1
    else:
        before = dump(bare_db)
        with pytest.raises(OfficeClosedError):
            engine.issue_ticket(bare_db, q.office, "A", now=moment)
        assert dump(bare_db) == before
        # Staff may still issue outside hours when they say so.
        assert (
            engine.issue_ticket(bare_db, q.office, "A", now=moment, check_hours=False).ticket[
                "number"
            ]
            == 1
        )


def test_unknown_priority_category_is_refused(queue):
    before = dump(queue.db)
    with pytest.raises(BadInputError):
        issue(queue, priority="vip")
    assert dump(queue.db) == before


def test_naive_clock_is_refused(queue):
    with pytest.raises(ValueError):
        engine.issue_ticket(queue.db, queue.office, "A", now=datetime(2026, 3, 2, 9))


# --- call order -------------------------------------------------------------------------


def test_arrival_order_within_a_service(queue):
    ids = [issue(queue, "A", minutes=m)["id"] for m in (0, 1, 2)]
    called = []
    for m in range(3):
        t = call(queue, 1, minutes=10 + m)
        called.append(t["id"])
        engine.no_show(queue.db, t["id"], now=at(10 + m))
    assert called == ids
    assert call(queue, 1, minutes=20) is None


def test_counter_takes_its_services_in_its_order(queue):
    b = issue(queue, "B", minutes=0)  # waiting longest
    a = issue(queue, "A", minutes=1)
    c = issue(queue, "C", minutes=2)
    assert call(queue, 1, minutes=5)["id"] == a["id"]  # counter 1 prefers A over B
    assert call(queue, 2, minutes=5)["id"] == b["id"]  # counter 2 prefers B
    assert call(queue, 3, minutes=5)["id"] == c["id"]  # counter 3 only serves C


def test_counter_never_takes_a_service_it_does_not_serve(queue):
    issue(queue, "C")
    assert call(queue, 1) is None and call(queue, 2) is None
    assert call(queue, 3)["code"] == "C001"


def _drain(q, counter_number, start_minute=10):
    order = []
    while True:
        ticket = call(q, counter_number, minutes=start_minute + len(order))
        if ticket is None:
            return order
        order.append(ticket["code"] + ("*" if ticket["priority"] else ""))
        engine.start(q.db, ticket["id"], now=at(start_minute + len(order)))
        engine.finish(q.db, ticket["id"], now=at(start_minute + len(order)))


def _mixed_queue(q):
    for m in range(3):
        issue(q, "A", minutes=m)  # A001..A003 normal
    for m in range(4):
        issue(q, "A", minutes=3 + m, priority="elderly")  # A004..A007 priority


@pytest.mark.parametrize(
    "streak_max, expected",
    [
        (2, ["A004*", "A005*", "A001", "A006*", "A007*", "A002", "A003"]),  # the default
        (1, ["A004*", "A001", "A005*", "A002", "A006*", "A003", "A007*"]),
        (3, ["A004*", "A005*", "A006*", "A001", "A007*", "A002", "A003"]),
        (0, ["A001", "A002", "A003", "A004*", "A005*", "A006*", "A007*"]),  # plain arrival order
    ],
)
def test_priority_interleave(queue, streak_max, expected):
    if streak_max != 2:
        with write(queue.db):
            engine.set_office_settings(queue.db, queue.office, {"priority_streak_max": streak_max})
    _mixed_queue(queue)
    assert _drain(queue, 1) == expected


def test_priority_zero_does_not_starve_priority_tickets(queue):
    with write(queue.db):
        engine.set_office_settings(queue.db, queue.office, {"priority_streak_max": 0})
    issue(queue, "A", minutes=0, priority="elderly")
    issue(queue, "A", minutes=1)
    assert call(queue, 1, minutes=2)["priority"] == "elderly"


def test_priority_rank_then_arrival(queue):
    issue(queue, "A", minutes=0, priority="child")  # rank 1
    issue(queue, "A", minutes=1, priority="elderly")  # rank 0: called first
    issue(queue, "A", minutes=2, priority="elderly")
    assert _drain(queue, 1) == ["A002*", "A003*", "A001*"]


def test_streak_counts_per_counter(queue):
    for m in range(2):
        issue(queue, "A", minutes=m)
    for m in range(4):
        issue(queue, "A", minutes=2 + m, priority="elderly")
    # Counter 1 calls two priority tickets; counter 2 has its own streak.
    seen = [call(queue, n, minutes=10)["code"] for n in (1, 2)]
    assert seen == ["A003", "A004"]
    for n in (1, 2):
        current = engine.get_counter(queue.db, queue.counters[n])["current_ticket_id"]
        engine.no_show(queue.db, current, now=at(11))
    assert call(queue, 1, minutes=12)["code"] == "A005"  # streak 2 at counter 1 only after this
    engine.no_show(
        queue.db, engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"], now=at(12)
    )
    assert call(queue, 1, minutes=13)["code"] == "A001"  # streak reached: arrival order


def test_pick_next_takes_nothing(queue):
    issue(queue)
    before = dump(queue.db)
    counter = engine.get_counter(queue.db, queue.counters[1])
    assert engine.pick_next(queue.db, counter)["code"] == "A001"
    assert dump(queue.db) == before


# --- a ticket's life at the counter -----------------------------------------------------


def test_full_lifecycle_records_times_and_dossier(queue):
    t = issue(queue)
    called = call(queue, 1, minutes=4)
    assert called["id"] == t["id"] and called["status"] == "called"
    assert called["counter"] == {"id": queue.counters[1], "number": 1}
    counter = engine.get_counter(queue.db, queue.counters[1])
    assert counter["current_ticket_id"] == t["id"] and counter["state"] == "open"
    recalled = engine.recall(queue.db, t["id"], now=at(5)).ticket
    assert recalled["recalls"] == 1 and recalled["called_at"] == called["called_at"]
    assert recalled["last_called_at"] == "2026-03-02T09:05:00+07:00"
    serving = engine.start(queue.db, t["id"], now=at(6)).ticket
    assert serving["status"] == "serving"
    done = engine.finish(
        queue.db,
        t["id"],
        dossier_code=" 000.00.12.H40-260302-0001 ",
        outcome="received",
        now=at(16),
    ).ticket
    assert done["status"] == "done" and done["dossier_code"] == "000.00.12.H40-260302-0001"
    assert done["outcome"] == "received" and done["finished_at"] == "2026-03-02T09:16:00+07:00"
    assert engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"] is None
    types = [
        r[0]
        for r in queue.db.execute(
            "SELECT type FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [t["id"]]
        )
    ]
    assert types == ["issued", "called", "recalled", "started", "finished"]
    assert engine.verify_log(queue.db) == []


def test_call_next_refuses_while_a_called_ticket_is_held(queue):
    first = issue(queue)
    issue(queue)
    call(queue, 1)
    before = dump(queue.db)
    with pytest.raises(ConflictError) as info:
        call(queue, 1)
    assert info.value.extra["ticket_id"] == first["id"]
    assert dump(queue.db) == before


def test_call_next_finishes_the_ticket_being_served(queue):
    first = issue(queue)
    second = issue(queue)
    call(queue, 1, minutes=1)
    engine.start(queue.db, first["id"], now=at(2))
    outcome = engine.call_next(queue.db, queue.counters[1], now=at(9))
    assert outcome.ticket["id"] == second["id"]
    assert engine.get_ticket(queue.db, first["id"])["status"] == "done"
    assert [e["type"] for e in outcome.events] == ["finished", "called"]
    assert [e["seq"] for e in outcome.events] == sorted(e["seq"] for e in outcome.events)


def test_call_specific_ticket_logs_the_reason(queue):
    issue(queue)
    second = issue(queue)
    called = engine.call_ticket(
        queue.db, queue.counters[1], second["id"], "Hồ sơ bổ sung", now=at(1)
    ).ticket
    assert called["id"] == second["id"] and called["status"] == "called"
    details = queue.db.execute(
        "SELECT details FROM ticket_events WHERE ticket_id = ? AND type = 'called'", [second["id"]]
    ).fetchone()[0]
    assert "Hồ sơ bổ sung" in details and '"out_of_order": true' in details
    with pytest.raises(BadInputError):  # a reason is required
        engine.call_ticket(queue.db, queue.counters[2], issue(queue)["id"], "  ")


def test_call_specific_refuses_tickets_not_waiting_or_of_another_office(queue, bare_db):
    t = issue(queue)
    call(queue, 1)
    before = dump(queue.db)
    with pytest.raises(IllegalTransitionError):
        engine.call_ticket(queue.db, queue.counters[2], t["id"], "lý do")
    other = make_office(bare_db, services="A", counters={7: "A"}, name="Khác")
    foreign = engine.issue_ticket(bare_db, other.office, "A", now=T0).ticket
    before = dump(queue.db)
    with pytest.raises(BadInputError):
        engine.call_ticket(queue.db, queue.counters[2], foreign["id"], "lý do")
    assert dump(queue.db) == before


def test_no_show_frees_the_counter(queue):
    t = issue(queue)
    call(queue, 1)
    gone = engine.no_show(queue.db, t["id"], now=at(3)).ticket
    assert gone["status"] == "no_show"
    assert engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"] is None


def test_return_to_queue_goes_to_the_back_and_keeps_the_first_call(queue):
    first = issue(queue, minutes=0)
    second = issue(queue, minutes=1)
    call(queue, 1, minutes=2)
    back = engine.return_to_queue(
        queue.db, first["id"], reason="Đi photo giấy tờ", now=at(3)
    ).ticket
    assert back["status"] == "waiting" and back["counter"] is None
    assert back["called_at"] == "2026-03-02T09:02:00+07:00"  # wait = first call − issue
    assert engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"] is None
    assert call(queue, 1, minutes=4)["id"] == second["id"]  # behind the one who waited
    engine.no_show(queue.db, second["id"], now=at(5))
    again = call(queue, 1, minutes=6)
    assert again["id"] == first["id"] and again["called_at"] == back["called_at"]


def test_transfer_to_a_service_keeps_the_visit_and_place(queue):
    issue(queue, "C", minutes=0)  # C001 waits before the visit started
    a = issue(queue, "A", minutes=1, priority="elderly")
    issue(queue, "C", minutes=2)  # C002
    call(queue, 1, minutes=3)
    engine.start(queue.db, a["id"], now=at(4))
    outcome = engine.transfer(
        queue.db, a["id"], service="C", reason="Cần thẩm định đất", now=at(10)
    )
    new = outcome.ticket
    old = outcome.extra["from_ticket"]
    assert old["status"] == "transferred" and new["status"] == "waiting"
    assert new["visit_id"] == a["visit_id"] and new["from_ticket_id"] == a["id"]
    assert new["code"] == "C003" and new["priority"] == "elderly"
    assert [e["type"] for e in outcome.events] == ["transferred", "issued"]
    row = engine.get_ticket(queue.db, new["id"])
    assert row["queue_at"] == engine.get_ticket(queue.db, a["id"])["issued_at"]
    assert engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"] is None
    # Priority kept: called before both other C tickets.
    assert call(queue, 3, minutes=11)["id"] == new["id"]


def test_transfer_to_a_counter_is_called_only_there(queue):
    a = issue(queue, "A")
    b_waiting = issue(queue, "B", minutes=1)
    call(queue, 1, minutes=2)
    new = engine.transfer(queue.db, a["id"], counter_id=queue.counters[2], now=at(3)).ticket
    assert new["target_counter_id"] == queue.counters[2]
    assert new["service"]["prefix"] == "B"  # the counter's first service
    assert call(queue, 1, minutes=4)["id"] == b_waiting["id"]  # counter 1 cannot take it
    assert call(queue, 2, minutes=4)["id"] == new["id"]


def test_transfer_to_a_counter_of_another_service(queue):
    a = issue(queue, "A")
    call(queue, 1)
    new = engine.transfer(
        queue.db, a["id"], service="A", counter_id=queue.counters[3], now=at(1)
    ).ticket
    assert call(queue, 3, minutes=2)["id"] == new["id"]  # counter 3 serves only C


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({}, BadInputError),
        ({"service": "Z"}, NotFoundError),
        ({"counter_id": "x"}, BadInputError),
        ({"counter_id": 9999}, NotFoundError),
        ({"service": "A", "counter_id": "COUNTER1"}, BadInputError),  # same counter and service
    ],
)
def test_bad_transfers_change_nothing(queue, kwargs, error):
    a = issue(queue, "A")
    call(queue, 1)
    if kwargs.get("counter_id") == "COUNTER1":
        kwargs = {**kwargs, "counter_id": queue.counters[1]}
    before = dump(queue.db)
    with pytest.raises(error):
        engine.transfer(queue.db, a["id"], **kwargs)
    assert dump(queue.db) == before


def test_cancel_waiting_and_called(queue):
    waiting = issue(queue)
    called = issue(queue, "B")
    call(queue, 2)
    assert engine.cancel(queue.db, waiting["id"], reason="Lấy nhầm").ticket["status"] == "cancelled"
    assert engine.cancel(queue.db, called["id"]).ticket["status"] == "cancelled"
    assert engine.get_counter(queue.db, queue.counters[2])["current_ticket_id"] is None


ILLEGAL = [
    # (state to reach, operation that is illegal there)
    ("waiting", "recall"),
    ("waiting", "start"),
    ("waiting", "finish"),
    ("waiting", "no_show"),
    ("waiting", "transfer"),
    ("waiting", "return"),
    ("called", "finish"),
    ("serving", "recall"),
    ("serving", "start"),
    ("serving", "no_show"),
    ("serving", "cancel"),
    ("done", "recall"),
    ("done", "start"),
    ("done", "finish"),
    ("done", "no_show"),
    ("done", "transfer"),
    ("done", "return"),
    ("done", "cancel"),
    ("no_show", "start"),
    ("no_show", "cancel"),  # (a no-show may come back: call, return, undo)
    ("cancelled", "recall"),
    ("cancelled", "cancel"),
    ("expired", "start"),
    ("expired", "cancel"),
]


def _reach(q, state) -> int:
    t = issue(q)
    if state == "expired":
        engine.close_day(q.db, q.office, now=at(600))
    elif state == "cancelled":
        engine.cancel(q.db, t["id"])
    elif state != "waiting":
        call(q, 1)
        if state in ("serving", "done"):
            engine.start(q.db, t["id"])
        if state == "done":
            engine.finish(q.db, t["id"])
        if state == "no_show":
            engine.no_show(q.db, t["id"])
    return t["id"]


OPERATIONS = {
    "recall": lambda db, tid: engine.recall(db, tid),
    "start": lambda db, tid: engine.start(db, tid),
    "finish": lambda db, tid: engine.finish(db, tid),
    "no_show": lambda db, tid: engine.no_show(db, tid),
    "transfer": lambda db, tid: engine.transfer(db, tid, service="C"),
    "return": lambda db, tid: engine.return_to_queue(db, tid),
    "cancel": lambda db, tid: engine.cancel(db, tid),
}


@pytest.mark.parametrize("state, operation", ILLEGAL)
def test_illegal_transitions_raise_and_change_nothing(queue, state, operation):
    ticket_id = _reach(queue, state)
    assert engine.get_ticket(queue.db, ticket_id)["status"] == state
    before = dump(queue.db)
    with pytest.raises(IllegalTransitionError) as info:
        OPERATIONS[operation](queue.db, ticket_id)
    assert info.value.status == 409 and info.value.message_vi
    assert dump(queue.db) == before


def test_unknown_ticket_and_counter(queue):
    with pytest.raises(NotFoundError):
        engine.start(queue.db, 424242)
    with pytest.raises(NotFoundError):
        engine.call_next(queue.db, 424242)


def test_text_inputs_are_bounded(queue):
    t = issue(queue)
    call(queue, 1)
    engine.start(queue.db, t["id"])
    before = dump(queue.db)
    with pytest.raises(BadInputError):
        engine.finish(queue.db, t["id"], dossier_code="x" * 501)
    with pytest.raises(BadInputError):
        engine.finish(queue.db, t["id"], outcome={"not": "text"})
    assert dump(queue.db) == before


# --- counters and the day -------------------------------------------------------------


def test_pause_and_resume(queue):
    issue(queue)
    paused = engine.pause(queue.db, queue.counters[1], "Nghỉ trưa", now=at(1))
    assert paused.events[0]["type"] == "paused"
    assert paused.events[0]["details"]["reason"] == "Nghỉ trưa"
    counter = engine.get_counter(queue.db, queue.counters[1])
    assert counter["state"] == "paused" and counter["pause_reason"] == "Nghỉ trưa"
    before = dump(queue.db)
    for op in (
        lambda: call(queue, 1),
        lambda: engine.pause(queue.db, queue.counters[1], "again"),
        lambda: engine.pause(queue.db, queue.counters[2], ""),
    ):
        with pytest.raises(QueueError):
            op()
    assert dump(queue.db) == before
    engine.resume(queue.db, queue.counters[1], now=at(30))
    assert call(queue, 1, minutes=31)["code"] == "A001"
    with pytest.raises(ConflictError):
        engine.resume(queue.db, queue.counters[1])


def test_close_counter_requires_no_ticket(queue):
    issue(queue)
    engine.open_counter(queue.db, queue.counters[1])
    assert engine.get_counter(queue.db, queue.counters[1])["state"] == "open"
    call(queue, 1)
    with pytest.raises(ConflictError):
        engine.close_counter(queue.db, queue.counters[1])
    engine.no_show(queue.db, engine.get_counter(queue.db, queue.counters[1])["current_ticket_id"])
    engine.close_counter(queue.db, queue.counters[1])
    assert engine.get_counter(queue.db, queue.counters[1])["state"] == "closed"


def test_close_day_expires_waiting_tickets_only(queue):
    waiting = [issue(queue, minutes=m) for m in range(3)]
    called = issue(queue, "C")
    call(queue, 3)
    outcome = engine.close_day(queue.db, queue.office, now=at(9 * 60))
    assert outcome.extra["expired"] == 3
    statuses = {t["id"]: engine.get_ticket(queue.db, t["id"])["status"] for t in waiting}
    assert set(statuses.values()) == {"expired"}
    assert engine.get_ticket(queue.db, called["id"])["status"] == "called"
    assert [e["type"] for e in outcome.events] == ["expired"] * 3 + ["day_closed"]
    assert engine.close_day(queue.db, queue.office, now=at(9 * 60)).extra["expired"] == 0


# --- people ahead (the estimate itself: tests/test_estimate.py) ---------------------


def test_priority_ticket_has_only_priority_tickets_ahead(queue):
    engine.open_counter(queue.db, queue.counters[1])
    for m in range(3):
        issue(queue, "A", minutes=m)
    p = issue(queue, "A", minutes=5, priority="elderly")
    assert p["people_ahead"] == 0
    n = issue(queue, "A", minutes=6)
    assert n["people_ahead"] == 4


# --- the event log ---------------------------------------------------------------------


def test_every_operation_appends_chained_events(queue):
    t = issue(queue)
    call(queue, 1)
    engine.start(queue.db, t["id"])
    engine.finish(queue.db, t["id"])
    rows = list(queue.db.query("SELECT * FROM ticket_events ORDER BY seq"))
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row["prev_hash"] == prev["hash"]
    assert engine.verify_log(queue.db) == []
    assert engine.replay_states(queue.db, queue.office) == {t["id"]: "done"}


@pytest.mark.parametrize(
    "tamper",
    [
        'UPDATE ticket_events SET details = \'{"dossier_code": "forged"}\' WHERE seq = 3',
        "UPDATE ticket_events SET at = '2026-03-01T00:00:00.000+00:00' WHERE seq = 2",
        "UPDATE ticket_events SET hash = 'f' || substr(hash, 2) WHERE seq = 2",
        "DELETE FROM ticket_events WHERE seq = 2",
        "UPDATE ticket_events SET type = 'finished' WHERE seq = 3",
    ],
)
def test_verify_log_detects_tampering(queue, tamper):
    t = issue(queue)
    call(queue, 1)
    engine.start(queue.db, t["id"])
    engine.finish(queue.db, t["id"])
    queue.db.execute(tamper)
    assert engine.verify_log(queue.db, queue.office)


def test_sequence_numbers_are_per_office(queue, bare_db):
    other = make_office(bare_db, services="A", counters={9: "A"}, name="Khác")
    issue(queue)
    engine.issue_ticket(bare_db, other.office, "A", now=T0)
    assert engine.last_seq(bare_db, other.office) == 1
    assert engine.last_seq(bare_db, queue.office) == 1
    assert engine.verify_log(bare_db) == []


def test_snapshot_reads_one_consistent_state(queue, tmp_path):
    """Inside db.read, another connection's commit is not seen half-way."""
    from xephang.storage import connect, read

    issue(queue)
    other = connect(tmp_path / "engine.db")
    with read(queue.db):
        seq = engine.last_seq(queue.db, queue.office)
        engine.issue_ticket(other, queue.office, "A", now=T0)  # commits meanwhile
        assert engine.last_seq(queue.db, queue.office) == seq
        assert queue.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    assert engine.last_seq(queue.db, queue.office) == seq + 1
    snap = office_queries.snapshot(queue.db, queue.office, now=T0)
    assert snap["seq"] == seq + 1 and snap["waiting_total"] == 2
    other.close()


def test_transferred_citizen_keeps_the_place_of_the_visits_first_arrival(queue):
    before_visit = issue(queue, "C", minutes=0)
    a = issue(queue, "A", minutes=1)
    after_visit = issue(queue, "C", minutes=2)
    call(queue, 1, minutes=3)
    moved = engine.transfer(queue.db, a["id"], service="C", now=at(20)).ticket
    order = []
    for m in range(3):
        t = call(queue, 3, minutes=30 + m)
        order.append(t["id"])
        engine.no_show(queue.db, t["id"], now=at(30 + m))
    assert order == [before_visit["id"], moved["id"], after_visit["id"]]


def test_an_event_hash_is_the_same_bytes_as_every_stored_chain_was_made_with():
    # Chains already stored must keep verifying: the hashed body's form is frozen.
    event = {
        "office_id": 3,
        "seq": 42,
        "ticket_id": 7,
        "counter_id": 2,
        "user_id": None,
        "type": "finished",
        "at": "2026-03-02T02:05:00.000+00:00",
        "details": '{"dossier_code": "000.00.12.H56-261201-0001", "outcome": "Đã tiếp nhận"}',
    }
    assert (
        log.event_hash("ab" * 32, event)
        == "8863de75e9f45574a6455a691b118f2cbf5abc186b2d07b8dfa274355c860156"
    )
