"""Online numbers and appointments: taking a number from home, booking a slot, checking in.

- An **online number** is a ticket of channel ``online``: in line from the moment it is
  taken, allowed while the office is open, until ``online_close_before_min`` before the
  day's end, and within ``online_share`` of the service's daily capacity (counters
  serving it × the day's opening time ÷ its service time).
- An **appointment** books a half-hour slot of a service on a day from today to
  ``booking_horizon_days`` ahead (closed days excluded: ``hours.day_is_closed``). A
  slot's capacity is the manager's (``booking_slots``: per service, weekday and start),
  else ``online_share`` × counters × 30 minutes ÷ service time. It checks in at the
  kiosk (its QR, its code, or the citizen's CCCD QR: ``checkin``) and becomes a ticket of channel
  ``appointment``: on time (up to ``booking_grace_min`` after the slot starts) it is in
  line from the slot's start, later it is an ordinary ticket of the moment it checks in.
  Its wait counts from the later of check-in and slot start (``tickets.slot_at``).
- **Who**: ``online_identity`` asks nothing, a mobile phone or the 12-digit CCCD
  number. Only a keyed hash (HMAC-SHA256 with the server's secret, per office) and the
  last 3 digits are kept; the number itself is never stored, logged or shown. Caps per
  person per day (``online_cap_per_person``) and per lĩnh vực (``online_cap_per_field``)
  count the person's online numbers and live appointments of that day
  (``online_claims``); a network address (kept as a keyed hash too) takes at most
  ``online_rate_per_hour`` an hour. The hashes are forgotten once their day is over.
  Where the office has an SMS or Zalo channel, a phone is first verified by a one-time
  code (``otp``: ``otp_id`` and ``otp_code`` instead of the number).
- Every change is one transaction with its events in the hash-chained log (``booked``,
  ``booking_cancelled``, ``booking_missed``; a check-in is the ticket's ``issued``
  event with ``channel`` and ``appointment_id``): references only, never the identity.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from ..clock import WEEKDAY_KEYS, iso, local_day, local_iso, opening_spans, resolve_now
from ..errors import (
    BadInputError,
    ConflictError,
    NoCounterError,
    NoSlotError,
    NotFoundError,
    OfficeClosedError,
    OnlineCapError,
    OnlineClosedError,
    OnlineShareError,
    RateLimitError,
    SlotFullError,
)
from ..storage import one, scalar, write
from . import audit, estimate, otp, outbox, subscriptions
from .hours import closing_time, day_is_closed, office_is_open
from .log import append_event
from .lookups import find_service, get_office, serving_counters
from .outcome import Outcome, outcome_for
from .settings import office_settings
from .subscriptions import normalise_phone
from .tickets import issue_ticket

SLOT_MINUTES = 30
CODE_ALPHABET = "ACDEFHJKLMNPRTUVWXY34679"  # no look-alikes (0/O, 1/I, 5/S, 8/B, 2/Z)
CODE_LENGTH = 6
STATUS_VI = {
    "booked": "Đã đặt",
    "checked_in": "Đã đến",
    "cancelled": "Đã hủy",
    "missed": "Không đến",
}
CONSENT_VI = (
    "Tôi đồng ý để văn phòng giữ mã băm của số {what} và 3 số cuối, chỉ để giới hạn số lượt"
    " trực tuyến mỗi người và đối chiếu khi tôi đến; dữ liệu này được xóa sau ngày của lượt."
)
CONSENT_EN = (
    "I agree that the office keeps a keyed hash of my {what} number and its last 3 digits,"
    " only to cap online numbers per person and to match me when I arrive; it is erased after"
    " the day of the visit."
)
IDENTITY_WORDS = {"phone": ("điện thoại", "phone"), "cccd": ("CCCD", "citizen ID")}


# --- who: a keyed hash, never the number ----------------------------------------------


@dataclass(frozen=True)
class Identity:
    """What is kept of a citizen: the kind, a keyed hash and the last 3 digits (or nothing)."""

    kind: str | None = None
    hash: str | None = None
    last3: str | None = None


def identity_key(secret: str | bytes) -> bytes:
    """The key identities are hashed with, derived from the server's secret."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"xephang:identity:v1", hashlib.sha256).digest()


def keyed_hash(key: bytes, office_id: int, kind: str, value: str) -> str:
    """HMAC-SHA256 of a normalised number, per office (one office's hashes say nothing
    about another's)."""
    return hmac.new(key, f"{office_id}:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalise_cccd(raw) -> str:
    """A CCCD number as its 12 digits; refused otherwise."""
    digits = re.sub(r"[\s.-]", "", str(raw or ""))
    if not (digits.isdigit() and len(digits) == 12 and digits.isascii()):
        raise BadInputError(
            "Số CCCD phải gồm đúng 12 chữ số",
            "A citizen ID has exactly 12 digits",
            field="citizen_id",
        )
    return digits


def consent_text(mode: str) -> tuple[str, str] | None:
    """The consent line shown where an identity is asked (None: nothing is asked)."""
    if mode not in IDENTITY_WORDS:
        return None
    vi, en = IDENTITY_WORDS[mode]
    return CONSENT_VI.format(what=vi), CONSENT_EN.format(what=en)


def identify(
    key: bytes, office_id: int, mode: str, phone=None, citizen_id=None, consent: bool = False
) -> Identity:
    """The identity the office's ``online_identity`` asks for, as kept; refused without it
    or without consent. With ``none`` nothing is kept, whatever was sent."""
    if mode == "none":
        return Identity()
    if mode == "cccd":
        if citizen_id in (None, ""):
            raise BadInputError(
                "Vui lòng nhập số CCCD (12 chữ số)", "Give the citizen ID", field="citizen_id"
            )
        value = normalise_cccd(citizen_id)
    else:
        if phone in (None, ""):
            raise BadInputError(
                "Vui lòng nhập số điện thoại di động", "Give a mobile number", field="phone"
            )
        value = normalise_phone(phone)
    if consent is not True:
        raise BadInputError(
            "Cần đánh dấu đồng ý để tiếp tục", "Consent is needed to go on", field="consent"
        )
    return Identity(mode, keyed_hash(key, office_id, mode, value), value[-3:])


def _who(db, key, office_id, settings, phone, citizen_id, consent, otp_id, otp_code, channels, at):
    """The identity an online number or an appointment is taken with: a phone verified by
    its one-time code where the office verifies phones (``otp.required``), else as
    ``identify`` reads it (inside the caller's transaction)."""
    if not otp.required(db, office_id, settings, channels):
        return identify(key, office_id, settings["online_identity"], phone, citizen_id, consent)
    given = None
    if phone not in (None, ""):
        given = keyed_hash(key, office_id, "phone", normalise_phone(phone))
    digest, last3 = otp.consume(db, office_id, otp_id, otp_code, key, at, given)
    return Identity("phone", digest, last3)


def address_hash(key: bytes, address: str | None) -> str | None:
    """A network address as kept for the rate limit: a keyed hash."""
    return None if not address else keyed_hash(key, 0, "address", address)


def masked(last3: str | None) -> str:
    """How staff see a booking's identity: its last 3 digits only."""
    return f"•••{last3}" if last3 else ""


# --- capacity ------------------------------------------------------------------------------


def _day_seconds(office: dict, day: str) -> float:
    spans = opening_spans(office["hours"], office["timezone"], day)
    if not office["hours"]:
        return 86400.0
    return sum((end - start).total_seconds() for start, end in spans)


def service_time(db, office: dict, service_id: int, day: str, default_s: float) -> float:
    """Seconds a counter spends per person of a service (the estimate's best guess)."""
    return estimate.per_person(db, service_id, day, office["timezone"], default_s).mean


def online_capacity(db, office: dict, svc: dict, day: str, share: float, default_s) -> int:
    """Online numbers a service may give on a day: the share of its capacity."""
    counters = serving_counters(db, svc["id"])
    per = service_time(db, office, svc["id"], day, default_s)
    return math.floor(share * counters * _day_seconds(office, day) / per)


def online_taken(db, office_id: int, service_id: int, day: str) -> int:
    """Online numbers a service gave on a day."""
    return scalar(
        db,
        "SELECT count(*) FROM tickets WHERE office_id = ? AND service_id = ? AND day = ?"
        " AND channel = 'online' AND from_ticket_id IS NULL",
        [office_id, service_id, day],
    )


def slot_starts(office: dict, day: str) -> list[datetime]:
    """The half-hour slots of a local day: from each opening span's start, every 30 minutes
    that fit in the span (none on a closed day)."""
    if day_is_closed(office, date.fromisoformat(day)):
        return []
    spans = opening_spans(office["hours"], office["timezone"], day)
    if not office["hours"]:
        start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(office["timezone"]))
        spans = [(start, start + timedelta(days=1))]
    step = timedelta(minutes=SLOT_MINUTES)
    starts = []
    for begin, end in spans:
        moment = begin
        while moment + step <= end:
            starts.append(moment)
            moment += step
    return starts


def default_slot_capacity(db, office: dict, svc: dict, day: str, share: float, default_s) -> int:
    """A slot's places when the manager set none: share × counters × 30 min ÷ service time."""
    counters = serving_counters(db, svc["id"])
    per = service_time(db, office, svc["id"], day, default_s)
    return math.floor(share * counters * SLOT_MINUTES * 60 / per)


def manager_capacities(db, service_id: int, weekday: str) -> dict[str, int]:
    """The manager's slot capacities of a service on a weekday: {"HH:MM": places}."""
    return dict(
        db.execute(
            "SELECT start, capacity FROM booking_slots WHERE service_id = ? AND weekday = ?",
            [service_id, weekday],
        ).fetchall()
    )


def day_slots(
    db: sqlite_utils.Database,
    office: dict,
    svc: dict,
    day: str,
    now: datetime,
    default_s: float = estimate.DEFAULT_SERVICE_S,
    settings: dict | None = None,
) -> list[dict]:
    """A service's slots on a day still to come: start, end, capacity, booked, free."""
    settings = settings or office_settings(db, office["id"])
    starts = [s for s in slot_starts(office, day) if s > now]
    if not starts:
        return []
    tz = ZoneInfo(office["timezone"])
    weekday = WEEKDAY_KEYS[date.fromisoformat(day).weekday()]
    set_by_manager = manager_capacities(db, svc["id"], weekday)
    fallback = default_slot_capacity(db, office, svc, day, settings["online_share"], default_s)
    booked = dict(
        db.execute(
            "SELECT slot_start, count(*) FROM appointments WHERE service_id = ? AND"
            " slot_start >= ? AND slot_start <= ? AND status != 'cancelled' GROUP BY slot_start",
            [svc["id"], iso(starts[0]), iso(starts[-1])],
        ).fetchall()
    )
    slots, step = [], timedelta(minutes=SLOT_MINUTES)
    for start in starts:  # on the path of every availability request: few conversions
        local = start.astimezone(tz).isoformat(timespec="minutes")
        capacity = set_by_manager.get(local[11:16], fallback)
        taken = booked.get(iso(start), 0)
        slots.append(
            {
                "start": local,
                "end": (start + step).astimezone(tz).isoformat(timespec="minutes"),
                "time": local[11:16],
                "capacity": capacity,
                "booked": taken,
                "free": max(0, capacity - taken),
            }
        )
    return slots


def bookable_days(office: dict, horizon: int, now: datetime) -> list[str]:
    """Today and up to ``horizon`` days ahead, closed days and holidays left out."""
    first = local_day(now, office["timezone"])
    days = (first + timedelta(days=n) for n in range(horizon + 1))
    return [d.isoformat() for d in days if not day_is_closed(office, d)]


def set_slot_capacity(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    weekday: str,
    start: str,
    capacity: int | None,
    user_id: int | None = None,
) -> None:
    """Set (or, with None, clear) the places of a service's half-hour slot on a weekday."""
    if weekday not in WEEKDAY_KEYS:
        raise BadInputError("Thứ không hợp lệ (mon..sun)", "Weekday must be mon..sun")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", start or ""):
        raise BadInputError("Giờ bắt đầu phải dạng HH:MM", "Start must be HH:MM")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= 1000
    ):
        raise BadInputError("Số chỗ phải từ 0 đến 1000", "Capacity must be within 0..1000")
    with write(db):
        svc = find_service(db, office_id, service)
        if capacity is None:
            db.execute(
                "DELETE FROM booking_slots WHERE service_id = ? AND weekday = ? AND start = ?",
                [svc["id"], weekday, start],
            )
        else:
            db.execute(
                "INSERT INTO booking_slots (office_id, service_id, weekday, start, capacity)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (service_id, weekday, start)"
                " DO UPDATE SET capacity = excluded.capacity",
                [office_id, svc["id"], weekday, start, capacity],
            )
        audit.record(
            db,
            office_id,
            user_id,
            "booking_slot.set",
            {"service_id": svc["id"], "weekday": weekday, "start": start, "capacity": capacity},
        )


# --- rules shared by online numbers and appointments --------------------------------------


def _admit(
    db, key, office_id, svc, day, settings, phone, citizen_id, consent, otp_id, otp_code,
    channels, address, at,
) -> tuple[Identity, str | None]:  # fmt: skip
    """Who is asking (their identity as the office requires it, a phone code checked), and
    that neither their address's hourly limit nor their daily caps are spent: the checks
    an online number and an appointment share. Returns the identity and address key."""
    who = _who(
        db, key, office_id, settings, phone, citizen_id, consent is True, otp_id, otp_code,
        channels, at,
    )  # fmt: skip
    address_key = address_hash(key, address)
    _check_rate(db, address_key, settings["online_rate_per_hour"], at)
    _check_caps(db, office_id, svc, day, who, settings)
    return who, address_key


def _counting_wrong_codes(db, at: datetime, take, *args) -> Outcome:
    """``take(*args)``; a wrong phone code is counted against it (in a transaction of its
    own: the refused request itself changes nothing) and refused."""
    try:
        return take(*args)
    except otp.WrongCode as err:
        otp.count_attempt(db, err.code_id, at)
        raise


def _check_rate(db, address: str | None, limit: int, at: datetime) -> None:
    if address is None:
        return
    recent = scalar(
        db,
        "SELECT count(*) FROM online_claims WHERE address_hash = ? AND created_at >= ?",
        [address, iso(at - timedelta(hours=1))],
    )
    if recent >= limit:
        raise RateLimitError(
            "Bạn đã lấy quá nhiều lượt trong một giờ, vui lòng thử lại sau",
            "Too many online numbers from this address; try again later",
        )


def _check_caps(db, office_id: int, svc: dict, day: str, who: Identity, settings: dict) -> None:
    if who.hash is None:
        return
    per_field = dict(
        db.execute(
            "SELECT field, count(*) FROM online_claims WHERE office_id = ? AND identity_hash = ?"
            " AND day = ? AND released_at IS NULL GROUP BY field",
            [office_id, who.hash, day],
        ).fetchall()
    )
    cap = settings["online_cap_per_person"]
    if sum(per_field.values()) >= cap:
        raise OnlineCapError(
            f"Mỗi người chỉ được lấy tối đa {cap} lượt trực tuyến (số hoặc lịch hẹn) mỗi ngày",
            f"At most {cap} online numbers or appointments per person per day",
        )
    field_cap = settings["online_cap_per_field"]
    if per_field.get(svc["field"], 0) >= field_cap:
        named = f" {svc['field']}" if svc["field"] else " này"
        raise OnlineCapError(
            f"Mỗi người chỉ được lấy tối đa {field_cap} lượt trực tuyến mỗi ngày trong lĩnh"
            f" vực{named}",
            f"At most {field_cap} online numbers or appointments per person per field per day",
        )


def _claim(db, office_id, svc, day, kind, who, address, at, ticket_id=None, appointment_id=None):
    db.execute(
        "INSERT INTO online_claims (office_id, day, kind, service_id, field, identity_hash,"
        " address_hash, ticket_id, appointment_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
        [office_id, day, kind, svc["id"], svc["field"], who.hash, address, ticket_id,
         appointment_id, iso(at)],
    )  # fmt: skip


def settle_past_days(db: sqlite_utils.Database, office: dict, at: datetime) -> list[dict]:
    """Bookings of days gone by that never checked in become ``missed`` (logged), and the
    hashes kept for the caps and the rate limit are forgotten. Runs inside the caller's
    write transaction; returns the logged events."""
    today = local_day(at, office["timezone"]).isoformat()
    missed = db.execute(
        "SELECT id, service_id FROM appointments WHERE office_id = ? AND status = 'booked'"
        " AND day < ?",
        [office["id"], today],
    ).fetchall()
    events = []
    for appointment_id, service_id in missed:
        db.execute("UPDATE appointments SET status = 'missed' WHERE id = ?", [appointment_id])
        events.append(
            append_event(
                db,
                office["id"],
                "booking_missed",
                at,
                details={"appointment_id": appointment_id, "service_id": service_id},
            )
        )
    db.execute(
        "UPDATE online_claims SET identity_hash = NULL, address_hash = NULL WHERE office_id = ?"
        " AND day < ? AND (identity_hash IS NOT NULL OR address_hash IS NOT NULL)",
        [office["id"], today],
    )
    db.execute(
        "UPDATE appointments SET identity_hash = NULL WHERE office_id = ? AND day < ?"
        " AND identity_hash IS NOT NULL",
        [office["id"], today],
    )
    return events


def _open_online_service(db, office_id: int, service, switch: str, what_vi: str) -> tuple:
    office = get_office(db, office_id)
    svc = find_service(db, office_id, service)
    settings = office_settings(db, office_id)
    if not settings[switch]:
        raise OnlineClosedError(
            f"Văn phòng chưa nhận {what_vi}", "This office does not take them online"
        )
    if not serving_counters(db, svc["id"]):
        raise NoCounterError(
            f"Dịch vụ {svc['name_vi']} chưa có quầy phục vụ", "No counter serves this service"
        )
    return office, svc, settings


# --- online numbers --------------------------------------------------------------------------


def online_closes_at(office: dict, day: str, settings: dict) -> datetime:
    """When online numbers stop on a day: the day's end less ``online_close_before_min``."""
    return closing_time(office, day) - timedelta(minutes=settings["online_close_before_min"])


def take_online_number(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    key: bytes,
    phone=None,
    citizen_id=None,
    consent: bool = False,
    address: str | None = None,
    now: datetime | None = None,
    default_service_s: float = estimate.DEFAULT_SERVICE_S,
    notify: dict | None = None,
    message_channels=(),
    otp_id=None,
    otp_code=None,
) -> Outcome:
    """Take a number from home: a ticket of channel ``online``, in line at once (where the
    office's ``online_checkin`` is on, not callable until it checks in). Where the
    office verifies phones, ``otp_id`` and ``otp_code`` (``otp.request_code``) name the
    phone instead of ``phone``; a wrong code is counted and refused."""
    at = resolve_now(now)
    return _counting_wrong_codes(
        db, at, _take_online_number, db, office_id, service, key, phone, citizen_id, consent,
        address, at, default_service_s, notify, message_channels, otp_id, otp_code,
    )  # fmt: skip


def _take_online_number(
    db, office_id, service, key, phone, citizen_id, consent, address, at, default_service_s,
    notify, message_channels, otp_id, otp_code,
) -> Outcome:  # fmt: skip
    with write(db):
        office, svc, settings = _open_online_service(
            db, office_id, service, "online_numbers_enabled", "lấy số trực tuyến"
        )
        day = local_day(at, office["timezone"]).isoformat()
        if not office_is_open(office, at) or day_is_closed(office, date.fromisoformat(day)):
            raise OfficeClosedError(
                "Ngoài giờ làm việc, chưa thể lấy số trực tuyến", "Outside opening hours"
            )
        if at >= online_closes_at(office, day, settings):
            raise OnlineClosedError(
                f"Đã ngừng lấy số trực tuyến hôm nay ({settings['online_close_before_min']} phút"
                " trước giờ đóng cửa); vui lòng đặt lịch hẹn ngày khác",
                "Online numbers have stopped for today",
            )
        who, address_key = _admit(
            db, key, office_id, svc, day, settings, phone, citizen_id, consent, otp_id, otp_code,
            message_channels, address, at,
        )  # fmt: skip
        capacity = online_capacity(
            db, office, svc, day, settings["online_share"], default_service_s
        )
        if online_taken(db, office_id, svc["id"], day) >= capacity:
            raise OnlineShareError(
                f"Đã hết số trực tuyến hôm nay cho dịch vụ {svc['name_vi']}; vui lòng lấy số"
                " tại văn phòng",
                "No online numbers left today for this service",
            )
        settle_past_days(db, office, at)
        outcome = issue_ticket(
            db,
            office_id,
            svc["id"],
            now=at,
            default_service_s=default_service_s,
            channel="online",
            notify=notify,
            message_channels=message_channels,
            details={"checkin": True} if settings["online_checkin"] else None,
            awaiting_checkin=settings["online_checkin"],
        )
        _claim(db, office_id, svc, day, "online", who, address_key, at, outcome.ticket["id"])
    return outcome


# --- appointments -----------------------------------------------------------------------------


# A slot as clients send it: the office's wall-clock time, optionally with an offset.
SLOT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?$"


def _no_slot(vi: str, en: str) -> NoSlotError:
    return NoSlotError(vi, en, field="slot")


def _slot_moment(office: dict, raw) -> datetime:
    if isinstance(raw, datetime):
        moment = raw
    else:
        text = str(raw or "").strip()
        if not re.fullmatch(SLOT_PATTERN, text):
            raise BadInputError(
                "Khung giờ không hợp lệ (ví dụ 2026-12-03T08:00)", "Invalid slot", field="slot"
            )
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:  # well-formed but no such time (30 February): no such slot
            raise _no_slot("Không có khung giờ này", "No such slot") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(office["timezone"]))
    return moment


def _new_code(db, office_id: int) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not scalar(
            db, "SELECT 1 FROM appointments WHERE office_id = ? AND code = ?", [office_id, code]
        ):
            return code


def book_appointment(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    slot,
    key: bytes,
    phone=None,
    citizen_id=None,
    consent: bool = False,
    address: str | None = None,
    now: datetime | None = None,
    default_service_s: float = estimate.DEFAULT_SERVICE_S,
    notify: dict | None = None,
    message_channels=(),
    otp_id=None,
    otp_code=None,
) -> Outcome:
    """Book a half-hour slot of a service; ``outcome.extra["appointment"]`` is its view
    (with the page token, for the citizen only). ``notify`` (a phone or an e-mail, with
    consent) sends its confirmation and a reminder an hour before, and, once it checks
    in, its ticket's messages. ``otp_id``/``otp_code``: as for ``take_online_number``."""
    at = resolve_now(now)
    return _counting_wrong_codes(
        db, at, _book_appointment, db, office_id, service, slot, key, phone, citizen_id,
        consent, address, at, default_service_s, notify, message_channels, otp_id, otp_code,
    )  # fmt: skip


def _book_appointment(
    db, office_id, service, slot, key, phone, citizen_id, consent, address, at,
    default_service_s, notify, message_channels, otp_id, otp_code,
) -> Outcome:  # fmt: skip
    with write(db):
        office, svc, settings = _open_online_service(
            db, office_id, service, "appointments_enabled", "đặt lịch hẹn"
        )
        start = _slot_moment(office, slot)
        day = local_day(start, office["timezone"]).isoformat()
        if day not in bookable_days(office, settings["booking_horizon_days"], at):
            raise _no_slot(
                f"Ngày {date.fromisoformat(day):%d/%m/%Y} không nhận đặt lịch (ngày nghỉ, đã qua"
                f" hoặc quá {settings['booking_horizon_days']} ngày tới)",
                "That day takes no appointments",
            )
        slots = {s["start"]: s for s in day_slots(db, office, svc, day, at, default_service_s)}
        chosen = slots.get(start.astimezone(ZoneInfo(office["timezone"])).isoformat("T", "minutes"))
        if chosen is None:
            raise _no_slot(
                "Khung giờ này không có hoặc đã qua; vui lòng chọn khung giờ khác",
                "No such slot (or it has passed)",
            )
        if chosen["free"] <= 0:
            raise SlotFullError(
                f"Khung giờ {chosen['time']} đã hết chỗ; vui lòng chọn khung giờ khác",
                "That slot is full",
            )
        who, address_key = _admit(
            db, key, office_id, svc, day, settings, phone, citizen_id, consent, otp_id, otp_code,
            message_channels, address, at,
        )  # fmt: skip
        contact = (
            None
            if notify is None
            else subscriptions.contact_from(db, office_id, notify, message_channels)
        )
        settled = settle_past_days(db, office, at)
        end = start + timedelta(minutes=SLOT_MINUTES)
        visit_id = db.execute(  # the visit its messages and, once here, its ticket belong to
            "INSERT INTO visits (office_id, token, created_at) VALUES (?, ?, ?)",
            [office_id, secrets.token_urlsafe(16), iso(at)],
        ).lastrowid
        appointment_id = db.execute(
            "INSERT INTO appointments (office_id, service_id, day, slot_start, slot_end, code,"
            " token, identity_kind, identity_hash, identity_last3, visit_id, consent_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [office_id, svc["id"], day, iso(start), iso(end), _new_code(db, office_id),
             secrets.token_urlsafe(16), who.kind, who.hash, who.last3, visit_id,
             iso(at) if who.kind else None, iso(at)],
        ).lastrowid  # fmt: skip
        _claim(db, office_id, svc, day, "appointment", who, address_key, at, None, appointment_id)
        raw = [
            append_event(
                db,
                office_id,
                "booked",
                at,
                details={
                    "appointment_id": appointment_id,
                    "service_id": svc["id"],
                    "slot": iso(start),
                },
            )
        ]
        if contact is not None:
            appt = get_appointment(db, appointment_id)
            subscription_id, event = subscriptions.subscribe_booking_within(
                db, office, appt, contact, at
            )
            raw.append(event)
            outbox.queue_booking_messages(db, office, appt, subscription_id, at)
        outcome = outcome_for(db, office, [*settled, *raw], None)
        outcome.messages = outcome.messages or contact is not None  # its confirmation
        outcome.extra["appointment"] = appointment_view(db, get_appointment(db, appointment_id))
    return outcome


def get_appointment(db: sqlite_utils.Database, appointment_id: int) -> dict:
    """An appointment's row by id; missing: a Vietnamese 404."""
    row = one(db, "SELECT * FROM appointments WHERE id = ?", [appointment_id])
    if row is None:
        raise NotFoundError("Không tìm thấy lịch hẹn", "No such appointment")
    return row


def appointment_by_token(db: sqlite_utils.Database, token: str) -> dict:
    """The appointment a citizen's page link names (a 128-bit key)."""
    row = one(db, "SELECT * FROM appointments WHERE token = ?", [str(token or "")[:64]])
    if row is None:
        raise NotFoundError("Không tìm thấy lịch hẹn", "No such appointment")
    return row


def appointment_view(db: sqlite_utils.Database, appt: dict, private: bool = True) -> dict:
    """An appointment as its citizen sees it (``private``: with the page token) or as staff
    see it (the last 3 digits only, never the number)."""
    svc = one(db, "SELECT * FROM services WHERE id = ?", [appt["service_id"]])
    office = get_office(db, appt["office_id"])
    tz = office["timezone"]
    start = datetime.fromisoformat(appt["slot_start"]).astimezone(ZoneInfo(tz))
    view = {
        "id": appt["id"],
        "office": {"id": office["id"], "name": office["name"], "address": office["address"]},
        "code": appt["code"],
        "status": appt["status"],
        "status_vi": STATUS_VI[appt["status"]],
        "day": appt["day"],
        "slot_start": local_iso(appt["slot_start"], tz),
        "slot_end": local_iso(appt["slot_end"], tz),
        "time": start.strftime("%H:%M"),
        "date_vi": start.strftime("%d/%m/%Y"),
        "service": {
            "id": svc["id"],
            "prefix": svc["prefix"],
            "name_vi": svc["name_vi"],
            "name_en": svc["name_en"],
            "field": svc["field"],
        },
        "identity": masked(appt["identity_last3"]),
        "ticket_id": appt["ticket_id"],
        "created_at": local_iso(appt["created_at"], tz),
        "checked_in_at": local_iso(appt["checked_in_at"], tz),
    }
    if private:
        view["token"] = appt["token"]
    return view


def cancel_appointment(
    db: sqlite_utils.Database, token: str, now: datetime | None = None
) -> Outcome:
    """Cancel a booking from its page: its slot is free again, its cap place too."""
    at = resolve_now(now)
    with write(db):
        appt = appointment_by_token(db, token)
        if appt["status"] != "booked":
            raise ConflictError(
                f"Lịch hẹn này {STATUS_VI[appt['status']].lower()}, không thể hủy",
                "Only a booked appointment can be cancelled",
            )
        office = get_office(db, appt["office_id"])
        db.execute(
            "UPDATE appointments SET status = 'cancelled', cancelled_at = ? WHERE id = ?",
            [iso(at), appt["id"]],
        )
        db.execute(
            "UPDATE online_claims SET released_at = ? WHERE appointment_id = ?",
            [iso(at), appt["id"]],
        )
        raw = append_event(
            db,
            office["id"],
            "booking_cancelled",
            at,
            details={"appointment_id": appt["id"], "service_id": appt["service_id"]},
        )
        outcome = outcome_for(db, office, [raw], None)
        outcome.extra["appointment"] = appointment_view(db, get_appointment(db, appt["id"]))
    return outcome
