"""Checking the event log: the hash chain, and replaying events to ticket states."""

from __future__ import annotations

import json

import sqlite_utils

from .core import GENESIS_HASH, event_hash

# The ticket state each event type leaves behind (None: the state is unchanged).
STATE_AFTER = {
    "issued": "waiting",
    "called": "called",
    "recalled": "called",
    "started": "serving",
    "finished": "done",
    "no_show": "no_show",
    "transferred": "transferred",
    "returned": "waiting",
    "cancelled": "cancelled",
    "expired": "expired",
    "printed": None,
    "print_failed": None,
    "rated": None,
}


def verify_log(db: sqlite_utils.Database, office_id: int | None = None) -> list[str]:
    """Problems found in the hash chain of each office's events; empty when intact."""
    problems = []
    offices = [office_id] if office_id else [
        r[0] for r in db.execute("SELECT DISTINCT office_id FROM ticket_events").fetchall()
    ]
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


def log_anchor(db: sqlite_utils.Database, office_id: int) -> tuple[str, int] | None:
    """Where the chain resumes after `xephang purge` removed its start: (hash, next seq)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'log_anchors'").fetchone():
        return None
    row = db.execute("SELECT hash, seq FROM log_anchors WHERE office_id = ?",
                     [office_id]).fetchone()
    return (row[0], row[1] + 1) if row else None


def replay_states(db: sqlite_utils.Database, office_id: int) -> dict[int, str]:
    """Ticket states rebuilt from the event log alone."""
    states: dict[int, str] = {}
    for event in db.query(
        "SELECT ticket_id, type, details FROM ticket_events WHERE office_id = ? AND ticket_id"
        " IS NOT NULL ORDER BY seq", [office_id]
    ):
        after = STATE_AFTER.get(event["type"])
        if after:
            states[event["ticket_id"]] = after
    return states


def event_details(event: dict) -> dict:
    return json.loads(event["details"]) if event.get("details") else {}
