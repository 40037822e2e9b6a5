"""Estimates are promises: how far off the wait estimates are, the old model against the new,
on simulated office days run through the real engine, and what one estimate costs.

Two offices: ``small``, open 07:30–11:30 and 13:00–17:00, services A (6 min a person),
B (4 min), C (10 min), counters 1 "AB", 2 "BA", 3 "C", 4 "CA" — counter 4 opens only at
09:00 and counter 2 closes at 15:00, arrivals heavier in the morning; ``centre``,
bench/gen_year.py's provincial centre (its services, counters, hours, weekday loads and
hourly arrivals). Service times are log-normal around each service's mean. Every
counter calls its next ticket through ``engine.call_next`` whenever it is free (not over
a break); the engine
keeps each ticket's estimate (the new model) and the bench computes, at the same moment,
the old one: people ahead × the service's recent mean ÷ open counters serving it (0
when none is open — the old "dưới 1 phút"). After each day, every called ticket's real
wait is compared with both.

Figures per model: median and p90 of |estimate − wait| (minutes), the share within
±5 minutes, the tickets told "no counter" (new) / "under a minute" while none was open
(old). Then the mean time of one estimate, new ÷ old, measured in the same process on
the last day's open line (interleaved rounds).

    python bench/bench_estimates.py [--office small|centre] [--days 5] [--tickets 250]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchlib import percentile  # noqa: E402
from xephang import engine  # noqa: E402
from xephang.engine import estimate  # noqa: E402
from xephang.engine.order import people_ahead  # noqa: E402
from xephang.storage import connect, migrate  # noqa: E402

HOURS = {d: [["07:30", "11:30"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
FIRST_DAY = date(2026, 3, 2)  # a Monday


@dataclass
class Model:
    """An office to simulate: services (prefix → share of arrivals, mean minutes), counters
    (number → prefixes in order of preference, local opening and closing minute), the
    stored hours, a day's open spans (local minutes) and its arrivals (local minutes)."""

    services: dict[str, tuple[float, float]]
    counters: dict[int, tuple[str, int, int]]
    hours: dict
    spans: object  # date -> ((start, end), ...)
    arrivals: object  # (rng, date, spans) -> sorted minutes


def small_office(per_day: int) -> Model:
    """Counters sharing services, one opening late and one closing early."""

    def arrivals(rng, day, spans):
        length = sum(end - start for start, end in spans)
        picks = sorted(rng.betavariate(1.3, 1.8) * length for _ in range(per_day))
        out = []
        for pick in picks:  # fold the open minutes back onto the day's spans
            for start, end in spans:
                if pick < end - start:
                    out.append(start + pick)
                    break
                pick -= end - start
        return out

    return Model(
        services={"A": (0.45, 6), "B": (0.35, 4), "C": (0.20, 10)},
        counters={
            1: ("AB", 450, 1020),
            2: ("BA", 450, 900),
            3: ("C", 450, 1020),
            4: ("CA", 540, 1020),
        },  # fmt: skip
        hours=HOURS,
        spans=lambda day: ((450, 690), (780, 1020)) if day.weekday() < 5 else (),
        arrivals=arrivals,
    )


def centre(per_day: int) -> Model:
    """bench/gen_year.py's provincial centre: its 12 services, counters sized as it sizes
    them (one service each), its hours, weekday loads and hourly arrival profile."""
    import bench.gen_year as year

    counters, number = {}, 0
    for prefix, _vi, _en, _field, share, mean, _unused in year.SERVICES:
        for _ in range(max(1, math.ceil(share * per_day * mean / 450 / 0.95))):
            number += 1
            counters[number] = (prefix, year.OPEN[0][0], year.OPEN[-1][1])

    def arrivals(rng, day, spans):
        expected = year.day_load(day, per_day)
        return year.arrival_minutes(rng, spans, max(0, int(rng.gauss(expected, expected * 0.08))))

    return Model(
        services={s[0]: (s[4], s[5]) for s in year.SERVICES},
        counters=counters,
        hours=year.office_hours(),
        spans=year.open_spans,
        arrivals=arrivals,
    )


def local(day: date, minute: float) -> datetime:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=7)
    return midnight + timedelta(minutes=minute)


def old_estimate(db, ticket: dict) -> int:
    """The model before: people ahead × recent mean service time ÷ open counters."""
    ahead = people_ahead(db, ticket)
    counters = estimate.open_counters(db, ticket["service_id"])
    if not counters:
        return 0
    per = estimate.recent_service_time(db, ticket["service_id"], ticket["day"], 300)
    return int(ahead * per / counters)


def simulate_day(db, office: int, model: Model, counters: dict, day: date, rng) -> list:
    """One day through the engine; returns (ticket id, old estimate, told no counter)."""
    spans = model.spans(day)
    if not spans:
        return []
    events: list = []  # (time, order, kind, payload)
    order = 0

    def push(at, kind, payload):
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, payload))

    prefixes = list(model.services)
    weights = [share for share, _mean in model.services.values()]
    for minute in model.arrivals(rng, day, spans):
        push(local(day, minute), "arrive", rng.choices(prefixes, weights=weights)[0])
    for number, (_services, opens, closes) in model.counters.items():
        push(local(day, max(opens, spans[0][0])), "open", number)
        push(local(day, min(closes, spans[-1][1])), "close", number)
    breaks = [
        (local(day, a), local(day, b)) for (_s, a), (b, _e) in zip(spans, spans[1:], strict=False)
    ]
    end = local(day, spans[-1][1])
    free = dict.fromkeys(model.counters, False)
    closing = set()
    issued = []
    while events:
        at, _o, kind, payload = heapq.heappop(events)
        if kind == "arrive":
            outcome = engine.issue_ticket(db, office, payload, now=at, check_hours=False)
            ticket = outcome.ticket
            old = old_estimate(db, engine.get_ticket(db, ticket["id"]))
            issued.append((ticket["id"], old, ticket["counters_open"] == 0))
            for number, (served, _o2, _c) in model.counters.items():
                if free[number] and payload in served:
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
            pause = next((b for a, b in breaks if a <= at < b), None)
            if pause is not None:
                push(pause, "try", payload)
                continue
            if at >= end:
                continue
            called = engine.call_next(db, counters[payload], now=at).ticket
            if called is None:
                continue  # nobody waiting for this counter: it waits for the next arrival
            free[payload] = False
            mean = model.services[called["service"]["prefix"]][1] * 60
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
    engine.close_day(db, office, now=local(day, 23 * 60))
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
    parser.add_argument("--office", choices=("small", "centre"), default="small")
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--tickets", type=int, default=250, help="arrivals per ordinary day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=200, help="timed estimates per model")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    model = (small_office if args.office == "small" else centre)(args.tickets)
    with tempfile.TemporaryDirectory() as folder:
        db = connect(str(Path(folder) / "bench.db"))
        migrate(db)
        office = engine.create_office(db, "Bench", hours=model.hours)
        ids = {p: engine.add_service(db, office, p, f"Dịch vụ {p}") for p in model.services}
        counters = {
            n: engine.add_counter(db, office, n, [ids[p] for p in served])
            for n, (served, _o, _c) in model.counters.items()
        }
        issued = []
        started = time.perf_counter()
        for d in range(args.days):
            issued += simulate_day(db, office, model, counters, FIRST_DAY + timedelta(days=d), rng)
        simulated_s = time.perf_counter() - started
        old_errors, new_errors = [], []
        no_counter_new = no_counter_old = 0
        for ticket_id, old, none_open in issued:
            new, waited = db.execute(
                "SELECT estimated_wait_s, (julianday(called_at) - julianday(issued_at)) * 86400"
                " FROM tickets WHERE id = ?",
                [ticket_id],
            ).fetchone()
            if none_open:
                no_counter_new += 1
                no_counter_old += old == 0
            if waited is None:
                continue
            old_errors.append(old - waited)
            if new is not None:
                new_errors.append(new - waited)
        print(
            f"{args.office}: {len(issued)} tickets over {args.days} days, {len(counters)}"
            f" counters, seed {args.seed} ({simulated_s:.0f} s)"
        )
        print(f"  old model: {figures(old_errors)}")
        print(f"  new model: {figures(new_errors)}")
        print(
            f"  told no counter was open (new): {no_counter_new}; told 'under a minute' while"
            f" none was open (old): {no_counter_old}"
        )
        # Cost of one estimate, on a line of 60 left waiting the next afternoon.
        day = FIRST_DAY + timedelta(days=args.days)
        while not model.spans(day):
            day += timedelta(days=1)
        at = local(day, 14 * 60)
        for number in list(counters)[: max(1, len(counters) // 2)]:
            engine.open_counter(db, counters[number], now=at)
        line = [
            engine.issue_ticket(db, office, rng.choice(list(ids)), now=at, check_hours=False)
            for _ in range(60)
        ]
        probe = engine.get_ticket(db, line[-1].ticket["id"])
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
