"""Several server processes on one port: `xephang serve --workers N`.

The command's own process is a small supervisor (no gevent, no app): it binds the
port once, then starts N web workers that all accept on that socket (the kernel
hands each new connection to one of them) and one background worker that serves
no HTTP and runs the background workers (print spooler, the notifiers' outbox
worker), so they run once, not once per process. Events cross processes through the
Socket.IO message queue (Redis, ``XEPHANG_MESSAGE_QUEUE``); so do the wake-ups (a web
worker that queued a receipt tells the background worker on ``<namespace>:wake``, one
whose commit may have queued messages on ``<namespace>:outbox``) and the background
worker's heartbeat (each part's state), which every web worker's health check reads. A
worker that dies is started again (after a pause that grows if it keeps dying);
the others go on serving meanwhile, and its sockets reconnect to them.

Each web worker may also listen on a port of its own (``--worker-ports BASE``:
worker i on BASE + i) so a proxy can route a client to the same worker every time
(nginx ``hash $remote_addr consistent``), which Socket.IO's long-polling fallback
needs; WebSocket clients need no stickiness.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
HEARTBEAT_TTL_S = 15
RESTART_PAUSE_S = (0.5, 30.0)  # first and longest pause before starting a dead worker again
STABLE_S = 10.0  # a worker that lived this long had not been failing: its pause starts over


def namespace(db_path: str) -> str:
    """The Redis key prefix of one database's processes (several installs may share Redis)."""
    digest = hashlib.sha1(os.path.abspath(db_path).encode()).hexdigest()[:12]
    return f"xephang:{digest}"


def wake_channel(db_path: str) -> str:
    return namespace(db_path) + ":wake"


def outbox_channel(db_path: str) -> str:
    return namespace(db_path) + ":outbox"


def heartbeat_key(db_path: str) -> str:
    return namespace(db_path) + ":background"


# --- inside a worker --------------------------------------------------------------------


def redis_client(url: str, timeout: float | None = 2):
    """A Redis client for the message queue's URL (redis-py: the `redis` extra); a
    subscriber's has no read timeout (it waits for messages)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=2)


def forward_wakes(app) -> None:
    """In a web worker: the spooler's and the outbox worker's wake-ups go to the background
    worker through Redis."""
    from .extensions import socketio

    client = redis_client(app.config["MESSAGE_QUEUE"])
    channel = wake_channel(app.config["DB"])

    def forward(printer: str) -> None:
        try:
            client.publish(channel, printer)
        except Exception:  # the spooler polls anyway (every 2 s): a lost wake-up only waits
            log.warning("could not forward a print wake-up", exc_info=True)

    app.extensions["xephang.spooler"].forward = forward
    notifier = app.extensions.get("xephang.notifier")
    if notifier is None:
        return
    # The outbox is woken after every commit: the wake-ups of a burst of commits are
    # coalesced into one message, sent off the request that committed.
    pending = threading.Event()
    outbox = outbox_channel(app.config["DB"])

    def pump() -> None:
        while True:
            pending.wait()
            pending.clear()
            try:
                client.publish(outbox, "wake")
            except Exception:  # the outbox worker polls anyway (NOTIFY_POLL_S)
                log.warning("could not forward an outbox wake-up", exc_info=True)
                socketio.sleep(1)

    socketio.start_background_task(pump)
    notifier.forward = pending.set


def part_states(app) -> dict[str, str]:
    """Each background part's state in this process: ok, stopped or off."""
    spooler = app.extensions["xephang.spooler"]
    notifier = app.extensions.get("xephang.notifier")
    if notifier is None or not notifier.running:
        outbox = "off"  # NOTIFY_WORKER off: `xephang notify run` sends, if anything does
    else:
        outbox = "ok" if notifier.alive() else "stopped"
    return {
        "spooler": "ok" if spooler.alive() or not spooler.workers else "stopped",
        "outbox": outbox,
    }


def run_background(app) -> None:
    """In the background worker: print, send messages, follow wake-ups, beat the heart;
    never returns. (The notifiers' init_app started the outbox worker here, unless
    NOTIFY_WORKER is off.)"""
    from .extensions import socketio

    url, db_path = app.config["MESSAGE_QUEUE"], app.config["DB"]
    spooler = app.extensions["xephang.spooler"]
    spooler.start()  # (init_app started it already unless PRINT_WORKER is off)
    notifier = app.extensions.get("xephang.notifier")
    wakes, outbox = wake_channel(db_path), outbox_channel(db_path)

    def listen() -> None:
        while True:
            try:
                pubsub = redis_client(url, timeout=None).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(wakes, outbox)
                for message in pubsub.listen():
                    if message["channel"].decode() == outbox:
                        if notifier is not None:
                            notifier.wake()
                    else:
                        spooler.wake(message["data"].decode())
            except Exception:  # Redis restarted: subscribe again
                log.warning("wake-up channel lost; subscribing again", exc_info=True)
                socketio.sleep(1)

    def beat() -> None:
        client = redis_client(url)
        while True:
            try:
                value = json.dumps({"at": round(time.time()), **part_states(app)})
                client.set(heartbeat_key(db_path), value, ex=HEARTBEAT_TTL_S)
            except Exception:
                log.warning("could not write the background heartbeat", exc_info=True)
            socketio.sleep(HEARTBEAT_S)

    socketio.start_background_task(listen)
    socketio.start_background_task(beat)
    log.info(
        "background worker: %d printer(s), outbox %s",
        len(spooler.workers),
        "on" if notifier is not None and notifier.running else "off",
    )
    while True:
        socketio.sleep(3600)


def background_state(app, part: str = "spooler") -> dict:
    """What a web worker knows of one part of the background worker (``spooler``,
    ``outbox``): its last heartbeat. A part that is off there is well (nothing of it
    is expected to run)."""
    try:
        value = redis_client(app.config["MESSAGE_QUEUE"]).get(heartbeat_key(app.config["DB"]))
    except Exception as err:
        return {"ok": False, "state": "unknown", "error": type(err).__name__}
    if value is None:
        return {"ok": False, "state": "no heartbeat from the background worker"}
    beat = json.loads(value)
    state = beat.get(part, "unknown")
    return {
        "ok": state in ("ok", "off"),
        "state": state,
        "in": "background worker",
        "beat_at": beat["at"],
    }


# --- the supervisor ---------------------------------------------------------------------


@dataclass
class Child:
    role: str  # "web" or "background"
    slot: int
    command: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    pause_s: float = RESTART_PAUSE_S[0]
    due_at: float = 0.0
    restarts: int = 0


@dataclass
class Supervisor:
    """Starts the workers, starts again the ones that die, stops them all on SIGTERM."""

    db_path: str
    host: str
    port: int
    workers: int
    message_queue: str
    worker_ports: int | None = None
    env: dict = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock

    def _command(self, role: str, slot: int, fd: int) -> list[str]:
        command = [sys.executable, "-c", "from xephang.cli import main; main()", "serve-worker"]
        command += ["--db", self.db_path, "--host", self.host, "--port", str(self.port)]
        command += ["--role", role, "--slot", str(slot), "--fd", str(fd)]
        if role == "web" and self.worker_ports:
            command += ["--own-port", str(self.worker_ports + slot)]
        return command

    def _spawn(self, child: Child, fd: int) -> None:
        child.proc = subprocess.Popen(child.command, env=self.env, pass_fds=(fd,))
        child.started_at = time.monotonic()
        log.info("%s worker %d started (pid %d)", child.role, child.slot, child.proc.pid)

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit status."""
        sock = self.bind()
        metrics_dir = None
        self.env = {
            **os.environ,
            **self.env,
            "XEPHANG_MESSAGE_QUEUE": self.message_queue,
        }
        if not self.env.get("PROMETHEUS_MULTIPROC_DIR"):
            # Every process's request and commit figures in one /metrics (prometheus-client's
            # multiprocess mode), whichever worker answers the scrape.
            metrics_dir = tempfile.mkdtemp(prefix="xephang-metrics-")
            self.env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        fd = sock.fileno()
        self.children = [Child("background", 0, self._command("background", 0, fd))]
        self.children += [
            Child("web", i, self._command("web", i, fd)) for i in range(1, self.workers + 1)
        ]

        def stop(signum, _frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            for child in self.children:
                self._spawn(child, fd)
            while not self.stopping:
                self._watch(fd)
                time.sleep(0.2)  # a signal or a child's death: checked five times a second
        finally:
            self._stop_all()
            sock.close()
            if metrics_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0

    def _watch(self, fd: int) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                lived = now - child.started_at
                child.pause_s = (
                    RESTART_PAUSE_S[0]
                    if lived > STABLE_S
                    else min(child.pause_s * 2, RESTART_PAUSE_S[1])
                )
                log.warning(
                    "%s worker %d (pid %d) exited with %s; starting it again in %.1f s",
                    child.role,
                    child.slot,
                    child.proc.pid,
                    child.proc.returncode,
                    child.pause_s,
                )
                child.proc, child.due_at = None, now + child.pause_s
            if child.proc is None and now >= child.due_at and not self.stopping:
                child.restarts += 1
                self._spawn(child, fd)

    def _stop_all(self) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + 20
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
