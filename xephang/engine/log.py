"""The event log: append-only, numbered and hash-chained per office.

Every state change appends here inside its own transaction
(``append_event``). ``verify_log`` checks the chain (``xephang verify-log``),
resuming after the anchor a purge leaves; ``replay_states`` rebuilds ticket
states from the log alone through the transition table. Personal data never
enters an event: details carry references and staff codes only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlite_utils

from ..clock import iso
from .states import replay

GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("office_id", "seq", "ticket_id", "counter_id", "user_id", "type", "at", "details")


# Built once: json.dumps builds an encoder per call when given options. The hashed
# body's bytes must never change (every stored chain depends on them).
_HASHED_BODY = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_DETAILS = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def event_hash(prev_hash: str, event: dict) -> str:
    """The hash of an event chained to the one before it."""
    payload = {name: event[name] for name in HASHED_FIELDS}
    body = _HASHED_BODY.encode(payload)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def last_seq(db: sqlite_utils.Database, office_id: int) -> int:
    """The office's latest event sequence number (0 before the first event)."""
    row = db.execute(
        "SELECT max(seq) FROM ticket_events WHERE office_id = ?", [office_id]
    ).fetchone()
    return row[0] or 0


def append_event(
    db: sqlite_utils.Database,
    office_id: int,
    type_: str,
    at: datetime,
    ticket_id: int | None = None,
    counter_id: int | None = None,
    user_id: int | None = None,
    details: dict | None = None,
    from_status: str | None = None,
) -> dict:
    """Append one event to the office's log with the next sequence number and hash.

    Must run inside the caller's write transaction. ``from_status`` (the
    ticket's state before the event) is handed on to the realtime hub with
    the event but is not stored: the log's order already implies it.
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
        "details": _DETAILS.encode(details or {}),
        "prev_hash": prev_hash,
    }
    event["hash"] = event_hash(prev_hash, event)
    db.execute(
        "INSERT INTO ticket_events (office_id, seq, ticket_id, counter_id, user_id, type, at,"
        " details, prev_hash, hash) VALUES (:office_id, :seq, :ticket_id, :counter_id,"
        " :user_id, :type, :at, :details, :prev_hash, :hash)",
        event,
    )
    event["from_status"] = from_status
    return event


def log_anchor(db: sqlite_utils.Database, office_id: int) -> tuple[str, int] | None:
    """Where the chain resumes after `xephang purge` removed its start: (hash, next seq)."""
    row = db.execute(
        "SELECT hash, seq FROM log_anchors WHERE office_id = ?", [office_id]
    ).fetchone()
    return (row[0], row[1] + 1) if row else None


def verify_log(db: sqlite_utils.Database, office_id: int | None = None) -> list[str]:
    """Problems found in the hash chain of each office's events; empty when intact."""
    problems = []
    offices = (
        [office_id]
        if office_id
        else [r[0] for r in db.execute("SELECT DISTINCT office_id FROM ticket_events").fetchall()]
    )
    for oid in offices:
        prev_hash, expected_seq = log_anchor(db, oid) or (GENESIS_HASH, 1)
        for event in db.query(
            "SELECT * FROM ticket_events WHERE office_id = ? ORDER BY seq", [oid]
        ):
            where = f"office {oid} event seq {event['seq']}"
            if event["seq"] != expected_seq:
                problems.append(f"{where}: expected seq {expected_seq} (gap or reorder)")
            if event["prev_hash"] != prev_hash:
                problems.append(f"{where}: prev_hash does not match the previous event")
            if event_hash(event["prev_hash"], event) != event["hash"]:
                problems.append(f"{where}: hash does not match its content (altered)")
            prev_hash, expected_seq = event["hash"], event["seq"] + 1
    return problems


def replay_states(db: sqlite_utils.Database, office_id: int) -> dict[int, str]:
    """Ticket states rebuilt from the event log alone (through the transition table)."""
    return replay(
        db.execute(
            "SELECT ticket_id, type FROM ticket_events WHERE office_id = ? AND ticket_id"
            " IS NOT NULL ORDER BY seq",
            [office_id],
        ).fetchall()
    )


def count_events(db: sqlite_utils.Database, office_id: int | None = None) -> int:
    """How many events the log holds (of one office, or of all)."""
    if office_id is None:
        return db.execute("SELECT count(*) FROM ticket_events").fetchone()[0]
    return db.execute(
        "SELECT count(*) FROM ticket_events WHERE office_id = ?", [office_id]
    ).fetchone()[0]
