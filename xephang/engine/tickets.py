"""Issuing tickets, their wait estimate, print results and ratings."""

from __future__ import annotations

import functools
import json
import math
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from ..db import one, scalar, write
from ..errors import BadInputError, ConflictError, DailyCapError, OfficeClosedError
from .core import (
    DONE,
    WAITING,
    Outcome,
    append_event,
    expire_stale,
    find_service,
    get_office,
    get_ticket,
    iso,
    local_day,
    resolve_now,
)
from .settings import office_setting
from .views import event_view, ticket_views


def outcome_for(db: sqlite_utils.Database, office: dict, raw_events: list[dict],
                ticket_id: int | None) -> Outcome:
    """Build the Outcome of an operation after its writes (still inside the transaction)."""
    private = None
    public_views: dict[int, dict] = {}
    if ticket_id:
        _, public_views[ticket_id], private = ticket_views(db, ticket_id)
    events = []
    for raw in raw_events:
        other = raw["ticket_id"]
        if other and other not in public_views:
            public_views[other] = ticket_views(db, other)[1]
        events.append(event_view(raw, public_views.get(other), office["timezone"]))
    return Outcome(ticket=private, events=events)


def office_is_open(office: dict, now: datetime) -> bool:
    """Whether ``now`` falls within the office's opening hours.

    ``hours`` is JSON: {"mon": [["07:30", "11:30"], ["13:30", "17:00"]], ...};
    NULL means always open; a missing day means closed that day.
    """
    if not office["hours"]:
        return True
    hours = json.loads(office["hours"])
    local = now.astimezone(ZoneInfo(office["timezone"]))
    day_key = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    # Zero-padded "HH:MM" strings compare like times, and "24:00" (allowed as an
    # end) works, which datetime.time cannot parse.
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(day_key, []))


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
) -> Outcome:
    """Issue the next numbered ticket of a service for today, as one transaction.

    ``within(db, outcome)``, if given, runs last in the same transaction and its
    result lands in ``outcome.extra["within"]``: the kiosk queues the receipt
    there, so a ticket is never committed without its print job.
    """
    at = resolve_now(now)
    with write(db):
        office = get_office(db, office_id)
        svc = find_service(db, office_id, service)
        if check_hours and not office_is_open(office, at):
            raise OfficeClosedError(
                "Ngoài giờ làm việc, chưa thể lấy số", "Outside opening hours"
            )
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
        if svc["daily_cap"] is not None:
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
        stale = expire_stale(db, office, at)
        visit_id = db.execute(
            "INSERT INTO visits (office_id, token, created_at) VALUES (?, ?, ?)",
            [office_id, secrets.token_urlsafe(16), iso(at)],
        ).lastrowid
        ticket_id = _insert_ticket(db, office, svc, day, visit_id, priority, at, iso(at),
                                   device_id=device_id)
        raw = append_event(
            db, office_id, "issued", at, ticket_id=ticket_id, user_id=user_id,
            details={"priority": priority, "device_id": device_id},
        )
        result = outcome_for(db, office, [*stale, raw], ticket_id)
        issued = {"id": ticket_id, "office_id": office_id, "service_id": svc["id"],
                  "priority": priority, "status": WAITING, "queue_at": iso(at), "day": day}
        ahead, wait_s = estimate_wait(db, issued, default_service_s)
        result.ticket["people_ahead"] = ahead
        result.ticket["estimated_wait_s"] = wait_s
        if within is not None:
            result.extra["within"] = within(db, result)
    return result


def _insert_ticket(db, office, svc, day, visit_id, priority, at, queue_at, device_id=None,
                   from_ticket_id=None, target_counter_id=None) -> int:
    number = next_number(db, office["id"], svc["id"], day)
    return db.execute(
        "INSERT INTO tickets (office_id, service_id, visit_id, from_ticket_id, day, number, code,"
        " priority, status, target_counter_id, device_id, issued_at, queue_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?)",
        [office["id"], svc["id"], visit_id, from_ticket_id, day, number,
         format_code(svc["prefix"], number), priority, target_counter_id, device_id, iso(at),
         queue_at],
    ).lastrowid


def people_ahead(db: sqlite_utils.Database, ticket: dict) -> int:
    """Waiting tickets of the same service that a counter would call before this one.

    Everyone queued earlier, plus (for a ticket without priority) the priority
    tickets queued later. Split in two range counts on the tickets_waiting index
    so the common case, a new ticket at the back, reads the index only.
    """
    if ticket["status"] != WAITING:
        return 0
    where = "office_id = ? AND status = 'waiting' AND service_id = ?"
    key = [ticket["office_id"], ticket["service_id"]]
    at, tid = ticket["queue_at"], ticket["id"]
    if ticket["priority"] is not None:
        return scalar(
            db, f"SELECT count(*) FROM tickets WHERE {where} AND queue_at <= ? AND NOT"
            " (queue_at = ? AND id >= ?) AND priority IS NOT NULL", [*key, at, at, tid])
    return scalar(
        db, f"SELECT (SELECT count(*) FROM tickets WHERE {where} AND queue_at <= ? AND NOT"
        f" (queue_at = ? AND id >= ?)) + (SELECT count(*) FROM tickets WHERE {where} AND"
        " queue_at >= ? AND NOT (queue_at = ? AND id <= ?) AND priority IS NOT NULL)",
        [*key, at, at, tid, *key, at, at, tid])


def recent_service_time(db: sqlite_utils.Database, service_id: int, day: str,
                        default_s: int, window: int = 20) -> float:
    """Mean service time (finish − call) of the service's last tickets finished today."""
    timezone = scalar(db, "SELECT o.timezone FROM services s JOIN offices o ON"
                      " o.id = s.office_id WHERE s.id = ?", [service_id])
    if timezone is None:
        return float(default_s)
    # The partial index tickets_done_recent (service_id, finished_at) WHERE
    # status = 'done' hands over the newest finishes first: `window` rows read.
    rows = db.execute(
        "SELECT called_at, finished_at FROM tickets WHERE service_id = ? AND status = 'done'"
        " AND finished_at >= ? ORDER BY finished_at DESC LIMIT ?",
        [service_id, day_bounds(day, timezone)[0], window],
    ).fetchall()
    if not rows:
        return float(default_s)
    total = sum(
        (datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() for c, f in rows
    )
    return max(total / len(rows), 30.0)


def estimate_wait(db: sqlite_utils.Database, ticket: dict, default_service_s: int = 300
                  ) -> tuple[int, int]:
    """(people ahead, estimated wait in seconds) for a waiting ticket.

    Each person ahead takes the service's recent mean counter time (call to
    finish), shared among the open counters that serve the service.
    """
    ahead = people_ahead(db, ticket)
    counters = scalar(
        db,
        "SELECT count(*) FROM counters c JOIN counter_services cs ON cs.counter_id = c.id"
        " WHERE cs.service_id = ? AND c.active AND c.state = 'open'",
        [ticket["service_id"]],
    )
    per_person = recent_service_time(db, ticket["service_id"], ticket["day"], default_service_s)
    wait = ahead * per_person / max(counters, 1)
    return ahead, int(math.ceil(wait))


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
            db, office["id"], "printed" if ok else "print_failed", at,
            ticket_id=ticket_id, details=details or {},
        )
        return outcome_for(db, office, [raw], ticket_id)


def rating_scale(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """The office's satisfaction levels, best first; the last is the lowest."""
    return office_setting(db, office_id, "rating_scale")


def rate_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    level: int,
    comment: str = "",
    now: datetime | None = None,
) -> Outcome:
    """Record the citizen's one rating of a finished ticket."""
    at = resolve_now(now)
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise BadInputError("Góp ý quá dài (tối đa 1000 ký tự)", "Comment too long")
    with write(db):
        ticket = get_ticket(db, ticket_id)
        office = get_office(db, ticket["office_id"])
        levels = [lv["level"] for lv in rating_scale(db, office["id"])]
        if level not in levels:
            raise BadInputError("Mức đánh giá không hợp lệ", "Invalid rating level")
        if ticket["status"] != DONE:
            raise ConflictError(
                "Chỉ đánh giá được sau khi được phục vụ xong", "Rate only after service"
            )
        if scalar(db, "SELECT count(*) FROM ratings WHERE ticket_id = ?", [ticket_id]):
            raise ConflictError("Vé này đã được đánh giá", "Already rated")
        db.execute(
            "INSERT INTO ratings (office_id, ticket_id, level, comment, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [office["id"], ticket_id, level, comment, iso(at)],
        )
        raw = append_event(
            db, office["id"], "rated", at, ticket_id=ticket_id,
            details={"level": level, "has_comment": bool(comment)},
        )
        return outcome_for(db, office, [raw], ticket_id)


@functools.lru_cache(maxsize=512)  # pure, and on the path of every wait estimate
def day_bounds(day: str, timezone: str) -> tuple[str, str]:
    """UTC ISO bounds [start, end) of an office's local day."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(timezone))
    return iso(start), iso(start + timedelta(days=1))
