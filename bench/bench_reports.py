"""Report, export and dashboard timings on a year of a large centre.

    python bench/gen_year.py --db /tmp/xephang-year.db        # once, ~3.5 minutes
    python bench/bench_reports.py --db /tmp/xephang-year.db

Prints one line per figure. The first report over the year builds the
stored daily tallies (a one-time cost, paid again only for days whose
tickets or targets change); the other figures are medians of warm runs.
The dashboard is measured while a writer thread issues 10 tickets a second
(and counters call and finish them) for a bounded time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchlib import LAST_CPU, timed  # noqa: E402
from xephang import engine, reports  # noqa: E402
from xephang.engine.targets import Targets  # noqa: E402
from xephang.queries.office import lowest_rating_level  # noqa: E402
from xephang.reports import (
    exports,  # noqa: E402
    live,  # noqa: E402
)
from xephang.reports.facts import day_tallies  # noqa: E402
from xephang.reports.log import log_rows  # noqa: E402
from xephang.storage import connect, write  # noqa: E402


def report(
    name: str, ms: float, goal_ms: float | None = None, extra: str = "", cpu: bool = True
) -> None:
    met = "met" if goal_ms is not None and ms < goal_ms else "NOT met"
    verdict = "" if goal_ms is None else f" (goal < {goal_ms:.0f} ms: {met})"
    spent = f" [cpu {LAST_CPU[0]:.1f} ms]" if cpu else ""
    print(f"{name}: {ms:.1f} ms{spent}{verdict}{extra}", flush=True)


def _writer(path: str, office: int, rate: float, stop, issued) -> None:
    """Another process: a kiosk issuing ``rate`` tickets a second, counters serving them."""
    db = connect(path)
    counters = [
        r[0] for r in db.execute("SELECT id FROM counters WHERE office_id = ?", [office]).fetchall()
    ]
    services = [
        r[0]
        for r in db.execute("SELECT prefix FROM services WHERE office_id = ?", [office]).fetchall()
    ]
    n = 0
    next_at = time.perf_counter()
    while not stop.is_set():
        engine.issue_ticket(db, office, services[n % len(services)], check_hours=False)
        issued.value += 1
        # A counter finishes whom it serves and takes the next citizen.
        out = engine.call_next(db, counters[n % len(counters)])
        if out.ticket:
            engine.start(db, out.ticket["id"])
        n += 1
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
    db.close()


def dashboard_under_load(
    path: str, office: int, seconds: float, rate: float
) -> tuple[list[float], list[float]]:
    """Dashboard latencies and CPU times (ms) while another process issues tickets."""
    import multiprocessing

    stop = multiprocessing.Event()
    issued = multiprocessing.Value("i", 0)
    writer = multiprocessing.Process(target=_writer, args=(path, office, rate, stop, issued))
    db = connect(path)
    latencies, cpu = [], []
    writer.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start, start_cpu = time.perf_counter(), time.process_time()
        live.dashboard(db, office)
        latencies.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        time.sleep(0.05)
    stop.set()
    writer.join()
    db.close()
    print(
        f"  (writer process issued {issued.value} tickets in {seconds:.0f} s, each also"
        " called and started at a counter)",
        flush=True,
    )
    return latencies, cpu


def warm_today(path: str, office: int, tickets: int) -> None:
    """Give today a busy centre's morning: ``tickets`` issued, most of them served."""
    db = connect(path)
    db.execute("PRAGMA synchronous=NORMAL")  # setup only; the measured writer is durable
    prefixes = [r[0] for r in db.execute("SELECT prefix FROM services").fetchall()]
    counters = [r[0] for r in db.execute("SELECT id FROM counters").fetchall()]
    for n in range(tickets):
        engine.issue_ticket(db, office, prefixes[n % len(prefixes)], check_hours=False)
    for n in range(int(tickets * 0.75)):  # call next finishes the one being served
        out = engine.call_next(db, counters[n % len(counters)])
        if out.ticket:
            engine.start(db, out.ticket["id"])
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/xephang-year.db")
    parser.add_argument("--office", type=int, default=1)
    parser.add_argument("--load-seconds", type=float, default=20)
    parser.add_argument("--today-tickets", type=int, default=2000)
    parser.add_argument("--only-dashboard", action="store_true")
    args = parser.parse_args()
    if args.only_dashboard:
        bench_dashboard(args)
        return
    db = connect(args.db)
    count = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    first, last = db.execute("SELECT min(day), max(day) FROM tickets").fetchone()
    print(
        f"database: {count} tickets, "
        f"{db.execute('SELECT count(*) FROM ticket_events').fetchone()[0]} events,"
        f" {first} .. {last}",
        flush=True,
    )
    end = date.fromisoformat(last)
    month_first = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = reports.period_bounds("month", month_first.isoformat())
    year = (first, last)

    with write(db):  # start from nothing stored, so the one-time build is measured
        for table in ("report_rollup", "report_days", "report_state"):
            db.execute(f"DELETE FROM {table}")
    start = time.perf_counter()
    reports.wait_report(db, args.office, *year, "day")
    report(
        "first year report (builds the stored daily tallies, once)",
        (time.perf_counter() - start) * 1000,
        cpu=False,
    )

    office = engine.get_office(db, args.office)
    targets, lowest = Targets(db, args.office), lowest_rating_level(db, args.office)

    def month_live():
        day = date.fromisoformat(month[0])
        while day.isoformat() <= month[1]:
            day_tallies(
                db,
                office,
                day.isoformat(),
                targets,
                lowest,
                dims=("service",),
            )
            day += timedelta(days=1)

    ms, _ = timed(month_live, 2)
    report(f"month by service computed from the tickets table, no stored tallies ({month[0]})", ms)
    ms, result = timed(lambda: reports.wait_report(db, args.office, *month, "service"))
    report(
        f"month report by service ({month[0]}..{month[1]}, {result['total']['issued']} tickets)",
        ms,
        500,
    )
    ms, result = timed(lambda: reports.wait_report(db, args.office, *year, "day"))
    report(
        f"year report by day ({len(result['rows'])} days, {result['total']['issued']} tickets)",
        ms,
        500,
    )
    ms, _ = timed(lambda: reports.wait_report(db, args.office, *year, "service"))
    report("year report by service (exact median/p90 over the year)", ms, 500)
    ms, _ = timed(lambda: reports.heatmap(db, args.office, *year))
    report("hour x weekday heatmap for the year", ms, 500)
    rows_holder = {}

    def month_xlsx():
        rows = log_rows(db, args.office, *month)
        rows_holder["n"] = len(rows)
        return exports.log_xlsx(rows, office, *month)

    ms, data = timed(month_xlsx, 2)
    report(
        f"XLSX export of the month's raw log ({rows_holder['n']} tickets, "
        f"{len(data) / 1e6:.1f} MB)",
        ms,
        5000,
    )
    ms, _ = timed(
        lambda: exports.report_xlsx(reports.wait_report(db, args.office, *month, "service"))
    )
    report("XLSX export of the month report by service", ms)
    db.close()
    bench_dashboard(args)
    print(json.dumps({"ok": True}))


def bench_dashboard(args) -> None:
    """The dashboard on a copy of the year with a busy today, idle then under writes."""
    work = args.db + ".dashboard"
    for suffix in ("", "-wal", "-shm"):
        Path(work + suffix).unlink(missing_ok=True)
    src = connect(args.db)
    src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    src.close()
    shutil.copy(args.db, work)
    warm_today(work, args.office, args.today_tickets)
    idle = connect(work)
    ms, _ = timed(lambda: live.dashboard(idle, args.office), 20)
    idle.close()
    report(f"dashboard, idle ({args.today_tickets} tickets today)", ms, 20)
    latencies, cpu = dashboard_under_load(work, args.office, args.load_seconds, 10)
    LAST_CPU[0] = statistics.median(cpu)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    report(
        "dashboard while 10 tickets/s are issued: p50",
        p50,
        20,
        f"; p95 {p95:.1f} ms; max {latencies[-1]:.1f} ms; {len(latencies)} samples",
    )
    for suffix in ("", "-wal", "-shm"):
        Path(work + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
