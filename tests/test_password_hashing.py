"""Passwords: the product stores scrypt hashes; the test suite stores cheap ones.

Every other test runs with ``cheap_password_hashing`` (tests/conftest.py): one
round of PBKDF2 instead of scrypt, or seeding and logging in would cost most of
the suite's time. This module proves both halves: the production hash, end to
end through the login form, and that the cheap one is really in force.
"""

from __future__ import annotations

from werkzeug.security import check_password_hash

from tests.helpers import login
from xephang.engine import accounts

PASSWORD = "Hoa-sen-no-giua-ho-2026"


def stored_hash(db, username: str) -> str:
    (stored,) = db.execute("SELECT password_hash FROM users WHERE username = ?", [username])
    return stored[0]


def test_a_user_created_the_normal_way_gets_a_scrypt_hash_and_logs_in_with_it(
    production_password_hashing, client, db, demo
):
    accounts.add_user(db, "canbo9", "officer", demo["office_id"], PASSWORD, "Cán bộ 9")
    stored = stored_hash(db, "canbo9")
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert check_password_hash(stored, PASSWORD)
    assert not check_password_hash(stored, PASSWORD + "x")
    csrf = login(client, "canbo9", PASSWORD)  # the real form answers 302
    r = client.post("/api/v1/counters/1/call-next", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.get_data(True)


def test_a_new_password_is_a_scrypt_hash_too(production_password_hashing, db, demo):
    user_id = accounts.add_user(db, "canbo9", "officer", demo["office_id"], PASSWORD)
    accounts.set_password(db, user_id, PASSWORD[::-1])
    stored = stored_hash(db, "canbo9")
    assert stored.startswith("scrypt:") and check_password_hash(stored, PASSWORD[::-1])


def test_the_suite_hashes_cheaply_and_the_cheap_hash_still_logs_in(client, db, demo):
    for username in demo["users"]:  # the demo template was seeded with the cheap hash
        assert stored_hash(db, username).startswith("pbkdf2:sha256:1$")
    accounts.add_user(db, "canbo9", "officer", demo["office_id"], PASSWORD)
    assert stored_hash(db, "canbo9").startswith("pbkdf2:sha256:1$")
    login(client, "canbo9", PASSWORD)
