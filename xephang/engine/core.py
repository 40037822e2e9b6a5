"""Shared pieces of the engine: time, the event log, ticket rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from ..db import one
from ..errors import BadInputError, NotFoundError

GENESIS_HASH = "0" * 64

# Ticket states. Active: a counter holds it. Final: nothing more can happen.
WAITING, CALLED, SERVING, DONE = "waiting", "called", "serving", "done"
NO_SHOW, TRANSFERRED, CANCELLED, EXPIRED = "no_show", "transferred", "cancelled", "expired"
ACTIVE_STATES = (CALLED, SERVING)
FINAL_STATES = (DONE, NO_SHOW, TRANSFERRED, CANCELLED, EXPIRED)

STATUS_VI = {
    WAITING: "Đang chờ",
    CALLED: "Đã gọi",
    SERVING: "Đang phục vụ",
    DONE: "Đã xong",
    NO_SHOW: "Vắng mặt",
    TRANSFERRED: "Đã chuyển",
    CANCELLED: "Đã hủy",
    EXPIRED: "Hết hạn",
}


@dataclass
class Outcome:
    """What an engine operation did: the ticket it left, and the events it logged.

    The caller hands ``events`` to the realtime hub after the commit.
    """

    ticket: dict | None = None
    events: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_now(now: datetime | None) -> datetime:
    """The injected clock value, or the real time; always timezone-aware UTC."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the engine")
    return now.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Stored form of a time: UTC, millisecond precision, with its offset."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def local_day(moment: datetime, timezone: str) -> date:
    """The office's calendar day at a moment (numbering restarts each local day)."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def storable_id(value) -> bool:
    """False for an int SQLite cannot bind (OverflowError past 64 bits); other values
    are left to the query, as before."""
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def get_office(db: sqlite_utils.Database, office_id: int) -> dict:
    if not storable_id(office_id):
        raise NotFoundError(f"Không có văn phòng {office_id}", f"No office {office_id}")
    office = one(db, "SELECT * FROM offices WHERE id = ?", [office_id])
    if office is None:
        raise NotFoundError(f"Không có văn phòng {office_id}", f"No office {office_id}")
    return office


def get_ticket(db: sqlite_utils.Database, ticket_id: int) -> dict:
    if not storable_id(ticket_id):
        raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
    ticket = one(db, "SELECT * FROM tickets WHERE id = ?", [ticket_id])
    if ticket is None:
        raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
    return ticket


def get_counter(db: sqlite_utils.Database, counter_id: int) -> dict:
    if not storable_id(counter_id):
        raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
    counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
    if counter is None or not counter["active"]:
        raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
    return counter


def find_service(db: sqlite_utils.Database, office_id: int, ref) -> dict:
    """A service of the office by id or by prefix letter(s)."""
    if ref is None or ref == "":
        raise BadInputError("Thiếu dịch vụ", "Missing service")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal()):
        if not storable_id(int(ref)):
            raise NotFoundError(f"Không có dịch vụ {ref}", f"No service {ref}")
        row = one(
            db, "SELECT * FROM services WHERE id = ? AND office_id = ?", [int(ref), office_id]
        )
    elif isinstance(ref, str):
        row = one(
            db,
            "SELECT * FROM services WHERE upper(prefix) = upper(?) AND office_id = ?",
            [ref.strip(), office_id],
        )
    else:
        raise BadInputError("Dịch vụ không hợp lệ", "Invalid service")
    if row is None or not row["active"]:
        raise NotFoundError(f"Không có dịch vụ {ref}", f"No service {ref}")
    return row


def _event_hash(prev_hash: str, payload: dict) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def hashed_fields(event: dict) -> dict:
    """The fields of an event the hash chain covers."""
    return {
        "office_id": event["office_id"],
        "seq": event["seq"],
        "ticket_id": event["ticket_id"],
        "counter_id": event["counter_id"],
        "user_id": event["user_id"],
        "type": event["type"],
        "at": event["at"],
        "details": event["details"],
    }


def append_event(
    db: sqlite_utils.Database,
    office_id: int,
    type_: str,
    at: datetime,
    ticket_id: int | None = None,
    counter_id: int | None = None,
    user_id: int | None = None,
    details: dict | None = None,
) -> dict:
    """Append one event to the office's log with the next sequence number and hash.

    Must run inside the caller's write transaction.
    """
    last = db.execute(
        "SELECT seq, hash FROM ticket_events WHERE office_id = ? ORDER BY seq DESC LIMIT 1",
        [office_id],
    ).fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    event = {
        "office_id": office_id,
        "seq": seq,
        "ticket_id": ticket_id,
        "counter_id": counter_id,
        "user_id": user_id,
        "type": type_,
        "at": iso(at),
        "details": json.dumps(details or {}, sort_keys=True, ensure_ascii=False),
    }
    event["prev_hash"] = prev_hash
    event["hash"] = _event_hash(prev_hash, hashed_fields(event))
    db.execute(
        "INSERT INTO ticket_events (office_id, seq, ticket_id, counter_id, user_id, type, at,"
        " details, prev_hash, hash) VALUES (:office_id, :seq, :ticket_id, :counter_id,"
        " :user_id, :type, :at, :details, :prev_hash, :hash)",
        event,
    )
    return event


def event_hash(prev_hash: str, event: dict) -> str:
    """Recompute an event's hash (used by verify_log)."""
    return _event_hash(prev_hash, hashed_fields(event))


def expire_waiting(db: sqlite_utils.Database, office_id: int, through_day: str, at: datetime,
                   user_id: int | None = None, details: dict | None = None) -> list[dict]:
    """Expire the office's tickets still waiting from ``through_day`` or earlier.

    Runs inside the caller's write transaction; returns the logged events.
    """
    ids = [r[0] for r in db.execute(
        "SELECT id FROM tickets WHERE office_id = ? AND status = 'waiting' AND day <= ?"
        " ORDER BY id", [office_id, through_day]).fetchall()]
    events = []
    for ticket_id in ids:
        db.execute("UPDATE tickets SET status = 'expired', finished_at = ? WHERE id = ?",
                   [iso(at), ticket_id])
        events.append(append_event(db, office_id, "expired", at, ticket_id=ticket_id,
                                   user_id=user_id, details=details))
    return events


def expire_stale(db: sqlite_utils.Database, office: dict, at: datetime) -> list[dict]:
    """Expire tickets left waiting from an earlier day (a close of day nobody ran).

    Issuing and calling run this first, so yesterday's queue is never called
    today and never counted ahead of today's citizens.
    """
    today = local_day(at, office["timezone"])
    return expire_waiting(db, office["id"], (today - timedelta(days=1)).isoformat(), at,
                          details={"stale": True})
