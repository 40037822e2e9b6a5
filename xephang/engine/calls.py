"""Moving a ticket through a counter: call, recall, start, finish and the rest.

Each operation is one BEGIN IMMEDIATE transaction that updates the ticket
(and counter) and appends events; an illegal transition raises and rolls
everything back.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from ..db import one, write
from ..errors import BadInputError, ConflictError, IllegalTransitionError
from .core import (
    ACTIVE_STATES,
    CALLED,
    SERVING,
    WAITING,
    Outcome,
    append_event,
    expire_stale,
    find_service,
    get_counter,
    get_office,
    get_ticket,
    iso,
    resolve_now,
)
from .settings import office_setting
from .tickets import _insert_ticket, outcome_for

MAX_TEXT = 500


def _text(value, label_vi: str, label_en: str, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInputError(f"Thiếu {label_vi}", f"Missing {label_en}")
        return None
    if not isinstance(value, str):
        raise BadInputError(f"{label_vi} không hợp lệ", f"Invalid {label_en}")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise BadInputError(f"{label_vi} quá dài", f"{label_en} too long")
    return value


def _counter_services(db, counter_id: int) -> list[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [counter_id],
        ).fetchall()
    ]


def _ensure_free(db, counter: dict) -> None:
    if counter["current_ticket_id"]:
        current = get_ticket(db, counter["current_ticket_id"])
        if current["status"] in ACTIVE_STATES:
            raise ConflictError(
                f"Quầy {counter['number']} đang phục vụ số {current['code']}; hãy kết thúc"
                " hoặc đánh vắng mặt trước",
                f"Counter {counter['number']} still holds {current['code']}",
                ticket_id=current["id"],
            )


def _ensure_callable(counter: dict) -> None:
    if counter["state"] == "paused":
        raise ConflictError(
            f"Quầy {counter['number']} đang tạm dừng", f"Counter {counter['number']} is paused"
        )


def pick_next(db: sqlite_utils.Database, counter: dict) -> dict | None:
    """The ticket call-next would take at this counter, without taking it.

    Priority tickets come first, ordered by category rank then arrival, but
    at most ``priority_streak_max`` in a row; otherwise arrival order. A
    counter only takes the services it serves, preferring them in order;
    tickets transferred to this very counter come first, whatever their service.
    """
    services = _counter_services(db, counter["id"]) or [0]
    order = " ".join(f"WHEN {sid} THEN {pos}" for pos, sid in enumerate(services))
    marks = ",".join("?" * len(services))
    base = (
        f"SELECT t.* FROM tickets t LEFT JOIN priority_categories p ON p.office_id = t.office_id"
        f" AND p.key = t.priority WHERE t.office_id = ? AND t.status = 'waiting'"
        f" AND (t.service_id IN ({marks}) AND t.target_counter_id IS NULL"
        f" OR t.target_counter_id = ?)"
    )
    params = [counter["office_id"], *services, counter["id"]]
    streak_max = office_setting(db, counter["office_id"], "priority_streak_max")
    # Targeted tickets first (explicitly: CASE gives NULL for an unserved service,
    # which would otherwise sort first only by accident), then service preference.
    arrival = f"t.target_counter_id IS NULL, CASE t.service_id {order} END, t.queue_at, t.id"
    if streak_max <= 0:  # priority gets no precedence: one queue in arrival order
        return one(db, f"{base} ORDER BY {arrival} LIMIT 1", params)
    # One query: the preferred class (priority, or arrival order once the streak is
    # full) sorts first; within priority, category rank then arrival.
    prefer = "t.priority IS NULL" if counter["priority_streak"] < streak_max else (
        "t.priority IS NOT NULL")
    return one(db, f"{base} ORDER BY {prefer}, coalesce(p.rank, 0), {arrival} LIMIT 1", params)


def _claim(db, ticket: dict, counter: dict, user_id, at: datetime) -> None:
    """Take a waiting ticket for a counter; the row count is the race backstop."""
    cur = db.execute(
        "UPDATE tickets SET status = 'called', counter_id = ?, officer_id = ?,"
        " called_at = coalesce(called_at, ?), last_called_at = ? WHERE id = ? AND status ="
        " 'waiting'",
        [counter["id"], user_id, iso(at), iso(at), ticket["id"]],
    )
    if cur.rowcount != 1:
        raise ConflictError("Số này vừa được quầy khác gọi", "Ticket already taken")
    streak = counter["priority_streak"] + 1 if ticket["priority"] else 0
    db.execute(
        "UPDATE counters SET current_ticket_id = ?, priority_streak = ?, officer_id ="
        " coalesce(?, officer_id), state = 'open' WHERE id = ?",
        [ticket["id"], streak, user_id, counter["id"]],
    )


def call_next(
    db: sqlite_utils.Database,
    counter_id: int,
    user_id: int | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Call the next waiting ticket to a counter; Outcome.ticket is None if nobody waits.

    A ticket still being served at the counter is finished first; one that
    was called but not started must be started, marked no-show or returned.
    """
    at = resolve_now(now)
    with write(db):
        counter = get_counter(db, counter_id)
        office = get_office(db, counter["office_id"])
        _ensure_callable(counter)
        raw = expire_stale(db, office, at)
        if counter["current_ticket_id"]:
            current = get_ticket(db, counter["current_ticket_id"])
            if current["status"] == SERVING:
                raw.append(_finish(db, current, counter, user_id, at, None, None))
                counter = get_counter(db, counter_id)
        _ensure_free(db, counter)
        ticket = pick_next(db, counter)
        if ticket is None:
            if counter["state"] != "open":
                db.execute("UPDATE counters SET state = 'open', officer_id = coalesce(?,"
                           " officer_id) WHERE id = ?", [user_id, counter_id])
            result = outcome_for(db, office, raw, None)
            return result
        _claim(db, ticket, counter, user_id, at)
        raw.append(append_event(db, office["id"], "called", at, ticket_id=ticket["id"],
                                counter_id=counter_id, user_id=user_id,
                                details={"counter_number": counter["number"]}))
        return outcome_for(db, office, raw, ticket["id"])


def call_ticket(
    db: sqlite_utils.Database,
    counter_id: int,
    ticket_id: int,
    reason: str,
    user_id: int | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Call one specific waiting ticket out of order; the reason is logged."""
    at = resolve_now(now)
    reason = _text(reason, "lý do", "reason", required=True)
    with write(db):
        counter = get_counter(db, counter_id)
        ticket = get_ticket(db, ticket_id)
        office = get_office(db, counter["office_id"])
        if ticket["office_id"] != office["id"]:
            raise BadInputError("Vé không thuộc văn phòng này", "Ticket of another office")
        _ensure_callable(counter)
        _ensure_free(db, counter)
        if ticket["status"] != WAITING:
            raise IllegalTransitionError(
                f"Số {ticket['code']} không còn chờ", f"{ticket['code']} is not waiting"
            )
        _claim(db, ticket, counter, user_id, at)
        raw = append_event(db, office["id"], "called", at, ticket_id=ticket_id,
                           counter_id=counter_id, user_id=user_id,
                           details={"counter_number": counter["number"], "reason": reason,
                                    "out_of_order": True})
        return outcome_for(db, office, [raw], ticket_id)


def _active(db, ticket_id: int, allowed: tuple[str, ...], action_vi: str) -> tuple[dict, dict]:
    ticket = get_ticket(db, ticket_id)
    if ticket["status"] not in allowed:
        raise IllegalTransitionError(
            f"Không thể {action_vi} số {ticket['code']} khi đang ở trạng thái"
            f" '{ticket['status']}'",
            f"Cannot {action_vi} a ticket in state {ticket['status']}",
            ticket_status=ticket["status"],
        )
    counter = get_counter(db, ticket["counter_id"]) if ticket["counter_id"] else None
    return ticket, counter


def _release(db, counter: dict | None, ticket_id: int) -> None:
    if counter:
        db.execute(
            "UPDATE counters SET current_ticket_id = NULL WHERE id = ? AND current_ticket_id = ?",
            [counter["id"], ticket_id],
        )


def recall(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """Announce a called ticket again; the wait keeps its first call time."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _active(db, ticket_id, (CALLED,), "gọi lại")
        db.execute("UPDATE tickets SET recalls = recalls + 1, last_called_at = ? WHERE id = ?",
                   [iso(at), ticket_id])
        raw = append_event(db, ticket["office_id"], "recalled", at, ticket_id=ticket_id,
                           counter_id=counter["id"], user_id=user_id,
                           details={"counter_number": counter["number"],
                                    "recall": ticket["recalls"] + 1})
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)


def start(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The citizen has arrived at the counter: service starts."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _active(db, ticket_id, (CALLED,), "bắt đầu phục vụ")
        db.execute("UPDATE tickets SET status = 'serving', started_at = ?, officer_id ="
                   " coalesce(?, officer_id) WHERE id = ?", [iso(at), user_id, ticket_id])
        raw = append_event(db, ticket["office_id"], "started", at, ticket_id=ticket_id,
                           counter_id=counter["id"], user_id=user_id)
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)


def _finish(db, ticket, counter, user_id, at, dossier_code, outcome) -> dict:
    db.execute(
        "UPDATE tickets SET status = 'done', finished_at = ?, dossier_code = ?, outcome = ?"
        " WHERE id = ?",
        [iso(at), dossier_code, outcome, ticket["id"]],
    )
    _release(db, counter, ticket["id"])
    return append_event(db, ticket["office_id"], "finished", at, ticket_id=ticket["id"],
                        counter_id=counter["id"] if counter else None, user_id=user_id,
                        details={"dossier_code": dossier_code, "outcome": outcome})


def finish(db, ticket_id: int, user_id=None, dossier_code: str | None = None,
           outcome: str | None = None, now: datetime | None = None) -> Outcome:
    """Service is over; optionally record the dossier code (mã hồ sơ) and an outcome."""
    at = resolve_now(now)
    dossier_code = _text(dossier_code, "mã hồ sơ", "dossier code")
    outcome = _text(outcome, "kết quả", "outcome")
    with write(db):
        ticket, counter = _active(db, ticket_id, (SERVING,), "kết thúc")
        raw = _finish(db, ticket, counter, user_id, at, dossier_code, outcome)
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)


def no_show(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The called citizen did not come."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _active(db, ticket_id, (CALLED,), "đánh vắng mặt")
        db.execute("UPDATE tickets SET status = 'no_show', finished_at = ? WHERE id = ?",
                   [iso(at), ticket_id])
        _release(db, counter, ticket_id)
        raw = append_event(db, ticket["office_id"], "no_show", at, ticket_id=ticket_id,
                           counter_id=counter["id"], user_id=user_id)
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)


def transfer(db, ticket_id: int, service=None, counter_id: int | None = None, user_id=None,
             reason: str | None = None, now: datetime | None = None) -> Outcome:
    """Send the citizen on to another service or counter, as the next ticket of the visit.

    The new ticket keeps its place by the visit's first arrival, so a
    transferred citizen does not queue from the back again.
    """
    at = resolve_now(now)
    reason = _text(reason, "lý do", "reason")
    if service in (None, "") and counter_id in (None, ""):
        raise BadInputError("Cần chọn dịch vụ hoặc quầy để chuyển", "Give a service or counter")
    with write(db):
        ticket, counter = _active(db, ticket_id, (CALLED, SERVING), "chuyển")
        office = get_office(db, ticket["office_id"])
        target_counter = None
        if counter_id not in (None, ""):
            try:
                target_counter = get_counter(db, int(counter_id))
            except (TypeError, ValueError):
                raise BadInputError("Quầy không hợp lệ", "Invalid counter") from None
            if target_counter["office_id"] != office["id"]:
                raise BadInputError("Quầy không thuộc văn phòng này", "Counter of another office")
        if service not in (None, ""):
            svc = find_service(db, office["id"], service)
        elif target_counter:
            first = db.execute(
                "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
                [target_counter["id"]],
            ).fetchone()
            svc = find_service(db, office["id"], first[0] if first else ticket["service_id"])
        if target_counter and target_counter["id"] == ticket["counter_id"] and (
                svc["id"] == ticket["service_id"]):
            raise BadInputError("Không thể chuyển sang chính quầy này", "Same counter")
        first_issue = one(db, "SELECT min(issued_at) AS at FROM tickets WHERE visit_id = ?",
                          [ticket["visit_id"]])["at"]
        db.execute("UPDATE tickets SET status = 'transferred', finished_at = ? WHERE id = ?",
                   [iso(at), ticket_id])
        _release(db, counter, ticket_id)
        new_id = _insert_ticket(
            db, office, svc, ticket["day"], ticket["visit_id"], ticket["priority"], at,
            first_issue, from_ticket_id=ticket_id,
            target_counter_id=target_counter["id"] if target_counter else None,
        )
        details = {"to_ticket_id": new_id, "to_service_id": svc["id"],
                   "to_counter_id": target_counter["id"] if target_counter else None,
                   "reason": reason}
        raw = [
            append_event(db, office["id"], "transferred", at, ticket_id=ticket_id,
                         counter_id=counter["id"], user_id=user_id, details=details),
            append_event(db, office["id"], "issued", at, ticket_id=new_id, user_id=user_id,
                         details={"from_ticket_id": ticket_id, "priority": ticket["priority"]}),
        ]
        result = outcome_for(db, office, raw, new_id)
        result.extra["from_ticket"] = outcome_for(db, office, [], ticket_id).ticket
        return result


def return_to_queue(db, ticket_id: int, user_id=None, reason: str | None = None,
                    now: datetime | None = None) -> Outcome:
    """Put a called or served ticket back to waiting, at the end of its service's queue."""
    at = resolve_now(now)
    reason = _text(reason, "lý do", "reason")
    with write(db):
        ticket, counter = _active(db, ticket_id, (CALLED, SERVING), "trả về hàng chờ")
        db.execute(
            "UPDATE tickets SET status = 'waiting', queue_at = ?, counter_id = NULL,"
            " started_at = NULL WHERE id = ?",
            [iso(at), ticket_id],
        )
        _release(db, counter, ticket_id)
        raw = append_event(db, ticket["office_id"], "returned", at, ticket_id=ticket_id,
                           counter_id=counter["id"], user_id=user_id,
                           details={"reason": reason})
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)


def cancel(db, ticket_id: int, user_id=None, reason: str | None = None,
           now: datetime | None = None) -> Outcome:
    """Cancel a ticket that is waiting or called (e.g. issued by mistake)."""
    at = resolve_now(now)
    reason = _text(reason, "lý do", "reason")
    with write(db):
        ticket, counter = _active(db, ticket_id, (WAITING, CALLED), "hủy")
        db.execute("UPDATE tickets SET status = 'cancelled', finished_at = ? WHERE id = ?",
                   [iso(at), ticket_id])
        _release(db, counter, ticket_id)
        raw = append_event(db, ticket["office_id"], "cancelled", at, ticket_id=ticket_id,
                           counter_id=counter["id"] if counter else None, user_id=user_id,
                           details={"reason": reason})
        return outcome_for(db, get_office(db, ticket["office_id"]), [raw], ticket_id)
