"""Access that can end: browser sessions, revocations and the login throttle.

Sessions are server-side records. The signed cookie carries only a random
session key; its SHA-256 digest names a row of ``sessions``. Every request
looks the row up (with the user or device it belongs to), so logging out,
deactivating a user, changing a password or revoking a device ends that
access at once, even for a copy of the old cookie. A per-user "session
version" would do for the HTTP side too, but could not end one browser's
session without ending all of them, nor list the sessions a user has open.

Every ending also appends to ``revocations``, in the same transaction:
each server process follows that table (``web.realtime``) and disconnects
the open sockets of what was revoked, within a second, whatever process
holds them.

The login throttle counts failed logins per account and per client address
in ``login_failures`` (durable, and shared by every server process; an
in-memory limiter would reset with each restart and count per process).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import iso, resolve_now
from ..errors import RateLimitError
from ..storage import one, scalar, write

REVOCATION_KINDS = ("session", "user", "token", "device", "board")
# Failed logins allowed in the window before a login is refused until the window passes.
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW = timedelta(minutes=15)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


_revoked_here = 0  # revocations this process has written (or tried to): see revoked_here()


def revoked_here() -> int:
    """How many revocations this process has written: a request that changed this number
    may have ended access whose sockets must close now; other requests need not look."""
    return _revoked_here


def revoke(db: sqlite_utils.Database, kind: str, ref: int, now: datetime | None = None) -> None:
    """Record that access ``kind``/``ref`` ended (caller's transaction): sockets follow it."""
    global _revoked_here
    assert kind in REVOCATION_KINDS
    _revoked_here += 1
    db.execute(
        "INSERT INTO revocations (kind, ref, at) VALUES (?, ?, ?)",
        [kind, ref, iso(resolve_now(now))],
    )


# --- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A live browser session: its row id and whose it is."""

    id: int
    user_id: int | None
    device_id: int | None
    created_at: str


def start_session(
    db: sqlite_utils.Database,
    user_id: int | None = None,
    device_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Open a session for a user or a paired device; returns the key the cookie keeps."""
    assert (user_id is None) != (device_id is None)
    key = secrets.token_urlsafe(32)
    with write(db):
        db.execute(
            "INSERT INTO sessions (key_hash, user_id, device_id, created_at) VALUES (?, ?, ?, ?)",
            [_digest(key), user_id, device_id, iso(resolve_now(now))],
        )
    return key


def find_session(
    db: sqlite_utils.Database, key: str, max_age: timedelta, now: datetime | None = None
) -> Session | None:
    """The live session with this key (not ended, younger than ``max_age``), or None."""
    if not key or not isinstance(key, str):
        return None
    oldest = iso(resolve_now(now) - max_age)
    row = one(
        db,
        "SELECT id, user_id, device_id, created_at FROM sessions WHERE key_hash = ?"
        " AND ended_at IS NULL AND created_at >= ?",
        [_digest(key), oldest],
    )
    return Session(**row) if row else None


def end_session(db: sqlite_utils.Database, key: str, now: datetime | None = None) -> None:
    """Log one session out (its sockets are disconnected too)."""
    at = resolve_now(now)
    with write(db):
        row = one(
            db, "SELECT id FROM sessions WHERE key_hash = ? AND ended_at IS NULL", [_digest(key)]
        )
        if row is None:
            return
        db.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", [iso(at), row["id"]])
        revoke(db, "session", row["id"], at)


def end_sessions_of(
    db: sqlite_utils.Database,
    user_id: int | None = None,
    device_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """End every session of a user or device (caller's transaction); how many ended."""
    column, ref = ("user_id", user_id) if user_id is not None else ("device_id", device_id)
    at = iso(resolve_now(now))
    return db.execute(
        f"UPDATE sessions SET ended_at = ? WHERE {column} = ? AND ended_at IS NULL", [at, ref]
    ).rowcount


def revocations_after(db: sqlite_utils.Database, after_id: int) -> list[tuple[int, str, int]]:
    """(id, kind, ref) of revocations newer than ``after_id``, oldest first."""
    return [
        tuple(r)
        for r in db.execute(
            "SELECT id, kind, ref FROM revocations WHERE id > ? ORDER BY id", [after_id]
        ).fetchall()
    ]


def last_revocation(db: sqlite_utils.Database) -> int:
    """The id of the newest revocation (0 before the first)."""
    return scalar(db, "SELECT coalesce(max(id), 0) FROM revocations")


# --- throttles: the login's here, check-in digits' in engine/checkin ----------------------


def wait_before_retry(
    db, table: str, column: str, value, limit: int, window: timedelta, at: datetime
) -> float | None:
    """Seconds until ``value`` may try again, once ``table`` (``login_failures``,
    ``checkin_failures``) holds ``limit`` failures of it within ``window`` before ``at``:
    when the oldest of them leaves the window. None while it is under the limit."""
    count, oldest = db.execute(
        f"SELECT count(*), min(at) FROM {table} WHERE {column} = ? AND at > ?",
        [value, iso(at - window)],
    ).fetchone()
    if count < limit:
        return None
    return (datetime.fromisoformat(oldest) + window - at).total_seconds()


def check_login_allowed(
    db: sqlite_utils.Database, username: str, address: str, now: datetime | None = None
) -> None:
    """Refuse (429) a login while the account or the address has too many recent failures.

    The message says when to try again: when the oldest failure of the window
    leaves it.
    """
    at = resolve_now(now)
    for column, value, limit in (
        ("username", (username or "").strip().lower(), LOGIN_FAILURES_PER_ACCOUNT),
        ("address", address or "", LOGIN_FAILURES_PER_ADDRESS),
    ):
        wait_s = wait_before_retry(db, "login_failures", column, value, limit, LOGIN_WINDOW, at)
        if wait_s is not None:
            minutes = max(1, round(wait_s / 60 + 0.49))
            raise RateLimitError(
                f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.",
                f"Too many failed logins. Try again in {minutes} minutes.",
                retry_after_s=int(wait_s) + 1,
            )


def record_login_failure(
    db: sqlite_utils.Database, username: str, address: str, now: datetime | None = None
) -> None:
    """Count one failed login for the account and the address (old ones are pruned)."""
    at = resolve_now(now)
    with write(db):
        db.execute(
            "INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)",
            [(username or "").strip().lower()[:64], (address or "")[:64], iso(at)],
        )
        db.execute("DELETE FROM login_failures WHERE at < ?", [iso(at - 2 * LOGIN_WINDOW)])


def clear_login_failures(db: sqlite_utils.Database, username: str) -> None:
    """Forget an account's failures after it logged in."""
    with write(db):
        db.execute(
            "DELETE FROM login_failures WHERE username = ?", [(username or "").strip().lower()]
        )
