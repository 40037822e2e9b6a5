"""Sessions, bearer tokens, roles and CSRF."""

from __future__ import annotations

import pytest

from xephang.engine import accounts
from xephang.engine.accounts import Principal
from xephang.web.auth import ROLE_RANK, permits

CALL_NEXT = "/api/v1/counters/{counter}/call-next"


def login(ctx, username, password="xephang-demo"):
    """Log in through the real form; return the session's CSRF token."""
    ctx.client.get("/login")
    with ctx.client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = ctx.client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )
    if response.status_code != 302:
        return None
    with ctx.client.session_transaction() as sess:
        return sess["csrf"]


def test_session_request_without_csrf_token_is_rejected(ctx):
    csrf = login(ctx, "canbo1")
    assert csrf
    engine_before = ctx.dump()
    r = ctx.client.post(ctx.fill(CALL_NEXT))
    assert r.status_code == 403 and r.get_json()["ok"] is False
    r = ctx.client.post(ctx.fill(CALL_NEXT), headers={"X-CSRF-Token": "wrong" + csrf})
    assert r.status_code == 403
    # A non-bearer Authorization header does not replace the session's CSRF token.
    r = ctx.client.post(ctx.fill(CALL_NEXT), headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 403
    assert ctx.dump() == engine_before
    r = ctx.client.post(ctx.fill(CALL_NEXT), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.get_json()["ok"] is True
    # A form post may send it as a field instead of a header.
    r = ctx.client.post(
        ctx.fill("/api/v1/counters/{counter}/pause"), data={"reason": "Họp", "csrf_token": csrf}
    )
    assert r.status_code == 200 and r.get_json()["counter"]["state"] == "paused"


def test_safe_methods_need_no_csrf_token(ctx):
    login(ctx, "canbo1")
    assert ctx.client.get(ctx.fill("/api/v1/offices/{office}/snapshot")).status_code == 200


def test_login_form_itself_needs_its_csrf_token(ctx):
    ctx.client.get("/login")
    r = ctx.client.post("/login", data={"username": "canbo1", "password": "xephang-demo"})
    assert r.status_code == 403
    with ctx.client.session_transaction() as sess:
        assert "user_id" not in sess


def test_wrong_password_and_unknown_user_are_refused(ctx):
    assert login(ctx, "canbo1", "wrong-password") is None
    assert login(ctx, "nobody", "xephang-demo") is None
    r = ctx.client.post(ctx.fill(CALL_NEXT))
    assert r.status_code == 401


def test_inactive_user_cannot_log_in_and_loses_the_session(ctx):
    csrf = login(ctx, "canbo1")
    ctx.db.execute("UPDATE users SET active = 0 WHERE username = 'canbo1'")
    r = ctx.client.post(ctx.fill(CALL_NEXT), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401
    assert login(ctx, "canbo1") is None


def test_login_redirects_by_role_and_only_to_local_pages(ctx):
    for user, target in (("canbo1", "/counter/"), ("quanly", "/manager/")):
        ctx.client.get("/login")
        with ctx.client.session_transaction() as sess:
            csrf = sess["csrf"]
        r = ctx.client.post(
            "/login", data={"username": user, "password": "xephang-demo", "csrf_token": csrf}
        )
        assert r.status_code == 302 and r.headers["Location"].startswith(target)
    ctx.client.get("/login")
    with ctx.client.session_transaction() as sess:
        csrf = sess["csrf"]
    r = ctx.client.post(
        "/login?next=//evil.example/x",
        data={"username": "canbo1", "password": "xephang-demo", "csrf_token": csrf},
    )
    assert "evil.example" not in r.headers["Location"]


def test_login_rotates_the_session(ctx):
    ctx.client.get("/login")
    with ctx.client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        csrf = sess["csrf"]
    ctx.client.post(
        "/login", data={"username": "canbo1", "password": "xephang-demo", "csrf_token": csrf}
    )
    with ctx.client.session_transaction() as sess:
        assert "planted" not in sess and sess["sid"]


def test_logout_ends_the_session(ctx):
    csrf = login(ctx, "canbo1")
    assert ctx.client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert ctx.client.post(ctx.fill(CALL_NEXT)).status_code == 401


def test_a_new_secret_key_refuses_the_cookies_signed_with_the_old_one(ctx):
    login(ctx, "canbo1")
    assert ctx.client.get("/counter/").status_code == 200
    ctx.app.secret_key = "another key"  # the signer is kept per key: it must follow
    assert ctx.client.get("/counter/").status_code == 302  # to the login form


def test_bearer_requests_need_no_csrf_token(ctx):
    r = ctx.request("POST", CALL_NEXT, "officer")
    assert r.status_code == 200


def test_officer_of_another_office_sees_its_counter_as_missing(ctx, api_template):
    accounts.add_user(ctx.db, "khac1", "officer", api_template.other_office, "mat-khau-dai")
    token = accounts.add_user_token(ctx.db, "khac1")
    r = ctx.client.post(ctx.fill(CALL_NEXT), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404


def test_passwords_and_tokens_are_stored_hashed(ctx):
    row = ctx.db.execute("SELECT password_hash FROM users WHERE username = 'canbo1'").fetchone()[0]
    assert "xephang-demo" not in row and row.startswith(("scrypt:", "pbkdf2:"))
    stored = {r[0] for r in ctx.db.execute("SELECT token_hash FROM api_tokens")}
    assert ctx.tokens["officer"] not in stored
    assert accounts.hash_token(ctx.tokens["officer"]) in stored


@pytest.mark.parametrize(
    "kind, role, allowed, expected",
    [
        ("user", "officer", ("officer",), True),
        ("user", "manager", ("officer",), True),  # roles nest
        ("user", "admin", ("manager",), True),
        ("user", "officer", ("manager",), False),
        ("user", "manager", ("admin",), False),
        ("user", "admin", ("kiosk",), False),  # a user is not a device
        ("device", "kiosk", ("kiosk",), True),
        ("device", "kiosk", ("officer",), False),
        ("device", "display", ("kiosk", "officer"), False),
    ],
)
def test_permits(kind, role, allowed, expected):
    assert permits(Principal(kind, role, 1), allowed) is expected
    assert permits(None, allowed) is False


def test_role_ranks_are_ordered():
    assert ROLE_RANK["officer"] < ROLE_RANK["manager"] < ROLE_RANK["admin"]


def test_admin_without_office_may_access_any_office_others_only_theirs():
    assert Principal("user", "admin", None).may_access_office(42)
    assert not Principal("user", "admin", 1).may_access_office(42)
    assert not Principal("user", "manager", 1).may_access_office(42)
    assert not Principal("device", "kiosk", 1).may_access_office(2)


def test_user_validation(ctx):
    from xephang.errors import BadInputError, ConflictError

    for args in (
        ("x", "officer", ctx.office),
        ("good", "boss", ctx.office),
        ("good", "officer", None),
        ("good", "officer", ctx.office, "short"),
    ):
        with pytest.raises(BadInputError):
            accounts.add_user(ctx.db, *args)
    with pytest.raises(ConflictError):
        accounts.add_user(ctx.db, "canbo1", "officer", ctx.office, "long-enough")
