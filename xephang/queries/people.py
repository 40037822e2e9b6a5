"""Who is calling: users, their tokens, sessions and paired devices, looked up; staff lists."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from ..engine.access import find_session
from ..engine.accounts import PROVINCE, Principal, hash_token
from ..storage import one

# Checked when no such user exists, so an unknown username costs the same as a known one.
_ABSENT_USER_HASH = generate_password_hash("no such user: the time of a real check")


def user_principal(user: dict, offices: frozenset[int] = frozenset(), **how) -> Principal:
    """The principal of a user row (``how``: its ``session_id`` or ``token_id``;
    ``offices``: what a province user may read)."""
    return Principal(
        "user",
        user["role"],
        user["office_id"],
        user_id=user["id"],
        name=user["display_name"] or user["username"],
        offices=offices,
        **how,
    )


def device_principal(device: dict, **how) -> Principal:
    """The principal of a device row (a rating tablet's counter included)."""
    return Principal(
        "device",
        device["kind"],
        device["office_id"],
        device_id=device["id"],
        name=device["name"],
        counter_id=device.get("counter_id"),
        **how,
    )


def user_offices(db: sqlite_utils.Database, user_id: int) -> frozenset[int]:
    """The offices a province user may read."""
    return frozenset(
        r[0]
        for r in db.execute(
            "SELECT office_id FROM user_offices WHERE user_id = ?", [user_id]
        ).fetchall()
    )


def _offices_of(db, user: dict) -> frozenset[int]:
    return user_offices(db, user["id"]) if user["role"] == PROVINCE else frozenset()


def authenticate(
    db: sqlite_utils.Database, username: str, password: str, check=check_password_hash
) -> dict | None:
    """The active user with these credentials, or None.

    The password hash is checked whether or not the username exists (against a
    hash of the same kind), so the answer takes as long either way. ``check``
    is how to check it (the web layer runs it off the event loop).
    """
    user = one(db, "SELECT * FROM users WHERE username = ? AND active", [username or ""])
    stored = user["password_hash"] if user and user["password_hash"] else _ABSENT_USER_HASH
    matches = check(stored, password or "")
    return user if matches and stored is not _ABSENT_USER_HASH else None


def principal_for_token(db: sqlite_utils.Database, token: str) -> Principal | None:
    """Resolve a bearer token (user or device) to a principal; None if unknown or revoked."""
    token = token or ""
    digest = hash_token(token)
    if token.startswith("xd_"):
        device = one(
            db, "SELECT * FROM devices WHERE token_hash = ? AND revoked_at IS NULL", [digest]
        )
        return device_principal(device) if device else None
    row = one(
        db,
        "SELECT u.*, t.id AS token_id, t.last_used_at AS token_used_at FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL"
        " AND u.active",
        [digest],
    )
    if row is None:
        return None
    return user_principal(
        row,
        _offices_of(db, row),
        token_id=row["token_id"],
        token_used_at=row["token_used_at"],
    )


def principal_for_session(
    db: sqlite_utils.Database, key: str, max_age: timedelta
) -> Principal | None:
    """The principal of a live browser session (an active user or a device not revoked)."""
    found = find_session(db, key, max_age)
    if found is None:
        return None
    if found.user_id is not None:
        user = one(db, "SELECT * FROM users WHERE id = ? AND active", [found.user_id])
        return user_principal(user, _offices_of(db, user), session_id=found.id) if user else None
    device = one(db, "SELECT * FROM devices WHERE id = ? AND revoked_at IS NULL", [found.device_id])
    return device_principal(device, session_id=found.id) if device else None


def user_tokens(db: sqlite_utils.Database, user_id: int) -> list[dict]:
    """A user's API tokens (never the token itself): name, when made, last used, revoked."""
    return list(
        db.query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens"
            " WHERE user_id = ? ORDER BY revoked_at IS NOT NULL, id DESC",
            [user_id],
        )
    )


def find_user(db: sqlite_utils.Database, username: str) -> dict | None:
    """A user by username (id, role, office, active), or None."""
    return one(
        db,
        "SELECT id, username, display_name, role, office_id, active FROM users WHERE username = ?",
        [username or ""],
    )


def list_users(db: sqlite_utils.Database, office_id: int | None = None) -> list[dict]:
    """Users with their ``office_name`` (and ``offices``, what a province user reads): of
    one office, or all of them when None."""
    sql = (
        "SELECT u.id, u.username, u.display_name, u.role, u.office_id, u.active, u.created_at,"
        " o.name AS office_name FROM users u LEFT JOIN offices o ON o.id = u.office_id"
    )
    params: list = []
    if office_id is not None:
        sql += " WHERE u.office_id = ?"
        params.append(office_id)
    users = list(db.query(sql + " ORDER BY u.office_id, u.role, u.username", params))
    for u in users:
        u["offices"] = sorted(_offices_of(db, u))
    return users


def office_officers(db: sqlite_utils.Database, office_id: int) -> list[tuple[int, str]]:
    """(id, display name) of an office's officers."""
    return [
        (r["id"], r["display_name"] or r["username"])
        for r in db.query(
            "SELECT id, username, display_name FROM users WHERE office_id = ? AND role = 'officer'",
            [office_id],
        )
    ]


def user_names(db: sqlite_utils.Database) -> dict[int, str]:
    """Display names of every user by id (reports and logs name officers)."""
    return {
        r["id"]: r["display_name"] or r["username"]
        for r in db.query("SELECT id, username, display_name FROM users")
    }


def list_devices(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's devices: live ones first, then by kind and name."""
    return list(
        db.query(
            "SELECT * FROM devices WHERE office_id = ? ORDER BY revoked_at IS NOT NULL, kind, name",
            [office_id],
        )
    )


def device_zone(db: sqlite_utils.Database, device_id: int | None) -> dict:
    """The zone of a display (``{"services": [ids], "counters": [ids]}``; empty: all)."""
    row = one(db, "SELECT zone FROM devices WHERE id = ?", [device_id]) if device_id else None
    zone = json.loads(row["zone"] or "{}") if row else {}
    return {"services": zone.get("services", []), "counters": zone.get("counters", [])}
