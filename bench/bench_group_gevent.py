"""The engine's group commit as `xephang serve` runs it: greenlets on gevent's loop.

``bench_engine.py`` measures the group commit from OS threads, whose GIL hand-offs are
not what the server does: under `xephang serve` every request is a greenlet of one loop,
and each commit's fsync runs in a thread of gevent's pool (``web.context.blocking``)
while the loop goes on. Here CLIENTS greenlets (a counter each; counter k serves service
k mod 6) run full lifecycles (issue, call next, start, finish), every operation through
the group commit the server makes (``web.context.group_commit``); the raw durable-commit
rate of the same disk is measured in interleaved rounds, as in ``bench_engine.py``.

    python bench/bench_group_gevent.py [--lifecycles 3000] [--clients 6 12] [--rounds 5]
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import gevent  # noqa: E402
from bench_engine import (  # noqa: E402
    GroupedLifecycles,
    RawCommits,
    lifecycle_through,
    setup_office,
)

from xephang.web.context import group_commit  # noqa: E402


class GreenLifecycles(GroupedLifecycles):
    """``bench_engine``'s grouped lifecycles, from greenlets, a counter each."""

    def __init__(self, path: str, clients: int):
        self.db, self.office, self.services, self.counters = setup_office(path, clients)
        self.group = group_commit(path, 10000)  # as the server makes it
        self.clients = clients
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        self.done, self.seconds, self.cpu = 0, 0.0, 0.0

    def run(self, count: int) -> None:
        per_client = count // self.clients

        def client(k: int) -> None:
            service, counter = self.services[k % 6], self.counters[k]
            for _ in range(per_client):
                lifecycle_through(self.group, self.office, service, counter, self.now)

        began, cpu = time.perf_counter(), time.process_time()
        gevent.joinall([gevent.spawn(client, k) for k in range(self.clients)], raise_error=True)
        self.seconds += time.perf_counter() - began
        self.cpu += time.process_time() - cpu
        self.done += per_client * self.clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=3000)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--clients", type=int, nargs="+", default=[6, 12])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="directory for the database files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw = RawCommits(os.path.join(tmp, "raw.db"))
        runners = {n: GreenLifecycles(os.path.join(tmp, f"green{n}.db"), n) for n in args.clients}
        for _ in range(args.rounds):  # interleaved: the same disk conditions for each
            raw.run(args.commits // args.rounds)
            for runner in runners.values():
                runner.run(args.lifecycles // args.rounds)
        ceiling = raw.rate / 4
        print(
            f"raw durable commits/s:  {raw.rate:8.0f}   (one commit a lifecycle step:"
            f" {ceiling:.0f} lifecycles/s)"
        )
        for n, runner in runners.items():
            runner.check()
            per_commit = runner.group.jobs / max(runner.group.batches, 1)
            print(
                f"{n:3d} greenlets: {runner.rate:6.0f} durable lifecycles/s"
                f" = {runner.rate / ceiling:.2f} x that ceiling"
                f" ({per_commit:.1f} operations a commit;"
                f" CPU {runner.cpu / runner.done * 1000:.3f} ms a lifecycle)"
                f"   goal >= 1000: {'met' if runner.rate >= 1000 else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
