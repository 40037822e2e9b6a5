"""Cost of issue, call-next and the realtime broadcast as the waiting line grows.

In one process on a database in /dev/shm (tmpfs: fsync is free, so what is measured
is the queries' and the engine's own work, not the disk): an office with six
services and six counters, the line in service A (1 ticket in 20 with priority).
At each size the line is kept at that size while ROUNDS rounds run: issue one
ticket at the back, call next at counter 1 (which finishes the previous one),
start it; and the broadcast's server-side work for those events
(``web.broadcast.broadcast_with``: waiting counts, announcement, queue moves,
payloads; the Socket.IO sends replaced by a no-op, since their cost is per
recipient, not per waiting ticket).

    python bench/bench_flat.py [--sizes 10 100 1000 10000] [--rounds 300]

Run it from another tree with PYTHONPATH=<that tree> to compare code versions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime

from xephang import create_app, engine
from xephang.storage import connect, migrate
from xephang.web import broadcast
from xephang.web.extensions import socketio


def setup(path: str):
    db = connect(path)
    migrate(db)
    office = engine.create_office(db, "Bench")
    services = [engine.add_service(db, office, p, f"Dịch vụ {p}") for p in "ABCDEF"]
    engine.add_priority_category(db, office, "elderly", "Người cao tuổi", "Elderly", 0)
    counters = [engine.add_counter(db, office, n + 1, [sid]) for n, sid in enumerate(services)]
    return db, office, services, counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    root = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        path = os.path.join(tmp, "flat.db")
        db, office, services, counters = setup(path)
        app = create_app({"DB": path, "TESTING": True, "SECRET_KEY": "bench", "PRINTER": "none"})
        socketio.emit = lambda *a, **k: None  # the sends are per recipient: not measured here
        socketio.start_background_task = lambda fn, *a: fn(*a)
        now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội
        issued = 0

        def issue():
            nonlocal issued
            issued += 1
            priority = "elderly" if issued % 20 == 0 else None
            return engine.issue_ticket(
                db, office, services[0], priority=priority, now=now, check_hours=False
            )

        print(f"{'waiting':>8} | {'issue ms':>17} | {'call-next ms':>17} | {'broadcast ms':>17}")
        print(f"{'':>8} | {'p50':>8} {'p99':>8} | {'p50':>8} {'p99':>8} | {'p50':>8} {'p99':>8}")
        for size in args.sizes:
            db.execute("PRAGMA synchronous=OFF")
            waiting = db.execute(
                "SELECT count(*) FROM tickets WHERE status = 'waiting'"
            ).fetchone()[0]
            for _ in range(size - waiting):
                issue()
            db.execute("PRAGMA synchronous=FULL")
            times = {"issue": [], "call": [], "broadcast": []}
            with app.app_context():
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    out_issue = issue()
                    t1 = time.perf_counter()
                    out_call = engine.call_next(db, counters[0], now=now)
                    t2 = time.perf_counter()
                    broadcast.broadcast_with(db, out_issue.events + out_call.events)
                    t3 = time.perf_counter()
                    engine.start(db, out_call.ticket["id"], now=now)
                    times["issue"].append(t1 - t0)
                    times["call"].append(t2 - t1)
                    times["broadcast"].append(t3 - t2)

            def cell(values):
                ms = sorted(v * 1000 for v in values)
                return f"{statistics.median(ms):8.3f} {ms[int(len(ms) * 0.99)]:8.3f}"

            row = " | ".join(cell(times[k]) for k in ("issue", "call", "broadcast"))
            print(f"{size:>8} | {row}", flush=True)
        assert not engine.verify_log(db, office)


if __name__ == "__main__":
    main()
