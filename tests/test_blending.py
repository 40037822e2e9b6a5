"""Blending appointments with walk-ins and priority citizens, as a property: random days
(bookings at capacity checking in on time or late, walk-ins, priority citizens, online
numbers that may have to check in before they are called, counters opening, pausing and
calling) driven through the engine on a real SQLite file.

What must hold at every call:
- call-next takes what the written rule (``engine/order.py``) picks, computed here again
  from the waiting tickets alone;
- walk-ins are never starved: while a walk-in the counter serves waits, the counter makes
  at most (K + 1)(N + 1) − 1 calls in a row without calling a walk-in (K =
  ``booking_streak_max``, N = ``priority_streak_max``);
- (checked at each call by the first) an appointment checked in on time is in line from
  its slot's start: ahead of the walk-ins who came after that start, unless the counter's
  run of appointments is full;
- (the same) an online number that must check in (``online_checkin``) is never called
  before it has, and once it has it is called in the place it took.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from xephang import engine
from xephang.engine import booking
from xephang.engine.checkin import check_in
from xephang.errors import ConflictError
from xephang.storage import connect

from .helpers import make_office

KEY = booking.identity_key("blend")
OPEN = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # Thursday 07:30 in Hà Nội
HOURS = json.dumps({d: [["07:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})

steps = st.lists(
    st.one_of(
        st.tuples(st.just("walk_in"), st.sampled_from("AB")),
        st.tuples(st.just("priority"), st.sampled_from("AB")),
        st.tuples(st.just("check_in"), st.integers(0, 40)),
        st.tuples(st.just("check_in"), st.integers(0, 3)),
        st.tuples(st.just("call"), st.sampled_from([1, 2])),
        st.tuples(st.just("call"), st.sampled_from([1, 1, 2])),
        st.tuples(st.just("call"), st.sampled_from([1, 2, 2])),
        st.tuples(st.just("pause"), st.sampled_from([1, 2])),
        st.tuples(st.just("wait"), st.integers(1, 5)),
        st.tuples(st.just("online"), st.sampled_from("AB")),
        st.tuples(st.just("arrive"), st.integers(0, 10)),
        st.tuples(st.just("arrive"), st.integers(0, 1)),  # the first ones, often
    ),
    min_size=10,
    max_size=70,
)


def expected_pick(waiting: list[dict], services: list[int], counter: dict, n: int, k: int):
    """The written rule, from the rows alone: only tickets here (not an online number still
    to check in); priority class first unless its run is full, rank, appointments behind
    walk-ins once their run is full, service preference, then arrival (queue_at, id)."""
    mine = [t for t in waiting if t["service_id"] in services and not t["awaiting_checkin"]]
    if not mine:
        return None

    def key(t):
        booked = bool(
            t["channel"] == "appointment" and t["slot_at"] and t["queue_at"] == t["slot_at"]
        )
        demoted = booked if 0 < k <= counter["booking_streak"] else False
        place = (demoted, services.index(t["service_id"]), t["queue_at"], t["id"])
        if n <= 0:
            return place
        walk_class = t["priority"] is None
        prefer = walk_class if counter["priority_streak"] < n else not walk_class
        return (prefer, t["priority_rank"] or 0, *place)

    return min(mine, key=key)["id"]


def run_day(schema_template, plan, n: int, k: int, checkin: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.db"
        schema_template.copy_to(path)
        db = connect(path)
        try:
            play(db, plan, n, k, checkin)
        finally:
            db.close()


def play(db, plan, n: int, k: int, checkin: bool = False) -> None:
    made = make_office(db, services="AB", counters={1: "AB", 2: "BA"}, hours=HOURS)
    office, counters = made.office, made.counters
    engine.set_office_settings(
        db,
        office,
        {
            "priority_streak_max": n,
            "booking_streak_max": k,
            "booking_grace_min": 10,
            "online_checkin": checkin,
        },
    )
    for counter in counters.values():
        engine.open_counter(db, counter, now=OPEN - timedelta(minutes=5))
    # Bookings at capacity: the morning's half-hour slots, 3 places each for A and B.
    codes = []
    for prefix in "AB":
        for weekday in ("thu",):
            starts = [f"{h:02d}:{m:02d}" for h in range(7, 12) for m in (0, 30)][1:]
            for start in starts:
                booking.set_slot_capacity(db, office, prefix, weekday, start, 3)
    booked_at = OPEN - timedelta(days=1)
    for prefix in "AB":
        for slot in booking.day_slots(
            db, engine.get_office(db, office), engine.find_service(db, office, prefix),
            "2026-12-03", booked_at,
        )[:8]:  # fmt: skip
            for _ in range(slot["free"]):
                made_booking = booking.book_appointment(
                    db, office, prefix, slot["start"], KEY, now=booked_at
                )
                codes.append(made_booking.extra["appointment"]["code"])
    codes.sort(key=lambda c: db.execute(
        "SELECT slot_start FROM appointments WHERE code = ?", [c]).fetchone()[0])  # fmt: skip
    now = OPEN
    runs = {c: 0 for c in counters}  # calls in a row without a walk-in, while one waited
    bound = (k + 1) * (n + 1) - 1 if n > 0 else k
    for action, arg in plan:
        now += timedelta(minutes=1)
        if action == "walk_in":
            engine.issue_ticket(db, office, arg, now=now)
        elif action == "priority":
            engine.issue_ticket(db, office, arg, priority="elderly", now=now)
        elif action == "check_in" and codes:
            code = codes.pop(arg % len(codes))  # small args: the earliest slots, on time
            with suppress(ConflictError):  # a booking of a slot long gone: refused, fine
                check_in(db, office, code, KEY, now=now)
        elif action == "pause":
            counter = engine.get_counter(db, counters[arg])
            if counter["state"] == "paused":
                engine.resume(db, counters[arg], now=now)
            else:
                with suppress(ConflictError):  # holding a citizen: refused like close
                    engine.pause(db, counters[arg], "nghỉ", now=now)
        elif action == "wait":
            now += timedelta(minutes=arg)
        elif action == "online":
            booking.take_online_number(db, office, arg, KEY, now=now)
        elif action == "arrive":  # one of the online numbers still to check in comes in
            away = db.execute(
                "SELECT code FROM tickets WHERE office_id = ? AND status = 'waiting'"
                " AND awaiting_checkin ORDER BY id",
                [office],
            ).fetchall()
            if away:
                check_in(db, office, away[arg % len(away)][0], KEY, now=now)
        elif action == "call":
            call(db, office, counters[arg], now, n, k, runs, arg, bound)


def call(db, office, counter_id, now, n, k, runs, number, bound) -> None:
    counter = engine.get_counter(db, counter_id)
    if counter["state"] == "paused":
        return
    if counter["current_ticket_id"]:
        current = engine.get_ticket(db, counter["current_ticket_id"])
        if current["status"] == "called":
            engine.start(db, current["id"], now=now)
        if current["status"] in ("called", "serving"):
            engine.finish(db, current["id"], now=now)
        counter = engine.get_counter(db, counter_id)
    services = [
        r[0]
        for r in db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [counter_id],
        ).fetchall()
    ]
    waiting = list(db.query("SELECT * FROM tickets WHERE office_id = ? AND status = 'waiting'",
                            [office]))  # fmt: skip

    def walk_in(t) -> bool:
        """Queued by arrival: not an appointment in its booked place (where appointments
        have precedence: with k = 0 one queues from its check-in, which may fall on its
        slot's start), not priority (where priority has precedence)."""
        booked = k > 0 and t["channel"] == "appointment" and t["queue_at"] == t["slot_at"]
        return not booked and (t["priority"] is None or n <= 0)

    here = [t for t in waiting if not t["awaiting_checkin"]]  # those a counter may call
    walk_in_waits = any(t["service_id"] in services and walk_in(t) for t in here)
    want = expected_pick(waiting, services, counter, n, k)
    got = engine.call_next(db, counter_id, now=now).ticket
    assert (got["id"] if got else None) == want
    if got is None:
        return
    called = engine.get_ticket(db, got["id"])
    assert called["awaiting_checkin"] == 0  # never called before it checked in
    kind = "walk-in" if walk_in(called) else "priority" if called["priority"] else "appointment"
    if called["channel"] == "online":
        kind = "online, checked in" if called["checked_in_at"] else "online"
    event("called: " + kind)  # the statistics (--hypothesis-show-statistics) show the mix
    if 0 < k <= counter["booking_streak"]:
        event("appointments' run full")
    if walk_in(called) or not walk_in_waits:
        runs[number] = 0
    else:
        runs[number] += 1
        assert runs[number] <= bound, f"counter {number}: {runs[number]} calls past a walk-in"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=steps,
    n=st.sampled_from([2, 1, 0, 3]),
    k=st.sampled_from([1, 2, 1, 0, 3]),
    checkin=st.booleans(),
)
def test_blended_days_follow_the_rule_and_never_starve_walk_ins(
    schema_template, plan, n, k, checkin
):
    run_day(schema_template, plan, n, k, checkin)
