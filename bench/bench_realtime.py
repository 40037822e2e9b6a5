"""Realtime fan-out: call-next → displays, counters and trackers, with N Socket.IO clients.

    python bench/bench_realtime.py [--clients 1000 3000] [--calls 40] [--client-procs 1]
        [--workers N]   # `xephang serve --workers N` with a redis-server of its own

Starts ``xephang serve`` (the production gevent server) on a demo database
with one waiting ticket of service A per tracker, then connects lean raw
WebSocket Socket.IO clients from separate processes: 10 displays (device
token), 6 counter screens (officer token + counter) and trackers (visit
token) for the rest. The driver (this process) calls next at counter 1 over
HTTP and the clients timestamp arrival with the system-wide monotonic clock:

- call → ``queue_event`` "called" at every display and counter: p50 / p99
  over all (call, client) pairs;
- call → ``queue_moved`` at the last tracker: p50 / p99 over calls;
- server memory per connected client (RSS growth / clients) and server CPU
  per call (user+system time over the fan-out of one call), summed over the web
  workers when there are several; with ``--workers N`` each client connects to one
  worker's own port in turn (``--worker-ports``), so each worker holds 1/N of them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from benchlib import exit_on_sigterm, free_port, free_ports_after, start_redis, wait_healthy
from benchlib import percentile as pct

DISPLAYS, COUNTERS = 10, 6


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the lean client: raw WebSocket, Engine.IO v4 and Socket.IO v5 framing -------------------


class LeanClient(asyncio.Protocol):
    """One Socket.IO client over a raw WebSocket; timestamps every event frame it receives."""

    def __init__(self, host: str, port: int, auth: dict, sink: list, ready: asyncio.Future):
        self.request = (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.auth = json.dumps(auth).encode()
        self.sink, self.ready = sink, ready
        self.buf = bytearray()
        self.upgraded = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def send_text(self, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + body)

    def data_received(self, data):
        now = time.perf_counter()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.buf[:end]:
                self.fail(bytes(self.buf[:200]))
                return
            del self.buf[: end + 4]
            self.upgraded = True
        while len(self.buf) >= 2:
            opcode, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < off + n:
                return
            payload = bytes(self.buf[off : off + n])
            del self.buf[: off + n]
            if opcode == 1:
                self.on_message(payload, now)

    def on_message(self, p: bytes, now: float) -> None:
        if p[:2] == b"42":
            self.sink.append((now, p))
        elif p[:1] == b"2":
            self.send_text(b"3")
        elif p[:1] == b"0":
            self.send_text(b"40" + self.auth)
        elif p[:2] == b"40" and not self.ready.done():
            self.ready.set_result(True)
        elif p[:2] == b"44":
            self.fail(p)

    def fail(self, why) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"refused: {why!r}"))

    def connection_lost(self, exc):
        self.fail(exc)


async def run_clients(host, port, specs, conn):
    loop = asyncio.get_running_loop()
    sinks: list[tuple[str, list]] = []
    transports = []
    sem = asyncio.Semaphore(100)

    async def one(kind, auth, port):
        async with sem:
            sink, ready = [], loop.create_future()
            transport, _ = await loop.create_connection(
                lambda: LeanClient(host, port, auth, sink, ready), host, port
            )
            await asyncio.wait_for(ready, 30)
            sinks.append((kind, sink))
            transports.append(transport)

    await asyncio.gather(*(one(kind, auth, port or own) for kind, auth, own in specs))
    # No collection while frames are timed: a full one over 5,000 connections' objects
    # stopped this process for 80–120 ms, read as the server's latency. What it keeps
    # meanwhile is the frames of a bounded number of calls.
    gc.collect()
    gc.freeze()
    gc.disable()
    conn.send(("connected", len(sinks)))
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "clear":
            for _, sink in sinks:
                sink.clear()
            conn.send("cleared")
        elif command == "collect":
            out = []
            for kind, sink in sinks:
                rows = []
                for now, raw in sink:
                    name, payload = json.loads(raw[2:])
                    rows.append(
                        (
                            now,
                            name,
                            payload.get("type") or payload.get("change"),
                            payload.get("ticket_id"),
                        )
                    )
                out.append((kind, rows))
            conn.send(out)
        elif command == "stop":
            for t in transports:
                t.close()
            conn.send("stopped")
            return


def client_process(host, port, specs, conn):
    raise_nofile()
    asyncio.run(run_clients(host, port, specs, conn))


# --- the server ---------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[float, int]:
    """(user+system CPU seconds, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def prepare(
    tmp: Path, called: int, trackers: int, spread: bool = False, done: bool = False
) -> dict:
    from xephang import engine
    from xephang.cli.demo import seed_demo
    from xephang.engine import accounts
    from xephang.storage import connect, migrate

    db = connect(tmp / "bench.db")
    migrate(db)
    info = seed_demo(db)
    info["officer"] = accounts.add_user_token(db, "canbo1")
    services = "ABCDEF" if spread else "A"
    for _ in range(called):  # the tickets the benchmark will call
        engine.issue_ticket(db, info["office_id"], "A", check_hours=False)
    for n in range(trackers):
        ticket = engine.issue_ticket(
            db, info["office_id"], services[n % len(services)], check_hours=False
        ).ticket
        if done:  # a page left open after the visit: its ticket no longer waits
            engine.cancel(db, ticket["id"])
    info["visits"] = [
        r[0]
        for r in db.execute(
            "SELECT v.token FROM visits v JOIN tickets t ON t.visit_id = v.id ORDER BY t.id"
        )
    ][called:]
    counters = [r[0] for r in db.execute("SELECT id FROM counters ORDER BY number")]
    info["counters"] = counters
    db.close()
    return info


def web_workers(server: subprocess.Popen, workers: int) -> list[int]:
    """The processes that hold the sockets: the server, or its web workers."""
    if workers <= 1:
        return [server.pid]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server.pid and b"web\0--slot" in args:
            found.append(int(entry.name))
    return found


def total_stat(pids: list[int]) -> tuple[float, int]:
    stats = [proc_stat(pid) for pid in pids]
    return sum(c for c, _ in stats), sum(r for _, r in stats)


def start_server(
    tmp: Path, port: int, workers: int = 1, queue: str = "", base: int = 0
) -> subprocess.Popen:
    env = {**os.environ, "XEPHANG_LOG_LEVEL": "WARNING", "XEPHANG_SECRET_KEY": "bench"}
    extra = []
    if workers > 1:
        extra = ["--workers", str(workers), "--worker-ports", str(base), "--message-queue", queue]
        env["XEPHANG_SOCKET_ORIGINS"] = "*"
    proc = subprocess.Popen(
        # BENCH_SERVER_SCRIPT: run another server script (DB PORT arguments), e.g. a profiler
        [sys.executable, os.environ["BENCH_SERVER_SCRIPT"], str(tmp / "bench.db"), str(port)]
        if os.environ.get("BENCH_SERVER_SCRIPT")
        else [
            sys.executable,
            "-c",
            "from xephang.cli import main; main()",
            "serve",
            "--db",
            str(tmp / "bench.db"),
            "--port",
            str(port),
            *extra,
        ],
        cwd=tmp,
        env=env,
        stdout=open(tmp / "server.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    if wait_healthy(proc, port, 120) and all(
        wait_healthy(proc, base + i, 120) for i in range(1, workers + 1) if workers > 1
    ):
        return proc
    proc.kill()
    raise RuntimeError((tmp / "server.log").read_text())


def scenario(
    total: int,
    calls: int,
    client_procs: int,
    spread: bool = False,
    done: bool = False,
    workers: int = 1,
) -> dict:
    trackers = total - DISPLAYS - COUNTERS
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        info = prepare(tmp, calls + 5, trackers, spread, done)
        port = free_port()
        redis, queue, base = None, "", 0
        if workers > 1:
            redis_port = free_port()
            redis, queue = start_redis(redis_port), f"redis://127.0.0.1:{redis_port}/0"
            base = free_ports_after(workers)
        server = start_server(tmp, port, workers, queue, base)
        url = f"http://127.0.0.1:{port}"
        pids = web_workers(server, workers)
        try:
            specs = (
                [("display", {"token": info["display_token"]})] * DISPLAYS
                + [
                    ("counter", {"token": info["officer"], "counter": c})
                    for c in info["counters"][:COUNTERS]
                ]
                + [("tracker", {"visit": v}) for v in info["visits"]]
            )
            # one port (0: the shared one) per client: the workers' own ports in turn
            specs = [
                (kind, auth, base + 1 + i % workers if workers > 1 else 0)
                for i, (kind, auth) in enumerate(specs)
            ]
            time.sleep(0.5)
            cpu0, rss0 = total_stat(pids)
            pipes, procs = [], []
            for k in range(client_procs):
                parent, child = mp.Pipe()
                p = mp.get_context("spawn").Process(
                    target=client_process,
                    args=("127.0.0.1", port, specs[k::client_procs], child),
                    daemon=True,  # ended with the bench, however it ends
                )
                p.start()
                pipes.append(parent)
                procs.append(p)
            t = time.perf_counter()
            connected = sum(pipe.recv()[1] for pipe in pipes)
            connect_s = time.perf_counter() - t
            time.sleep(1.0)
            cpu1, rss1 = total_stat(pids)
            for pipe in pipes:
                pipe.send("clear")
                pipe.recv()
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {info['officer']}"
            counter = info["counters"][0]
            sent, cpu_per_call, previous, http_ms = {}, [], None, []
            gap = 0.15 + total / 6000
            for _ in range(calls):
                if previous:
                    http.post(f"{url}/api/v1/tickets/{previous}/start").raise_for_status()
                time.sleep(0.05)
                before = total_stat(pids)[0]
                t0 = time.perf_counter()
                r = http.post(f"{url}/api/v1/counters/{counter}/call-next")
                r.raise_for_status()
                http_ms.append((time.perf_counter() - t0) * 1000)
                ticket = r.json()["ticket"]["id"]
                sent[ticket] = t0
                time.sleep(gap)
                cpu_per_call.append(total_stat(pids)[0] - before)
                previous = ticket
            results = []
            for pipe in pipes:
                pipe.send("collect")
                results += pipe.recv()
            for pipe in pipes:
                pipe.send("stop")
                pipe.recv()
            for p in procs:
                p.join(10)
        finally:
            server.terminate()
            server.wait(30)
            if redis is not None:
                redis.terminate()
    called_service = 0 if done else trackers if not spread else -(-trackers // 6)
    office_lat, last_tracker = [], {tid: 0.0 for tid in sent}
    per_call = {tid: [] for tid in sent}
    missing = 0
    for kind, rows in results:
        got = {}
        for now, name, typ, tid in rows:
            if tid in sent:
                if kind != "tracker" and name == "queue_event" and typ == "called":
                    got[tid] = now - sent[tid]
                elif kind == "tracker" and name == "queue_moved" and typ == "left":
                    got[tid] = now - sent[tid]
        missing += len(sent) - len(got)
        for tid, lat in got.items():
            if kind == "tracker":
                last_tracker[tid] = max(last_tracker[tid], lat)
            else:
                office_lat.append(lat)
                per_call[tid].append(lat)
    last = list(last_tracker.values()) if called_service else [0.0]
    return {
        "clients": connected,
        "trackers": trackers,
        "calls": calls,
        "trackers_moved_per_call": called_service,
        "missing": missing - (trackers - called_service) * len(sent),
        "connect_s": connect_s,
        "http_p50_ms": pct(http_ms, 50),
        "http_p99_ms": pct(http_ms, 99),
        "office_worst_per_call_ms": [round(max(v) * 1000, 1) for v in per_call.values() if v],
        "tracker_last_per_call_ms": [round(v * 1000, 1) for v in last_tracker.values()],
        "office_p50_ms": pct(office_lat, 50) * 1000,
        "office_p99_ms": pct(office_lat, 99) * 1000,
        "tracker_last_p50_ms": pct(last, 50) * 1000,
        "tracker_last_p99_ms": pct(last, 99) * 1000,
        "kb_per_client": (rss1 - rss0) / connected / 1024,
        "connect_cpu_ms_per_client": (cpu1 - cpu0) / connected * 1000,
        "cpu_ms_per_call": statistics.median(cpu_per_call) * 1000,
        "cpu_us_per_recipient": statistics.median(cpu_per_call) * 1e6 / connected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="call-next fan-out over Socket.IO")
    # (the goal of issue 14: 10,000 trackers over 2 workers, last tracker p99 < 500 ms,
    # < 60 KB per socket, displays and counters p99 < 20 ms)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=1, help="xephang serve --workers N (with Redis)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every figure as JSON")
    parser.add_argument(
        "--spread",
        action="store_true",
        help="trackers over the 6 services (default: all wait for service A)",
    )
    parser.add_argument(
        "--done",
        action="store_true",
        help="trackers of tickets no longer waiting (pages left open)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    raise_nofile()
    print(
        f"{'clients':>7} {'moved':>8} | displays+counters p50/p99 ms | last tracker p50/p99 ms"
        f" | KB/client | server CPU ms/call | µs/recipient | connect s"
    )
    for total in args.clients:
        r = scenario(total, args.calls, args.client_procs, args.spread, args.done, args.workers)
        print(
            f"{r['clients']:>7} {r['trackers_moved_per_call']:>8} | {r['office_p50_ms']:>12.1f} /"
            f" {r['office_p99_ms']:<12.1f} | {r['tracker_last_p50_ms']:>10.1f} /"
            f" {r['tracker_last_p99_ms']:<10.1f} | {r['kb_per_client']:>9.1f} |"
            f" {r['cpu_ms_per_call']:>18.1f} | {r['cpu_us_per_recipient']:>12.1f} |"
            f" {r['connect_s']:>8.1f}" + (f"  MISSING {r['missing']}" if r["missing"] else ""),
            flush=True,
        )
        if args.verbose:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
