"""The province view over many offices: the page of every office now, and a month's report
grouped by office across all of them.

    python bench/gen_year.py --db /tmp/xephang-province.db --offices 100 --days 35 --tickets 5000
    python bench/bench_province.py --db /tmp/xephang-province.db

Works on a copy of the file. Today is given a busy morning first, through the
engine: in each office tickets issued (150 at a provincial centre, 30 at a
commune office), most of them called, some being served, a kiosk and a
display paired (one seen, one never: a device alert on every office). Then
each figure is the median of several runs on one connection, with its CPU
time: the province page's data (``reports.province.province_overview``) and
the whole page over HTTP (Flask's test client, rendering included); the
report of the last 30 days grouped by office over every office
(``reports.province.offices_report``), once cold (it stores the closed days'
tallies, a one-time cost per day) and then warm, and over HTTP; the QĐ 766
report by office over the same days.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchlib import LAST_CPU, timed  # noqa: E402
from xephang import create_app, engine  # noqa: E402
from xephang.engine import accounts  # noqa: E402
from xephang.errors import QueueError  # noqa: E402
from xephang.reports import province, satisfaction  # noqa: E402
from xephang.storage import connect, write  # noqa: E402

PASSWORD = "bench-province-2026"


def report(name: str, ms: float, goal_ms: float | None = None, cpu: bool = True) -> None:
    verdict = (
        ""
        if goal_ms is None
        else f" (goal < {goal_ms:.0f} ms: {'met' if ms < goal_ms else 'NOT met'})"
    )
    spent = f" [cpu {LAST_CPU[0]:.1f} ms]" if cpu else ""
    print(f"{name}: {ms:.1f} ms{spent}{verdict}", flush=True)


def warm_today(path: str) -> list[int]:
    """A busy morning in every office, through the engine; returns the office ids."""
    db = connect(path)
    db.execute("PRAGMA synchronous=OFF")  # setup only
    offices = [r[0] for r in db.execute("SELECT id FROM offices ORDER BY id").fetchall()]
    for office in offices:
        counters = [
            r[0]
            for r in db.execute(
                "SELECT id FROM counters WHERE office_id = ? ORDER BY number", [office]
            ).fetchall()
        ]
        prefixes = [
            r[0]
            for r in db.execute(
                "SELECT prefix FROM services WHERE office_id = ?", [office]
            ).fetchall()
        ]
        kiosk, _ = accounts.add_device(db, office, "kiosk", "Kiosk sảnh")
        accounts.touch_device(db, kiosk)
        accounts.add_device(db, office, "display", "TV phòng chờ")  # never seen: an alert
        tickets = 150 if len(counters) > 15 else 30  # a provincial centre, a commune
        for n in range(tickets):
            engine.issue_ticket(db, office, prefixes[n % len(prefixes)], check_hours=False)
        for n in range(int(tickets * 0.7)):
            try:  # call next finishes whom the counter serves; a ticket only called holds it
                out = engine.call_next(db, counters[n % len(counters)])
            except QueueError:
                continue
            if out.ticket and n % 3:
                engine.start(db, out.ticket["id"])
    db.close()
    return offices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/xephang-province.db")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the working copy (profiling)")
    args = parser.parse_args()
    work = args.db + ".bench"
    for suffix in ("", "-wal", "-shm"):
        Path(work + suffix).unlink(missing_ok=True)
    src = connect(args.db)
    src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    src.close()
    shutil.copy(args.db, work)
    started = time.perf_counter()
    offices = warm_today(work)
    db = connect(work)
    count = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    first, last = db.execute("SELECT min(day), max(day) FROM tickets").fetchone()
    today_tickets = db.execute("SELECT count(*) FROM tickets WHERE day = ?", [last]).fetchone()
    print(
        f"database: {len(offices)} offices, {count} tickets, {first} .. {last}"
        f" ({today_tickets[0]} today, issued in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    end = date.fromisoformat(last) - timedelta(days=1)
    month = ((end - timedelta(days=29)).isoformat(), end.isoformat())

    ms, data = timed(lambda: province.province_overview(db, offices), args.runs)
    report(
        f"province page data, {len(offices)} offices ({data['total']['waiting']} waiting,"
        f" {data['total']['alerts']} alerts)",
        ms,
        300,
    )

    with write(db):  # nothing stored yet: the first report builds the closed days once
        for table in ("report_rollup", "report_days", "report_state"):
            db.execute(f"DELETE FROM {table}")
    start = time.perf_counter()
    province.offices_report(db, offices, *month)
    report(
        f"first month report by office ({month[0]}..{month[1]}: builds the stored daily"
        " tallies of every office, once)",
        (time.perf_counter() - start) * 1000,
        cpu=False,
    )
    ms, result = timed(lambda: province.offices_report(db, offices, *month), args.runs)
    report(
        f"month report by office across {len(result['rows'])} offices"
        f" ({result['total']['issued']} tickets)",
        ms,
        300,
    )
    ms, result = timed(
        lambda: satisfaction.satisfaction_report(db, offices, *month, "office"), args.runs
    )
    report(
        f"month QĐ 766 report by office across {len(offices)} offices"
        f" ({result['total']['dossiers']} dossiers)",
        ms,
    )
    db.close()

    app = create_app({"DB": work, "SECRET_KEY": "bench", "PRINT_WORKER": False})
    db = connect(work)
    if not db.execute("SELECT 1 FROM users WHERE username = 'bench_admin'").fetchone():
        accounts.add_user(db, "bench_admin", "admin", None, PASSWORD)
    db.close()
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    client.post(
        "/login", data={"username": "bench_admin", "password": PASSWORD, "csrf_token": csrf}
    )

    def page():
        answer = client.get("/manager/province")
        assert answer.status_code == 200, answer.status_code
        return answer

    ms, answer = timed(page, args.runs)
    rows = len(re.findall(rb'data-office="', answer.data))
    report(f"GET /manager/province over HTTP ({rows} offices, rendered)", ms, 300)

    def report_page():
        answer = client.get(f"/manager/province/report?period=custom&from={month[0]}&to={month[1]}")
        assert answer.status_code == 200, answer.status_code
        return answer

    ms, _ = timed(report_page, args.runs)
    report("GET /manager/province/report over HTTP (wait and QĐ 766 by office, rendered)", ms)
    for suffix in ("", "-wal", "-shm") if not args.keep else ():
        Path(work + suffix).unlink(missing_ok=True)
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
