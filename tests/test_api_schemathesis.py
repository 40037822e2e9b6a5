"""Schemathesis against the served OpenAPI document: generated requests, as an officer, a
manager and an admin, never get a 5xx and every answer matches what the document says.

Bounded (``MAX_EXAMPLES`` per operation, each case sent with the three roles' tokens),
so it runs in every ``.ci/run``: one app and database per operation, like a real server
that sees one request after another. (Schemathesis' own pytest plugin does not run on
this pytest; its strategies are driven with Hypothesis directly.)
"""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from xephang import create_app
from xephang.engine import accounts
from xephang.storage import connect

MAX_EXAMPLES = 40
ROLES = ("canbo1", "quanly", "admin")


def _app(path: str):
    return create_app(
        {
            "DB": path,
            "TESTING": True,
            "SECRET_KEY": "t",
            "PRINTER": "none",
            "PUBLIC_URL": "http://xephang.test",
            "PRINT_WORKER": False,
            # every channel set up, so that a well-formed "notify" is accepted (nothing is
            # sent: TESTING starts no outbox worker)
            "SMS_URL": "http://127.0.0.1:9/sms",
            "ZALO_ACCESS_TOKEN": "t",
            "SMTP_HOST": "127.0.0.1",
        }
    )


def _operations() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        document = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _app(folder + "/ops.db"))
        return sorted(
            f"{r.ok().method.upper()} {r.ok().path}" for r in document.get_all_operations()
        )


@pytest.fixture
def served(tmp_path, demo_template):
    path = tmp_path / "api.db"
    demo_template.copy_to(path)
    app = _app(str(path))
    db = connect(path)
    tokens = {name: accounts.add_user_token(db, name) for name in ROLES}
    db.close()
    return app, tokens


@pytest.mark.parametrize("name", _operations())
def test_generated_requests_never_fail_and_match_the_document(served, name):
    app, tokens = served
    document = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    method, path = name.split(" ", 1)
    (operation,) = [
        r.ok()
        for r in document.get_all_operations()
        if r.ok().method.upper() == method and r.ok().path == path
    ]

    @given(operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        for role in ROLES:
            case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"})

    run()
