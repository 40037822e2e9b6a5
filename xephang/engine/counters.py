"""Counter state (open, paused, closed) and the close of day."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from ..clock import local_day, resolve_now
from ..errors import ConflictError
from ..storage import one, write
from .log import append_event
from .lookups import clean_text, get_counter, get_office, get_ticket
from .outcome import Outcome, outcome_for
from .tickets import expire_waiting


def _ensure_empty(db, counter: dict, doing_vi: str, doing_en: str) -> None:
    """Closing and pausing both need a counter that holds no citizen: a called citizen
    would walk up to a counter the board no longer shows as calling them."""
    if counter["current_ticket_id"]:
        held = get_ticket(db, counter["current_ticket_id"])
        raise ConflictError(
            f"Quầy {counter['number']} đang giữ số {held['code']}; hãy kết thúc, đánh vắng mặt"
            f" hoặc trả về hàng chờ trước khi {doing_vi}",
            f"Counter {counter['number']} still holds {held['code']}; finish it before {doing_en}",
            ticket_id=held["id"],
        )


def officer_name(db, user_id: int | None) -> str:
    """How staff screens name an officer (display name, else username)."""
    row = one(db, "SELECT display_name, username FROM users WHERE id = ?", [user_id])
    return (row["display_name"] or row["username"]) if row else ""


def _counter_event(db, counter: dict, type_: str, at, user_id, details=None) -> Outcome:
    office = get_office(db, counter["office_id"])
    raw = append_event(
        db,
        office["id"],
        type_,
        at,
        counter_id=counter["id"],
        user_id=user_id,
        details={"counter_number": counter["number"], **(details or {})},
    )
    return outcome_for(db, office, [raw], None)


def open_counter(
    db: sqlite_utils.Database,
    counter_id: int,
    user_id=None,
    now: datetime | None = None,
    takeover: bool = False,
) -> Outcome:
    """An officer takes a counter (it becomes open and shows on the board).

    A counter another officer holds (open or paused) is taken over only when
    ``takeover`` says so: the refusal names who holds it, and the takeover is
    logged with whom it was taken from.
    """
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        holder = counter["officer_id"]
        taken = counter["state"] != "closed" and holder and user_id and holder != user_id
        if taken and not takeover:
            name = officer_name(db, holder)
            raise ConflictError(
                f"Quầy {counter['number']} đang do {name} phụ trách; xác nhận để nhận quầy",
                f"Counter {counter['number']} is held by {name}; confirm to take it over",
                officer_id=holder,
                officer=name,
            )
        db.execute(
            "UPDATE counters SET state = CASE state WHEN 'paused' THEN 'paused' ELSE"
            " 'open' END, officer_id = coalesce(?, officer_id) WHERE id = ?",
            [user_id, counter_id],
        )
        details = {"takeover_from": holder} if taken else None
        return _counter_event(db, counter, "counter_opened", at, user_id, details)


def close_counter(db, counter_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The officer leaves the counter; it must not hold a ticket."""
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        _ensure_empty(db, counter, "đóng quầy", "closing")
        db.execute(
            "UPDATE counters SET state = 'closed', pause_reason = NULL, officer_id = NULL"
            " WHERE id = ?",
            [counter_id],
        )
        return _counter_event(db, counter, "counter_closed", at, user_id)


def pause(db, counter_id: int, reason: str, user_id=None, now: datetime | None = None) -> Outcome:
    """Stop calling at a counter for a stated reason (shown on the board).

    Like closing, refused while the counter holds a citizen (called or being served).
    """
    at = resolve_now(now)
    reason = clean_text(reason, "lý do tạm dừng", "pause reason", required=True)
    with write(db):
        counter = get_counter(db, counter_id)
        if counter["state"] == "paused":
            raise ConflictError("Quầy đã tạm dừng", "Counter already paused")
        _ensure_empty(db, counter, "tạm dừng", "pausing")
        db.execute(
            "UPDATE counters SET state = 'paused', pause_reason = ?, officer_id ="
            " coalesce(?, officer_id) WHERE id = ?",
            [reason, user_id, counter_id],
        )
        return _counter_event(db, counter, "paused", at, user_id, {"reason": reason})


def resume(db, counter_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """Resume calling at a paused counter."""
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        if counter["state"] != "paused":
            raise ConflictError("Quầy không ở trạng thái tạm dừng", "Counter is not paused")
        db.execute(
            "UPDATE counters SET state = 'open', pause_reason = NULL, officer_id ="
            " coalesce(?, officer_id) WHERE id = ?",
            [user_id, counter_id],
        )
        return _counter_event(db, counter, "resumed", at, user_id)


def close_day(
    db, office_id: int, user_id=None, now: datetime | None = None, day: str | None = None
) -> Outcome:
    """Expire every ticket of the office still waiting from ``day`` or earlier.

    Without ``day``, every ticket still waiting is expired (run at closing
    time). Called and serving tickets are left to their counters.
    """
    at = resolve_now(now)
    with write(db):
        office = get_office(db, office_id)
        day = day or local_day(at, office["timezone"]).isoformat()
        raw = expire_waiting(db, office_id, day, at, user_id)
        expired = len(raw)
        db.execute("UPDATE counters SET priority_streak = 0 WHERE office_id = ?", [office_id])
        raw.append(
            append_event(
                db,
                office_id,
                "day_closed",
                at,
                user_id=user_id,
                details={"day": day, "expired": expired},
            )
        )
        result = outcome_for(db, office, raw, None)
        result.extra["expired"] = expired
        return result
