"""Moving a ticket through a counter: call, recall, start, finish and the rest.

Each operation is one BEGIN IMMEDIATE transaction that checks the move
against the transition table (``states.check``), updates the ticket (and
counter) and appends events; a refused move raises and rolls everything
back. Who is called next is ``order.pick_next``.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from ..clock import iso, local_day, resolve_now
from ..errors import BadInputError, ConflictError, NotFoundError
from ..storage import one, scalar, write
from . import estimate, states
from .log import append_event
from .lookups import (
    clean_text,
    counter_services,
    find_service,
    get_counter,
    get_office,
    get_ticket,
)
from .order import in_booked_place, pick_next
from .outcome import Outcome, outcome_for
from .states import (
    AT_COUNTER,
    CALLED,
    DONE,
    NO_SHOW,
    SERVING,
    UNDO_WINDOW_S,
    UNDOABLE,
    WAITING,
)
from .tickets import expire_stale, insert_ticket

# A transfer that was undone leaves its new ticket cancelled by the undo: withdrawn, it is
# no longer part of the visit (the visit is back at the counter with its earlier ticket),
# so trackers, reports and the wait log leave it out. Over a ticket ``t``.
WITHDRAWN_SQL = (
    "EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.type = 'cancelled'"
    " AND json_extract(e.details, '$.undo'))"
)
# The same, cheap for the tickets that cannot be withdrawn (only a cancelled one is).
KEPT_SQL = f"NOT (t.status = 'cancelled' AND t.called_at IS NULL AND {WITHDRAWN_SQL})"


def _same_day_no_show(ticket: dict, office: dict, at: datetime, verb_vi: str) -> None:
    """A no-show comes back on its own day only (yesterday's citizen has gone home)."""
    if (
        ticket["status"] == NO_SHOW
        and ticket["day"] != local_day(at, office["timezone"]).isoformat()
    ):
        raise ConflictError(
            f"Chỉ {verb_vi} được số vắng mặt trong ngày; số {ticket['code']} là của ngày"
            f" {ticket['day']}",
            "A no-show can only be brought back on its own day",
            ticket_status=ticket["status"],
        )


def _ensure_free(db, counter: dict) -> None:
    if counter["current_ticket_id"]:
        current = get_ticket(db, counter["current_ticket_id"])
        if current["status"] in AT_COUNTER:
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


def _ensure_arrived(ticket: dict) -> None:
    """An online number still to check in is not called, not even by its code: staff check
    it in first (its citizen is here), and it keeps its place."""
    if ticket.get("awaiting_checkin"):
        raise ConflictError(
            f"Số {ticket['code']} (trực tuyến) chưa xác nhận có mặt: hãy xác nhận có mặt"
            " trước (ô Xác nhận lịch hẹn / số trực tuyến), rồi gọi",
            f"{ticket['code']} has not checked in yet: check it in first",
            ticket_id=ticket["id"],
        )


def _claim(db, ticket: dict, counter: dict, user_id, at: datetime) -> None:
    """Take a waiting ticket (or today's no-show) for a counter; the row count is the race
    backstop. The first call time stays: a wait is first call − issue."""
    cur = db.execute(
        "UPDATE tickets SET status = 'called', counter_id = ?, officer_id = ?,"
        " called_at = coalesce(called_at, ?), last_called_at = ?, finished_at = NULL"
        " WHERE id = ? AND status = ?",
        [counter["id"], user_id, iso(at), iso(at), ticket["id"], ticket["status"]],
    )
    if cur.rowcount != 1:
        raise ConflictError("Số này vừa được quầy khác gọi", "Ticket already taken")
    streak = counter["priority_streak"] + 1 if ticket["priority"] else 0
    # Appointments called in their booked place since the last walk-in (priority apart).
    booked = counter["booking_streak"]
    if in_booked_place(ticket):
        booked += 1
    elif not ticket["priority"]:
        booked = 0
    db.execute(
        "UPDATE counters SET current_ticket_id = ?, priority_streak = ?, booking_streak = ?,"
        " officer_id = coalesce(?, officer_id), state = 'open' WHERE id = ?",
        [ticket["id"], streak, booked, user_id, counter["id"]],
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
                db.execute(
                    "UPDATE counters SET state = 'open', officer_id = coalesce(?,"
                    " officer_id) WHERE id = ?",
                    [user_id, counter_id],
                )
            return outcome_for(db, office, raw, None)
        states.check(ticket, "called")
        _claim(db, ticket, counter, user_id, at)
        raw.append(
            append_event(
                db,
                office["id"],
                "called",
                at,
                ticket_id=ticket["id"],
                counter_id=counter_id,
                user_id=user_id,
                details={"counter_number": counter["number"]},
                from_status=ticket["status"],
            )
        )
        return outcome_for(db, office, raw, ticket["id"])


def call_ticket(
    db: sqlite_utils.Database,
    counter_id: int,
    ticket_id: int,
    reason: str,
    user_id: int | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Call one specific waiting ticket out of order, or bring back today's no-show; the
    reason is logged."""
    at = resolve_now(now)
    reason = clean_text(reason, "lý do", "reason", required=True)
    with write(db):
        counter = get_counter(db, counter_id)
        ticket = get_ticket(db, ticket_id)
        office = get_office(db, counter["office_id"])
        if ticket["office_id"] != office["id"]:
            raise BadInputError("Vé không thuộc văn phòng này", "Ticket of another office")
        _ensure_callable(counter)
        _ensure_free(db, counter)
        states.check(ticket, "called")
        _same_day_no_show(ticket, office, at, "gọi lại")
        _ensure_arrived(ticket)
        _claim(db, ticket, counter, user_id, at)
        raw = append_event(
            db,
            office["id"],
            "called",
            at,
            ticket_id=ticket_id,
            counter_id=counter_id,
            user_id=user_id,
            details={"counter_number": counter["number"], "reason": reason, "out_of_order": True},
            from_status=ticket["status"],
        )
        return outcome_for(db, office, [raw], ticket_id)


def find_code_to_call(
    db: sqlite_utils.Database, office_id: int, code: str, now: datetime | None = None
) -> int:
    """The ticket call-by-code means (A023): the office's latest waiting ticket with this
    code, else today's no-show with it (brought back by calling it)."""
    office = get_office(db, office_id)
    today = local_day(resolve_now(now), office["timezone"]).isoformat()
    # Codes are stored upper-case; SQLite's upper() knows ASCII only (not "đ").
    row = one(
        db,
        "SELECT id FROM tickets WHERE office_id = ? AND code = ? AND (status = 'waiting'"
        " OR status = 'no_show' AND day = ?) ORDER BY status = 'waiting' DESC, id DESC LIMIT 1",
        [office_id, code.strip().upper(), today],
    )
    if row is None:
        raise NotFoundError(
            f"Không có số {code} đang chờ hoặc vắng mặt hôm nay",
            "No waiting ticket or today's no-show with this code",
        )
    return row["id"]


def _held(db, ticket_id: int, event: str) -> tuple[dict, dict | None]:
    """The ticket, checked for the move ``event``, and the counter holding it."""
    ticket = get_ticket(db, ticket_id)
    states.check(ticket, event)
    counter = get_counter(db, ticket["counter_id"]) if ticket["counter_id"] else None
    return ticket, counter


def _release(db, counter: dict | None, ticket_id: int) -> None:
    if counter:
        db.execute(
            "UPDATE counters SET current_ticket_id = NULL WHERE id = ? AND current_ticket_id = ?",
            [counter["id"], ticket_id],
        )


def _log(db, ticket: dict, counter: dict | None, event: str, at, user_id, details=None) -> dict:
    return append_event(
        db,
        ticket["office_id"],
        event,
        at,
        ticket_id=ticket["id"],
        counter_id=counter["id"] if counter else None,
        user_id=user_id,
        details=details,
        from_status=ticket["status"],
    )


def _done(db, ticket: dict, raw: list[dict]) -> Outcome:
    return outcome_for(db, ticket["office_id"], raw, ticket["id"])


def recall(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """Announce a called ticket again; the wait keeps its first call time."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _held(db, ticket_id, "recalled")
        db.execute(
            "UPDATE tickets SET recalls = recalls + 1, last_called_at = ? WHERE id = ?",
            [iso(at), ticket_id],
        )
        raw = _log(
            db,
            ticket,
            counter,
            "recalled",
            at,
            user_id,
            {"counter_number": counter["number"], "recall": ticket["recalls"] + 1},
        )
        return _done(db, ticket, [raw])


def start(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The citizen has arrived at the counter: service starts."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _held(db, ticket_id, "started")
        db.execute(
            "UPDATE tickets SET status = 'serving', started_at = ?, officer_id ="
            " coalesce(?, officer_id) WHERE id = ?",
            [iso(at), user_id, ticket_id],
        )
        return _done(db, ticket, [_log(db, ticket, counter, "started", at, user_id)])


def _finish(db, ticket, counter, user_id, at, dossier_code, outcome) -> dict:
    # A code scanned while serving (set_dossier_code) stays when finishing gives none.
    dossier_code = dossier_code or ticket["dossier_code"]
    db.execute(
        "UPDATE tickets SET status = 'done', finished_at = ?, dossier_code = ?, outcome = ?"
        " WHERE id = ?",
        [iso(at), dossier_code, outcome, ticket["id"]],
    )
    _release(db, counter, ticket["id"])
    return _log(
        db,
        ticket,
        counter,
        "finished",
        at,
        user_id,
        {"dossier_code": dossier_code, "outcome": outcome},
    )


def finish(
    db,
    ticket_id: int,
    user_id=None,
    dossier_code: str | None = None,
    outcome: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Service is over; optionally record the dossier code (mã hồ sơ) and an outcome."""
    at = resolve_now(now)
    dossier_code = clean_text(dossier_code, "mã hồ sơ", "dossier code")
    outcome = clean_text(outcome, "kết quả", "outcome")
    with write(db):
        ticket, counter = _held(db, ticket_id, "finished")
        return _done(db, ticket, [_finish(db, ticket, counter, user_id, at, dossier_code, outcome)])


DOSSIER_STATES = (SERVING, DONE)


def set_dossier_code(
    db, ticket_id: int, dossier_code: str, user_id=None, now: datetime | None = None
) -> Outcome:
    """Record (or correct) the dossier code (mã hồ sơ) of a ticket being served or done:
    typed, or scanned from the receipt's code (a 2D scanner types like a keyboard).

    Logged as ``dossier_set``. A rating of the visit already given is tied to
    the code too, so the 766 figures find it whichever came first.
    """
    at = resolve_now(now)
    code = clean_text(dossier_code, "mã hồ sơ", "dossier code", required=True)
    with write(db):
        ticket = get_ticket(db, ticket_id)
        if ticket["status"] not in DOSSIER_STATES:
            raise ConflictError(
                f"Chỉ ghi mã hồ sơ cho số đang phục vụ hoặc đã xong; số {ticket['code']} đang"
                f" ở trạng thái '{states.STATUS_VI[ticket['status']]}'",
                "A dossier code goes on a ticket being served or done",
                ticket_status=ticket["status"],
            )
        db.execute("UPDATE tickets SET dossier_code = ? WHERE id = ?", [code, ticket_id])
        for rating in db.execute(
            "SELECT r.id, t.dossier_code FROM ratings r JOIN tickets t ON t.id = r.ticket_id"
            " WHERE r.visit_id = ?",
            [ticket["visit_id"]],
        ).fetchall():
            # The rated ticket's own code wins over one recorded on another ticket of the visit.
            if rating[1] in (None, code):
                db.execute("UPDATE ratings SET dossier_code = ? WHERE id = ?", [code, rating[0]])
        counter = {"id": ticket["counter_id"]} if ticket["counter_id"] else None
        details = {"dossier_code": code}  # the earlier code is in the log's earlier events
        return _done(db, ticket, [_log(db, ticket, counter, "dossier_set", at, user_id, details)])


def no_show(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """The called citizen did not come."""
    at = resolve_now(now)
    with write(db):
        ticket, counter = _held(db, ticket_id, "no_show")
        db.execute(
            "UPDATE tickets SET status = 'no_show', finished_at = ? WHERE id = ?",
            [iso(at), ticket_id],
        )
        _release(db, counter, ticket_id)
        return _done(db, ticket, [_log(db, ticket, counter, "no_show", at, user_id)])


def transfer(
    db,
    ticket_id: int,
    service=None,
    counter_id: int | None = None,
    user_id=None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Send the citizen on to another service or counter, as the next ticket of the visit.

    The new ticket keeps its place by the visit's first arrival, so a
    transferred citizen does not queue from the back again.
    """
    at = resolve_now(now)
    reason = clean_text(reason, "lý do", "reason")
    if service in (None, "") and counter_id in (None, ""):
        raise BadInputError("Cần chọn dịch vụ hoặc quầy để chuyển", "Give a service or counter")
    with write(db):
        ticket, counter = _held(db, ticket_id, "transferred")
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
        else:
            served = counter_services(db, target_counter["id"])
            svc = find_service(db, office["id"], served[0] if served else ticket["service_id"])
        if (
            target_counter
            and target_counter["id"] == ticket["counter_id"]
            and (svc["id"] == ticket["service_id"])
        ):
            raise BadInputError("Không thể chuyển sang chính quầy này", "Same counter")
        first_issue = one(
            db, "SELECT min(issued_at) AS at FROM tickets WHERE visit_id = ?", [ticket["visit_id"]]
        )["at"]
        db.execute(
            "UPDATE tickets SET status = 'transferred', finished_at = ? WHERE id = ?",
            [iso(at), ticket_id],
        )
        _release(db, counter, ticket_id)
        category = (
            {"key": ticket["priority"], "rank": ticket["priority_rank"]}
            if ticket["priority"]
            else None
        )
        new_id = insert_ticket(
            db,
            office,
            svc,
            ticket["day"],
            ticket["visit_id"],
            category,
            at,
            first_issue,
            from_ticket_id=ticket_id,
            target_counter_id=target_counter["id"] if target_counter else None,
            channel=ticket["channel"],  # the visit came in by one channel
        )
        details = {
            "to_ticket_id": new_id,
            "to_service_id": svc["id"],
            "to_counter_id": target_counter["id"] if target_counter else None,
            "reason": reason,
        }
        raw = [
            _log(db, ticket, counter, "transferred", at, user_id, details),
            append_event(
                db,
                office["id"],
                "issued",
                at,
                ticket_id=new_id,
                user_id=user_id,
                details={"from_ticket_id": ticket_id, "priority": ticket["priority"]},
            ),
        ]
        promised = estimate.promise(db, new_id, estimate.DEFAULT_SERVICE_S, at, office)
        result = outcome_for(db, office, raw, new_id)
        result.ticket.update(promised)
        result.extra["from_ticket"] = outcome_for(db, office, [], ticket_id).ticket
        return result


def return_to_queue(
    db, ticket_id: int, user_id=None, reason: str | None = None, now: datetime | None = None
) -> Outcome:
    """Put a called or served ticket back to waiting, at the end of its service's queue;
    or today's no-show back at its original place in line (a reason is then required)."""
    at = resolve_now(now)
    reason = clean_text(reason, "lý do", "reason")
    with write(db):
        ticket, counter = _held(db, ticket_id, "returned")
        if ticket["status"] == NO_SHOW:
            _same_day_no_show(ticket, get_office(db, ticket["office_id"]), at, "trả về hàng chờ")
            if reason is None:
                raise BadInputError(
                    "Cần ghi lý do khi đưa số vắng mặt trở lại hàng chờ",
                    "Give a reason to bring a no-show back",
                )
            # Its queue time is kept: it goes back to where it was in line.
            db.execute(
                "UPDATE tickets SET status = 'waiting', counter_id = NULL, finished_at = NULL"
                " WHERE id = ?",
                [ticket_id],
            )
            raw = _log(db, ticket, None, "returned", at, user_id, {"reason": reason})
            return _done(db, ticket, [raw])
        db.execute(
            "UPDATE tickets SET status = 'waiting', queue_at = ?, counter_id = NULL,"
            " started_at = NULL WHERE id = ?",
            [iso(at), ticket_id],
        )
        _release(db, counter, ticket_id)
        return _done(
            db, ticket, [_log(db, ticket, counter, "returned", at, user_id, {"reason": reason})]
        )


def cancel(
    db, ticket_id: int, user_id=None, reason: str | None = None, now: datetime | None = None
) -> Outcome:
    """Cancel a ticket that is waiting or called (e.g. issued by mistake)."""
    at = resolve_now(now)
    reason = clean_text(reason, "lý do", "reason")
    with write(db):
        ticket, counter = _held(db, ticket_id, "cancelled")
        # Cancelled before any call: it left the line now, and waited until now.
        db.execute(
            "UPDATE tickets SET status = 'cancelled', finished_at = :at,"
            " left_at = CASE WHEN called_at IS NULL THEN :at END WHERE id = :id",
            {"at": iso(at), "id": ticket_id},
        )
        _release(db, counter, ticket_id)
        return _done(
            db, ticket, [_log(db, ticket, counter, "cancelled", at, user_id, {"reason": reason})]
        )


def undo(db, ticket_id: int, user_id=None, now: datetime | None = None) -> Outcome:
    """Take back a ticket's last no-show, finish or transfer, shortly after and only if
    nothing happened since at its counter or to the ticket (and, for a transfer, to the
    ticket it made, which is withdrawn: cancelled, so it never reaches another counter).

    The ticket goes back to its counter in the state it had: called after a no-show,
    being served after a finish, either after a transfer.
    """
    at = resolve_now(now)
    with write(db):
        ticket = get_ticket(db, ticket_id)
        states.check(ticket, "undone")
        last = one(
            db,
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY seq DESC LIMIT 1",
            [ticket_id],
        )
        if last is None or last["type"] not in UNDOABLE:
            raise ConflictError(
                f"Không có thao tác nào của số {ticket['code']} để hoàn tác", "Nothing to undo"
            )
        age = (at - datetime.fromisoformat(last["at"])).total_seconds()
        if age > UNDO_WINDOW_S:
            raise ConflictError(
                f"Chỉ hoàn tác được trong {UNDO_WINDOW_S} giây sau thao tác",
                f"Undo is possible for {UNDO_WINDOW_S} seconds only",
            )
        counter = get_counter(db, last["counter_id"]) if last["counter_id"] else None
        if counter is None:
            raise ConflictError("Số này không còn quầy để trở lại", "No counter to go back to")
        office = get_office(db, ticket["office_id"])
        details = json.loads(last["details"] or "{}")
        watched, since = [ticket_id], last["seq"]
        made = None
        if last["type"] == "transferred":
            made = get_ticket(db, details["to_ticket_id"])
            watched.append(made["id"])
            since = scalar(
                db, "SELECT max(seq) FROM ticket_events WHERE ticket_id = ?", [made["id"]]
            )
            if made["status"] != WAITING or since is None:
                raise ConflictError(
                    f"Số {made['code']} đã được gọi; không thể hoàn tác việc chuyển",
                    "The transferred ticket has moved on",
                )
        later = scalar(
            db,
            "SELECT count(*) FROM ticket_events WHERE office_id = ? AND seq > ? AND"
            f" (counter_id = ? OR ticket_id IN ({','.join('?' * len(watched))}))",
            [office["id"], since, counter["id"], *watched],
        )
        if later or counter["current_ticket_id"]:
            raise ConflictError(
                f"Quầy {counter['number']} đã có thao tác khác sau đó; không thể hoàn tác",
                "Something happened since; cannot undo",
            )
        back = (
            SERVING
            if last["type"] == "finished"
            or (last["type"] == "transferred" and ticket["started_at"])
            else CALLED
        )
        # Back to being served, the ticket has the dossier code it had then: one scanned
        # while serving (set_dossier_code) stays, one typed at the finish goes.
        scanned = one(
            db,
            "SELECT details FROM ticket_events WHERE ticket_id = ? AND type = 'dossier_set'"
            " AND seq < ? ORDER BY seq DESC LIMIT 1",
            [ticket_id, last["seq"]],
        )
        code = json.loads(scanned["details"])["dossier_code"] if scanned else None
        db.execute(
            "UPDATE tickets SET status = :back, finished_at = NULL, dossier_code = CASE WHEN"
            " :back = 'serving' THEN :code ELSE dossier_code END, outcome = CASE WHEN :back ="
            " 'serving' THEN NULL ELSE outcome END WHERE id = :id",
            {"back": back, "code": code, "id": ticket_id},
        )
        db.execute(
            "UPDATE counters SET current_ticket_id = ?, officer_id = coalesce(?, officer_id)"
            " WHERE id = ?",
            [ticket_id, user_id, counter["id"]],
        )
        raw = [
            _log(
                db,
                ticket,
                counter,
                "undone",
                at,
                user_id,
                {
                    "undid": last["type"],
                    "undid_seq": last["seq"],
                    "counter_number": counter["number"],
                },
            )
        ]
        if made is not None:
            states.check(made, "cancelled")
            db.execute(
                "UPDATE tickets SET status = 'cancelled', finished_at = ? WHERE id = ?",
                [iso(at), made["id"]],
            )
            raw.append(
                _log(
                    db,
                    made,
                    None,
                    "cancelled",
                    at,
                    user_id,
                    {"reason": "Hoàn tác chuyển", "undo": True},
                )
            )
        return _done(db, ticket, raw)
