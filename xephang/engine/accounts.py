"""Users, API tokens and paired devices (kiosks, displays, printers): the writes and the
access rule every read and write is checked against (``Principal.may_access_office``).

Passwords are stored as werkzeug hashes, tokens as SHA-256 digests (a token
is 256 random bits: a fast hash is enough, and lets a lookup use an index).
Looking a caller up by token or password is in ``queries.people``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import sqlite_utils
from werkzeug.security import generate_password_hash

from ..clock import iso, utcnow
from ..errors import BadInputError, ConflictError, NotFoundError
from ..storage import one, write
from . import audit
from .lookups import get_office

ROLES = ("officer", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display", "printer")
USERNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{2,64}$")


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user (by role) or a paired device (by kind)."""

    kind: str  # "user" or "device"
    role: str  # officer / manager / admin, or kiosk / display / printer
    office_id: int | None
    user_id: int | None = None
    device_id: int | None = None
    name: str = ""

    def may_access_office(self, office_id: int) -> bool:
        """Admins without an office see every office; everyone else only their own."""
        if self.kind == "user" and self.role == "admin" and self.office_id is None:
            return True
        return self.office_id == office_id


def hash_token(token: str) -> str:
    """The stored digest of a bearer or device token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(
    db: sqlite_utils.Database,
    username: str,
    role: str,
    office_id: int | None,
    password: str | None = None,
    display_name: str = "",
    actor_id: int | None = None,
) -> int:
    """Create a user; officers and managers belong to an office."""
    if not USERNAME_RE.match(username or ""):
        raise BadInputError("Tên đăng nhập 2–64 ký tự: chữ, số, . _ -", "Invalid username")
    if role not in ROLES:
        raise BadInputError(f"Vai trò phải là một trong {', '.join(ROLES)}", "Invalid role")
    if role != "admin" and office_id is None:
        raise BadInputError("Cán bộ và quản lý phải thuộc một văn phòng", "Office required")
    if password is not None and len(password) < 8:
        raise BadInputError("Mật khẩu tối thiểu 8 ký tự", "Password must be 8+ characters")
    with write(db):
        if office_id is not None:
            get_office(db, office_id)
        if one(db, "SELECT id FROM users WHERE username = ?", [username]):
            raise ConflictError(f"Tên đăng nhập '{username}' đã có", "Username taken")
        user_id = db.execute(
            "INSERT INTO users (username, display_name, password_hash, role, office_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                username,
                display_name or username,
                generate_password_hash(password) if password else None,
                role,
                office_id,
                iso(utcnow()),
            ],
        ).lastrowid
        audit.record(
            db, office_id, actor_id, "user.add", {"id": user_id, "username": username, "role": role}
        )
        return user_id


def set_password(db, user_id: int, password: str, actor_id: int | None = None) -> None:
    """Give a user a new password."""
    if len(password or "") < 8:
        raise BadInputError("Mật khẩu tối thiểu 8 ký tự", "Password must be 8+ characters")
    with write(db):
        user = one(db, "SELECT id, office_id FROM users WHERE id = ?", [user_id])
        if user is None:
            raise NotFoundError("Không có người dùng này", "No such user")
        db.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?",
            [generate_password_hash(password), user_id],
        )
        audit.record(db, user["office_id"], actor_id, "user.password", {"id": user_id})


def add_user_token(db, username: str, name: str = "") -> str:
    """A new bearer token for a user; only its hash is stored."""
    user = one(db, "SELECT * FROM users WHERE username = ?", [username])
    if user is None:
        raise NotFoundError(f"Không có người dùng '{username}'", f"No user '{username}'")
    token = "xu_" + secrets.token_urlsafe(32)
    with write(db):
        db.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
            [user["id"], name, hash_token(token), iso(utcnow())],
        )
    return token


def add_device(
    db, office_id: int, kind: str, name: str = "", actor_id: int | None = None
) -> tuple[int, str]:
    """Pair a device to an office; returns its id and its token (shown once)."""
    if kind not in DEVICE_KINDS:
        raise BadInputError(f"Loại thiết bị phải là {', '.join(DEVICE_KINDS)}", "Invalid kind")
    token = "xd_" + secrets.token_urlsafe(32)
    with write(db):
        get_office(db, office_id)
        device_id = db.execute(
            "INSERT INTO devices (office_id, kind, name, token_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [office_id, kind, name or kind, hash_token(token), iso(utcnow())],
        ).lastrowid
        audit.record(
            db,
            office_id,
            actor_id,
            "device.pair",
            {"id": device_id, "kind": kind, "name": name or kind},
        )
    return device_id, token


def revoke_device(db, device_id: int, actor_id: int | None = None) -> None:
    """Revoke a device's token: the device is refused from its next request on."""
    with write(db):
        device = one(db, "SELECT id, office_id, name FROM devices WHERE id = ?", [device_id])
        if device is None:
            raise NotFoundError("Không có thiết bị này", "No such device")
        db.execute(
            "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [iso(utcnow()), device_id],
        )
        audit.record(
            db,
            device["office_id"],
            actor_id,
            "device.revoke",
            {"id": device_id, "name": device["name"]},
        )


def touch_device(db, device_id: int, status: dict | None = None) -> None:
    """Record that a device was seen (and optionally its status)."""
    with write(db):
        if status is None:
            db.execute(
                "UPDATE devices SET last_seen_at = ? WHERE id = ?", [iso(utcnow()), device_id]
            )
        else:
            db.execute(
                "UPDATE devices SET last_seen_at = ?, status = ? WHERE id = ?",
                [iso(utcnow()), json.dumps(status, ensure_ascii=False), device_id],
            )


def update_user(
    db,
    user_id: int,
    role: str,
    office_id: int | None,
    display_name: str = "",
    active: bool = True,
    actor_id: int | None = None,
) -> None:
    """Change a user's role, office, display name, or (de)activate the account."""
    if role not in ROLES:
        raise BadInputError(f"Vai trò phải là một trong {', '.join(ROLES)}", "Invalid role")
    if role != "admin" and office_id is None:
        raise BadInputError("Cán bộ và quản lý phải thuộc một văn phòng", "Office required")
    with write(db):
        if not one(db, "SELECT id FROM users WHERE id = ?", [user_id]):
            raise NotFoundError("Không có người dùng này", "No such user")
        if office_id is not None:
            get_office(db, office_id)
        db.execute(
            "UPDATE users SET role = ?, office_id = ?, display_name = ?, active = ? WHERE id = ?",
            [role, office_id, (display_name or "").strip(), int(bool(active)), user_id],
        )
        audit.record(
            db,
            office_id,
            actor_id,
            "user.update",
            {"id": user_id, "role": role, "active": bool(active)},
        )


def rename_device(db, device_id: int, name: str, actor_id: int | None = None) -> None:
    """Give a paired device a new name (shown on the dashboard)."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise BadInputError("Tên thiết bị 1–80 ký tự", "Device name must be 1-80 characters")
    with write(db):
        device = one(db, "SELECT id, office_id FROM devices WHERE id = ?", [device_id])
        if device is None:
            raise NotFoundError("Không có thiết bị này", "No such device")
        db.execute("UPDATE devices SET name = ? WHERE id = ?", [name, device_id])
        audit.record(
            db, device["office_id"], actor_id, "device.rename", {"id": device_id, "name": name}
        )
