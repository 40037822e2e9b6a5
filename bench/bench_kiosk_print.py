"""Kiosk press (HTTP request) to the last byte at a fake network printer, 4 kiosks at once.

A real ``xephang serve`` process (gevent, durable SQLite, the spooler's
worker in-process) on a fresh demo database; fake ESC/POS printers run in
this process on 127.0.0.1, so press and last byte share one clock. Each
round the 4 kiosks press together and wait until their tickets are out (a
citizen takes a ticket before the next one presses). Each printed job is
matched to its press by reading the tracker URL back from its QR code.

    python bench/bench_kiosk_print.py [--rounds 50] [--layout shared|per-kiosk]

``shared``: every kiosk prints on one printer (XEPHANG_PRINTER); the
worker prints the 4 tickets one after another. ``per-kiosk``: each kiosk
has its own printer (XEPHANG_PRINTER_MAP), one worker each.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import zxingcpp
from benchlib import exit_on_sigterm, free_port, percentile, wait_healthy

from printers.raster import decode_raster
from printers.testing import FakeNetworkPrinter
from xephang.cli.demo import seed_demo
from xephang.engine import accounts
from xephang.queries import people
from xephang.storage import connect, migrate

KIOSKS = 4


def start_server(db_path: Path, env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from xephang.cli import main; main()",
            "serve",
            "--db",
            str(db_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=db_path.parent,
    )
    if wait_healthy(proc, port):
        return proc
    proc.kill()
    raise SystemExit("server did not start")


class Kiosk:
    """One paired kiosk browser session."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.session = requests.Session()
        shown = self.session.get(f"{url}/kiosk/pair?token={token}", timeout=5).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown).group(1)
        self.session.post(f"{url}/kiosk/pair", data={"token": token, "csrf_token": csrf}, timeout=5)
        page = self.session.get(f"{url}/kiosk/", timeout=5).text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def press(self, service: str) -> tuple[str, float, float]:
        """(tracker URL, press time, response time) on this process's perf_counter clock."""
        started = time.perf_counter()
        r = self.session.post(
            f"{self.url}/kiosk/api/tickets",
            json={"service": service},
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
            timeout=10,
        )
        answered = time.perf_counter()
        r.raise_for_status()
        return r.json()["ticket"]["tracker_url"], started, answered


def run(rounds: int, layout: str) -> dict:
    printers = [FakeNetworkPrinter() for _ in range(KIOSKS if layout == "per-kiosk" else 1)]
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "xephang.db"
        db = connect(db_path)
        migrate(db)
        info = seed_demo(db)
        tokens = [info["kiosk_token"]]
        device_ids = [people.principal_for_token(db, info["kiosk_token"]).device_id]
        for n in range(KIOSKS - 1):
            device_id, token = accounts.add_device(db, info["office_id"], "kiosk", f"K{n + 2}")
            tokens.append(token)
            device_ids.append(device_id)
        db.close()
        port = free_port()
        env = {
            "XEPHANG_PRINTER": printers[0].spec,
            "XEPHANG_KIOSK_RATE_LIMIT": "100000/60",
            "XEPHANG_SECRET_KEY": "bench",
            "XEPHANG_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        if layout == "per-kiosk":
            env["XEPHANG_PRINTER_MAP"] = ";".join(
                f"{d}={p.spec}" for d, p in zip(device_ids, printers, strict=True)
            )
        server = start_server(db_path, env, port)
        try:
            kiosks = [Kiosk(f"http://127.0.0.1:{port}", t) for t in tokens]
            presses: dict[str, tuple[float, float]] = {}
            lock = threading.Lock()

            def press(kiosk: Kiosk, service: str, barrier: threading.Barrier) -> None:
                barrier.wait()
                url, started, answered = kiosk.press(service)
                with lock:
                    presses[url] = (started, answered)

            for r in range(rounds + 2):  # two warm-up rounds
                barrier = threading.Barrier(KIOSKS)
                threads = [
                    threading.Thread(target=press, args=(k, "ABCD"[i], barrier))
                    for i, k in enumerate(kiosks)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                expected = (r + 1) * KIOSKS // len(printers)
                for p in printers:
                    got = p.wait_for_jobs(expected, timeout=30)
                    if len(got) < expected:
                        raise SystemExit(f"printer got {len(got)} of {expected} jobs")
                if r == 1:
                    presses.clear()
                    warm = {id(j) for p in printers for j in p.complete_jobs()}
            to_printer, http = [], []
            for p in printers:
                for job in p.complete_jobs():
                    if id(job) in warm:
                        continue
                    url = zxingcpp.read_barcodes(decode_raster(bytes(job.data)))[0].text
                    started, answered = presses.pop(url)
                    to_printer.append((job.last_at - started) * 1000)
                    http.append((answered - started) * 1000)
            assert not presses, f"{len(presses)} presses never printed"
        finally:
            server.terminate()
            server.wait(10)
            for p in printers:
                p.stop()
    return {
        "layout": layout,
        "n": len(to_printer),
        "print_p50": statistics.median(to_printer),
        "print_p99": percentile(to_printer, 99),
        "http_p50": statistics.median(http),
        "http_p99": percentile(http, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--layout", choices=["shared", "per-kiosk", "both"], default="both")
    args = parser.parse_args()
    exit_on_sigterm()
    layouts = ["shared", "per-kiosk"] if args.layout == "both" else [args.layout]
    for layout in layouts:
        r = run(args.rounds, layout)
        print(
            f"{r['layout']:>9} printer(s), {KIOSKS} kiosks pressing at once, n={r['n']}:"
            f" press→last byte at printer p50 {r['print_p50']:.0f} ms, p99 {r['print_p99']:.0f}"
            f" ms; HTTP answer p50 {r['http_p50']:.0f} ms, p99 {r['http_p99']:.0f} ms"
        )


if __name__ == "__main__":
    main()
