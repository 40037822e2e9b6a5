"""Estimates are promises: how far off the wait estimates are, the old model against the new,
on simulated office days run through the real engine, and what one estimate costs.

An office open 07:30–11:30 and 13:00–17:00: services A (6 min a person), B (4 min),
C (10 min); counters 1 "AB", 2 "BA", 3 "C", 4 "CA" — counter 4 opens only at 09:00 and
counter 2 closes at 15:00. Arrivals are random over the day, heavier in the morning;
service times are log-normal around each service's mean. Every counter calls its next
ticket through ``engine.call_next`` whenever it is free (not over lunch); the engine
keeps each ticket's estimate (the new model) and the bench computes, at the same moment,
the old one: people ahead × the service's recent mean ÷ open counters serving it (0
when none is open — the old "dưới 1 phút"). After each day, every called ticket's real
wait is compared with both.

Figures per model: median and p90 of |estimate − wait| (minutes), the share within
±5 minutes, the tickets told "no counter" (new) / "under a minute" while none was open
(old). Then the mean time of one estimate, new ÷ old, measured in the same process on
the last day's open line (interleaved rounds).

    python bench/bench_estimates.py [--days 5] [--tickets 240] [--seed 7]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchlib import percentile  # noqa: E402
from xephang import engine  # noqa: E402
from xephang.engine import estimate  # noqa: E402
from xephang.engine.order import people_ahead  # noqa: E402
from xephang.storage import connect, migrate  # noqa: E402

HOURS = {d: [["07:30", "11:30"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
MEAN_MIN = {"A": 6, "B": 4, "C": 10}
SHARE = {"A": 0.45, "B": 0.35, "C": 0.20}
COUNTERS = {1: "AB", 2: "BA", 3: "C", 4: "CA"}
OPENS = {4: (9, 0)}  # local time a counter opens (others at 07:30)
CLOSES = {2: (15, 0)}  # local time a counter closes (others at 17:00)
FIRST_DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def local(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour - 7, minutes=minute)  # UTC+7


def old_estimate(db, ticket: dict) -> int:
    """The model before: people ahead × recent mean service time ÷ open counters."""
    ahead = people_ahead(db, ticket)
    counters = estimate.open_counters(db, ticket["service_id"])
    if not counters:
        return 0
    per = estimate.recent_service_time(db, ticket["service_id"], ticket["day"], 300)
    return int(ahead * per / counters)


def simulate_day(db, office, services, counters, day: datetime, tickets: int, rng) -> list:
    """One day through the engine; returns (ticket id, old estimate, told no counter)."""
    start, end = local(day, 7, 30), local(day, 17, 0)
    lunch = (local(day, 11, 30), local(day, 13, 0))
    span = (end - start).total_seconds() - 60 * 60
    arrivals = sorted(rng.betavariate(1.3, 1.8) * span for _ in range(tickets))
    events: list = []  # (time, order, kind, payload)
    order = 0

    def push(at, kind, payload):
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, payload))

    for offset in arrivals:
        at = start + timedelta(seconds=offset)
        if at >= lunch[0]:
            at += lunch[1] - lunch[0]
        prefix = rng.choices(list(SHARE), weights=list(SHARE.values()))[0]
        push(at, "arrive", prefix)
    for number in COUNTERS:
        push(local(day, *OPENS.get(number, (7, 30))), "open", number)
        push(local(day, *CLOSES.get(number, (17, 0))), "close", number)
    free = {n: False for n in COUNTERS}
    closing = set()
    issued = []
    while events:
        at, _o, kind, payload = heapq.heappop(events)
        if kind == "arrive":
            outcome = engine.issue_ticket(db, office, payload, now=at, check_hours=False)
            ticket = outcome.ticket
            old = old_estimate(db, engine.get_ticket(db, ticket["id"]))
            issued.append((ticket["id"], old, ticket["counters_open"] == 0))
            for number in COUNTERS:
                if free[number]:
                    push(at, "try", number)
        elif kind == "open":
            engine.open_counter(db, counters[payload], now=at)
            free[payload] = True
            push(at, "try", payload)
        elif kind == "close":
            closing.add(payload)
            if free[payload]:
                engine.close_counter(db, counters[payload], now=at)
                free[payload] = False
        elif kind == "try" and free[payload] and payload not in closing:
            if lunch[0] <= at < lunch[1]:
                push(lunch[1], "try", payload)
                continue
            if at >= end:
                continue
            called = engine.call_next(db, counters[payload], now=at).ticket
            if called is None:
                continue  # nobody waiting for this counter: it waits for the next arrival
            free[payload] = False
            mean = MEAN_MIN[called["service"]["prefix"]] * 60
            took = rng.lognormvariate(math.log(mean) - 0.18, 0.6)
            engine.start(db, called["id"], now=at)
            push(at + timedelta(seconds=took), "done", (payload, called["id"]))
        elif kind == "done":
            number, ticket_id = payload
            engine.finish(db, ticket_id, now=at)
            if number in closing:
                engine.close_counter(db, counters[number], now=at)
            else:
                free[number] = True
                push(at, "try", number)
    engine.close_day(db, office, now=local(day, 23, 0))
    return issued


def figures(errors: list[float]) -> dict:
    size = sorted(abs(e) for e in errors)
    if not size:
        return {"n": 0}
    return {
        "n": len(size),
        "median_min": round(percentile(size, 50) / 60, 1),
        "p90_min": round(size[max(1, math.ceil(0.9 * len(size))) - 1] / 60, 1),
        "within_5min": round(sum(1 for e in size if e <= 300) / len(size), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--tickets", type=int, default=240, help="arrivals per day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=200, help="timed estimates per model")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        db = connect(str(Path(folder) / "bench.db"))
        migrate(db)
        office = engine.create_office(db, "Bench", hours=HOURS)
        services = {}
        ids = {}
        for prefix in MEAN_MIN:
            ids[prefix] = engine.add_service(db, office, prefix, f"Dịch vụ {prefix}")
            services[ids[prefix]] = prefix
        counters = {
            n: engine.add_counter(db, office, n, [ids[p] for p in ps]) for n, ps in COUNTERS.items()
        }
        issued = []
        for d in range(args.days):
            issued += simulate_day(
                db, office, services, counters, FIRST_DAY + timedelta(days=d), args.tickets, rng
            )
        old_errors, new_errors = [], []
        no_counter_new = no_counter_old = 0
        for ticket_id, old, none_open in issued:
            row = db.execute(
                "SELECT estimated_wait_s, (julianday(called_at) - julianday(issued_at)) * 86400"
                " FROM tickets WHERE id = ?",
                [ticket_id],
            ).fetchone()
            new, waited = row
            if none_open:
                no_counter_new += 1
                no_counter_old += old == 0
            if waited is None:
                continue
            old_errors.append(old - waited)
            if new is not None:
                new_errors.append(new - waited)
        print(f"{len(issued)} tickets over {args.days} days, seed {args.seed}")
        print(f"  old model: {figures(old_errors)}")
        print(f"  new model: {figures(new_errors)}")
        print(
            f"  told no counter was open (new): {no_counter_new}; told 'under a minute' while"
            f" none was open (old): {no_counter_old}"
        )
        # Cost of one estimate, on a line left waiting on the last day's afternoon.
        day = FIRST_DAY + timedelta(days=args.days)
        at = local(day, 14, 0)
        for number in (1, 3, 4):
            engine.open_counter(db, counters[number], now=at)
        line = [
            engine.issue_ticket(db, office, rng.choice("ABC"), now=at, check_hours=False).ticket
            for _ in range(60)
        ]
        probe = engine.get_ticket(db, line[-1]["id"])
        old_t, new_t = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            old_estimate(db, probe)
            t1 = time.perf_counter()
            estimate.estimate(db, probe, 300, now=at)
            t2 = time.perf_counter()
            old_t.append(t1 - t0)
            new_t.append(t2 - t1)
        old_ms = 1000 * sum(old_t) / len(old_t)
        new_ms = 1000 * sum(new_t) / len(new_t)
        print(
            f"  one estimate, 60 waiting: old {old_ms:.2f} ms, new {new_ms:.2f} ms,"
            f" new/old {new_ms / old_ms:.1f}x"
        )
        db.close()


if __name__ == "__main__":
    main()
