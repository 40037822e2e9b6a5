"""A phone verified by a one-time code before an online number or an appointment.

When an office's ``online_identity`` is ``phone`` and it has an SMS or Zalo channel
(the office's ``notify_channels`` the server has set up, as for the kiosk's phone
step), taking a number or booking is two steps: ``request_code`` sends a 6-digit
code through the outbox (purpose ``otp``), then ``consume`` checks it inside the
transaction that takes the number or the slot. Without such a channel the phone is
only hashed, unverified, as before.

What is kept (``phone_codes``): the phone's keyed identity hash and last 3 digits, a
keyed hash of the code (HMAC with the server's secret, bound to the code's random
id), its expiry (``TTL``, 5 minutes), its attempts (at most ``MAX_ATTEMPTS``) and when
it was used (once). The phone itself is the address of the subscription its message
goes through, erased when the code expires or is used; the code rides in the outbox
row's payload until the message is sent or given up, then the payload is blanked.
Neither enters the event log (nothing is logged) or a log line. At most
``online_otp_per_hour`` codes go to one phone in any hour; rows older than an hour
are deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import iso, parse_iso, resolve_now
from ..errors import ConflictError, OtpError, RateLimitError
from ..storage import one, scalar, write
from .lookups import get_office
from .outbox import end_subscriptions
from .settings import office_settings
from .subscriptions import PHONE_CHANNELS, mask_phone, normalise_phone, office_channels

TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
DIGITS = 6
WINDOW = timedelta(hours=1)  # the rate limit's window, and how long a row is kept


def channel_for(db: sqlite_utils.Database, office_id: int, server_channels: Collection[str]):
    """The channel a code goes out by (SMS before Zalo), or None: no verification."""
    found = [c for c in office_channels(db, office_id, server_channels) if c in PHONE_CHANNELS]
    return found[0] if found else None


def required(db, office_id: int, settings: dict | None, server_channels: Collection[str]) -> bool:
    """Whether an online number or an appointment here needs a verified phone."""
    settings = settings or office_settings(db, office_id)
    return settings["online_identity"] == "phone" and bool(
        channel_for(db, office_id, server_channels)
    )


def code_hash(key: bytes, token: str, code: str) -> str:
    """The keyed hash a code is kept as (bound to its random id)."""
    return hmac.new(key, f"otp:{token}:{code}".encode(), hashlib.sha256).hexdigest()


def request_code(
    db: sqlite_utils.Database,
    office_id: int,
    phone,
    consent: bool,
    key: bytes,
    server_channels: Collection[str],
    now: datetime | None = None,
    lang: str = "vi",
) -> dict:
    """Send a 6-digit code to a phone (with consent): ``{"otp_id", "expires_at",
    "channel", "phone"}`` (the phone masked). Refused with a Vietnamese message when the
    office verifies no phone, the number or the consent is missing, or the phone had
    ``online_otp_per_hour`` codes in the last hour (429)."""
    from .booking import identify  # booking imports this module

    at = resolve_now(now)
    if lang not in ("vi", "en"):
        lang = "vi"
    with write(db):
        office = get_office(db, office_id)
        settings = office_settings(db, office_id)
        channel = channel_for(db, office_id, server_channels)
        if settings["online_identity"] != "phone" or channel is None:
            raise ConflictError(
                "Văn phòng này không gửi mã xác nhận số điện thoại",
                "This office sends no one-time codes",
            )
        identity = identify(key, office_id, "phone", phone, consent=consent).hash
        number = normalise_phone(phone)
        db.execute("DELETE FROM phone_codes WHERE created_at < ?", [iso(at - WINDOW)])
        sent = scalar(
            db,
            "SELECT count(*) FROM phone_codes WHERE office_id = ? AND identity_hash = ?"
            " AND created_at >= ?",
            [office_id, identity, iso(at - WINDOW)],
        )
        limit = settings["online_otp_per_hour"]
        if sent >= limit:
            raise RateLimitError(
                f"Số điện thoại này đã nhận {limit} mã trong một giờ; vui lòng thử lại sau",
                "Too many codes for this phone; try again later",
            )
        token = secrets.token_urlsafe(16)
        code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
        expires = at + TTL
        visit_id = db.execute(  # the subscription the code's message goes through
            "INSERT INTO visits (office_id, token, created_at) VALUES (?, ?, ?)",
            [office_id, secrets.token_urlsafe(16), iso(at)],
        ).lastrowid
        subscription_id = db.execute(
            "INSERT INTO subscriptions (office_id, visit_id, channel, address, masked, lang,"
            " consent_at, created_at, erase_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [office_id, visit_id, channel, number, mask_phone(number), lang, iso(at), iso(at),
             iso(expires)],
        ).lastrowid  # fmt: skip
        db.execute(
            "INSERT INTO phone_codes (office_id, token, identity_hash, identity_last3,"
            " code_hash, subscription_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [office_id, token, identity, number[-3:], code_hash(key, token, code),
             subscription_id, iso(at), iso(expires)],
        )  # fmt: skip
        db.execute(
            "INSERT INTO outbox (office_id, channel, purpose, subscription_id, payload, state,"
            " next_attempt_at, give_up_at, created_at) VALUES (?, ?, 'otp', ?, ?, 'queued', ?,"
            " ?, ?)",
            [office["id"], channel, subscription_id,
             json.dumps({"otp": code, "minutes": int(TTL.total_seconds() // 60)}), iso(at),
             iso(expires), iso(at)],
        )  # fmt: skip
    return {
        "otp_id": token,
        "expires_at": iso(expires),
        "channel": channel,
        "phone": mask_phone(number),
    }


class WrongCode(OtpError):
    """A code that does not match: refused, and the attempt counted (``count_attempt``)."""

    def __init__(self, code_id: int, left: int):
        if left > 0:
            vi = f"Mã xác nhận không đúng; bạn còn {left} lần thử"
            en = f"Wrong code; {left} tries left"
        else:
            vi = "Mã xác nhận không đúng; đã hết số lần thử, vui lòng lấy mã mới"
            en = "Wrong code; no tries left, ask for a new code"
        super().__init__(vi, en, field="otp_code")
        self.code_id, self.left = code_id, left


def consume(
    db: sqlite_utils.Database,
    office_id: int,
    otp_id,
    code,
    key: bytes,
    at: datetime,
    phone_hash: str | None = None,
) -> tuple[str, str]:
    """Check a code inside the caller's write transaction and mark it used (rolled back
    with it when the number or the slot is refused after all); returns the phone's
    identity hash and last 3 digits. A wrong code raises ``WrongCode`` (the caller
    counts the attempt in its own transaction); a missing, expired, used or exhausted
    one raises ``OtpError``. ``phone_hash``: a phone sent along must be the code's."""
    otp_id, code = str(otp_id or "").strip(), str(code or "").strip().replace(" ", "")
    if not otp_id or not code:
        raise OtpError(
            "Vui lòng nhập mã xác nhận đã gửi đến điện thoại của bạn",
            "Give the one-time code sent to your phone",
            field="otp_code",
        )
    row = one(
        db,
        "SELECT * FROM phone_codes WHERE token = ? AND office_id = ?",
        [otp_id[:64], office_id],
    )
    if row is None:
        raise OtpError(
            "Mã xác nhận không còn hiệu lực; vui lòng lấy mã mới",
            "No such code; ask for a new one",
            field="otp_id",
        )
    if row["used_at"] is not None:
        raise OtpError(
            "Mã xác nhận này đã được dùng; vui lòng lấy mã mới",
            "This code was used already; ask for a new one",
            field="otp_code",
        )
    if at >= parse_iso(row["expires_at"]):
        raise OtpError(
            "Mã xác nhận đã hết hạn (5 phút); vui lòng lấy mã mới",
            "The code has expired; ask for a new one",
            field="otp_code",
        )
    if row["attempts"] >= MAX_ATTEMPTS:
        raise OtpError(
            "Đã nhập sai mã quá nhiều lần; vui lòng lấy mã mới",
            "Too many wrong tries; ask for a new code",
            field="otp_code",
        )
    if phone_hash is not None and not hmac.compare_digest(phone_hash, row["identity_hash"]):
        raise OtpError(
            "Mã xác nhận này được gửi đến số điện thoại khác",
            "This code was sent to another phone",
            field="phone",
        )
    if not hmac.compare_digest(code_hash(key, row["token"], code), row["code_hash"]):
        raise WrongCode(row["id"], MAX_ATTEMPTS - row["attempts"] - 1)
    db.execute(
        "UPDATE phone_codes SET used_at = ?, attempts = attempts + 1 WHERE id = ?",
        [iso(at), row["id"]],
    )
    _end(db, row, at, "verified")
    return row["identity_hash"], row["identity_last3"]


def _end(db, row: dict, at: datetime, reason: str) -> None:
    """The code is done with: its phone is erased and its message, if still queued,
    skipped."""
    if row["subscription_id"] is not None:
        end_subscriptions(db, "id = ?", [row["subscription_id"]], at, reason)


def count_attempt(db: sqlite_utils.Database, code_id: int, now: datetime | None = None) -> None:
    """Count a wrong try (its own transaction: the refused request changes nothing else);
    the last allowed try ends the code."""
    at = resolve_now(now)
    with write(db):
        db.execute("UPDATE phone_codes SET attempts = attempts + 1 WHERE id = ?", [code_id])
        row = one(db, "SELECT * FROM phone_codes WHERE id = ?", [code_id])
        if row is not None and row["attempts"] >= MAX_ATTEMPTS:
            _end(db, row, at, "too many tries")
