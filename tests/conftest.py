"""Shared fixtures: a fresh SQLite file per test, the app, clients and tokens."""

from __future__ import annotations

import pytest

from xephang import create_app
from xephang.cli.demo import seed_demo
from xephang.engine import accounts
from xephang.storage import connect


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "xephang.db")


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
def demo(db):
    """The demo office: services A–F, counters 1–6, users, a kiosk and a display token."""
    return seed_demo(db)


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


# --- engine-level fixtures (no app): a bare migrated file and a small office ---

MONDAY_9AM = "2026-03-02T02:00:00+00:00"  # Monday 09:00 in Asia/Ho_Chi_Minh


def make_office(db, services="ABC", counters=None, name="Văn phòng thử", hours=None):
    """An office with services by prefix and counters {number: prefixes}; returns ids."""
    from types import SimpleNamespace

    from xephang import engine

    office = engine.create_office(db, name, hours=hours)
    svc = {p: engine.add_service(db, office, p, f"Dịch vụ {p}") for p in services}
    counters = counters or {1: "AB", 2: "BA", 3: "C"}
    ctr = {n: engine.add_counter(db, office, n, [svc[p] for p in ps]) for n, ps in counters.items()}
    engine.add_priority_category(db, office, "elderly", "Người cao tuổi", "Elderly", 0)
    engine.add_priority_category(db, office, "child", "Trẻ dưới 6 tuổi", "Child", 1)
    return SimpleNamespace(db=db, office=office, services=svc, counters=ctr)


@pytest.fixture
def bare_db(tmp_path):
    """A migrated database file without an app."""
    from xephang.storage import migrate

    database = connect(str(tmp_path / "engine.db"))
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def queue(bare_db):
    """A small office: services A, B, C; counter 1 serves A then B, 2 B then A, 3 C."""
    return make_office(bare_db)
