"""Engine throughput on a SQLite file: full ticket lifecycles per second.

A lifecycle is four durable transactions: issue, call next, start, finish.
The baseline is the raw durable-commit rate (one-row INSERT per
transaction, WAL, synchronous=FULL) on the same disk, measured in the same
run, so the figure can be read as a ratio on any machine.

    python bench/bench_engine.py [--lifecycles 2000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime

from xephang import engine
from xephang.db import connect, write
from xephang.schema import migrate


def raw_commit_rate(path: str, count: int) -> float:
    """Durable one-row transactions per second (the single-writer ceiling)."""
    db = connect(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    began = time.perf_counter()
    for i in range(count):
        with write(db):
            db.execute("INSERT INTO t (v) VALUES (?)", [str(i)])
    elapsed = time.perf_counter() - began
    db.close()
    return count / elapsed


def setup_office(path: str):
    """One office, six services, six counters serving them (like the demo)."""
    db = connect(path)
    migrate(db)
    office = engine.create_office(db, "Bench")
    services = [engine.add_service(db, office, p, f"Dịch vụ {p}") for p in "ABCDEF"]
    counters = [engine.add_counter(db, office, n + 1, [sid]) for n, sid in enumerate(services)]
    return db, office, services, counters


def lifecycles(path: str, count: int, durable: bool = True) -> tuple[float, dict]:
    """Full lifecycles per second, and the time spent in each operation.

    ``durable=False`` turns fsync off (synchronous=OFF) to show the engine's own
    CPU cost per lifecycle, without the disk.
    """
    db, office, services, counters = setup_office(path)
    if not durable:
        db.execute("PRAGMA synchronous=OFF")
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội, a Monday
    spent = {"issue": 0.0, "call_next": 0.0, "start": 0.0, "finish": 0.0}
    clock = time.perf_counter
    began = clock()
    for i in range(count):
        k = i % len(services)
        t0 = clock()
        engine.issue_ticket(db, office, services[k], now=now)
        t1 = clock()
        called = engine.call_next(db, counters[k], now=now)
        t2 = clock()
        engine.start(db, called.ticket["id"], now=now)
        t3 = clock()
        engine.finish(db, called.ticket["id"], now=now)
        t4 = clock()
        spent["issue"] += t1 - t0
        spent["call_next"] += t2 - t1
        spent["start"] += t3 - t2
        spent["finish"] += t4 - t3
    elapsed = clock() - began
    assert not engine.verify_log(db, office)
    db.close()
    return count / elapsed, {k: v / count * 1000 for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=4000)
    parser.add_argument("--dir", default=None, help="directory for the database files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw = raw_commit_rate(os.path.join(tmp, "raw.db"), args.commits)
        rate, per_op = lifecycles(os.path.join(tmp, "engine.db"), args.lifecycles)
        cpu_rate, cpu_per_op = lifecycles(os.path.join(tmp, "cpu.db"), args.lifecycles,
                                          durable=False)
    ceiling = raw / 4
    print(f"raw durable commits/s:     {raw:8.0f}   (ceiling: {ceiling:.0f} lifecycles/s)")
    print(f"engine lifecycles/s:       {rate:8.0f}   ({args.lifecycles} lifecycles,"
          f" 4 transactions each)")
    print(f"engine transactions/s:     {rate * 4:8.0f}   = {rate * 4 / raw:.2f} x raw commit rate")
    print("ms per operation:          " + ", ".join(f"{k} {v:.3f}" for k, v in per_op.items()))
    print(f"engine lifecycles/s, no fsync: {cpu_rate:4.0f}   (CPU {1000 / cpu_rate:.3f} ms per"
          f" lifecycle: " + ", ".join(f"{k} {v:.3f}" for k, v in cpu_per_op.items()) + ")")
    print(f"durable lifecycles / ceiling: {rate / ceiling:.2f}")
    print(f"goal >= 1000 lifecycles/s: {'met' if rate >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
