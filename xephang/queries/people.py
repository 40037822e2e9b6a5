"""Who is calling: users, their tokens and paired devices, looked up; staff lists."""

from __future__ import annotations

import sqlite_utils
from werkzeug.security import check_password_hash

from ..engine.accounts import Principal, hash_token
from ..storage import one


def user_principal(user: dict) -> Principal:
    """The principal of a user row."""
    return Principal(
        "user",
        user["role"],
        user["office_id"],
        user_id=user["id"],
        name=user["display_name"] or user["username"],
    )


def device_principal(device: dict) -> Principal:
    """The principal of a device row."""
    return Principal(
        "device", device["kind"], device["office_id"], device_id=device["id"], name=device["name"]
    )


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> dict | None:
    """The active user with these credentials, or None."""
    user = one(db, "SELECT * FROM users WHERE username = ? AND active", [username or ""])
    if (
        user
        and user["password_hash"]
        and check_password_hash(user["password_hash"], password or "")
    ):
        return user
    return None


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
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?"
        " AND t.revoked_at IS NULL AND u.active",
        [digest],
    )
    return user_principal(row) if row else None


def active_user(db: sqlite_utils.Database, user_id: int) -> Principal | None:
    """The principal of an active user by id (a signed-in session), or None."""
    user = one(db, "SELECT * FROM users WHERE id = ? AND active", [user_id])
    return user_principal(user) if user else None


def paired_device(db: sqlite_utils.Database, device_id: int) -> Principal | None:
    """The principal of a device that is not revoked (a paired browser), or None."""
    device = one(db, "SELECT * FROM devices WHERE id = ? AND revoked_at IS NULL", [device_id])
    return device_principal(device) if device else None


def list_users(db: sqlite_utils.Database, office_id: int | None = None) -> list[dict]:
    """Users with their ``office_name``: of one office, or all of them when None."""
    sql = "SELECT u.*, o.name AS office_name FROM users u LEFT JOIN offices o ON o.id = u.office_id"
    params: list = []
    if office_id is not None:
        sql += " WHERE u.office_id = ?"
        params.append(office_id)
    return list(db.query(sql + " ORDER BY u.office_id, u.role, u.username", params))


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
