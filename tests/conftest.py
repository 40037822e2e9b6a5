"""Shared fixtures: a fresh SQLite file per test, copied from templates seeded once per
session; the app, clients and tokens; real servers; cheap password hashing throughout.

Plain helpers (no fixtures) are in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest

from tests.helpers import (
    AutocommitWrites,
    Ctx,
    LiveServer,
    NotifyOffice,
    Template,
    cheap_password_hash,
    dies_with_parent,
    fill_month,
    free_port,
    make_office,
    seed_demo_any_hour,
    temp_root,
)
from xephang import create_app, engine
from xephang.engine import accounts
from xephang.storage import connect

# pytest's tmp_path in RAM when the machine has a tmpfs: every commit of the engine
# is durable (synchronous=FULL), and durability is not what these tests are about.
# An explicit PYTEST_DEBUG_TEMPROOT or --basetemp still wins.
if temp_root():
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", temp_root())

PRODUCTION_PASSWORD_HASH = accounts.generate_password_hash

AUTOCOMMIT = AutocommitWrites()
AUTOCOMMIT.install()


@pytest.fixture(autouse=True)
def every_write_in_a_transaction():
    """Fails a test whose run made the app's code write outside a transaction, or in one
    not opened with BEGIN IMMEDIATE."""
    AUTOCOMMIT.found.clear()
    yield
    assert AUTOCOMMIT.found == [], "writes outside a transaction (DESIGN: one transaction a change)"


def pytest_collection_modifyitems(items):
    """Run the long tests (a browser, real server processes, many generated examples)
    first: with several workers (pytest-xdist) the short ones then fill in around them,
    instead of one long test finishing the run alone. The order within each group is kept."""

    def long(item) -> bool:
        return bool(
            item.get_closest_marker("e2e")
            or item.get_closest_marker("slow")
            or {"live_servers", "server"} & set(item.fixturenames)
            or getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        )

    items.sort(key=lambda item: not long(item))


# --- password hashing ---------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Every user the tests create gets a one-round PBKDF2 hash instead of scrypt."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "generate_password_hash", cheap_password_hash)
        yield


@pytest.fixture
def production_password_hashing(monkeypatch):
    """The hash the product stores (werkzeug's default, scrypt), for the test that proves it."""
    monkeypatch.setattr(accounts, "generate_password_hash", PRODUCTION_PASSWORD_HASH)


# --- templates: seeded once per session, copied for each test -----------------------


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> Template:
    """A migrated database with nothing in it."""
    return Template.build(tmp_path_factory.mktemp("template") / "schema.db", lambda db: {})


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, cheap_password_hashing) -> Template:
    """The demo office; ``info`` is what ``seed_demo`` returned (ids, device tokens, board)."""
    return Template.build(tmp_path_factory.mktemp("template") / "demo.db", seed_demo_any_hour)


@pytest.fixture(scope="session")
def month_template(tmp_path_factory, cheap_password_hashing) -> Template:
    """The demo office and a generated month of its work (``helpers.fill_month``)."""
    return Template.build(tmp_path_factory.mktemp("template") / "month.db", fill_month)


@pytest.fixture(scope="session")
def api_template(tmp_path_factory, demo_template):
    """The demo office and a second office, with a token for every kind of caller."""
    path = tmp_path_factory.mktemp("template") / "api.db"
    info = demo_template.copy_to(path)
    db = connect(path)
    try:
        tokens = {
            "officer": accounts.add_user_token(db, "canbo1"),
            "manager": accounts.add_user_token(db, "quanly"),
            "admin": accounts.add_user_token(db, "admin"),
            "kiosk": info["kiosk_token"],
            "display": info["display_token"],
            "printer": accounts.add_device(db, info["office_id"], "printer")[1],
        }
        other = engine.create_office(db, "Văn phòng khác")
        service = engine.add_service(db, other, "A", "Hộ tịch")
        other_counter = engine.add_counter(db, other, 1, [service])
        other_ticket = engine.issue_ticket(db, other, "A").ticket["id"]
        # (CHECK7, a booking of today to check in, is made in each test's copy: Ctx)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return SimpleNamespace(
        path=path,
        info=info,
        tokens=tokens,
        other_office=other,
        other_counter=other_counter,
        other_ticket=other_ticket,
    )


# --- one test's app and database ------------------------------------------------------


@pytest.fixture
def db_path(tmp_path, schema_template):
    """A fresh, migrated database file for this test."""
    path = tmp_path / "xephang.db"
    schema_template.copy_to(path)
    return str(path)


@pytest.fixture
def app(db_path, tmp_path):
    app = create_app(
        {
            "DB": db_path,
            "TESTING": True,
            "SECRET_KEY": "test",
            "PUBLIC_URL": "http://xephang.test",
            "PRINTER": "virtual",
            "PRINT_DIR": str(tmp_path / "printed"),
        }
    )
    yield app


@pytest.fixture
def db(app):
    database = connect(app.config["DB"])
    yield database
    database.close()


@pytest.fixture
def demo(db, demo_template):
    """The demo office: services A–F, counters 1–6, users, a kiosk and a display token
    (a copy of the session's template, so the tokens are the template's)."""
    return demo_template.restore_into(db)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def tokens(db, demo):
    """Bearer headers for each demo role and device."""

    def bearer(token):
        return {"Authorization": f"Bearer {token}"}

    return {
        "officer": bearer(accounts.add_user_token(db, "canbo1")),
        "manager": bearer(accounts.add_user_token(db, "quanly")),
        "admin": bearer(accounts.add_user_token(db, "admin")),
        "kiosk": bearer(demo["kiosk_token"]),
        "display": bearer(demo["display_token"]),
    }


@pytest.fixture
def ctx(api_template, tmp_path):
    """An app on a copy of ``api_template`` with helpers to put tickets in a state."""
    context = Ctx(api_template, tmp_path)
    yield context
    context.close()


@pytest.fixture
def month(month_template, tmp_path):
    """A fresh copy of the generated month: ``(db, info, path)``."""
    path = str(tmp_path / "month.db")
    info = month_template.copy_to(path)
    database = connect(path)
    yield database, info, path
    database.close()


# --- engine-level fixtures (no app): a bare migrated file and a small office ---


@pytest.fixture
def bare_db(tmp_path, schema_template):
    """A migrated database file without an app."""
    path = tmp_path / "engine.db"
    schema_template.copy_to(path)
    database = connect(path)
    yield database
    database.close()


@pytest.fixture
def queue(bare_db):
    """A small office: services A, B, C; counter 1 serves A then B, 2 B then A, 3 C."""
    return make_office(bare_db)


# --- real servers: `xephang serve` processes ----------------------------------------


@pytest.fixture
def demo_file(tmp_path, demo_template):
    """A fresh database file with the demo office for a server process: ``(path, info)``."""
    path = tmp_path / "server.db"
    return path, demo_template.copy_to(path)


@pytest.fixture
def live_servers():
    """``start(db_path, env=None, args=None)`` starts a ``helpers.LiveServer``; every
    server started is stopped at the end of the test."""
    started: list[LiveServer] = []

    def start(db_path, env=None, args=None) -> LiveServer:
        server = LiveServer(db_path, env=env, args=args)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_demo_server(demo_file, live_servers, tmp_path):
    """``start(env=None)``: a server on a fresh copy of the demo office, with ``.demo``
    (the template's tokens and board id), ``.officer`` (a bearer header of canbo1) and
    ``.printed`` (the virtual printer's folder)."""

    def start(env=None, args=None) -> LiveServer:
        path, info = demo_file
        db = connect(path)
        try:
            officer = {"Authorization": "Bearer " + accounts.add_user_token(db, "canbo1")}
        finally:
            db.close()
        server = live_servers(path, env=env, args=args)
        server.demo, server.officer, server.printed = info, officer, tmp_path / "printed"
        return server

    return start


# --- messages out: fake providers on 127.0.0.1 and an office to send from -------------


@pytest.fixture
def provider():
    """A fake HTTP provider (SMS gateway, Zalo, webhook receiver, push service) on
    127.0.0.1 (``notifiers.testing.FakeHttpService``)."""
    from notifiers.testing import FakeHttpService

    fake = FakeHttpService()
    yield fake
    fake.stop()


@pytest.fixture
def notify_office(tmp_path, demo_template):
    """``make(**settings)``: the demo office behind an app with these server settings
    (``helpers.NotifyOffice``); closed at the end of the test."""
    made: list[NotifyOffice] = []

    def make(**settings) -> NotifyOffice:
        office = NotifyOffice(tmp_path, demo_template, **settings)
        made.append(office)
        return office

    yield make
    for office in made:
        office.close()


# --- Redis: the Socket.IO message queue of several server processes ------------------


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of this test on 127.0.0.1 and a free port: its URL."""
    REDIS = shutil.which("redis-server")
    if REDIS is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=dies_with_parent,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 120  # a guard against a hang
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)  # not listening yet: the port has no event to wait on
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)
