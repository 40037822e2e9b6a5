"""What a citizen does about messages: give a phone, e-mail or push subscription with
consent, subscribe a visit (tracker) or a just-issued ticket (kiosk), unsubscribe.

``contact_from`` is the one check of a ``notify`` request (API, kiosk,
tracker): explicit consent, exactly one address, a channel the office has.
The address is stored only in ``subscriptions`` (see ``outbox`` for the
rules of what is sent and when it is erased); the event log records
``subscribed``/``unsubscribed`` with the channel only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlite_utils

from ..clock import day_bounds, iso, parse_iso, resolve_now
from ..errors import BadInputError, ConflictError, NotFoundError
from ..storage import one, write
from .log import append_event
from .lookups import get_office, get_ticket
from .outbox import end_subscriptions
from .outcome import Outcome, outcome_for
from .settings import MESSAGE_CHANNELS, office_settings, parse_channel_list

PHONE_CHANNELS = ("sms", "zalo")
MAX_PUSH_SUBSCRIPTION = 2000  # characters of a Web Push subscription's JSON
KIOSK_SUBSCRIBE_S = 600  # a kiosk may add a phone to the tickets it issued this long ago


# --- contacts: what a citizen gives, checked --------------------------------------------


@dataclass(frozen=True)
class Contact:
    """A validated way to reach a citizen: the channel, the address (a normalised phone
    number, an e-mail address or a push subscription's JSON), its masked form for staff."""

    channel: str
    address: str
    masked: str
    lang: str = "vi"


def normalise_phone(raw: str) -> str:
    """A Vietnamese mobile number as +84 and nine digits; refused otherwise."""
    digits = re.sub(r"[\s.\-()]", "", str(raw or ""))
    if digits.startswith("+84"):
        rest = digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        rest = digits[2:]
    elif digits.startswith("0"):
        rest = digits[1:]
    else:
        rest = ""
    if not (rest.isdigit() and len(rest) == 9 and rest[0] in "35789"):
        raise BadInputError(
            "Số điện thoại di động không hợp lệ (ví dụ 0912 345 678)",
            "Invalid mobile number",
            field="phone",
        )
    return "+84" + rest


def mask_phone(phone: str) -> str:
    """What staff see of a phone number: its last three digits."""
    return "•" * 7 + phone[-3:]


EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


def normalise_email(raw: str) -> str:
    """An e-mail address, trimmed; refused when it does not look like one."""
    value = str(raw or "").strip()
    if len(value) > 254 or not EMAIL.match(value):
        raise BadInputError("Địa chỉ e-mail không hợp lệ", "Invalid e-mail address", field="email")
    return value


def mask_email(email: str) -> str:
    """What staff see of an e-mail address: its first letter and its domain."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _push_subscription(raw) -> str:
    """A Web Push subscription (the browser's PushSubscription JSON), checked and compacted."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    keys = raw.get("keys") if isinstance(raw, dict) else None
    endpoint = raw.get("endpoint") if isinstance(raw, dict) else None
    url = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if (
        url is None
        or url.scheme not in ("https", "http")
        or not url.netloc
        or not isinstance(keys, dict)
        or not all(isinstance(keys.get(k), str) and keys[k] for k in ("p256dh", "auth"))
    ):
        raise BadInputError(
            "Đăng ký nhận thông báo không hợp lệ", "Invalid push subscription", field="webpush"
        )
    compact = json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}},
        separators=(",", ":"),
    )
    if len(compact) > MAX_PUSH_SUBSCRIPTION:
        raise BadInputError("Đăng ký nhận thông báo quá dài", "Push subscription too long")
    return compact


def office_channels(
    db: sqlite_utils.Database, office_id: int, server_channels: Collection[str]
) -> list[str]:
    """The channels an office's citizens may subscribe by: the office's ``notify_channels``
    that the server has set up (``config.message_channels``)."""
    wanted = parse_channel_list(office_settings(db, office_id)["notify_channels"])
    return [c for c in MESSAGE_CHANNELS if c in wanted and c in server_channels]


def contact_from(
    db: sqlite_utils.Database, office_id: int, request: dict, server_channels: Collection[str]
) -> Contact:
    """A citizen's ``notify`` request checked: explicit consent, one address, a channel
    the office has. Refused (400) otherwise, before anything is written."""
    if not isinstance(request, dict):
        raise BadInputError("Yêu cầu nhận tin không hợp lệ", "Invalid notify request")
    if request.get("consent") is not True:
        raise BadInputError(
            "Cần đánh dấu đồng ý nhận tin nhắn về lượt của mình",
            "Consent is required to be sent messages",
            field="consent",
        )
    given = [k for k in ("phone", "email", "webpush") if request.get(k) not in (None, "")]
    if len(given) != 1:
        raise BadInputError(
            "Cần đúng một trong: số điện thoại, e-mail hoặc thông báo đẩy",
            "Give exactly one of phone, email, webpush",
        )
    lang = request.get("lang") or "vi"
    if lang not in ("vi", "en"):
        raise BadInputError("Ngôn ngữ phải là vi hoặc en", "lang must be vi or en", field="lang")
    available = office_channels(db, office_id, server_channels)
    kind = given[0]
    if kind == "phone":
        phone = normalise_phone(request["phone"])
        choices = [c for c in PHONE_CHANNELS if c in available]
        wanted = request.get("channel")
        if wanted not in (None, ""):
            choices = [c for c in choices if c == wanted]
        if not choices:
            raise BadInputError(
                "Văn phòng chưa có kênh tin nhắn SMS/Zalo", "No SMS or Zalo channel here"
            )
        return Contact(choices[0], phone, mask_phone(phone), lang)
    if kind not in available:
        raise BadInputError(
            f"Văn phòng chưa có kênh {kind}", f"No {kind} channel at this office", field=kind
        )
    if kind == "email":
        email = normalise_email(request["email"])
        return Contact("email", email, mask_email(email), lang)
    return Contact("webpush", _push_subscription(request["webpush"]), "trình duyệt", lang)


# --- subscriptions ---------------------------------------------------------------------


def erase_time(db: sqlite_utils.Database, office: dict, day: str) -> str:
    """When a visit's contact details go: the end of its day plus the rating window."""
    keep = int(office_settings(db, office["id"])["rating_window_days"])
    end = parse_iso(day_bounds(day, office["timezone"])[1])
    return iso(end + timedelta(days=keep))


def subscribe_within(
    db: sqlite_utils.Database, office: dict, ticket: dict, contact: Contact, at: datetime
) -> dict:
    """Store a consented subscription for the ticket's visit and log that it exists
    (caller's transaction). A second one on the same channel replaces the first."""
    end_subscriptions(
        db, "visit_id = ? AND channel = ?", [ticket["visit_id"], contact.channel], at, "replaced"
    )
    db.execute(
        "INSERT INTO subscriptions (office_id, visit_id, channel, address, masked, lang,"
        " consent_at, created_at, erase_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            office["id"],
            ticket["visit_id"],
            contact.channel,
            contact.address,
            contact.masked,
            contact.lang,
            iso(at),
            iso(at),
            erase_time(db, office, ticket["day"]),
        ],
    )
    return append_event(
        db,
        office["id"],
        "subscribed",
        at,
        ticket_id=ticket["id"],
        details={"channel": contact.channel},
    )


def subscribe_booking_within(
    db: sqlite_utils.Database, office: dict, appointment: dict, contact: Contact, at: datetime
) -> tuple[int, dict]:
    """Store a consented subscription for a booking's visit (its confirmation, reminder and,
    once checked in, its ticket's messages) and log that it exists (caller's transaction);
    kept until the end of the booking's day plus the rating window. Returns its id and
    the logged event."""
    subscription_id = db.execute(
        "INSERT INTO subscriptions (office_id, visit_id, channel, address, masked, lang,"
        " consent_at, created_at, erase_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            office["id"],
            appointment["visit_id"],
            contact.channel,
            contact.address,
            contact.masked,
            contact.lang,
            iso(at),
            iso(at),
            erase_time(db, office, appointment["day"]),
        ],
    ).lastrowid
    event = append_event(
        db,
        office["id"],
        "subscribed",
        at,
        details={"channel": contact.channel, "appointment_id": appointment["id"]},
    )
    return subscription_id, event


def _visit_ticket(db, token: str) -> dict:
    row = one(
        db,
        "SELECT t.* FROM tickets t JOIN visits v ON v.id = t.visit_id WHERE v.token = ?"
        " ORDER BY t.id DESC LIMIT 1",
        [token or ""],
    )
    if row is None:
        raise NotFoundError("Không tìm thấy số thứ tự này", "No such ticket")
    return row


def subscribe_visit(
    db: sqlite_utils.Database,
    token: str,
    request: dict,
    server_channels: Collection[str],
    now: datetime | None = None,
) -> Outcome:
    """A citizen subscribes from the tracker page (visit token); its own transaction."""
    at = resolve_now(now)
    with write(db):
        ticket = _visit_ticket(db, token)
        office = get_office(db, ticket["office_id"])
        contact = contact_from(db, office["id"], request, server_channels)
        if iso(at) >= erase_time(db, office, ticket["day"]):
            raise ConflictError("Lượt này đã kết thúc", "This visit is over")
        raw = subscribe_within(db, office, ticket, contact, at)
        return outcome_for(db, office, [raw], ticket["id"])


def subscribe_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    request: dict,
    server_channels: Collection[str],
    device_id: int,
    now: datetime | None = None,
) -> Outcome:
    """The kiosk's optional step after the ticket: subscribe a ticket this kiosk has
    just issued (another kiosk's, or an old one, answers as missing)."""
    at = resolve_now(now)
    with write(db):
        ticket = get_ticket(db, ticket_id)
        issued = parse_iso(ticket["issued_at"])
        if ticket["device_id"] != device_id or (at - issued).total_seconds() > KIOSK_SUBSCRIBE_S:
            raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
        office = get_office(db, ticket["office_id"])
        contact = contact_from(db, office["id"], request, server_channels)
        raw = subscribe_within(db, office, ticket, contact, at)
        return outcome_for(db, office, [raw], ticket["id"])


def unsubscribe_visit(
    db: sqlite_utils.Database,
    token: str,
    channel: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """A citizen stops the messages of their visit (one channel, or all): the address is
    erased at once and nothing queued goes out."""
    at = resolve_now(now)
    if channel not in (None, "") and channel not in MESSAGE_CHANNELS:
        raise BadInputError("Kênh không hợp lệ", "Unknown channel", field="channel")
    with write(db):
        ticket = _visit_ticket(db, token)
        office = get_office(db, ticket["office_id"])
        raw = end_for_visit(db, ticket, at, "unsubscribed", channel)
        return outcome_for(db, office, raw, ticket["id"])


def end_for_visit(
    db: sqlite_utils.Database, ticket: dict, at: datetime, reason: str, channel=None
) -> list[dict]:
    """End the subscriptions of a ticket's visit (one channel, or all) and log each as
    ``unsubscribed`` (caller's transaction): the address is erased at once and nothing
    queued goes out. Returns the logged events."""
    where, params = "visit_id = ?", [ticket["visit_id"]]
    if channel:
        where, params = where + " AND channel = ?", [*params, channel]
    return [
        append_event(
            db,
            ticket["office_id"],
            "unsubscribed",
            at,
            ticket_id=ticket["id"],
            details={"channel": ended},
        )
        for ended in end_subscriptions(db, where, params, at, reason)
    ]


def erase_expired_contacts(db: sqlite_utils.Database, now: datetime | None = None) -> int:
    """Erase every contact past its time (the end of the visit's day plus the rating
    window): the address goes, and what was still queued for it is skipped."""
    at = resolve_now(now)
    with write(db):
        return len(end_subscriptions(db, "erase_after <= ?", [iso(at)], at, "erased"))
