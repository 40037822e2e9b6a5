"""The shapes of a ticket and an event handed to the API, the realtime hub and the pages.

A ticket's *public* view is what a waiting room may see (code, service,
status, counter, times); the *private* view adds the tracker token, the
dossier code and the outcome, for staff and the ticket's own citizen.
"""

from __future__ import annotations

import json

import sqlite_utils

from ..clock import local_iso
from ..errors import NotFoundError
from ..storage import one
from .states import STATUS_VI

# One query for a ticket and everything its view shows (service, zone, counter, visit).
VIEW_SQL = (
    "SELECT t.*, s.prefix AS v_prefix, s.name_vi AS v_name_vi, s.name_en AS v_name_en,"
    " s.field AS v_field, o.timezone AS v_timezone, c.number AS v_counter_number,"
    " v.token AS v_token FROM tickets t JOIN services s ON s.id = t.service_id"
    " JOIN offices o ON o.id = t.office_id JOIN visits v ON v.id = t.visit_id"
    " LEFT JOIN counters c ON c.id = t.counter_id WHERE t.id = ?"
)
PRIVATE_KEYS = ("tracker_token", "dossier_code", "outcome")
# What no room and no webhook gets: only whether there is one (``has_dossier_code``).
HIDDEN_FROM_STAFF = ("dossier_code",)


def ticket_view(db: sqlite_utils.Database, ticket: dict, private: bool = False) -> dict:
    """The public shape of a ticket; ``private`` adds the tracker token."""
    return _build_view(ticket, one(db, VIEW_SQL, [ticket["id"]]), private)


def ticket_views(db: sqlite_utils.Database, ticket_id: int) -> tuple[dict, dict, dict]:
    """(row, public view, private view) of a ticket, from one query."""
    row = one(db, VIEW_SQL, [ticket_id])
    if row is None:
        raise NotFoundError(f"Không có vé {ticket_id}", f"No ticket {ticket_id}")
    public = _build_view(row, row, private=False)
    return row, public, {**public, **_private_fields(row, row)}


def _build_view(ticket: dict, row: dict, private: bool) -> dict:
    tz = row["v_timezone"]
    view = {
        "id": ticket["id"],
        "office_id": ticket["office_id"],
        "code": ticket["code"],
        "number": ticket["number"],
        "day": ticket["day"],
        "service": {
            "id": ticket["service_id"],
            "prefix": row["v_prefix"],
            "name_vi": row["v_name_vi"],
            "name_en": row["v_name_en"],
            "field": row["v_field"],
        },
        "priority": ticket["priority"],
        "status": ticket["status"],
        "status_vi": STATUS_VI[ticket["status"]],
        "visit_id": ticket["visit_id"],
        "from_ticket_id": ticket["from_ticket_id"],
        "counter": (
            {"id": ticket["counter_id"], "number": row["v_counter_number"]}
            if ticket["counter_id"]
            else None
        ),
        "target_counter_id": ticket["target_counter_id"],
        "issued_at": local_iso(ticket["issued_at"], tz),
        "called_at": local_iso(ticket["called_at"], tz),
        "last_called_at": local_iso(ticket["last_called_at"], tz),
        "started_at": local_iso(ticket["started_at"], tz),
        "finished_at": local_iso(ticket["finished_at"], tz),
        "recalls": ticket["recalls"],
        "channel": ticket["channel"],
        "slot_at": local_iso(ticket["slot_at"], tz),
        # an online number in line but not callable until its citizen checks in
        "awaiting_checkin": bool(ticket["awaiting_checkin"]),
        "checked_in_at": local_iso(ticket["checked_in_at"], tz),
    }
    if private:
        view.update(_private_fields(ticket, row))
    return view


def _private_fields(ticket: dict, row: dict) -> dict:
    """What a private view adds (``PRIVATE_KEYS``)."""
    return {
        "tracker_token": row["v_token"],
        "dossier_code": ticket["dossier_code"],
        "outcome": ticket["outcome"],
    }


def event_view(event: dict, ticket: dict | None, timezone: str) -> dict:
    """An engine event as the hub publishes it (no tracker token, no personal data)."""
    return {
        "office_id": event["office_id"],
        "seq": event["seq"],
        "type": event["type"],
        "at": local_iso(event["at"], timezone),
        "ticket_id": event["ticket_id"],
        "counter_id": event["counter_id"],
        "details": json.loads(event["details"]),
        "from_status": event.get("from_status"),
        "ticket": ticket,
    }


def staff_event(event: dict) -> dict:
    """An event as staff rooms and webhooks get it: the dossier code only as
    ``has_dossier_code``."""
    shown = dict(event)
    details = dict(event.get("details") or {})
    for key in HIDDEN_FROM_STAFF:
        if details.pop(key, None) is not None:
            details["has_" + key] = True
    shown["details"] = details
    return shown


# --- what a waiting room may see --------------------------------------------------------
# Public and citizen channels (the board link, paired displays and kiosks, trackers) carry
# codes, counters, counts and service names only: no staff free text (reasons, outcomes,
# dossier codes), no officer, no priority category (it can tell a disability).
PUBLIC_DETAILS = ("counter_number", "recall", "to_ticket_id", "to_service_id", "to_counter_id")
PUBLIC_COUNTER_KEYS = ("id", "number", "name", "services", "state", "current_ticket")


def public_ticket(view: dict | None) -> dict | None:
    """A ticket view as a waiting room may see it: ``priority`` only says yes or no."""
    if view is None:
        return None
    shown = {k: v for k, v in view.items() if k not in PRIVATE_KEYS}
    shown["priority"] = bool(view.get("priority"))
    return shown


def public_event(event: dict) -> dict:
    """An event view for public rooms: whitelisted details, a public ticket."""
    shown = dict(event)
    shown["details"] = {
        k: v for k, v in (event.get("details") or {}).items() if k in PUBLIC_DETAILS
    }
    shown["ticket"] = public_ticket(event.get("ticket"))
    return shown


def public_snapshot(snap: dict) -> dict:
    """An office snapshot for public screens: counters without pause reasons or officers."""
    shown = dict(snap)
    shown["counters"] = [
        {
            **{k: c.get(k) for k in PUBLIC_COUNTER_KEYS},
            "current_ticket": public_ticket(c.get("current_ticket")),
        }
        for c in snap.get("counters", [])
    ]
    shown["recent_calls"] = [public_event(e) for e in snap.get("recent_calls", [])]
    return shown
