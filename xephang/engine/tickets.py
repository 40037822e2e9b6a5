"""A ticket's life outside the counter: issuing it, its print result, its rating, its expiry."""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import iso, local_day, resolve_now
from ..errors import (
    BadInputError,
    ConflictError,
    DailyCapError,
    NoCounterError,
    NotFoundError,
    OfficeClosedError,
    RateLimitError,
)
from ..storage import one, scalar, write
from . import estimate, states, subscriptions
from .hours import closed_message, closing_time, office_is_open
from .log import append_event
from .lookups import find_service, get_office, get_ticket, serving_counters
from .outcome import Outcome, outcome_for
from .settings import office_setting
from .states import DONE, EXPIRED, WAITING


def next_number(db: sqlite_utils.Database, office_id: int, service_id: int, day: str) -> int:
    last = scalar(
        db,
        "SELECT max(number) FROM tickets WHERE office_id = ? AND service_id = ? AND day = ?",
        [office_id, service_id, day],
    )
    return (last or 0) + 1


def format_code(prefix: str, number: int) -> str:
    """Ticket code as printed and announced: prefix and at least three digits (A023)."""
    return f"{prefix}{number:03d}"


def issue_ticket(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    priority: str | None = None,
    device_id: int | None = None,
    user_id: int | None = None,
    now: datetime | None = None,
    check_hours: bool = True,
    default_service_s: int = 300,
    within=None,
    device_limit: tuple[int, float] | None = None,
    notify: dict | None = None,
    message_channels: Collection[str] = (),
    channel: str = "kiosk",
    queue_at: datetime | None = None,
    slot_at: datetime | None = None,
    details: dict | None = None,
    visit_id: int | None = None,
    awaiting_checkin: bool = False,
) -> Outcome:
    """Issue the next numbered ticket of a service for today, as one transaction.

    ``notify`` (``{"phone"|"email": ..., "consent": true}``) subscribes the visit to
    messages over one of ``message_channels`` (those the server has set up); it is
    checked before anything is written, so a refused one issues no ticket.

    A device (a kiosk) issues at most ``device_limit`` = (count, seconds)
    tickets in any window of that length, whatever path it issues by: every
    caller issuing for a device must give the limit.

    ``channel`` is how the citizen came: the kiosk (or staff), an ``online`` number, or an
    ``appointment`` checking in (``engine/checkin.py``, which gives the appointment's
    place in line as ``queue_at`` and its slot start as ``slot_at``; ``details`` go into
    the logged event). ``awaiting_checkin``: an online number that may not be called until
    its citizen checks in (``checkin.check_in``; the office's ``online_checkin``).

    ``within(db, outcome)``, if given, runs last in the same transaction and its
    result lands in ``outcome.extra["within"]``: the kiosk queues the receipt
    there, so a ticket is never committed without its print job.
    """
    at = resolve_now(now)
    if device_id is not None and device_limit is None:
        raise ValueError("a device's ticket needs the device rate limit")
    with write(db):
        office = get_office(db, office_id)
        svc = find_service(db, office_id, service)
        if not serving_counters(db, svc["id"]):
            raise NoCounterError(
                f"Dịch vụ {svc['name_vi']} chưa có quầy phục vụ, chưa thể lấy số",
                "No counter serves this service",
            )
        if device_id is not None:
            _check_device_rate(db, device_id, device_limit, at)
        if check_hours and not office_is_open(office, at):  # holidays too: kiosk and online
            raise OfficeClosedError(*closed_message(office, at))
        category = None
        if priority:
            category = one(
                db,
                "SELECT * FROM priority_categories WHERE office_id = ? AND key = ? AND active",
                [office_id, priority],
            )
            if category is None:
                raise BadInputError(
                    f"Không có nhóm ưu tiên '{priority}'", f"No priority category '{priority}'"
                )
        day = local_day(at, office["timezone"]).isoformat()
        # A booking checking in had its place before the day's tickets ran out.
        if svc["daily_cap"] is not None and channel != "appointment":
            issued_today = scalar(
                db,
                "SELECT count(*) FROM tickets WHERE office_id = ? AND service_id = ? AND day = ?"
                " AND from_ticket_id IS NULL",
                [office_id, svc["id"], day],
            )
            if issued_today >= svc["daily_cap"]:
                raise DailyCapError(
                    f"Đã hết số hôm nay cho dịch vụ {svc['name_vi']}",
                    "No more tickets today for this service",
                )
        contact = (
            None
            if notify is None
            else subscriptions.contact_from(db, office_id, notify, message_channels)
        )
        stale = expire_stale(db, office, at)
        if visit_id is None:  # a booking checking in brings the visit it was booked with
            visit_id = db.execute(
                "INSERT INTO visits (office_id, token, created_at) VALUES (?, ?, ?)",
                [office_id, secrets.token_urlsafe(16), iso(at)],
            ).lastrowid
        ticket_id = insert_ticket(
            db,
            office,
            svc,
            day,
            visit_id,
            category,
            at,
            iso(queue_at or at),
            device_id=device_id,
            channel=channel,
            slot_at=None if slot_at is None else iso(slot_at),
            awaiting_checkin=awaiting_checkin,
        )
        logged_details = {"priority": priority, "device_id": device_id}
        if channel != "kiosk":
            logged_details.update(channel=channel, **(details or {}))
        raw = append_event(
            db,
            office_id,
            "issued",
            at,
            ticket_id=ticket_id,
            user_id=user_id,
            details=logged_details,
        )
        logged = [*stale, raw]
        if contact is not None:
            ticket = get_ticket(db, ticket_id)
            logged.append(subscriptions.subscribe_within(db, office, ticket, contact, at))
        promised = estimate.promise(db, ticket_id, default_service_s, at, office)
        result = outcome_for(db, office, logged, ticket_id)
        result.ticket.update(promised)
        if within is not None:
            result.extra["within"] = within(db, result)
    return result


def _check_device_rate(db, device_id: int, limit: tuple[int, float], at: datetime) -> None:
    count, seconds = limit
    since = iso(at - timedelta(seconds=seconds))
    # Counting stops at the limit: the check reads at most `count` index rows, however
    # many the device issued in the window.
    issued = scalar(
        db,
        "SELECT count(*) FROM (SELECT 1 FROM tickets WHERE device_id = ? AND issued_at >= ?"
        " LIMIT ?)",
        [device_id, since, count],
    )
    if issued >= count:
        raise RateLimitError(
            "Kiosk đang quá tải, vui lòng đợi một lát rồi thử lại",
            "Too many tickets from this kiosk, please wait a moment",
        )


def insert_ticket(
    db,
    office: dict,
    svc: dict,
    day: str,
    visit_id: int,
    category: dict | None,
    at: datetime,
    queue_at: str,
    device_id: int | None = None,
    from_ticket_id: int | None = None,
    target_counter_id: int | None = None,
    channel: str = "kiosk",
    slot_at: str | None = None,
    awaiting_checkin: bool = False,
) -> int:
    """Insert the next numbered waiting ticket of a service (caller's transaction).

    ``category`` is the priority category row (its key and rank go on the
    ticket, the rank fixing its queue key), or None.
    """
    number = next_number(db, office["id"], svc["id"], day)
    return db.execute(
        "INSERT INTO tickets (office_id, service_id, visit_id, from_ticket_id, day, number, code,"
        " priority, priority_rank, status, target_counter_id, device_id, issued_at, queue_at,"
        " channel, slot_at, awaiting_checkin)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?)",
        [
            office["id"],
            svc["id"],
            visit_id,
            from_ticket_id,
            day,
            number,
            format_code(svc["prefix"], number),
            category["key"] if category else None,
            category["rank"] if category else None,
            target_counter_id,
            device_id,
            iso(at),
            queue_at,
            channel,
            slot_at,
            int(awaiting_checkin),
        ],
    ).lastrowid


def cancel_by_citizen(
    db: sqlite_utils.Database,
    ticket_id: int,
    device_id: int,
    within_s: float,
    now: datetime | None = None,
    within=None,
) -> Outcome:
    """The citizen takes back a ticket just issued at this kiosk (a mis-tap): only the
    issuing kiosk, only while it still waits, only within ``within_s`` of issue. Logged
    as cancelled by the citizen. ``within(db)`` runs in the same transaction (the kiosk
    withdraws the receipt not yet printed)."""
    at = resolve_now(now)
    with write(db):
        ticket = get_ticket(db, ticket_id)
        if ticket["device_id"] != device_id:
            raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
        states.check(ticket, "cancelled")
        if ticket["status"] != WAITING:
            raise ConflictError(
                f"Số {ticket['code']} đã được gọi, không hủy được tại kiosk",
                "The ticket was already called",
            )
        age = (at - datetime.fromisoformat(ticket["issued_at"])).total_seconds()
        if age > within_s:
            raise ConflictError(
                "Đã quá thời gian hủy số; vui lòng báo cán bộ tại quầy",
                "Too late to cancel here; please ask at a counter",
            )
        # It left the line now, and waited until now (a returned no-show was called once).
        db.execute(
            "UPDATE tickets SET status = 'cancelled', finished_at = :at,"
            " left_at = CASE WHEN called_at IS NULL THEN :at END WHERE id = :id",
            {"at": iso(at), "id": ticket_id},
        )
        if within is not None:
            within(db)
        raw = append_event(
            db,
            ticket["office_id"],
            "cancelled",
            at,
            ticket_id=ticket_id,
            details={"by": "citizen", "device_id": device_id},
            from_status=ticket["status"],
        )
        # The visit is over before it began: the phone or e-mail given for it goes now.
        ended = subscriptions.end_for_visit(db, ticket, at, "cancelled")
        return outcome_for(db, ticket["office_id"], [raw, *ended], ticket_id)


def record_print(
    db: sqlite_utils.Database,
    ticket_id: int,
    ok: bool,
    details: dict | None = None,
    now: datetime | None = None,
    within=None,
) -> Outcome:
    """Log that a ticket's receipt printed, or failed to print.

    ``within(db)``, if given, runs first in the same transaction: the print
    spooler marks its job final there, so the job and the log never disagree.
    """
    at = resolve_now(now)
    with write(db):
        if within is not None:
            within(db)
        ticket = get_ticket(db, ticket_id)
        office = get_office(db, ticket["office_id"])
        raw = append_event(
            db,
            office["id"],
            "printed" if ok else "print_failed",
            at,
            ticket_id=ticket_id,
            details=details or {},
        )
        return outcome_for(db, office, [raw], ticket_id)


def rating_scale(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """The office's satisfaction levels, best first; the last is the lowest."""
    return office_setting(db, office_id, "rating_scale")


RATING_CHANNELS = ("tracker", "tablet")


def rating_attributes(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """What the office asks a citizen to add to a rating: each a pair of answers."""
    return office_setting(db, office_id, "rating_attributes")


def _answers(db, office_id: int, attributes) -> dict[str, bool]:
    """A rating's attribute answers, {key: True (the good answer) / False}, checked against
    the office's attributes."""
    if not attributes:
        return {}
    known = {a["key"] for a in rating_attributes(db, office_id)}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and k in known and isinstance(v, bool) for k, v in attributes.items()
    ):
        raise BadInputError("Tiêu chí đánh giá không hợp lệ", "Invalid rating attributes")
    return dict(sorted(attributes.items()))


def visit_dossier_code(db: sqlite_utils.Database, ticket: dict) -> str | None:
    """The dossier code a rating of this ticket is about: the ticket's own, or the latest
    one recorded on another ticket of its visit (a code recorded before a transfer)."""
    if ticket["dossier_code"]:
        return ticket["dossier_code"]
    return scalar(
        db,
        "SELECT dossier_code FROM tickets WHERE visit_id = ? AND dossier_code IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
        [ticket["visit_id"]],
    )


def rate_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    level: int,
    comment: str = "",
    now: datetime | None = None,
    attributes: dict | None = None,
    channel: str = "tracker",
    counter_id: int | None = None,
    within_s: float | None = None,
) -> Outcome:
    """Record the citizen's one rating of a visit, on its finished ticket.

    One rating per visit whatever the channel (the ticket's tracker page or
    the counter's tablet): a visit rated on any of its tickets is rated. The
    rating records the ticket, visit, dossier code, officer, counter and
    service as they are now. ``counter_id`` (a tablet's counter) limits it to
    tickets that counter finished in the last ``within_s`` seconds; any other
    ticket answers as missing.
    """
    at = resolve_now(now)
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise BadInputError("Góp ý quá dài (tối đa 1000 ký tự)", "Comment too long")
    if channel not in RATING_CHANNELS:
        raise ValueError(f"unknown rating channel {channel!r}")
    with write(db):
        ticket = get_ticket(db, ticket_id)
        office = get_office(db, ticket["office_id"])
        if counter_id is not None and ticket["counter_id"] != counter_id:
            raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
        levels = [lv["level"] for lv in rating_scale(db, office["id"])]
        if level not in levels:
            raise BadInputError("Mức đánh giá không hợp lệ", "Invalid rating level")
        answers = _answers(db, office["id"], attributes)
        if ticket["status"] != DONE:
            raise ConflictError(
                "Chỉ đánh giá được sau khi được phục vụ xong", "Rate only after service"
            )
        if (
            within_s is not None
            and (at - datetime.fromisoformat(ticket["finished_at"])).total_seconds() > within_s
        ):
            raise ConflictError(
                "Đã hết thời gian đánh giá tại quầy cho số này; công dân vẫn có thể đánh giá"
                " bằng mã QR trên phiếu",
                "Too late to rate this ticket at the counter",
            )
        if scalar(
            db,
            "SELECT count(*) FROM ratings WHERE ticket_id = ? OR visit_id = ?",
            [ticket_id, ticket["visit_id"]],
        ):
            raise ConflictError("Lượt này đã được đánh giá", "Already rated")
        db.execute(
            "INSERT INTO ratings (office_id, ticket_id, level, comment, created_at, visit_id,"
            " dossier_code, officer_id, counter_id, service_id, channel, attributes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                office["id"],
                ticket_id,
                level,
                comment,
                iso(at),
                ticket["visit_id"],
                visit_dossier_code(db, ticket),
                ticket["officer_id"],
                ticket["counter_id"],
                ticket["service_id"],
                channel,
                json.dumps(answers),
            ],
        )
        raw = append_event(
            db,
            office["id"],
            "rated",
            at,
            ticket_id=ticket_id,
            counter_id=ticket["counter_id"],
            details={"level": level, "has_comment": bool(comment), "channel": channel},
        )
        return outcome_for(db, office, [raw], ticket_id)


def expire_waiting(
    db: sqlite_utils.Database,
    office_id: int,
    through_day: str,
    at: datetime,
    user_id: int | None = None,
    details: dict | None = None,
) -> list[dict]:
    """Expire the office's tickets still waiting from ``through_day`` or earlier.

    An expired ticket that was never called left the line when its day's
    opening hours ended, or now if that is earlier (``left_at``: reports count
    its wait until then). Runs inside the caller's write transaction; returns
    the logged events.
    """
    rows = db.execute(
        "SELECT id, day, called_at FROM tickets WHERE office_id = ? AND status = 'waiting'"
        " AND day <= ? ORDER BY id",
        [office_id, through_day],
    ).fetchall()
    if not rows:
        return []  # the usual case: issuing and calling look first (expire_stale)
    office = get_office(db, office_id)
    events = []
    for ticket_id, day, called_at in rows:
        left = None if called_at else iso(min(at, closing_time(office, day)))
        db.execute(
            "UPDATE tickets SET status = ?, finished_at = ?, left_at = ? WHERE id = ?",
            [EXPIRED, iso(at), left, ticket_id],
        )
        events.append(
            append_event(
                db,
                office_id,
                "expired",
                at,
                ticket_id=ticket_id,
                user_id=user_id,
                details=details,
                from_status=WAITING,
            )
        )
    return events


def expire_stale(db: sqlite_utils.Database, office: dict, at: datetime) -> list[dict]:
    """Expire tickets left waiting from an earlier day (a close of day nobody ran).

    Issuing and calling run this first, so yesterday's queue is never called
    today and never counted ahead of today's citizens.
    """
    today = local_day(at, office["timezone"])
    return expire_waiting(
        db, office["id"], (today - timedelta(days=1)).isoformat(), at, details={"stale": True}
    )
