"""Counter state (open, paused, closed) and the close of day."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from ..clock import local_day, resolve_now
from ..errors import ConflictError
from ..storage import write
from .log import append_event
from .lookups import clean_text, get_counter, get_office
from .outcome import Outcome, outcome_for
from .tickets import expire_waiting


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
    db: sqlite_utils.Database, counter_id: int, user_id=None, now: datetime | None = None
) -> Outcome:
    """An officer takes a counter (it becomes open and shows on the board)."""
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        db.execute(
            "UPDATE counters SET state = CASE state WHEN 'paused' THEN 'paused' ELSE"
            " 'open' END, officer_id = coalesce(?, officer_id) WHERE id = ?",
            [user_id, counter_id],
        )
        return _counter_event(db, counter, "counter_opened", at, user_id)


def close_counter(db, counter_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The officer leaves the counter; it must not hold a ticket."""
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        if counter["current_ticket_id"]:
            raise ConflictError(
                "Quầy còn đang giữ một số, hãy kết thúc trước", "Counter still holds a ticket"
            )
        db.execute(
            "UPDATE counters SET state = 'closed', pause_reason = NULL, officer_id = NULL"
            " WHERE id = ?",
            [counter_id],
        )
        return _counter_event(db, counter, "counter_closed", at, user_id)


def pause(db, counter_id: int, reason: str, user_id=None, now: datetime | None = None) -> Outcome:
    """Stop calling at a counter for a stated reason (shown on the board)."""
    at = resolve_now(now)
    reason = clean_text(reason, "lý do tạm dừng", "pause reason", required=True)
    with write(db):
        counter = get_counter(db, counter_id)
        if counter["state"] == "paused":
            raise ConflictError("Quầy đã tạm dừng", "Counter already paused")
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
