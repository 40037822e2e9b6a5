"""Engine throughput on a SQLite file: full ticket lifecycles per second.

A lifecycle is four durable transactions: issue, call next, start, finish.
The baseline is the raw durable-commit rate (one-row INSERT per
transaction, WAL, synchronous=FULL) on the same disk, measured in the same
run in interleaved rounds, so the figure can be read as a ratio on any
machine. Times are the operations' own (setup excluded).

    python bench/bench_engine.py [--lifecycles 2000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import UTC, datetime

from xephang import engine
from xephang.storage import GroupCommit, connect, migrate, write


class RawCommits:
    """Durable one-row transactions (the single-writer ceiling of the disk)."""

    def __init__(self, path: str):
        self.db = connect(path)
        self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        self.done, self.seconds = 0, 0.0

    def run(self, count: int) -> None:
        began = time.perf_counter()
        for i in range(count):
            with write(self.db):
                self.db.execute("INSERT INTO t (v) VALUES (?)", [str(i)])
        self.seconds += time.perf_counter() - began
        self.done += count

    @property
    def rate(self) -> float:
        return self.done / self.seconds


def setup_office(path: str, counters: int = 6):
    """One office, six services, ``counters`` counters (counter k serves service k mod 6:
    six, like the demo, serve one service each)."""
    db = connect(path)
    migrate(db)
    office = engine.create_office(db, "Bench")
    services = [engine.add_service(db, office, p, f"Dịch vụ {p}") for p in "ABCDEF"]
    made = [engine.add_counter(db, office, k + 1, [services[k % 6]]) for k in range(counters)]
    return db, office, services, made


class Lifecycles:
    """Issue, call next, start, finish; ``durable=False`` turns fsync off to show the
    engine's own CPU cost without the disk."""

    def __init__(self, path: str, durable: bool = True):
        self.db, self.office, self.services, self.counters = setup_office(path)
        if not durable:
            self.db.execute("PRAGMA synchronous=OFF")
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội, a Monday
        self.spent = {"issue": 0.0, "call_next": 0.0, "start": 0.0, "finish": 0.0}
        self.done = 0

    def run(self, count: int) -> None:
        clock, now, spent = time.perf_counter, self.now, self.spent
        for i in range(self.done, self.done + count):
            k = i % len(self.services)
            t0 = clock()
            engine.issue_ticket(self.db, self.office, self.services[k], now=now)
            t1 = clock()
            called = engine.call_next(self.db, self.counters[k], now=now)
            t2 = clock()
            engine.start(self.db, called.ticket["id"], now=now)
            t3 = clock()
            engine.finish(self.db, called.ticket["id"], now=now)
            t4 = clock()
            spent["issue"] += t1 - t0
            spent["call_next"] += t2 - t1
            spent["start"] += t3 - t2
            spent["finish"] += t4 - t3
        self.done += count

    @property
    def rate(self) -> float:
        return self.done / sum(self.spent.values())

    def per_op_ms(self) -> dict:
        return {k: v / self.done * 1000 for k, v in self.spent.items()}

    def check(self) -> None:
        assert not engine.verify_log(self.db, self.office)


def lifecycle_through(group: GroupCommit, office: int, service: int, counter: int, now) -> None:
    """Issue, call next, start and finish one ticket, each operation through ``group``."""
    group.run(engine.issue_ticket, office, service, now=now)
    called = group.run(engine.call_next, counter, now=now)
    group.run(engine.start, called.ticket["id"], now=now)
    group.run(engine.finish, called.ticket["id"], now=now)


class GroupedLifecycles:
    """The same lifecycles from ``clients`` threads at once (one per counter and its
    service, as counters work in an office), each operation through one GroupCommit:
    operations that arrive together share a transaction and its fsync."""

    def __init__(self, path: str, clients: int):
        self.db, self.office, self.services, self.counters = setup_office(path)
        self.group = GroupCommit(path)
        self.clients = clients
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        self.done, self.seconds = 0, 0.0

    def run(self, count: int) -> None:
        per_client = count // self.clients
        now, group = self.now, self.group
        barrier = threading.Barrier(self.clients + 1)

        def client(k: int) -> None:
            service, counter = self.services[k % 6], self.counters[k % 6]
            barrier.wait()
            for _ in range(per_client):
                lifecycle_through(group, self.office, service, counter, now)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(self.clients)]
        for t in threads:
            t.start()
        barrier.wait()
        began = time.perf_counter()
        for t in threads:
            t.join()
        self.seconds += time.perf_counter() - began
        self.done += per_client * self.clients

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def check(self) -> None:
        assert not engine.verify_log(self.db, self.office)


def lifecycles(path: str, count: int, durable: bool = True) -> tuple[float, dict]:
    """Full lifecycles per second, and milliseconds per operation."""
    runner = Lifecycles(path, durable)
    runner.run(count)
    runner.check()
    return runner.rate, runner.per_op_ms()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=4000)
    parser.add_argument(
        "--rounds", type=int, default=10, help="interleave baseline and engine in this many rounds"
    )
    parser.add_argument("--dir", default=None, help="directory for the database files")
    parser.add_argument(
        "--clients",
        type=int,
        default=6,
        help="threads (counters) running lifecycles at once through the group commit",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw_runner = RawCommits(os.path.join(tmp, "raw.db"))
        durable = Lifecycles(os.path.join(tmp, "engine.db"))
        cpu = Lifecycles(os.path.join(tmp, "cpu.db"), durable=False)
        grouped = GroupedLifecycles(os.path.join(tmp, "grouped.db"), args.clients)
        # Interleaved rounds: the baseline and the engine see the same disk conditions
        # (other processes' writes change fsync latency by 10x on a shared machine).
        for _ in range(args.rounds):
            raw_runner.run(args.commits // args.rounds)
            durable.run(args.lifecycles // args.rounds)
            cpu.run(args.lifecycles // args.rounds)
            grouped.run(args.lifecycles // args.rounds)
        durable.check()
        grouped.check()
        group_rate = grouped.rate
        per_commit = grouped.group.jobs / max(grouped.group.batches, 1)
        raw, rate, per_op = raw_runner.rate, durable.rate, durable.per_op_ms()
        cpu_rate, cpu_per_op = cpu.rate, cpu.per_op_ms()
    ceiling = raw / 4
    print(f"raw durable commits/s:     {raw:8.0f}   (ceiling: {ceiling:.0f} lifecycles/s)")
    print(
        f"engine lifecycles/s:       {rate:8.0f}   ({args.lifecycles} lifecycles,"
        f" 4 transactions each)"
    )
    print(f"engine transactions/s:     {rate * 4:8.0f}   = {rate * 4 / raw:.2f} x raw commit rate")
    print("ms per operation:          " + ", ".join(f"{k} {v:.3f}" for k, v in per_op.items()))
    print(
        f"engine lifecycles/s, no fsync: {cpu_rate:4.0f}   (CPU {1000 / cpu_rate:.3f} ms per"
        f" lifecycle: " + ", ".join(f"{k} {v:.3f}" for k, v in cpu_per_op.items()) + ")"
    )
    print(f"durable lifecycles / ceiling: {rate / ceiling:.2f}")
    print(
        f"group commit, {args.clients} clients: {group_rate:6.0f} lifecycles/s"
        f" = {group_rate / ceiling:.2f} x ceiling ({per_commit:.1f} operations per commit)"
    )
    best = max(rate, group_rate)
    print(f"goal >= 1000 durable lifecycles/s: {'met' if best >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
