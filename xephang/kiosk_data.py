"""Read-only queries the kiosk and the ticket tracker need. No writes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlite_utils

from . import engine
from .db import one, scalar
from .engine.core import iso, local_day, resolve_now


def kiosk_menu(db: sqlite_utils.Database, office_id: int, now: datetime | None = None) -> dict:
    """The office's active services grouped by lĩnh vực (in service order), priority
    categories by rank, whether the office is open now, and which services hit their cap."""
    office = engine.get_office(db, office_id)
    at = resolve_now(now)
    day = local_day(at, office["timezone"]).isoformat()
    issued = dict(db.execute(
        "SELECT service_id, count(*) FROM tickets WHERE office_id = ? AND day = ? AND"
        " from_ticket_id IS NULL GROUP BY service_id", [office_id, day]).fetchall())
    fields: dict[str, list[dict]] = {}
    for s in db.query("SELECT * FROM services WHERE office_id = ? AND active"
                      " ORDER BY sort_order, prefix", [office_id]):
        full = s["daily_cap"] is not None and issued.get(s["id"], 0) >= s["daily_cap"]
        fields.setdefault(s["field"] or "", []).append({
            "id": s["id"], "prefix": s["prefix"], "name_vi": s["name_vi"],
            "name_en": s["name_en"] or s["name_vi"], "full": full,
        })
    priorities = list(db.query(
        "SELECT key, name_vi, name_en FROM priority_categories WHERE office_id = ? AND active"
        " ORDER BY rank, id", [office_id]))
    return {
        "office": {"id": office["id"], "name": office["name"], "timezone": office["timezone"]},
        "open": engine.office_is_open(office, at),
        "fields": [{"field": f, "services": services} for f, services in fields.items()],
        "priorities": priorities,
    }


def menu_version(menu: dict) -> str:
    """A fingerprint of what the kiosk shows, so an idle kiosk reloads when setup changes."""
    parts = [menu["office"]["name"]]
    for group in menu["fields"]:
        parts += [group["field"]] + [f"{s['id']}:{s['name_vi']}:{s['name_en']}"
                                     for s in group["services"]]
    parts += [p["key"] for p in menu["priorities"]]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def issued_by_device_since(db: sqlite_utils.Database, device_id: int, seconds: float,
                           now: datetime | None = None) -> int:
    """Tickets a kiosk issued in the last ``seconds`` (the per-kiosk rate limit)."""
    since = iso(resolve_now(now) - timedelta(seconds=seconds))
    return scalar(db, "SELECT count(*) FROM tickets WHERE device_id = ? AND issued_at >= ?",
                  [device_id, since]) or 0


def priority_name(db: sqlite_utils.Database, office_id: int, key: str | None) -> str:
    """The Vietnamese name of a priority category ('' for none)."""
    if not key:
        return ""
    row = one(db, "SELECT name_vi FROM priority_categories WHERE office_id = ? AND key = ?",
              [office_id, key])
    return row["name_vi"] if row else key


def rating_of(db: sqlite_utils.Database, ticket_id: int) -> dict | None:
    return one(db, "SELECT level, created_at FROM ratings WHERE ticket_id = ?", [ticket_id])


def visit_rating(db: sqlite_utils.Database, ticket_ids: list[int]) -> dict | None:
    """The rating given to any ticket of a visit (one rating answers for the visit)."""
    if not ticket_ids:
        return None
    return one(db, f"SELECT ticket_id, level, created_at FROM ratings WHERE ticket_id IN"
               f" ({','.join('?' * len(ticket_ids))}) ORDER BY id LIMIT 1", ticket_ids)
