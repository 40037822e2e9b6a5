"""Users, API tokens and paired devices (kiosks, displays, printers, counters' rating
tablets): the writes, the password rules, and the access rule every read and write is
checked against (``Principal.may_access_office``).

Passwords are stored as werkzeug hashes, tokens as SHA-256 digests (a token
is 256 random bits: a fast hash is enough, and lets a lookup use an index).
Looking a caller up by token or password is in ``queries.people``.

``actor`` is who makes a change: a ``Principal`` from a web request, or None
from the command line (the machine's operator, trusted). An actor bound to
an office changes only that office's people; another office's user answers
as if it did not exist. Only an admin with no office creates or moves users
across offices, or creates admins with no office. A ``province`` user belongs to no
office: it reads the offices it is given (``user_offices``, set by an admin
with no office) and writes nothing (``Principal.read_only``; the web layer
refuses its every write, and so do these functions). Ending someone's access
(deactivation, a new password, a revoked device or token) ends their
sessions and is recorded for the sockets to follow (``access``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

import sqlite_utils
from werkzeug.security import generate_password_hash

from ..clock import iso, utcnow
from ..errors import BadInputError, ConflictError, ForbiddenError, NotFoundError
from ..storage import one, write
from . import access, audit
from .lookups import get_office

ROLES = ("officer", "manager", "admin", "province")
PROVINCE = "province"
DEVICE_KINDS = ("kiosk", "display", "printer", "rating")
RATING_DEVICE = "rating"  # a counter's rating tablet: paired to an office and one counter
USERNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{2,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user (by role) or a paired device (by kind).

    ``session_id`` and ``token_id`` say how it authenticated (a browser
    session or a bearer token), so its sockets can be ended with them.
    """

    kind: str  # "user" or "device"
    role: str  # officer / manager / admin / province, or kiosk / display / printer / rating
    office_id: int | None
    user_id: int | None = None
    device_id: int | None = None
    name: str = ""
    session_id: int | None = None
    token_id: int | None = None
    token_used_at: str | None = None
    offices: frozenset[int] = frozenset()  # the offices a province user may read
    counter_id: int | None = None  # the counter a rating tablet belongs to

    def may_access_office(self, office_id: int) -> bool:
        """Admins without an office see every office, a province user the offices it was
        given; everyone else only their own."""
        if self.is_global_admin:
            return True
        if self.is_province:
            return office_id in self.offices
        return self.office_id == office_id

    @property
    def is_province(self) -> bool:
        """A province user: reads the offices it was given, writes nothing."""
        return self.kind == "user" and self.role == PROVINCE

    @property
    def read_only(self) -> bool:
        """Whether every write must refuse this caller."""
        return self.is_province

    @property
    def is_global_admin(self) -> bool:
        """An admin bound to no office: administers every office."""
        return self.kind == "user" and self.role == "admin" and self.office_id is None


def hash_token(token: str) -> str:
    """The stored digest of a bearer or device token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_password(password, username: str = "") -> str:
    """A password staff may choose: 10+ characters, not the username, not a common one."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise BadInputError(
            f"Mật khẩu tối thiểu {MIN_PASSWORD} ký tự",
            f"Password must be {MIN_PASSWORD}+ characters",
        )
    if len(password) > MAX_PASSWORD:
        raise BadInputError("Mật khẩu quá dài", "Password too long")
    lowered = password.strip().lower()
    if username and username.lower() in (lowered, lowered[::-1]):
        raise BadInputError(
            "Mật khẩu không được trùng tên đăng nhập", "Password must not be the username"
        )
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        raise BadInputError(
            "Mật khẩu này quá phổ biến, dễ bị đoán; hãy chọn mật khẩu khác",
            "This password is too common; choose another",
        )
    return password


def _check_role_and_office(role: str, office_id: int | None) -> None:
    if role not in ROLES:
        raise BadInputError(f"Vai trò phải là một trong {', '.join(ROLES)}", "Invalid role")
    if role == PROVINCE and office_id is not None:
        raise BadInputError(
            "Tài khoản cấp tỉnh không thuộc một văn phòng; hãy chọn các văn phòng được xem",
            "A province user belongs to no office; give it the offices it may read",
        )
    if role in ("officer", "manager") and office_id is None:
        raise BadInputError("Cán bộ và quản lý phải thuộc một văn phòng", "Office required")


def _refuse_read_only(actor: Principal | None) -> None:
    if actor is not None and actor.read_only:
        raise ForbiddenError(
            "Tài khoản cấp tỉnh chỉ được xem, không được thay đổi", "Province users are read-only"
        )


def _check_actor_places(actor: Principal | None, office_id: int | None, role: str) -> None:
    """An actor bound to an office only puts people in that office; a manager only officers."""
    _refuse_read_only(actor)
    if actor is None or actor.is_global_admin:
        return
    if actor.role == "manager" and role != "officer":
        raise ForbiddenError(
            "Quản lý chỉ thêm và sửa tài khoản cán bộ", "Managers manage officers only"
        )
    if office_id != actor.office_id:
        raise ForbiddenError(
            "Chỉ quản trị hệ thống mới đưa người dùng sang văn phòng khác hoặc tạo quản trị"
            " không thuộc văn phòng nào",
            "Only an admin with no office may place users in other offices",
        )


def _user_for(db, user_id: int, actor: Principal | None) -> dict:
    """The user row, if the actor may see it (another office's user does not exist)."""
    user = one(db, "SELECT * FROM users WHERE id = ?", [user_id])
    if user is None or (actor is not None and not actor.may_access_office(user["office_id"])):
        raise NotFoundError("Không có người dùng này", "No such user")
    return user


def add_user(
    db: sqlite_utils.Database,
    username: str,
    role: str,
    office_id: int | None,
    password: str | None = None,
    display_name: str = "",
    actor: Principal | None = None,
    check: bool = True,
    offices: list[int] | None = None,
) -> int:
    """Create a user; officers and managers belong to an office, a province user to none
    (``offices``: the offices it may read).

    ``check=False`` skips the password rules: only the demo office's seeding
    uses it, for its published demo password.
    """
    if not USERNAME_RE.match(username or ""):
        raise BadInputError("Tên đăng nhập 2–64 ký tự: chữ, số, . _ -", "Invalid username")
    _check_role_and_office(role, office_id)
    _check_actor_places(actor, office_id, role)
    if password is not None and check:
        check_password(password, username)
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
            db,
            office_id,
            actor and actor.user_id,
            "user.add",
            {"id": user_id, "username": username, "role": role},
        )
        if role == PROVINCE and offices:
            set_user_offices(db, user_id, offices, actor=actor)
        return user_id


def set_user_offices(
    db, user_id: int, office_ids: list[int], actor: Principal | None = None
) -> list[int]:
    """The offices a province user may read (replacing those it had); returns them sorted.

    Only an admin with no office (or the command line) gives offices; the
    user's sockets reconnect with the new set.
    """
    _refuse_read_only(actor)
    if actor is not None and not actor.is_global_admin:
        raise ForbiddenError(
            "Chỉ quản trị hệ thống mới giao văn phòng cho tài khoản cấp tỉnh",
            "Only an admin with no office gives a province user its offices",
        )
    try:
        wanted = sorted({int(o) for o in office_ids})
    except (TypeError, ValueError):
        raise BadInputError("Văn phòng không hợp lệ", "Invalid office") from None
    with write(db):
        user = _user_for(db, user_id, actor)
        if user["role"] != PROVINCE:
            raise BadInputError(
                "Chỉ tài khoản cấp tỉnh được giao nhiều văn phòng",
                "Only province users are given offices",
            )
        for office_id in wanted:
            get_office(db, office_id)
        db.execute("DELETE FROM user_offices WHERE user_id = ?", [user_id])
        db.conn.executemany(
            "INSERT INTO user_offices (user_id, office_id) VALUES (?, ?)",
            [(user_id, office_id) for office_id in wanted],
        )
        access.revoke(db, "user", user_id)
        audit.record(
            db, None, actor and actor.user_id, "user.offices", {"id": user_id, "offices": wanted}
        )
    return wanted


def set_password(db, user_id: int, password: str, actor: Principal | None = None) -> None:
    """Give a user a new password; their open sessions end (they log in again)."""
    with write(db):
        user = _user_for(db, user_id, actor)
        check_password(password, user["username"])
        db.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?",
            [generate_password_hash(password), user_id],
        )
        access.end_sessions_of(db, user_id=user_id)
        access.revoke(db, "user", user_id)
        audit.record(
            db, user["office_id"], actor and actor.user_id, "user.password", {"id": user_id}
        )


def update_user(
    db,
    user_id: int,
    role: str,
    office_id: int | None,
    display_name: str = "",
    active: bool = True,
    actor: Principal | None = None,
) -> None:
    """Change a user's role, office, display name, or (de)activate the account.

    Deactivating ends the user's sessions; any change disconnects their
    sockets, which reconnect with the rights they have now.
    """
    _check_role_and_office(role, office_id)
    with write(db):
        user = _user_for(db, user_id, actor)
        _check_actor_places(actor, user["office_id"], user["role"])
        _check_actor_places(actor, office_id, role)
        if office_id is not None:
            get_office(db, office_id)
        db.execute(
            "UPDATE users SET role = ?, office_id = ?, display_name = ?, active = ? WHERE id = ?",
            [role, office_id, (display_name or "").strip(), int(bool(active)), user_id],
        )
        if role != PROVINCE:
            db.execute("DELETE FROM user_offices WHERE user_id = ?", [user_id])
        if not active:
            access.end_sessions_of(db, user_id=user_id)
        if (role, office_id, bool(active)) != (
            user["role"],
            user["office_id"],
            bool(user["active"]),
        ):
            access.revoke(db, "user", user_id)
        audit.record(
            db,
            office_id,
            actor and actor.user_id,
            "user.update",
            {"id": user_id, "role": role, "active": bool(active)},
        )


def add_user_token(db, username: str, name: str = "", actor: Principal | None = None) -> str:
    """A new bearer token for a user; only its hash is stored. Returns the token (once)."""
    _refuse_read_only(actor)
    token = "xu_" + secrets.token_urlsafe(32)
    with write(db):
        user = one(db, "SELECT * FROM users WHERE username = ?", [username])
        if user is None or (actor is not None and not actor.may_access_office(user["office_id"])):
            raise NotFoundError(f"Không có người dùng '{username}'", f"No user '{username}'")
        token_id = db.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
            [user["id"], (name or "").strip()[:80], hash_token(token), iso(utcnow())],
        ).lastrowid
        audit.record(
            db,
            user["office_id"],
            actor and actor.user_id,
            "token.add",
            {"id": token_id, "user_id": user["id"], "name": name},
        )
    return token


def note_token_use(db, principal: Principal, every_s: int = 600) -> None:
    """Record when a token was last used, at most once every ``every_s`` seconds."""
    if principal.token_id is None:
        return
    now = utcnow()
    if (
        principal.token_used_at
        and (now - datetime.fromisoformat(principal.token_used_at)).total_seconds() < every_s
    ):
        return
    with write(db):
        db.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [iso(now), principal.token_id]
        )


def revoke_user_token(db, token_id: int, actor: Principal | None = None) -> None:
    """Revoke one API token: refused from its next request, its sockets disconnected."""
    _refuse_read_only(actor)
    with write(db):
        row = one(
            db,
            "SELECT t.id, t.user_id, t.revoked_at, u.office_id FROM api_tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.id = ?",
            [token_id],
        )
        if row is None or (actor is not None and not actor.may_access_office(row["office_id"])):
            raise NotFoundError("Không có mã truy cập này", "No such token")
        if row["revoked_at"] is not None:
            return
        db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [iso(utcnow()), token_id])
        access.revoke(db, "token", token_id)
        audit.record(
            db,
            row["office_id"],
            actor and actor.user_id,
            "token.revoke",
            {"id": token_id, "user_id": row["user_id"]},
        )


def add_device(
    db,
    office_id: int,
    kind: str,
    name: str = "",
    actor: Principal | None = None,
    counter_id: int | None = None,
) -> tuple[int, str]:
    """Pair a device to an office; returns its id and its token (shown once).

    A rating tablet also names its counter (``counter_id``, of the same office).
    """
    _refuse_read_only(actor)
    if kind not in DEVICE_KINDS:
        raise BadInputError(f"Loại thiết bị phải là {', '.join(DEVICE_KINDS)}", "Invalid kind")
    token = "xd_" + secrets.token_urlsafe(32)
    with write(db):
        get_office(db, office_id)
        counter_id = _device_counter(db, office_id, kind, counter_id)
        device_id = db.execute(
            "INSERT INTO devices (office_id, kind, name, token_hash, created_at, counter_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [office_id, kind, name or kind, hash_token(token), iso(utcnow()), counter_id],
        ).lastrowid
        audit.record(
            db,
            office_id,
            actor and actor.user_id,
            "device.pair",
            {"id": device_id, "kind": kind, "name": name or kind, "counter_id": counter_id},
        )
    return device_id, token


def _device_counter(db, office_id: int, kind: str, counter_id) -> int | None:
    """The counter a rating tablet belongs to (an active counter of its office); None for
    every other kind of device."""
    if kind != RATING_DEVICE:
        return None
    if counter_id in (None, ""):
        raise BadInputError(
            "Máy đánh giá phải gắn với một quầy", "A rating tablet needs its counter"
        )
    try:
        counter = one(
            db,
            "SELECT id, office_id, active FROM counters WHERE id = ?",
            [int(counter_id)],
        )
    except (TypeError, ValueError, OverflowError):
        counter = None
    if counter is None or counter["office_id"] != office_id or not counter["active"]:
        raise BadInputError("Không có quầy này trong văn phòng", "No such counter in this office")
    return counter["id"]


def _device_for(db, device_id: int, actor: Principal | None) -> dict:
    device = one(db, "SELECT * FROM devices WHERE id = ?", [device_id])
    if device is None or (actor is not None and not actor.may_access_office(device["office_id"])):
        raise NotFoundError("Không có thiết bị này", "No such device")
    return device


def revoke_device(db, device_id: int, actor: Principal | None = None) -> None:
    """Revoke a device's token: its browsers are unpaired and its sockets disconnected."""
    _refuse_read_only(actor)
    with write(db):
        device = _device_for(db, device_id, actor)
        db.execute(
            "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [iso(utcnow()), device_id],
        )
        access.end_sessions_of(db, device_id=device_id)
        access.revoke(db, "device", device_id)
        audit.record(
            db,
            device["office_id"],
            actor and actor.user_id,
            "device.revoke",
            {"id": device_id, "name": device["name"]},
        )


def set_device_zone(db, device_id: int, zone: dict, actor: Principal | None = None) -> None:
    """Limit a display's board to some services and counters (a floor, a wing); empty lists
    show everything. ``zone`` is what ``setup.parse_zone`` gives."""
    services = [int(i) for i in zone.get("services") or []]
    counters = [int(i) for i in zone.get("counters") or []]
    with write(db):
        device = _device_for(db, device_id, actor)
        if device["kind"] != "display":
            raise BadInputError("Chỉ màn hình mới có khu vực hiển thị", "Displays only")
        for table, ids in (("services", services), ("counters", counters)):
            for row_id in ids:
                owner = one(db, f"SELECT office_id FROM {table} WHERE id = ?", [row_id])
                if owner is None or owner["office_id"] != device["office_id"]:
                    raise NotFoundError("Không có mục này trong văn phòng", "Not in this office")
        value = {"services": services, "counters": counters}
        db.execute("UPDATE devices SET zone = ? WHERE id = ?", [json.dumps(value), device_id])
        audit.record(
            db,
            device["office_id"],
            actor and actor.user_id,
            "device.zone",
            {"id": device_id, **value},
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


def rename_device(
    db, device_id: int, name: str, actor: Principal | None = None, counter_id=None
) -> None:
    """Give a paired device a new name (shown on the dashboard); move a rating tablet to
    another counter (``counter_id``): its sockets reconnect to that counter."""
    _refuse_read_only(actor)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise BadInputError("Tên thiết bị 1–80 ký tự", "Device name must be 1-80 characters")
    with write(db):
        device = _device_for(db, device_id, actor)
        details = {"id": device_id, "name": name}
        db.execute("UPDATE devices SET name = ? WHERE id = ?", [name, device_id])
        if device["kind"] == RATING_DEVICE and counter_id not in (None, ""):
            moved = _device_counter(db, device["office_id"], RATING_DEVICE, counter_id)
            if moved != device["counter_id"]:
                db.execute("UPDATE devices SET counter_id = ? WHERE id = ?", [moved, device_id])
                access.revoke(db, "device", device_id)  # its sockets rejoin the new counter
                details["counter_id"] = moved
        audit.record(
            db,
            device["office_id"],
            actor and actor.user_id,
            "device.rename",
            details,
        )
