"""Tickets issued per second over HTTP by concurrent kiosk clients, with latency.

Starts a real `xephang serve` process on 127.0.0.1 (the production server
configuration, whatever `xephang serve` runs), seeds the demo office, then
CLIENTS threads, each a kiosk of its own, hold one keep-alive connection each
and POST /api/v1/tickets with their kiosk's bearer token until REQUESTS are
done or SECONDS have passed.
The clients run on the same machine and take CPU from the server.

    python bench/bench_http.py [--clients 8] [--requests 5000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import exit_on_sigterm, free_port, start_redis, tree_cpu_seconds, wait_healthy

from xephang.cli.demo import seed_demo
from xephang.engine import accounts
from xephang.storage import connect, migrate

# XEPHANG_BENCH_PROFILE=FILE runs the server under cProfile (written when it stops).
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["XEPHANG_BENCH_PROFILE"]]
    if os.environ.get("XEPHANG_BENCH_PROFILE")
    else []
)


def start_server(
    db_path: str, port: int, workers: int = 0, serve_workers: int = 1, queue: str = ""
) -> subprocess.Popen:
    """`xephang serve [--workers N]`; or, for comparison, gunicorn with ``workers``
    gevent workers."""
    command = [
        sys.executable,
        *PROFILE,
        "-m",
        "xephang.cli",
        "serve",
        "--db",
        db_path,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if serve_workers > 1:
        command += ["--workers", str(serve_workers), "--message-queue", queue]
    if workers:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            "gevent",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "xephang:create_app({'ASYNC_MODE': 'gevent'})",
        ]
    env = {
        **os.environ,
        "XEPHANG_PRINTER": "none",
        "XEPHANG_PRINT_WORKER": "false",
        "XEPHANG_LOG_LEVEL": "WARNING",
        # A load test, not a citizen: no refusal, and a one-second window, so that the
        # per-kiosk check reads about as many rows as a real kiosk's (at most its limit of
        # 20), not every ticket the run issued in the last minute.
        "XEPHANG_KIOSK_RATE_LIMIT": "100000000/1",
        "XEPHANG_DB": db_path,
    }
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    if wait_healthy(proc, port, 120):
        return proc
    proc.kill()
    raise SystemExit("server did not start")


def raw_commit_rate(directory: str, seconds: float = 2.0) -> float:
    """The disk's durable one-row commits per second (WAL, synchronous=FULL), one writer:
    the ceiling of one-commit-per-ticket, measured beside the run."""
    from xephang.storage import write

    db = connect(os.path.join(directory, "raw.db"))
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        with write(db):
            db.execute("INSERT INTO t (v) VALUES ('x')")
        done += 1
    rate = done / (time.perf_counter() - began)
    db.close()
    return rate


def run_clients(port: int, tokens: list[str], clients: int, total: int, seconds: float):
    """(latencies in seconds of acknowledged issues, failures, wall time); client ``i``
    is the kiosk of ``tokens[i % len(tokens)]``."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    counter = iter(range(total))
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        token = tokens[index % len(tokens)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = []
        start.wait()
        while time.perf_counter() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = json.dumps({"service": "ABCDEF"[n % 6]})
            began = time.perf_counter()
            conn.request("POST", "/api/v1/tickets", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - began
            if response.status == 201:
                mine.append(elapsed)
            else:
                with lock:
                    failures[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at = time.perf_counter() + seconds + 3600  # set properly once all are ready
    start.wait()
    began = time.perf_counter()
    stop_at = began + seconds
    for t in threads:
        t.join()
    return latencies, failures[0], time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--gunicorn-workers",
        type=int,
        default=0,
        help="compare: serve with gunicorn and N gevent workers instead of"
        " `xephang serve` (no Socket.IO message queue: HTTP only)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`xephang serve --workers N` (starts a redis-server for its message queue)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    redis = None
    queue = ""
    if args.workers > 1:
        redis_port = free_port()
        redis = start_redis(redis_port)
        queue = f"redis://127.0.0.1:{redis_port}/0"
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "bench.db")
        db = connect(db_path)
        migrate(db)
        demo = seed_demo(db)
        # One kiosk per client, as in a hall with that many kiosks.
        tokens = [demo["kiosk_token"]] + [
            accounts.add_device(db, demo["office_id"], "kiosk", f"Kiosk {n}")[1]
            for n in range(2, args.clients + 1)
        ]
        db.close()
        port = free_port()
        server = start_server(db_path, port, args.gunicorn_workers, args.workers, queue)
        try:
            run_clients(port, tokens, args.clients, args.warmup, args.seconds)
            ceiling_before = raw_commit_rate(tmp)
            cpu_before, clients_before = tree_cpu_seconds(server.pid), time.process_time()
            latencies, failures, wall = run_clients(
                port, tokens, args.clients, args.requests, args.seconds
            )
            server_cpu = tree_cpu_seconds(server.pid) - cpu_before
            clients_cpu = time.process_time() - clients_before
            ceiling = (ceiling_before + raw_commit_rate(tmp)) / 2
        finally:
            # SIGINT stops cleanly enough for cProfile to write its file.
            server.send_signal(signal.SIGINT if PROFILE else signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if redis is not None:
                redis.terminate()
        db = connect(db_path)
        stored = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
        db.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    rate = len(ms) / wall
    server_name = (
        f"gunicorn, {args.gunicorn_workers} gevent workers"
        if args.gunicorn_workers
        else f"xephang serve --workers {args.workers} (gevent WSGI)"
        if args.workers > 1
        else "xephang serve (gevent WSGI, 1 process)"
    )
    print(f"server: {server_name}; {args.clients} clients, keep-alive, a kiosk token each")
    print(
        f"tickets issued:   {len(ms)} in {wall:.2f} s ({failures} failed;"
        f" {stored} in the database incl. {args.warmup} warm-up)"
    )
    print(f"tickets/s:        {rate:8.0f}   (goal >= 1500: {'met' if rate >= 1500 else 'NOT met'})")
    print(
        f"disk ceiling:     {ceiling:8.0f} durable commits/s (one writer, measured before and"
        f" after); tickets/s / ceiling = {rate / ceiling:.2f}"
    )
    done = max(len(ms), 1)
    print(
        f"server CPU:       {server_cpu / done * 1000:8.3f} ms a ticket"
        f" ({server_cpu / wall:.2f} cores); the clients {clients_cpu / done * 1000:.3f} ms"
        f" ({clients_cpu / wall:.2f} cores)"
    )
    print(f"latency p50:      {statistics.median(ms):8.2f} ms")
    print(f"latency p99:      {p99:8.2f} ms   (goal < 20 ms: {'met' if p99 < 20 else 'NOT met'})")
    print(f"latency max:      {ms[-1]:8.2f} ms")


if __name__ == "__main__":
    main()
