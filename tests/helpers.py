"""Plain helpers the tests share: constants, builders and the one way to start a server.

Fixtures live in ``conftest.py``; this module holds what is not a fixture, so a
test module imports from here and never from another test module or a conftest.
"""

from __future__ import annotations

import copy
import ctypes
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import requests
from PIL import Image
from werkzeug.security import generate_password_hash

from printers.layout import Receipt
from xephang import create_app, engine
from xephang.cli.demo import SERVICES, seed_demo
from xephang.clock import iso, today, utcnow
from xephang.engine import outbox
from xephang.errors import QueueError
from xephang.queries import queue as queue_queries
from xephang.storage import connect, migrate

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots and downloads of the browser tests
MONDAY_9AM = "2026-03-02T02:00:00+00:00"  # Monday 09:00 in Asia/Ho_Chi_Minh

# One round of PBKDF2 instead of scrypt: seeding eight demo users and every login
# would otherwise cost most of the suite's time. conftest.py puts it in place of
# ``xephang.engine.accounts.generate_password_hash``; test_password_hashing.py
# proves the production hash.
cheap_password_hash = partial(generate_password_hash, method="pbkdf2:sha256:1")


# --- every write of the app's own code inside a transaction ---------------------------
# DESIGN.md: "Every state change is one transaction opened with BEGIN IMMEDIATE". A
# statement that writes while its connection has no transaction open commits alone (and
# takes the lock without BEGIN IMMEDIATE's order); the suite watches every connection
# for one made by the app's code rather than by a test's own setup.

ROOT = Path(__file__).resolve().parent.parent
WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def app_code_frames(stack) -> list[str]:
    """The frames of the app's own code in ``stack`` (not the tests', not libraries')."""
    return [
        f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}"
        for f in stack
        if f.filename.startswith(str(ROOT))
        and not f.filename.startswith(str(ROOT / "tests"))
        and "/site-packages/" not in f.filename
    ]


class AutocommitWrites:
    """Installed on every connection ``sqlite3.connect`` opens in the test process:
    ``found`` lists each write of the app's code made outside a transaction, or in one
    not opened with ``BEGIN IMMEDIATE`` (a deferred ``BEGIN``, or a ``SAVEPOINT`` outside
    any: a reader that turns writer may find the database locked, busy wait or not)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.opened: dict[int, str] = {}  # connection → how its transaction began

    def check(self, conn: sqlite3.Connection, sql: str) -> None:
        first = sql.lstrip()[:20].upper()
        if not conn.in_transaction and first.startswith(("BEGIN", "SAVEPOINT")):
            self.opened[id(conn)] = " ".join(first.split()[:2])
            return
        if not WRITES.match(sql):
            return
        if conn.in_transaction and self.opened.get(id(conn), "BEGIN IMMEDIATE") in (
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE",
        ):
            return
        import traceback

        where = app_code_frames(traceback.extract_stack()[:-1])  # without this frame
        if where:
            how = self.opened.get(id(conn)) if conn.in_transaction else "no transaction"
            self.found.append(f"{' '.join(sql.split())[:100]} ({how}) at {where[-1]}")

    def install(self) -> None:
        connect_db = sqlite3.connect

        def watched(*args, **kwargs):
            conn = connect_db(*args, **kwargs)
            conn.set_trace_callback(partial(self.check, conn))
            return conn

        sqlite3.connect = watched


# --- database files: templates seeded once, copied per test --------------------------


def temp_root() -> str | None:
    """Where the tests keep their files: PYTEST_DEBUG_TEMPROOT if set, else the machine's
    tmpfs if it has one (None: the system's temporary folder). The engine commits with
    synchronous=FULL, and fsyncs to a disk are what these tests would otherwise wait on."""
    if os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return os.environ["PYTEST_DEBUG_TEMPROOT"]
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def copy_database(source: str | Path, target: str | Path) -> None:
    """A complete copy of a SQLite file through the backup API (pages still in the WAL
    included); ``target`` is created or overwritten."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@dataclass(frozen=True)
class Template:
    """A database file built once per session, and what building it returned
    (ids, device tokens, the board id) for the tests that use a copy of it."""

    path: Path
    info: dict = field(default_factory=dict)

    @classmethod
    def build(cls, path: str | Path, fill) -> Template:
        """Migrate a new file at ``path``, run ``fill(db)`` on it and keep its answer."""
        db = connect(path)
        try:
            migrate(db)
            info = fill(db) or {}
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        return cls(Path(path), info)

    def copy_to(self, path: str | Path) -> dict:
        """A new file at ``path`` with the template's contents; returns a copy of its info."""
        copy_database(self.path, path)
        return copy.deepcopy(self.info)

    def restore_into(self, db) -> dict:
        """Replace the contents of an open database (an app's, already migrated) with the
        template's; returns a copy of its info."""
        with closing(sqlite3.connect(self.path)) as src:
            src.backup(db.conn)
        return copy.deepcopy(self.info)


def login(client, username, password="xephang-demo"):
    """Log a test client in through the real form (CSRF included); return the CSRF token."""
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )
    assert response.status_code == 302, response.data
    with client.session_transaction() as sess:
        return sess["csrf"]


def make_office(db, services="ABC", counters=None, name="Văn phòng thử", hours=None):
    """An office with services by prefix and counters {number: prefixes}; returns ids."""
    office = engine.create_office(db, name, hours=hours)
    svc = {p: engine.add_service(db, office, p, f"Dịch vụ {p}") for p in services}
    counters = counters or {1: "AB", 2: "BA", 3: "C"}
    ctr = {n: engine.add_counter(db, office, n, [svc[p] for p in ps]) for n, ps in counters.items()}
    engine.add_priority_category(db, office, "elderly", "Người cao tuổi", "Elderly", 0)
    engine.add_priority_category(db, office, "child", "Trẻ dưới 6 tuổi", "Child", 1)
    return SimpleNamespace(db=db, office=office, services=svc, counters=ctr)


class _Recorder:
    """A connection that notes every statement run through it."""

    def __init__(self, real):
        self._real, self.seen = real, []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def execute(self, sql, params=()):
        self.seen.append((sql, params))
        return self._real.execute(sql, params)


def ticket_plans(db, calls) -> list[tuple[str, list[str]]]:
    """(sql, EXPLAIN QUERY PLAN steps) of every SELECT on tickets that ``calls`` ran on
    ``db``'s connection. Explained after the calls: without ANALYZE statistics (xephang
    runs none) a plan does not depend on the rows."""
    real = db.conn
    db.conn = recorder = _Recorder(real)
    try:
        for call in calls:
            call()
    finally:
        db.conn = real
    plans = []
    for sql, params in recorder.seen:
        if sql.lstrip().split()[0].upper() in ("SELECT", "WITH") and "tickets" in sql:
            plans.append((sql, [r[-1] for r in real.execute("EXPLAIN QUERY PLAN " + sql, params)]))
    return plans


def seed_track_record(db, office_id: int, service, counter_id: int, count: int = 20):
    """Yesterday, ``count`` tickets of a service served at one counter (1–3 minutes each),
    whose kept estimates were a minute off: a track record that lets screens say "dự kiến".
    """
    # 09:00 yesterday on the office's clock: the record stays inside yesterday at any hour
    # the test runs (from the wall clock less a day, it crossed into today after 22:20)
    zone = ZoneInfo(engine.get_office(db, office_id)["timezone"])
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    base = datetime.combine(yesterday, day_time(9), zone).astimezone(UTC)
    engine.open_counter(db, counter_id, now=base)
    for k in range(count):
        issued = base + timedelta(minutes=5 * k)
        ticket = engine.issue_ticket(db, office_id, service, now=issued, check_hours=False)
        tid = ticket.ticket["id"]
        called = engine.call_next(db, counter_id, now=issued + timedelta(minutes=2))
        assert called.ticket["id"] == tid
        engine.start(db, tid, now=issued + timedelta(minutes=2))
        engine.finish(db, tid, now=issued + timedelta(minutes=3 + k % 3))
        db.execute("UPDATE tickets SET estimated_wait_s = 60 WHERE id = ?", [tid])  # 2 min
    engine.close_counter(db, counter_id, now=base + timedelta(minutes=5 * count))


def confirm_pairing(client, kind: str, token: str):
    """Open a pairing link and press its button, as a person at the device does."""
    shown = client.get(f"/{kind}/pair?token={token}")
    assert shown.status_code == 200 and b'id="pair-confirm"' in shown.data, shown.data[:300]
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', shown.data).group(1).decode()
    return client.post(f"/{kind}/pair", data={"token": token, "csrf_token": csrf})


def pair_display(client, token: str) -> None:
    """Pair a test client as a display through /display/pair (link, then confirm)."""
    r = confirm_pairing(client, "display", token)
    assert r.status_code == 302 and r.location.endswith("/display/")


def pair_kiosk(client, token: str) -> str:
    """Pair a test client as a kiosk through /kiosk/pair; return the CSRF token the page holds."""
    r = confirm_pairing(client, "kiosk", token)
    assert r.status_code == 302 and r.location.endswith("/kiosk/")
    page = client.get("/kiosk/")
    assert page.status_code == 200
    return re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()


# --- a real server: `xephang serve` in a child process ------------------------------

SERVER_START_S = 120  # a guard against a server that never answers, not a speed limit


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports_after(count: int) -> int:
    """A port ``base`` of 127.0.0.1 with base + 1 … base + count free right now (a client
    connection of another test may hold any port: a worker that cannot bind its own
    exits and is started again)."""
    while True:
        base = free_port()
        if base + count > 65535:
            continue
        try:
            with ExitStack() as stack:
                for k in range(1, count + 1):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", base + k))
        except OSError:
            continue
        return base


_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it


def dies_with_parent() -> None:
    """``preexec_fn`` for a server a test starts: the kernel kills it (SIGKILL) when the
    test process dies, however it dies, so no server outlives its test run."""
    _prctl(_PR_SET_PDEATHSIG, 9)


class LiveServer:
    """One ``xephang serve`` process (the production gevent server) on 127.0.0.1 and a
    free port, on a database file; ``start()`` returns once /api/v1/health answers.

    ``restart()`` keeps the port (pages reconnect to the same URL); ``kill()`` is a
    SIGKILL. Its output goes to ``server-<port>.log`` beside the database.
    """

    def __init__(self, db_path: str | Path, env: dict | None = None, args=None):
        self.db_path = Path(db_path)
        self.env = dict(env or {})
        self.args = list(args or [])
        self.proc: subprocess.Popen | None = None
        self._use_port(free_port())

    def _use_port(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = self.db_path.parent / f"server-{port}.log"

    def start(self, timeout: float = SERVER_START_S) -> LiveServer:
        for _ in range(5):
            if self._spawn_and_wait(timeout):
                return self
            # Another process took the free port before the server bound it: take another.
            self._use_port(free_port())
        raise RuntimeError(f"server found no free port: {self.output()}")

    def _spawn_and_wait(self, timeout: float) -> bool:
        env = {
            **os.environ,
            "XEPHANG_PUBLIC_URL": self.url,
            "XEPHANG_SECRET_KEY": "test",
            "XEPHANG_PRINTER": "virtual",
            **self.env,
        }
        command = [sys.executable, "-c", "from xephang.cli import main; main()", "serve"]
        command += ["--db", str(self.db_path), "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*command, *self.args],
                cwd=self.db_path.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=dies_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.output():
                    return False
                raise RuntimeError(f"server exited: {self.output()}")
            with suppress(requests.RequestException):  # not listening yet
                if requests.get(self.url + "/api/v1/health", timeout=5).ok:
                    return True
            time.sleep(0.05)  # a port that starts listening sends no event to wait on
        self.kill()
        raise RuntimeError(f"server did not answer within {timeout} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or a power cut of the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> LiveServer:
        self.stop()
        if not self._spawn_and_wait(SERVER_START_S):
            raise RuntimeError(f"port {self.port} was taken while the server restarted")
        return self


# --- /api/v1 cases and the context that runs them (tests/test_api.py) ----------------


@dataclass
class Bad:
    """A request that must be refused with ``status`` and change nothing."""

    status: int
    json: object = None
    url: str | None = None  # defaults to the case's url
    state: str | None = None  # ticket state to set up instead of the case's
    role: str | None = None  # caller instead of the case's
    raw: str | None = None  # a raw JSON body instead of ``json``


@dataclass
class Case:
    method: str
    rule: str  # as in app.url_map
    url: str  # {office}, {counter}, {ticket} are filled in
    role: str  # a caller that may do it ("public" for open endpoints)
    json: object = None
    state: str | None = None  # the {ticket} is set up in this state
    status: int = 200
    check: object = None  # f(body, ctx) -> bool, for the happy path
    bad: list[Bad] = field(default_factory=list)
    denied: str | None = None  # a caller that must get 403
    counter_state: str | None = None  # "paused" to pause counter 1 first

    @property
    def action(self) -> str | None:
        return self.url.rsplit("/", 1)[-1] if "<action>" in self.rule else None

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def add_booking_of_now(db, office_id: int, code: str, token: str) -> None:
    """A booking of service A for today whose slot starts now, to check in (as ``code``).

    Made in each test's own copy, never in a template built once a session: a run that
    went past midnight in Hà Nội found yesterday's booking ("không phải hôm nay")."""
    now = utcnow()
    db.execute(
        "INSERT INTO appointments (office_id, service_id, day, slot_start, slot_end, code,"
        " token, created_at) SELECT office_id, id, ?, ?, ?, ?, ?, ? FROM services"
        " WHERE office_id = ? AND prefix = 'A'",
        [today("Asia/Ho_Chi_Minh", now), iso(now), iso(now + timedelta(minutes=30)), code,
         token, iso(now), office_id],
    )  # fmt: skip


class Ctx:
    """One test's app, client and database, and helpers to put tickets in a state."""

    def __init__(self, template, tmp_path):
        self.path = tmp_path / "xephang.db"
        copy_database(template.path, self.path)
        self.app = create_app(
            {
                "DB": str(self.path),
                "TESTING": True,
                "SECRET_KEY": "test",
                "PUBLIC_URL": "http://xephang.test",
                "PRINTER": "none",
                "PRINT_DIR": str(tmp_path / "printed"),
            }
        )
        self.client = self.app.test_client()
        self.db = connect(self.path)
        self.tokens = template.tokens
        self.office = template.info["office_id"]
        add_booking_of_now(self.db, self.office, "CHECK7", "check-in-test-token-0001")
        self.counters = {
            n: r[0]
            for n, r in enumerate(
                self.db.execute(
                    "SELECT id FROM counters WHERE office_id = ? ORDER BY number", [self.office]
                ),
                1,
            )
        }
        self.values = {
            "office": self.office,
            "counter": self.counters[1],
            "counter2": self.counters[2],
            "other_office": template.other_office,
            "other_counter": template.other_counter,
            "other_ticket": template.other_ticket,
        }
        self.ticket = None

    def make_ticket(self, state: str) -> int:
        """A new service-A ticket in ``state``, called (if at all) at counter 1."""
        ticket_id = engine.issue_ticket(self.db, self.office, "A").ticket["id"]
        if state in ("called", "serving", "done", "no_show"):
            held = engine.get_counter(self.db, self.counters[1])["current_ticket_id"]
            if held:  # a previous setup's ticket: free the counter for this one
                if engine.get_ticket(self.db, held)["status"] == "serving":
                    engine.finish(self.db, held)
                else:
                    engine.no_show(self.db, held)
            if engine.get_counter(self.db, self.counters[1])["state"] == "paused":
                engine.resume(self.db, self.counters[1])  # paused by an earlier request
            engine.call_ticket(self.db, self.counters[1], ticket_id, "test")
        if state in ("serving", "done"):
            engine.start(self.db, ticket_id)
        if state == "done":
            engine.finish(self.db, ticket_id)
        if state == "no_show":
            engine.no_show(self.db, ticket_id)
        assert engine.get_ticket(self.db, ticket_id)["status"] == state
        return ticket_id

    def prepare(self, state: str | None, counter_state: str | None = None) -> None:
        if counter_state == "paused":
            engine.pause(self.db, self.counters[1], "test")
        if state == "phone_verified":  # phones proven by a one-time code: SMS set up
            self.app.config["SMS_URL"] = "http://127.0.0.1:9/sms"
            engine.set_office_settings(self.db, self.office, {"online_identity": "phone"})
            return
        if state:
            self.ticket = self.make_ticket(state)
            code = engine.get_ticket(self.db, self.ticket)["code"]
            self.values.update(ticket=self.ticket, code=code)

    def fill(self, value):
        """Put the context's ids into a URL or JSON body."""
        if isinstance(value, str):
            whole = re.fullmatch(r"\{(\w+)\}", value)
            if whole and isinstance(self.values.get(whole[1]), int):
                return self.values[whole[1]]
            return value.format(**self.values) if "{" in value else value
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def request(self, method, url, role, json=None, raw=None, headers=None):
        headers = dict(headers or {})
        if role not in (None, "public"):
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        kwargs = {}
        if raw is not None:
            kwargs = {"data": raw, "content_type": "application/json"}
        elif json is not None:
            kwargs = {"json": self.fill(json)}
        return self.client.open(self.fill(url), method=method, headers=headers, **kwargs)

    def dump(self) -> dict:
        return {
            t: self.db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in (
                "tickets",
                "ticket_events",
                "counters",
                "visits",
                "ratings",
                "appointments",
                "online_claims",
            )
        }

    def close(self):
        self.db.close()


# --- a generated month of office work (reports, exports, the manager's pages) -------

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST, LAST = "2022-12-19", "2023-01-13"
SERVICE_TARGET = ("C", 600, "2023-01-09")  # prefix, seconds, effective from
# The month's office closes at 16:00 on weekdays; counters work on until ~16:30.
MONTH_HOURS = {
    d: [["07:30", "11:30"], ["13:00", "16:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
}
NOW = datetime(2023, 2, 1, 3, 0, tzinfo=UTC)  # when the month's reports are asked for


def _users(db) -> dict[int, int]:
    """counter number -> officer user id (canbo<n> works at counter n)."""
    return {
        n: db.execute("SELECT id FROM users WHERE username = ?", [f"canbo{n}"]).fetchone()[0]
        for n in range(1, 7)
    }


def simulate_day(
    db, office_id: int, day: date, rng: random.Random, counters: dict, officers: dict
) -> None:
    """One office day through the engine: arrivals interleaved with counter work."""
    clock = datetime(day.year, day.month, day.day, 7, 30, tzinfo=TZ)
    closing = clock.replace(hour=16, minute=30)
    to_issue = rng.randint(10, 16)
    holding: dict[int, int | None] = dict.fromkeys(counters.values())

    def tick(low=20, high=420):
        nonlocal clock
        clock += timedelta(seconds=rng.randint(low, high), milliseconds=rng.randint(0, 999))
        return clock

    while clock < closing:
        if to_issue and rng.random() < 0.3:
            prefix = rng.choice("AABBCDEF")
            priority = "elderly" if rng.random() < 0.2 else None
            engine.issue_ticket(
                db, office_id, prefix, priority=priority, now=tick(), check_hours=False
            )
            to_issue -= 1
            continue
        number = rng.choice(list(counters))
        cid, uid = counters[number], officers[number]
        current = holding[cid]
        try:
            if current is None:
                if to_issue == 0 and not queue_queries.waiting_list(db, office_id, limit=1):
                    break
                out = engine.call_next(db, cid, user_id=uid, now=tick())
                holding[cid] = out.ticket["id"] if out.ticket else None
                continue
            status = engine.get_ticket(db, current)["status"]
            roll = rng.random()
            if status == "called":
                if roll < 0.12:
                    engine.recall(db, current, user_id=uid, now=tick(5, 60))
                elif roll < 0.22:
                    engine.no_show(db, current, user_id=uid, now=tick(30, 90))
                    holding[cid] = None
                elif roll < 0.27:
                    engine.return_to_queue(
                        db, current, user_id=uid, reason="thiếu giấy tờ", now=tick(30, 90)
                    )
                    holding[cid] = None
                elif roll < 0.30:
                    engine.cancel(db, current, user_id=uid, reason="nhầm dịch vụ", now=tick())
                    holding[cid] = None
                else:
                    engine.start(db, current, user_id=uid, now=tick(10, 90))
            elif status == "serving":
                if roll < 0.15:
                    engine.transfer(
                        db,
                        current,
                        service=rng.choice("ACD"),
                        user_id=uid,
                        reason="chuyển lĩnh vực",
                        now=tick(60, 300),
                    )
                    holding[cid] = None
                else:
                    dossier = f"HS{day:%m%d}-{current}" if roll < 0.6 else None
                    done = engine.finish(
                        db, current, user_id=uid, dossier_code=dossier, now=tick(60, 900)
                    )
                    holding[cid] = None
                    if rng.random() < 0.6:
                        engine.rate_ticket(
                            db, current, rng.choice([3, 3, 2, 2, 1]), now=tick(5, 30)
                        )
                    assert done.ticket["status"] == "done"
            else:
                holding[cid] = None
        except QueueError:
            holding[cid] = None
    for current in holding.values():  # finish what counters hold at closing
        status = engine.get_ticket(db, current)["status"] if current else None
        if status == "serving":
            engine.finish(db, current, user_id=None, now=tick(10, 60))
        elif status == "called":
            engine.no_show(db, current, now=tick(10, 60))
    # Some citizens give up and cancel while still waiting (own generator: the
    # day's other draws stay as they were).
    gives_up = random.Random(day.toordinal())
    if gives_up.random() < 0.6:
        left = engine.issue_ticket(
            db, office_id, gives_up.choice("BD"), now=tick(), check_hours=False
        ).ticket
        engine.cancel(db, left["id"], now=tick(60, gives_up.choice([300, 1500])))
    # A few tickets are left waiting and expire at the close of day, after the
    # office's hours ended (MONTH_HOURS): they waited until closing time.
    if rng.random() < 0.5:
        engine.issue_ticket(db, office_id, "E", now=tick(), check_hours=False)
    late = clock.replace(hour=16, minute=45)  # some days the close runs after hours
    closed_at = max(tick(), late) if gives_up.random() < 0.5 else tick()
    engine.close_day(db, office_id, now=closed_at, day=day.isoformat())


def seed_demo_any_hour(db) -> dict:
    """``seed_demo``, with online numbers taken until midnight: the demo office is always
    open, so its day ends at midnight and online numbers stop 30 minutes before; a test
    taking one at the wall clock would otherwise fail from 23:30 in the office's zone.
    (The cut-off itself is tested with an injected clock, tests/test_booking.py.)"""
    info = seed_demo(db)
    engine.set_office_settings(db, info["office_id"], {"online_close_before_min": 0})
    return info


def fill_month(db, seed: int = 7) -> dict:
    """Fill a migrated database with the demo office and the test month, through the
    engine with an injected clock; return the office id, service and counter ids."""
    info = seed_demo(db)
    office_id = info["office_id"]
    office = engine.get_office(db, office_id)
    engine.update_office(
        db,
        office_id,
        office["name"],
        office["address"],
        office["timezone"],
        MONTH_HOURS,
        office["ticket_footer"],
    )
    services = {
        r["prefix"]: r["id"]
        for r in db.query("SELECT id, prefix FROM services WHERE office_id = ?", [office_id])
    }
    engine.set_target(
        db,
        office_id,
        "avg_wait_s",
        SERVICE_TARGET[1],
        SERVICE_TARGET[2],
        service_id=services[SERVICE_TARGET[0]],
    )
    counters = {
        r["number"]: r["id"]
        for r in db.query("SELECT id, number FROM counters WHERE office_id = ?", [office_id])
    }
    officers = _users(db)
    rng = random.Random(seed)
    day = date.fromisoformat(FIRST)
    while day <= date.fromisoformat(LAST):
        if day.weekday() < 5:
            simulate_day(db, office_id, day, rng, counters, officers)
        day += timedelta(days=1)
    # Open all day again (tests issue tickets at any hour); the month's expired tickets
    # keep the leaving time their own day's hours gave them.
    engine.update_office(
        db,
        office_id,
        office["name"],
        office["address"],
        office["timezone"],
        None,
        office["ticket_footer"],
    )
    return {"office_id": office_id, "services": services, "counters": counters}


# --- receipts: one example, and our own decoder of the bytes sent to a printer -------

URL = "http://192.168.1.10:5000/t/Zm9vYmFyYmF6cXV4MTIzNA"

RECEIPT = Receipt(
    office_name="Trung tâm Phục vụ hành chính công tỉnh Ninh Bình",
    service_vi="Lao động - Thương binh và Xã hội",
    service_en="Labour and social affairs",
    code="F023",
    issued_at="26/11/2026 14:05",
    people_ahead=7,
    wait_vi="Thời gian chờ dự kiến: khoảng 18 phút",
    wait_en="Estimated wait: about 18 min",
    tracker_url=URL,
    footer="Cảm ơn quý khách! Quét mã QR để theo dõi số thứ tự.",
    priority_vi="Người cao tuổi",
)

# A lookup table: one raster byte -> eight grey pixels (bit set = printed = black).
BITS = [bytes(0 if byte & (0x80 >> i) else 255 for i in range(8)) for byte in range(256)]


def walk_commands(data: bytes) -> list[tuple[str, bytes]]:
    """Split an ESC/POS stream into the commands a receipt may use; fail on anything else.

    In particular no byte is printable text: Vietnamese goes out only as raster.
    """
    commands, i = [], 0
    while i < len(data):
        if data[i : i + 2] == b"\x1b@":
            commands.append(("init", b""))
            i += 2
        elif data[i : i + 3] == b"\x1dv0":
            width_bytes = data[i + 4] | data[i + 5] << 8
            height = data[i + 6] | data[i + 7] << 8
            end = i + 8 + width_bytes * height
            assert end <= len(data), "truncated raster"
            commands.append(("raster", data[i:end]))
            i = end
        elif data[i : i + 2] == b"\x1bd":
            commands.append(("feed", data[i : i + 3]))
            i += 3
        elif data[i : i + 2] == b"\x1dV":
            commands.append(("cut", data[i : i + 3]))
            i += 3
        else:
            raise AssertionError(f"unexpected byte {data[i]:#04x} at {i}: not a raster command")
    return commands


def decode_gs_v0(data: bytes) -> Image.Image:
    """Our own GS v 0 decoder: stack every raster block into one greyscale image."""
    blocks = []
    for kind, command in walk_commands(data):
        if kind != "raster":
            continue
        assert command[3] == 0, "normal density expected"
        width_bytes = command[4] | command[5] << 8
        height = command[6] | command[7] << 8
        pixels = b"".join(BITS[b] for b in command[8:])
        blocks.append(Image.frombytes("L", (width_bytes * 8, height), pixels))
    assert blocks, "no raster in the job"
    image = Image.new("L", (blocks[0].width, sum(b.height for b in blocks)), 255)
    y = 0
    for block in blocks:
        assert block.width == blocks[0].width
        image.paste(block, (0, y))
        y += block.height
    return image


# --- pages in a real Chromium (tests/e2e) -------------------------------------------


def issue_ticket(server, page=None, service="A") -> dict:
    """Issue by pressing the service on the kiosk page, or through the API with the kiosk token."""
    if page is not None:
        open_paired(page, f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
        name = next(vi for prefix, vi, *_ in SERVICES if prefix == service)
        button = page.locator(".k-service[data-service]", has_text=name).first
        with page.expect_response(
            lambda r: "/tickets" in r.url and r.request.method == "POST"
        ) as response:
            button.click()
        assert response.value.status == 201
        ticket = response.value.json()["ticket"]
        page.locator(f"text={ticket['code']}").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "flow-1-kiosk.png"))
        return ticket
    r = requests.post(
        f"{server.url}/api/v1/tickets",
        json={"service": service},
        headers={"Authorization": f"Bearer {server.demo['kiosk_token']}"},
    )
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def press(page, key: str) -> None:
    """Press a counter shortcut once the previous action's request has finished and the
    key's button is enabled: the page ignores a shortcut whose button is disabled (it is
    while a refreshed state is on its way), so pressing earlier would test the timing."""
    page.wait_for_function(
        """key => {
            const button = document.querySelector(`[data-key="${key.toLowerCase()}"]`);
            return document.body.dataset.busy !== '1' && !(button && button.disabled);
        }""",
        arg=key,
    )
    page.keyboard.press(key)


def open_paired(page, link: str) -> None:
    """Open a pairing link in a page and press "Ghép nối" (only pairs already there skip it)."""
    page.goto(link)
    if page.locator("#pair-button").count():
        with page.expect_navigation():
            page.click("#pair-button")


def open_display(browser, server):
    display = browser.new_page(viewport={"width": 1920, "height": 1080})
    open_paired(display, f"{server.url}/display/pair?token={server.demo['display_token']}")
    assert display.url == f"{server.url}/display/"
    display.wait_for_function("window.xephangBoard && window.xephangBoard.state()")
    return display


def login_page(browser, server, username: str, path: str, viewport=None, locale=None):
    """A new page logged in as ``username`` through the login form, at ``path``."""
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1000}, locale=locale)
    page.goto(server.url + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.demo["password"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def open_counter(browser, server, username="canbo1", counter_number=1):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(f"{server.url}/counter/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.demo["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/counter/")
    page.locator("#dlg-counter").wait_for(state="visible")
    page.click(f"#counter-choices button:has-text('Quầy {counter_number}')")
    page.wait_for_function(
        f"document.getElementById('counter-title').textContent.includes('{counter_number}')"
    )
    page.wait_for_function("!document.querySelector('[data-action=\"call-next\"]').disabled")
    return page


# --- messages out (notifiers/): the demo office behind an app with channels set up ----


class NotifyOffice:
    """The demo office behind an app whose outbox worker the test drives (``worker``:
    ``run_once``, ``drain``); tickets through the API with an officer's token."""

    def __init__(self, tmp_path, demo_template, **settings):
        import notifiers

        self.path = tmp_path / "xephang.db"
        self.app = create_app(
            {
                "DB": str(self.path),
                "TESTING": True,
                "SECRET_KEY": "test",
                "PUBLIC_URL": "http://xephang.test",
                "PRINTER": "none",
                "PRINT_DIR": str(tmp_path / "printed"),
                "NOTIFY_RETRY_BASE_S": 0.0,
                "NOTIFY_RETRY_MAX_S": 0.0,
                "NOTIFY_TIMEOUT_S": 30.0,
                **settings,
            }
        )
        self.db = connect(self.path)
        self.demo = demo_template.restore_into(self.db)
        self.office = self.demo["office_id"]
        self.client = self.app.test_client()
        from xephang.engine import accounts

        self.officer = {"Authorization": "Bearer " + accounts.add_user_token(self.db, "canbo1")}
        self.counters = {
            r[1]: r[0]
            for r in self.db.execute(
                "SELECT id, number FROM counters WHERE office_id = ?", [self.office]
            )
        }
        self.worker = notifiers.get_notifier(self.app)

    def set(self, **values) -> None:
        engine.set_office_settings(self.db, self.office, values)

    def issue(self, service="A", status=201, **notify) -> dict:
        body = {"service": service}
        if notify:
            body["notify"] = notify
        r = self.client.post("/api/v1/tickets", json=body, headers=self.officer)
        assert r.status_code == status, r.json
        return r.json

    def call(self, counter: int = 1) -> dict | None:
        r = self.client.post(
            f"/api/v1/counters/{self.counters[counter]}/call-next", headers=self.officer
        )
        assert r.status_code == 200, r.json
        return r.json["ticket"]

    def act(self, ticket_id: int, action: str, **body) -> dict:
        r = self.client.post(
            f"/api/v1/tickets/{ticket_id}/{action}", json=body, headers=self.officer
        )
        assert r.status_code == 200, r.json
        return r.json["ticket"]

    def expand(self) -> int:
        """The worker's first step: the "near" messages of the lines that moved."""
        return outbox.expand_moves(self.db)

    def moves(self) -> list[dict]:
        """The lines noted as moved whose "near" messages are not written yet."""
        return list(self.db.query("SELECT * FROM outbox_moves ORDER BY service_id"))

    def messages(self, expand: bool = True, **where) -> list[dict]:
        """The outbox rows (matching ``where``), as the worker's next round finds them:
        the lines that moved expanded first, unless ``expand`` is false."""
        if expand:
            self.expand()
        sql = "SELECT * FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        return list(self.db.query(sql + " ORDER BY id", list(where.values())))

    def close(self) -> None:
        self.worker.stop()
        self.db.close()


# Pairs of visible elements matching a selector whose boxes overlap (by more than 1 px).
OVERLAPS_JS = """sel => {
  const els = [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length);
  const r = els.map(e => e.getBoundingClientRect());
  const name = e => (e.id || e.className || e.tagName) + ' ' + e.textContent.trim().slice(0, 24);
  const out = [];
  for (let i = 0; i < r.length; i++) {
    for (let j = i + 1; j < r.length; j++) {
      if (els[i].contains(els[j]) || els[j].contains(els[i])) continue;
      if (r[i].left < r[j].right - 1 && r[j].left < r[i].right - 1 &&
          r[i].top < r[j].bottom - 1 && r[j].top < r[i].bottom - 1) {
        out.push([name(els[i]), name(els[j])]);
      }
    }
  }
  return out;
}"""

# Visible elements matching a selector that stick out of the viewport, or whose own text
# is cut (it overflows the element's box without an ellipsis meant for it).
OUTSIDE_JS = """sel => [...document.querySelectorAll(sel)]
  .filter(e => e.getClientRects().length)
  .filter(e => { const b = e.getBoundingClientRect();
                 return b.left < -1 || b.top < -1 || b.right > innerWidth + 1
                   || b.bottom > innerHeight + 1; })
  .map(e => (e.id || e.className || e.tagName) + ' ' + e.textContent.trim().slice(0, 24))"""


def boxes_overlap(page, selector: str) -> list:
    """Pairs of visible elements matching ``selector`` (neither inside the other) that overlap."""
    return page.evaluate(OVERLAPS_JS, selector)


def outside_viewport(page, selector: str) -> list:
    """Visible elements matching ``selector`` that are not wholly inside the viewport."""
    return page.evaluate(OUTSIDE_JS, selector)


# Headless Chromium (driven by Playwright) lets Web Audio start without a gesture; this puts
# back what desktop browsers do: an AudioContext stays suspended until the user clicks or types.
AUTOPLAY_POLICY = """
(() => {
  let activated = false;
  const activate = e => { if (e.isTrusted) activated = true; };
  addEventListener("pointerdown", activate, true);
  addEventListener("keydown", activate, true);
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) {
      super(...args);
      if (!activated) this.suspend();
    }
    resume() {
      return activated ? super.resume()
        : Promise.reject(new DOMException("blocked until a gesture", "NotAllowedError"));
    }
  };
})();
"""


class LockPauses:
    """Stands in for the transaction module's ``time`` (``begin_immediate``): records each
    pause the writer takes while another connection holds the write lock, and ends that
    hold after ``release_after`` pauses (``None``: never)."""

    def __init__(self, holder, release_after: int | None):
        self.holder, self.release_after, self.taken = holder, release_after, []

    def sleep(self, seconds: float) -> None:
        self.taken.append(seconds)
        if self.release_after is not None and len(self.taken) == self.release_after:
            self.holder.execute("COMMIT")
        time.sleep(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


def hold_write_lock(path) -> sqlite3.Connection:
    """Another writer (another worker process, as far as SQLite can tell) in a transaction."""
    holder = connect(path)
    holder.conn.execute("BEGIN IMMEDIATE")
    holder.conn.execute("UPDATE offices SET name = name")
    return holder.conn
