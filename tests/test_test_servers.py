"""The servers tests start die with the test process, however it dies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import requests


def _state(pid: int) -> str | None:
    """A process's state letter from /proc, or None when it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_a_live_server_dies_when_its_test_process_is_killed(demo_file, tmp_path):
    db = tmp_path / "x.db"
    shutil.copy(demo_file[0], db)
    # A test process that starts a server, says where, and waits to be killed.
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from tests.helpers import LiveServer
        server = LiveServer({str(db)!r}).start()
        print(server.proc.pid, server.url, flush=True)
        time.sleep(600)
        """
    )
    test_process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        pid, url = test_process.stdout.readline().split()
        assert requests.get(url + "/api/v1/health", timeout=10).ok
        test_process.send_signal(signal.SIGKILL)  # no cleanup code runs, as in a crash
        test_process.wait(30)
        # The kernel kills the server as its parent dies: gone, or a zombie for init to
        # reap. Nothing to wait on for another process's child: look until a deadline.
        deadline = time.monotonic() + 30
        while _state(int(pid)) not in (None, "Z") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(int(pid)) in (None, "Z")
    finally:
        if test_process.poll() is None:
            test_process.kill()
