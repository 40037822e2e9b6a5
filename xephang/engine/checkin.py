"""Checking in: a citizen who booked, or took a number from home, says they are here.

At the kiosk (or a counter) the citizen scans or types what names them: a booking's QR
(its page link) or code, a ticket's QR (its tracker link) or number, or their CCCD (its
QR, or the 12 digits typed), matched by keyed hash against today's bookings and online
numbers (``booking.keyed_hash``). A booking becomes a ticket of channel ``appointment``
(in line from its slot's start if on time); an online number that awaits check-in
(``online_checkin``) becomes callable, its place unchanged.

A number is guessable (the board shows the codes around it), so a kiosk takes a typed
online number only with its four check-in digits, derived from its visit token and shown
on its tracker page only. Four digits are guessable too, given time: wrong digits are
counted (``checkin_failures``: the ticket, the device, when; nothing about the person),
and after ``FAILURES_PER_NUMBER`` for one number, or ``FAILURES_PER_DEVICE`` at one kiosk,
within ``FAILURE_WINDOW``, typed digits are refused (429) for that number or at that kiosk
until the oldest failure leaves the window, right digits included, so guessing learns
nothing meanwhile. The QR of the tracker page, and the counter, still check it in.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import date, datetime, timedelta

import sqlite_utils

from ..clock import iso, local_day, resolve_now
from ..errors import BadInputError, ConflictError, NotFoundError, RateLimitError
from ..storage import one, scalar, write
from . import estimate, states
from .access import wait_before_retry
from .booking import STATUS_VI, appointment_view, get_appointment, keyed_hash, normalise_cccd
from .log import append_event
from .lookups import get_office, get_ticket
from .outcome import Outcome, outcome_for
from .settings import office_settings
from .states import WAITING
from .tickets import issue_ticket

# Wrong check-in digits allowed, per number and per kiosk, within the window.
FAILURES_PER_NUMBER = 5
FAILURES_PER_DEVICE = 10
FAILURE_WINDOW = timedelta(minutes=15)

PAGE_LINK = re.compile(r"/b/([A-Za-z0-9_-]{16,64})")
# A ticket's QR (its tracker link, /t/<visit token>) and a typed ticket code (A023, Đ105).
TRACKER_LINK = re.compile(r"/t/([A-Za-z0-9_-]{16,64})")
TICKET_CODE = re.compile(r"^[A-ZĐ]\d{3,6}$")
# A number is guessable (the board shows the codes around it), so a kiosk takes a typed
# online number only with its check-in code: the number and four digits derived from its
# visit token, shown on the tracker page only (``checkin_code``). Staff at a counter see
# the citizen and may type the bare number.
CHECKIN_DIGITS = 4


def checkin_pin(visit_token: str) -> str:
    """The four digits of a visit's check-in code (only its token's holder can know them)."""
    digest = hashlib.sha256(b"xephang-checkin:" + visit_token.encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10**CHECKIN_DIGITS:0{CHECKIN_DIGITS}d}"


def checkin_code(ticket_code: str, visit_token: str) -> str:
    """What a citizen types at the kiosk to check an online number in: ``A023 4817``."""
    return f"{ticket_code} {checkin_pin(visit_token)}"


def _typed_ticket(code: str) -> tuple[str, str | None] | None:
    """A typed entry as (ticket code, check-in digits or None), or None if it is neither
    a bare number (``A023``) nor one with its check-in digits (``A0234817``)."""
    if TICKET_CODE.match(code):
        return code, None
    number, pin = code[:-CHECKIN_DIGITS], code[-CHECKIN_DIGITS:]
    if TICKET_CODE.match(number) and pin.isdigit():
        return number, pin
    return None


def find_arrival(
    db, office: dict, text: str, key: bytes, at: datetime, device_id: int | None = None
) -> tuple[str, dict]:
    """What a kiosk scan or a typed entry names, as ``("appointment", booking row)`` or
    ``("ticket", ticket row)`` (an online number checking in): the booking's QR (its page
    link) or code; a ticket's QR (its tracker link) or code (today's, ``A023``, at a
    kiosk, ``device_id``, with its check-in digits, ``A023 4817``, once it awaits check-in:
    wrong ones raise ``WrongDigits``, too many refuse, ``check_digits_allowed``); or a CCCD
    QR (``ID12|oldID|name|...``: only its first field is read, hashed and compared) or a
    typed 12-digit CCCD number, matched against today's bookings, then today's online
    numbers. Within the office only: another office's code answers as not found, and so
    does a number with the wrong check-in digits."""
    day = local_day(at, office["timezone"]).isoformat()
    text = str(text or "").strip()
    if not text or len(text) > 1000:
        raise BadInputError(
            "Vui lòng quét mã QR hoặc nhập mã lịch hẹn / số thứ tự", "Scan or type a code"
        )
    missing = NotFoundError(
        "Không tìm thấy lịch hẹn hoặc số thứ tự với mã này; vui lòng kiểm tra lại",
        "No appointment or ticket with this code",
    )
    booking_link, tracker_link = PAGE_LINK.search(text), TRACKER_LINK.search(text)
    compact = re.sub(r"[\s-]", "", text)
    kind, row = "appointment", None
    if booking_link:
        row = one(
            db,
            "SELECT * FROM appointments WHERE token = ? AND office_id = ?",
            [booking_link.group(1), office["id"]],
        )
    elif tracker_link:
        kind = "ticket"
        row = one(
            db,
            "SELECT t.* FROM tickets t JOIN visits v ON v.id = t.visit_id WHERE v.token = ?"
            " AND t.office_id = ? ORDER BY t.awaiting_checkin DESC, t.id DESC LIMIT 1",
            [tracker_link.group(1), office["id"]],
        )
    elif "|" in text or (compact.isdigit() and len(compact) == 12):
        kind, row = _by_cccd(db, office, normalise_cccd(text.split("|", 1)[0]), key, day)
    else:
        code = compact.upper()[:20]
        row = one(
            db, "SELECT * FROM appointments WHERE office_id = ? AND code = ?", [office["id"], code]
        )
        typed = _typed_ticket(code) if row is None else None
        if typed is not None:
            kind, (number, pin) = "ticket", typed
            row = one(
                db,
                "SELECT * FROM tickets WHERE office_id = ? AND day = ? AND code = ?"
                " ORDER BY awaiting_checkin DESC, id DESC LIMIT 1",
                [office["id"], day, number],
            )
            if row is not None and pin is not None:
                check_digits_allowed(db, row["id"], device_id, at)
                token = scalar(db, "SELECT token FROM visits WHERE id = ?", [row["visit_id"]])
                if not hmac.compare_digest(pin, checkin_pin(token or "")):
                    raise WrongDigits(missing.message_vi, missing.message_en, ticket_id=row["id"])
            elif row is not None and device_id is not None and row["awaiting_checkin"]:
                raise BadInputError(
                    f"Số {number} cần mã xác nhận: nhập số kèm 4 chữ số ghi trên trang theo"
                    " dõi lượt, hoặc quét mã QR ở trang đó",
                    f"Number {number} needs its check-in code: type it with the 4 digits on"
                    " its tracking page, or scan the QR code there",
                )
    if row is None:
        raise missing
    return kind, row


def _by_cccd(db, office: dict, number: str, key: bytes, day: str) -> tuple[str, dict | None]:
    """Today's booking of this CCCD still to check in, else its online number still to
    check in, else whichever was found (to say why it cannot check in). Only numbers
    taken under ``online_checkin`` are matched: a CCCD names no other ticket."""
    digest = keyed_hash(key, office["id"], "cccd", number)
    appt = one(
        db,
        "SELECT * FROM appointments WHERE office_id = ? AND identity_hash = ? AND day = ?"
        " ORDER BY status != 'booked', slot_start LIMIT 1",
        [office["id"], digest, day],
    )
    if appt is not None and appt["status"] == "booked":
        return "appointment", appt
    ticket = one(
        db,
        "SELECT t.* FROM online_claims c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.office_id = ? AND c.identity_hash = ? AND c.day = ? AND c.kind = 'online'"
        " AND c.released_at IS NULL AND (t.awaiting_checkin OR t.checked_in_at IS NOT NULL)"
        " ORDER BY t.awaiting_checkin DESC, t.id DESC LIMIT 1",
        [office["id"], digest, day],
    )
    if ticket is not None and (ticket["awaiting_checkin"] or appt is None):
        return "ticket", ticket
    return "appointment", appt


def check_in(
    db: sqlite_utils.Database,
    office_id: int,
    text: str,
    key: bytes,
    now: datetime | None = None,
    device_id: int | None = None,
    device_limit: tuple[int, float] | None = None,
    user_id: int | None = None,
    default_service_s: float = estimate.DEFAULT_SERVICE_S,
    within=None,
) -> Outcome:
    """Check a citizen in (kiosk or staff). A booking becomes a ticket of channel
    ``appointment``, in line from its slot's start if on time, else from now; an online
    number that awaits check-in (``online_checkin``) becomes callable, its place
    unchanged. ``within`` runs in the same transaction (the kiosk's receipt).
    ``outcome.extra["kind"]`` says which it was (``appointment`` or ``online``).

    Wrong check-in digits are counted in a write of their own once this one has rolled
    back: called inside a caller's transaction that then rolls back (a group commit's
    job that raises), the count would go with it, so check-in is not run grouped."""
    at = resolve_now(now)
    try:
        with write(db):
            office = get_office(db, office_id)
            today = local_day(at, office["timezone"]).isoformat()
            kind, found = find_arrival(db, office, text, key, at, device_id)
            if kind == "ticket":
                return _check_in_online(
                    db, office, found, today, at, user_id, device_id, default_service_s, within
                )
            appt = found
            if appt["status"] == "checked_in":
                raise ConflictError(
                    "Lịch hẹn này đã được xác nhận, vui lòng chờ gọi số", "Already checked in"
                )
            if appt["status"] != "booked":
                raise ConflictError(
                    f"Lịch hẹn này {STATUS_VI[appt['status']].lower()}", "This booking is not open"
                )
            if appt["day"] != today:
                raise ConflictError(
                    f"Lịch hẹn của bạn vào ngày {date.fromisoformat(appt['day']):%d/%m/%Y}, không"
                    " phải hôm nay",
                    "This appointment is for another day",
                )
            start = datetime.fromisoformat(appt["slot_start"])
            settings = office_settings(db, office_id)
            grace = timedelta(minutes=settings["booking_grace_min"])
            late = at > start + grace
            # With no precedence for bookings (booking_streak_max 0) everyone queues from arrival.
            on_time = not late and settings["booking_streak_max"] > 0
            outcome = issue_ticket(
                db,
                office_id,
                appt["service_id"],
                now=at,
                device_id=device_id,
                device_limit=device_limit,
                user_id=user_id,
                default_service_s=default_service_s,
                channel="appointment",
                queue_at=start if on_time else at,
                slot_at=start,
                details={"appointment_id": appt["id"], "on_time": on_time},
                within=within,
                visit_id=appt["visit_id"],  # its messages follow it into the line
            )
            changed = db.execute(
                "UPDATE appointments SET status = 'checked_in', ticket_id = ?, checked_in_at = ?"
                " WHERE id = ? AND status = 'booked'",
                [outcome.ticket["id"], iso(at), appt["id"]],
            ).rowcount
            if changed != 1:
                raise ConflictError("Lịch hẹn này vừa được xác nhận", "Checked in meanwhile")
            db.execute(
                "UPDATE online_claims SET ticket_id = ? WHERE appointment_id = ?",
                [outcome.ticket["id"], appt["id"]],
            )
            outcome.extra["appointment"] = appointment_view(
                db, get_appointment(db, appt["id"]), private=False
            )
            outcome.extra["on_time"] = on_time  # in line from its slot's start
            outcome.extra["late"] = late
            outcome.extra["kind"] = "appointment"
        return outcome
    except WrongDigits as wrong:
        record_wrong_digits(db, office_id, wrong.ticket_id, device_id, at)
        raise


def _check_in_online(
    db, office: dict, ticket: dict, today: str, at: datetime, user_id, device_id,
    default_service_s: float, within,
) -> Outcome:  # fmt: skip
    """An online number's citizen is here: it may be called from now on, in the place it
    took (caller's transaction). Logged as ``checked_in``."""
    code = ticket["code"]
    if ticket["day"] != today:
        raise ConflictError(
            f"Số {code} là số của ngày {date.fromisoformat(ticket['day']):%d/%m/%Y}, không phải"
            " hôm nay",
            "This number is of another day",
        )
    if ticket["status"] != WAITING:
        raise ConflictError(
            f"Số {code} đang ở trạng thái '{states.STATUS_VI[ticket['status']]}', không cần xác"
            " nhận có mặt",
            "Only a waiting number checks in",
            ticket_status=ticket["status"],
        )
    if not ticket["awaiting_checkin"]:
        if ticket["checked_in_at"]:
            raise ConflictError(
                f"Số {code} đã được xác nhận có mặt, vui lòng chờ gọi số", "Already checked in"
            )
        raise ConflictError(
            f"Số {code} không cần xác nhận có mặt, vui lòng chờ gọi số",
            "This number needs no check-in",
        )
    changed = db.execute(
        "UPDATE tickets SET awaiting_checkin = 0, checked_in_at = ? WHERE id = ?"
        " AND status = 'waiting' AND awaiting_checkin = 1",
        [iso(at), ticket["id"]],
    ).rowcount
    if changed != 1:
        raise ConflictError(f"Số {code} vừa được xác nhận có mặt", "Checked in meanwhile")
    raw = append_event(
        db,
        office["id"],
        "checked_in",
        at,
        ticket_id=ticket["id"],
        user_id=user_id,
        details={"channel": "online", "device_id": device_id},
    )
    outcome = outcome_for(db, office, [raw], ticket["id"])
    waiting = get_ticket(db, ticket["id"])
    outcome.ticket.update(estimate.for_citizen(db, waiting, default_service_s, at))
    outcome.extra.update(kind="online", appointment=None, on_time=None, late=None)
    if within is not None:
        outcome.extra["within"] = within(db, outcome)
    return outcome


# --- wrong check-in digits ------------------------------------------------------------------


class WrongDigits(NotFoundError):
    """A typed number's check-in digits are not its own: answered as an unknown code (the
    number's existence is not confirmed), counted against the number and the kiosk."""

    def __init__(self, message_vi: str, message_en: str, ticket_id: int):
        super().__init__(message_vi, message_en)
        self.ticket_id = ticket_id


def check_digits_allowed(
    db: sqlite_utils.Database, ticket_id: int, device_id: int | None, at: datetime
) -> None:
    """Refuse (429) typed check-in digits for a number, or at a kiosk, with too many wrong
    ones in the window; the message says when to try again and what works meanwhile."""
    for column, value, limit in (
        ("ticket_id", ticket_id, FAILURES_PER_NUMBER),
        ("device_id", device_id, FAILURES_PER_DEVICE),
    ):
        if value is None:
            continue
        wait_s = wait_before_retry(db, "checkin_failures", column, value, limit, FAILURE_WINDOW, at)
        if wait_s is not None:
            minutes = max(1, math.ceil(wait_s / 60))
            raise RateLimitError(
                f"Mã xác nhận đã bị nhập sai quá nhiều lần. Vui lòng quét mã QR trên trang"
                f" theo dõi lượt, hoặc đến quầy để được hỗ trợ; có thể nhập lại sau"
                f" {minutes} phút.",
                f"Too many wrong check-in codes. Scan the QR code on the tracking page, or"
                f" ask at a counter; typing works again in {minutes} minutes.",
                retry_after_s=int(wait_s) + 1,
            )


def record_wrong_digits(
    db: sqlite_utils.Database,
    office_id: int,
    ticket_id: int,
    device_id: int | None,
    now: datetime | None = None,
) -> None:
    """Count one wrong set of check-in digits (older counts than two windows are pruned)."""
    at = resolve_now(now)
    with write(db):
        db.execute(
            "INSERT INTO checkin_failures (office_id, ticket_id, device_id, at)"
            " VALUES (?, ?, ?, ?)",
            [office_id, ticket_id, device_id, iso(at)],
        )
        db.execute("DELETE FROM checkin_failures WHERE at < ?", [iso(at - 2 * FAILURE_WINDOW)])
