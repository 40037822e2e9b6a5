"""Citizens at home at once: each loads the booking page and the availability JSON with
its slots, then books a slot (or takes an online number), against a real `xephang serve`.

Seeds the demo office (always open, six services), lets one network address take any
number (the benchmark's clients all share 127.0.0.1), then CITIZENS threads start
together, each on its own keep-alive connection:

  1. GET /booking/<office>/                       (the start page: waits, estimates)
  2. GET /booking/<office>/appointment?service=S&day=D   (the page of a day's slots)
  3. GET /api/v1/offices/<office>/availability?service=S&day=D   (the same, as JSON)
  4. POST /api/v1/offices/<office>/appointments    (a random slot of tomorrow; a full
     slot answers 409, which is a correct answer too) — or, for one citizen in four,
     POST /online-tickets

and ROUNDS rounds of that, reading each page THINK seconds on average (0.5–1.5 ×;
``--think 0`` is a stress test: every citizen sends its next request at once). Latency
per kind of request, p50/p99, and how many of the answers were 2xx/409. The clients run
on the same machine and take CPU from the server.

    python bench/bench_booking.py [--citizens 200] [--rounds 3] [--think 1.0]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from benchlib import exit_on_sigterm, free_port, percentile, wait_healthy

from xephang import engine
from xephang.cli.demo import seed_demo
from xephang.storage import connect, migrate


def start_server(db_path: str, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "xephang.cli", "serve", "--db", db_path]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {
        **os.environ,
        "XEPHANG_PRINTER": "none",
        "XEPHANG_PRINT_WORKER": "false",
        "XEPHANG_NOTIFY_WORKER": "false",
        "XEPHANG_LOG_LEVEL": "WARNING",
        "XEPHANG_DB": db_path,
    }
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    if wait_healthy(proc, port):
        return proc
    proc.kill()
    raise SystemExit("server did not start")


def citizen(port, office, services, slots, rounds, think, start, times, answers, lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    for _ in range(rounds):
        service = random.choice(services)
        day = slots[0][:10]
        base = f"/api/v1/offices/{office}"
        steps = [
            ("page", "GET", f"/booking/{office}/", None),
            (
                "slots_page",
                "GET",
                f"/booking/{office}/appointment?service={service}&day={day}",
                None,
            ),
            ("availability", "GET", f"{base}/availability?service={service}&day={day}", None),
        ]
        if random.random() < 0.25:
            steps.append(("online", "POST", f"{base}/online-tickets", {"service": service}))
        else:
            chosen = {"service": service, "slot": random.choice(slots)}
            steps.append(("book", "POST", f"{base}/appointments", chosen))
        for kind, method, url, body in steps:
            if think:  # a person reads the page before the next step
                time.sleep(random.uniform(0.5, 1.5) * think)
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            began = time.perf_counter()
            conn.request(method, url, body=payload, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                times.setdefault(kind, []).append(elapsed)
                answers[response.status] = answers.get(response.status, 0) + 1
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds a citizen reads between steps"
    )
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = os.path.join(folder, "bench.db")
        db = connect(path)
        migrate(db)
        info = seed_demo(db)
        office = info["office_id"]
        engine.set_office_settings(db, office, {"online_rate_per_hour": 10000})
        rows = db.execute("SELECT id FROM services WHERE office_id = ?", [office]).fetchall()
        services = [r[0] for r in rows]
        db.close()
        tomorrow = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).date()
        slots = [f"{tomorrow}T{h:02d}:{m:02d}" for h in range(7, 17) for m in (0, 30)]
        port = free_port()
        server = start_server(path, port)
        try:
            times: dict[str, list[float]] = {}
            answers: dict[int, int] = {}
            lock, start = threading.Lock(), threading.Barrier(args.citizens)
            threads = [
                threading.Thread(
                    target=citizen,
                    args=(
                        port,
                        office,
                        services,
                        slots,
                        args.rounds,
                        args.think,
                        start,
                        times,
                        answers,
                        lock,
                    ),
                )
                for _ in range(args.citizens)
            ]
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - began
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        every = [v for values in times.values() for v in values]
        rate = len(every) / wall
        print(
            f"{args.citizens} citizens x {args.rounds} rounds: {len(every)} requests in"
            f" {wall:.1f} s ({rate:.0f}/s); answers {dict(sorted(answers.items()))}"
        )
        for kind in ("page", "slots_page", "availability", "book", "online", "all"):
            values = every if kind == "all" else times.get(kind, [])
            if values:
                p50, p99 = percentile(values, 50), percentile(values, 99)
                print(f"  {kind:12s} n={len(values):4d}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")


if __name__ == "__main__":
    main()
