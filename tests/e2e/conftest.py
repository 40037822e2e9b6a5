"""Shared e2e fixtures: a real xephang server in a subprocess, and a headless Chromium.

``live_server`` seeds the demo office into a fresh database, runs ``xephang
serve`` (the production gevent server) on a free port of 127.0.0.1 and can
``restart()`` it on the same database. ``browser`` is Debian's Chromium
driven by Playwright (never ``playwright install``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from xephang.cli.demo import seed_demo
from xephang.storage import connect, migrate

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """One ``xephang serve`` process on a database file; restartable."""

    def __init__(
        self,
        db_path: Path,
        port: int | None = None,
        env: dict | None = None,
        args: list[str] | None = None,
    ):
        self.db_path = db_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "XEPHANG_PUBLIC_URL": self.url,
            "XEPHANG_SECRET_KEY": "e2e",
            "XEPHANG_PRINTER": "virtual",
            **(env or {}),
        }
        self.args = args or []
        self.proc: subprocess.Popen | None = None
        self.log = db_path.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 20) -> LiveServer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from xephang.cli import main; main()",
                    "serve",
                    "--db",
                    str(self.db_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                cwd=self.db_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()


def seeded_db(tmp_path: Path) -> tuple[Path, dict]:
    """A fresh database with the demo office; returns its path and the demo info."""
    path = tmp_path / "xephang.db"
    db = connect(path)
    migrate(db)
    info = seed_demo(db)
    db.close()
    return path, info


def start_demo_server(tmp_path: Path, env: dict | None = None) -> LiveServer:
    """A started demo server: ``.demo`` (tokens, board id), ``.officer`` (a bearer
    header of the demo officer canbo1), ``.printed`` (the virtual printer's folder)."""
    from xephang.engine import accounts

    path, info = seeded_db(tmp_path)
    db = connect(path)
    officer = {"Authorization": "Bearer " + accounts.add_user_token(db, "canbo1")}
    db.close()
    server = LiveServer(path, env=env).start()
    server.demo, server.officer, server.printed = info, officer, tmp_path / "printed"
    return server


@pytest.fixture
def live_server(tmp_path):
    """A running demo server: ``.url``, ``.demo`` (tokens, board id), ``.restart()``."""
    server = start_demo_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
