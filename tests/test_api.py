"""Every /api/v1 endpoint: happy path, bad input, wrong role, no login.

The table ``API_CASES`` drives four tests per case. ``test_every_endpoint_is_covered``
lists the app's /api/v1 routes and fails for a route (or an action of an
``<action>`` route) without a case, so a new endpoint cannot ship untested.
Another test module may cover its own endpoints by defining a module-level
``API_CASES`` list of ``Case`` (imported from ``tests.helpers``); they are collected too.
The ``ctx`` fixture (``tests/conftest.py``) is an app on a copy of the seeded
``api_template``.

Bad input, wrong role and no login must answer with the one error shape
``{"ok": false, "error": ..., "status": N}`` and leave tickets, events and
counters exactly as they were.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from tests.helpers import Bad, Case
from xephang import engine
from xephang.engine import accounts

T_ACTION = "/api/v1/tickets/<int:ticket_id>/<action>"
C_ACTION = "/api/v1/counters/<int:counter_id>/<action>"
NO_INPUT = {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/offices"}

API_CASES = [
    Case("GET", "/api/v1/health", "/api/v1/health", "public"),
    Case(
        "GET",
        "/api/v1/openapi.json",
        "/api/v1/openapi.json",
        "public",
        check=lambda b, c: b["openapi"].startswith("3."),
    ),
    Case(
        "GET",
        "/api/v1/offices",
        "/api/v1/offices",
        "display",
        denied="printer",
        check=lambda b, c: [o["id"] for o in b["offices"]] == [c.office],
    ),
    Case(
        "GET",
        "/api/v1/offices/<int:office_id>/snapshot",
        "/api/v1/offices/{office}/snapshot",
        "display",
        denied="printer",
        state="called",
        check=lambda b, c: (
            b["snapshot"]["counters"][0]["current_ticket"]["id"] == c.ticket
            and b["snapshot"]["seq"] > 0
            and len(b["snapshot"]["services"]) == 6
        ),
        bad=[
            Bad(404, url="/api/v1/offices/9999/snapshot", role="admin"),
            Bad(404, url="/api/v1/offices/{other_office}/snapshot"),
        ],
    ),
    Case(
        "GET",
        "/api/v1/offices/<int:office_id>/waiting",
        "/api/v1/offices/{office}/waiting",
        "officer",
        denied="kiosk",
        state="waiting",
        check=lambda b, c: [t["id"] for t in b["tickets"]] == [c.ticket],
        bad=[
            Bad(400, url="/api/v1/offices/{office}/waiting?service=abc"),
            Bad(400, url="/api/v1/offices/{office}/waiting?limit=many"),
            Bad(400, url="/api/v1/offices/{office}/waiting?limit=-1"),
            Bad(400, url="/api/v1/offices/{office}/waiting?limit=0"),
            Bad(404, url="/api/v1/offices/{other_office}/waiting"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/offices/<int:office_id>/close-day",
        "/api/v1/offices/{office}/close-day",
        "manager",
        denied="officer",
        state="waiting",
        check=lambda b, c: b["expired"] == 1,
        bad=[
            Bad(404, url="/api/v1/offices/9999/close-day", role="admin"),
            Bad(404, url="/api/v1/offices/{other_office}/close-day"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/tickets",
        "/api/v1/tickets",
        "kiosk",
        json={"service": "A"},
        status=201,
        denied="display",
        check=lambda b, c: (
            b["ticket"]["code"] == "A001"
            and {
                "id",
                "code",
                "number",
                "service",
                "status",
                "issued_at",
                "people_ahead",
                "estimated_wait_s",
                "tracker_url",
            }
            <= set(b["ticket"])
            and b["ticket"]["issued_at"].endswith("+07:00")
        ),
        bad=[
            Bad(400, json={}),
            Bad(400, json={"service": True}),
            Bad(404, json={"service": "Z"}),
            Bad(400, json={"service": "A", "priority": "vip"}),
            Bad(400, json={"service": "A", "priority": 7}),
            Bad(400, json={"service": "A", "office": "x"}),
            Bad(404, json={"service": "A", "office": "{other_office}"}),
            Bad(400, raw="[1, 2]"),
            Bad(400, raw="{not json"),
            Bad(400, json={}, role="admin"),
        ],
    ),  # an admin must say which office
    Case(
        "GET",
        "/api/v1/tickets/<int:ticket_id>",
        "/api/v1/tickets/{ticket}",
        "officer",
        state="done",
        denied="kiosk",
        check=lambda b, c: (
            [e["type"] for e in b["ticket"]["events"]]
            == ["issued", "called", "started", "finished"]
            and b["ticket"]["status"] == "done"
        ),
        bad=[
            Bad(404, url="/api/v1/tickets/999999"),
            Bad(404, url="/api/v1/tickets/{other_ticket}"),
        ],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/recall",
        "officer",
        state="called",
        denied="kiosk",
        check=lambda b, c: b["ticket"]["recalls"] == 1,
        bad=[
            Bad(409, state="waiting"),
            Bad(404, url="/api/v1/tickets/999999/recall"),
            Bad(404, url="/api/v1/tickets/{other_ticket}/recall"),
        ],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/start",
        "officer",
        state="called",
        denied="display",
        check=lambda b, c: b["ticket"]["status"] == "serving",
        bad=[Bad(409, state="waiting"), Bad(409, state="done")],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/finish",
        "officer",
        state="serving",
        json={"dossier_code": "000.00.12.H40-260302-0001", "outcome": "received"},
        denied="kiosk",
        check=lambda b, c: (
            b["ticket"]["status"] == "done"
            and b["ticket"]["dossier_code"] == "000.00.12.H40-260302-0001"
        ),
        bad=[
            Bad(409, state="called"),
            Bad(400, json={"dossier_code": "x" * 600}),
            Bad(400, json={"dossier_code": {"a": 1}}),
            Bad(400, raw="[]"),
        ],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/no-show",
        "officer",
        state="called",
        denied="kiosk",
        check=lambda b, c: b["ticket"]["status"] == "no_show",
        bad=[Bad(409, state="serving"), Bad(409, state="waiting")],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/transfer",
        "officer",
        state="serving",
        json={"service": "C", "reason": "Cần thẩm định"},
        denied="kiosk",
        check=lambda b, c: (
            b["ticket"]["code"] == "C001"
            and b["from_ticket"]["status"] == "transferred"
            and b["ticket"]["visit_id"] == b["from_ticket"]["visit_id"]
        ),
        bad=[
            Bad(400, json={}),
            Bad(404, json={"service": "Z"}),
            Bad(400, json={"counter": "abc"}),
            Bad(404, json={"counter": 9999}),
            Bad(400, json={"counter": True}),
            Bad(400, json={"counter": 1.5}),
            Bad(409, state="waiting", json={"service": "C"}),
        ],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/return",
        "officer",
        state="called",
        json={"reason": "Đi photo"},
        denied="kiosk",
        check=lambda b, c: b["ticket"]["status"] == "waiting",
        bad=[Bad(409, state="waiting"), Bad(400, json={"reason": ["x"]})],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/cancel",
        "officer",
        state="waiting",
        json={"reason": "Lấy nhầm"},
        denied="display",
        check=lambda b, c: b["ticket"]["status"] == "cancelled",
        bad=[
            Bad(409, state="done"),
            Bad(400, json={"reason": "x" * 600}),
            Bad(404, url="/api/v1/tickets/{ticket}/explode"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/counters/<int:counter_id>/call-next",
        "/api/v1/counters/{counter}/call-next",
        "officer",
        state="waiting",
        denied="kiosk",
        check=lambda b, c: b["ticket"]["id"] == c.ticket and b["ticket"]["status"] == "called",
        bad=[
            Bad(404, url="/api/v1/counters/9999/call-next"),
            Bad(409, state="called"),  # counter 1 still holds a called ticket
            Bad(404, url="/api/v1/counters/{other_counter}/call-next"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/counters/<int:counter_id>/call-next",
        "/api/v1/counters/{counter}/call-next",
        "officer",
        check=lambda b, c: b["ticket"] is None,
    ),  # nobody waits: ticket null
    Case(
        "POST",
        "/api/v1/counters/<int:counter_id>/call",
        "/api/v1/counters/{counter}/call",
        "officer",
        state="waiting",
        json={"ticket": "{ticket}", "reason": "Người già"},
        denied="display",
        check=lambda b, c: b["ticket"]["id"] == c.ticket,
        bad=[
            Bad(400, json={"ticket": "{ticket}"}),
            Bad(400, json={"reason": "x"}),
            Bad(404, json={"ticket": "Z999", "reason": "x"}),
            Bad(404, json={"ticket": 999999, "reason": "x"}),
            Bad(400, json={"ticket": True, "reason": "x"}),
            Bad(409, state="done", json={"ticket": "{ticket}", "reason": "x"}),
            Bad(404, json={"ticket": "{other_ticket}", "reason": "x"}),
        ],
    ),
    Case(
        "POST",
        "/api/v1/counters/<int:counter_id>/call",
        "/api/v1/counters/{counter}/call",
        "officer",
        state="waiting",
        json={"ticket": "{code}", "reason": "Gọi theo mã"},
        check=lambda b, c: b["ticket"]["id"] == c.ticket,
    ),
    Case(
        "POST",
        C_ACTION,
        "/api/v1/counters/{counter}/pause",
        "officer",
        json={"reason": "Nghỉ trưa"},
        denied="kiosk",
        check=lambda b, c: (
            b["counter"]["state"] == "paused" and b["counter"]["pause_reason"] == "Nghỉ trưa"
        ),
        bad=[
            Bad(400, json={}),
            Bad(400, json={"reason": 5}),
            Bad(404, url="/api/v1/counters/{counter}/explode"),
            Bad(404, url="/api/v1/counters/9999/pause", json={"reason": "x"}),
        ],
    ),
    Case(
        "POST",
        C_ACTION,
        "/api/v1/counters/{counter}/resume",
        "officer",
        counter_state="paused",
        denied="display",
        check=lambda b, c: b["counter"]["state"] == "open",
        bad=[Bad(409, url="/api/v1/counters/{counter2}/resume")],
    ),
    Case(
        "POST",
        C_ACTION,
        "/api/v1/counters/{counter}/open",
        "officer",
        denied="kiosk",
        check=lambda b, c: b["counter"]["state"] == "open",
        bad=[Bad(404, url="/api/v1/counters/{other_counter}/open")],
    ),
    Case(
        "POST",
        C_ACTION,
        "/api/v1/counters/{counter}/close",
        "officer",
        denied="kiosk",
        check=lambda b, c: b["counter"]["state"] == "closed",
        bad=[Bad(409, state="called")],
    ),
]


def all_cases() -> list[Case]:
    """This module's cases plus API_CASES defined by any other test module."""
    cases = list(API_CASES)
    tests_dir = Path(__file__).parent
    for info in pkgutil.walk_packages([str(tests_dir)], prefix="tests."):
        if info.name == __name__ or not info.name.rsplit(".", 1)[-1].startswith("test_"):
            continue
        source = Path(tests_dir, *info.name.split(".")[1:]).with_suffix(".py")
        if source.exists() and "API_CASES" in source.read_text(encoding="utf-8"):
            cases += getattr(importlib.import_module(info.name), "API_CASES", [])
    return cases


def assert_error(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(True))
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]


CASES = all_cases()
IDS = [
    f"{c.method} {c.url}" + (f" [{i}]" if [str(d) for d in CASES].count(str(c)) > 1 else "")
    for i, c in enumerate(CASES)
]


# --- the four tests per case ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_happy_path(ctx, case):
    ctx.prepare(case.state, case.counter_state)
    response = ctx.request(case.method, case.url, case.role, case.json)
    assert response.status_code == case.status, response.get_data(True)
    body = response.get_json()
    if case.rule != "/api/v1/openapi.json":
        assert body["ok"] is True
    if case.check:
        assert case.check(body, ctx), body
    assert engine.verify_log(ctx.db) == []


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.bad], ids=[i for c, i in zip(CASES, IDS, strict=True) if c.bad]
)
def test_bad_input_is_refused_and_changes_nothing(ctx, case):
    for bad in case.bad:
        ctx.prepare(bad.state or case.state, case.counter_state)
        before = ctx.dump()
        response = ctx.request(
            case.method,
            bad.url or case.url,
            bad.role or case.role,
            bad.json if bad.json is not None else case.json,
            raw=bad.raw,
        )
        assert_error(response, bad.status)
        assert ctx.dump() == before, f"{bad} changed the database"


def test_endpoints_with_inputs_have_bad_input_cases():
    lacking = {c.rule for c in CASES if c.rule not in NO_INPUT} - {c.rule for c in CASES if c.bad}
    assert lacking == set()


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.role != "public"],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c.role != "public"],
)
def test_wrong_role_is_forbidden(ctx, case):
    ctx.prepare(case.state, case.counter_state)
    denied = case.denied or "printer"
    before = ctx.dump()
    assert_error(ctx.request(case.method, case.url, denied, case.json), 403)
    assert ctx.dump() == before


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.role != "public"],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c.role != "public"],
)
def test_no_login_is_unauthenticated(ctx, case):
    ctx.prepare(case.state, case.counter_state)
    before = ctx.dump()
    assert_error(ctx.request(case.method, case.url, None, case.json), 401)
    for header in ("Bearer xu_not-a-token", "Bearer xd_not-a-token", "Bearer ", "Basic abc"):
        response = ctx.request(
            case.method, case.url, None, case.json, headers={"Authorization": header}
        )
        assert_error(response, 401)
    assert ctx.dump() == before


def test_public_endpoints_need_no_login(ctx):
    for case in CASES:
        if case.state == "phone_verified":
            continue  # its office must be set up first: test_happy_path calls it, no login
        if case.role == "public":
            response = ctx.request(case.method, case.url, None, case.json)
            assert response.status_code == case.status, (case, response.get_data(True))


# --- coverage of the url map -----------------------------------------------------------


def test_every_endpoint_is_covered(ctx):
    from xephang.engine.states import TICKET_ACTIONS
    from xephang.web.openapi import ENUMS

    routes = {
        (rule.rule, method)
        for rule in ctx.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    covered = {(c.rule, c.method) for c in CASES}
    missing = routes - covered
    assert missing == set(), (
        "API routes without a case: add a Case to API_CASES (tests/test_api.py, or an "
        "API_CASES list in your own test module)"
    )
    assert covered - routes == set(), "cases for routes that do not exist"
    actions = {
        T_ACTION: set(TICKET_ACTIONS),
        C_ACTION: set(ENUMS["/api/v1/counters/{counter_id}/{action}"]),
    }
    for rule, expected in actions.items():
        assert {c.action for c in CASES if c.rule == rule} >= expected, rule


def test_revoked_device_token_is_unauthenticated(ctx, api_template):
    device_id = ctx.db.execute("SELECT id FROM devices WHERE kind = 'kiosk'").fetchone()[0]
    accounts.revoke_device(ctx.db, device_id)
    response = ctx.request("POST", "/api/v1/tickets", "kiosk", {"service": "A"})
    assert_error(response, 401)


def test_inactive_user_token_is_unauthenticated(ctx):
    ctx.db.execute("UPDATE users SET active = 0 WHERE username = 'canbo1'")
    assert_error(ctx.request("POST", "/api/v1/counters/{counter}/call-next", "officer"), 401)


def test_unknown_api_path_and_method_use_the_error_shape(ctx):
    assert_error(ctx.request("GET", "/api/v1/nothing-here", "officer"), 404)
    assert_error(ctx.request("DELETE", "/api/v1/tickets", "officer"), 405)


def test_issue_then_call_then_snapshot_over_http(ctx):
    issued = ctx.request(
        "POST", "/api/v1/tickets", "kiosk", {"service": "b", "priority": "elderly"}
    )
    assert issued.status_code == 201
    ticket = issued.get_json()["ticket"]
    assert ticket["priority"] == "elderly" and ticket["tracker_url"].startswith(
        "http://xephang.test/t/"
    )
    assert "tracker_token" not in ticket
    called = ctx.request("POST", "/api/v1/counters/{counter}/call-next", "officer").get_json()
    assert called["ticket"]["code"] == "B001"
    snap = ctx.request("GET", "/api/v1/offices/{office}/snapshot", "kiosk").get_json()
    counter = next(c for c in snap["snapshot"]["counters"] if c["number"] == 1)
    assert counter["current_ticket"]["code"] == "B001"
    assert counter["services"] == [s["id"] for s in snap["snapshot"]["services"][:2]]
    assert snap["snapshot"]["seq"] == engine.last_seq(ctx.db, ctx.office)


def test_admin_without_office_issues_for_any_office(ctx, api_template):
    response = ctx.request(
        "POST", "/api/v1/tickets", "admin", {"service": "A", "office": api_template.other_office}
    )
    assert response.status_code == 201 and response.get_json()["ticket"]["code"] == "A002"


def test_snapshot_contract(ctx):
    ctx.prepare("called")
    snap = ctx.request("GET", "/api/v1/offices/{office}/snapshot", "display").get_json()["snapshot"]
    assert {"office", "seq", "services", "waiting", "counters"} <= set(snap)
    for service in snap["services"]:
        assert {"id", "prefix", "name_vi", "name_en", "waiting"} <= set(service)
        assert snap["waiting"].get(str(service["id"]), 0) == service["waiting"]
    for counter in snap["counters"]:
        assert {"id", "number", "services", "state", "current_ticket"} <= set(counter)
    held = next(c for c in snap["counters"] if c["current_ticket"])
    assert (
        held["current_ticket"]["id"] == ctx.ticket and "tracker_token" not in held["current_ticket"]
    )


def test_committed_events_reach_the_hub_and_refusals_publish_nothing(ctx):
    seen = []
    ctx.app.extensions["xephang.hub"].subscribe(seen.extend)
    ctx.request("POST", "/api/v1/tickets", "kiosk", {"service": "A"})
    assert [e["type"] for e in seen] == ["issued"]
    assert seen[0]["seq"] == engine.last_seq(ctx.db, ctx.office)
    assert "tracker_token" not in seen[0]["ticket"]
    ctx.prepare("waiting")
    seen.clear()
    ctx.request("POST", "/api/v1/tickets", "kiosk", {"service": "Z"})
    ctx.request("POST", "/api/v1/tickets/{ticket}/finish", "officer")
    assert seen == []


def test_request_connections_are_durable_and_pooled(ctx):
    """synchronous=FULL and WAL on the connections requests use; they are reused."""
    from xephang.web.context import close_db, get_db

    with ctx.app.app_context():
        db = get_db()
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        db.conn.execute("BEGIN IMMEDIATE")  # a request that left a transaction open
        close_db()
    with ctx.app.app_context():
        again = get_db()
        assert again is db and not again.conn.in_transaction


def test_pool_never_hands_a_forked_process_its_parents_connections(tmp_path):
    import os

    from xephang.storage import ConnectionPool

    pool = ConnectionPool(tmp_path / "fork.db")
    parent = pool.acquire()
    pool.release(parent)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports whether it got a fresh connection
        try:
            child = pool.acquire()
            ok = child is not parent and child.execute("SELECT 1").fetchone() == (1,)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert pool.acquire() is parent  # the parent keeps its own
