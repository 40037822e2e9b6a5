"""Helpers shared by the benchmark scripts (run them as `python bench/<script>.py`)."""

from __future__ import annotations

import contextlib
import socket
import statistics
import subprocess
import time
import urllib.request


def exit_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI job ending) raises SystemExit in the main thread, so the
    bench's ``finally`` stops the servers it started; by default the bench died at once
    and left its `xephang serve` and redis-server running."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports_after(count: int) -> int:
    """A port ``base`` of 127.0.0.1 with base + 1 … base + count free right now: the
    ports of ``--worker-ports base`` (a worker that cannot bind its own exits and is
    started again, and the bench waits for it)."""
    while True:
        base = free_port()
        if base + count > 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for k in range(1, count + 1):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", base + k))
        except OSError:
            continue
        return base


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_healthy(proc: subprocess.Popen, port: int, seconds: float = 30) -> bool:
    """Poll the server's health endpoint until it answers; False if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_redis(port: int) -> subprocess.Popen:
    """A throw-away redis-server on 127.0.0.1: the message queue of several processes."""
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


# The process CPU time (ms, median) of the last ``timed`` calls, for the figures' [cpu] note.
LAST_CPU = [0.0]


def timed(fn, runs: int = 5) -> tuple[float, object]:
    """Median wall time in ms of ``runs`` calls, and the last result (CPU ms kept aside)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    LAST_CPU[0] = statistics.median(cpu)
    return statistics.median(times), result


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (Linux /proc):
    what a server spent, whatever share of the machine its clients took."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        fields = stats.get(current)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / tick
        todo.extend(children.get(current, []))
    return total
