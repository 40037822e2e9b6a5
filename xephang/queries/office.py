"""An office's state as screens and setup pages read it: services, counters, the snapshot,
the kiosk menu, setup lists. No writes."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlite_utils

from ..clock import local_day, resolve_now
from ..engine.hours import office_is_open, opening_words
from ..engine.log import last_seq
from ..engine.lookups import DAY_TICKETS, get_office, served_services
from ..engine.settings import office_setting
from ..engine.views import event_view, ticket_views
from ..storage import one, read, scalar
from .queue import kept_counts

# Office-scoped tables whose rows a manager may change through the setup pages.
OWNED_TABLES = frozenset(
    {"services", "counters", "devices", "priority_categories", "targets", "webhooks"}
)


def services(db: sqlite_utils.Database, office_id: int, active_only: bool = True) -> list[dict]:
    """An office's services in display order (sort order, then prefix)."""
    sql = "SELECT * FROM services WHERE office_id = ?" + (" AND active" if active_only else "")
    return list(db.query(sql + " ORDER BY sort_order, prefix", [office_id]))


def counters(db: sqlite_utils.Database, office_id: int, active_only: bool = True) -> list[dict]:
    """An office's counters by number, each with ``services``: its service ids in order."""
    links: dict[int, list[int]] = {}
    for counter_id, service_id in db.execute(
        "SELECT cs.counter_id, cs.service_id FROM counter_services cs JOIN counters c ON"
        " c.id = cs.counter_id WHERE c.office_id = ? ORDER BY cs.counter_id, cs.position",
        [office_id],
    ).fetchall():
        links.setdefault(counter_id, []).append(service_id)
    sql = "SELECT * FROM counters WHERE office_id = ?" + (" AND active" if active_only else "")
    rows = list(db.query(sql + " ORDER BY number", [office_id]))
    for row in rows:
        row["services"] = links.get(row["id"], [])
    return rows


def offices(db: sqlite_utils.Database) -> list[dict]:
    """Every office's id, name, address and zone, by id."""
    return list(db.query("SELECT id, name, address, timezone FROM offices ORDER BY id"))


def first_office_id(db: sqlite_utils.Database) -> int | None:
    """The lowest office id (an admin's default office), or None when there is none."""
    return scalar(db, "SELECT min(id) FROM offices")


def office_for_board(db: sqlite_utils.Database, board_id: str) -> int | None:
    """The office whose public board link has this unguessable id."""
    row = one(db, "SELECT id FROM offices WHERE board_id = ?", [board_id or ""])
    return row["id"] if row else None


def snapshot(db: sqlite_utils.Database, office_id: int, now=None, recent_calls: int = 10) -> dict:
    """The whole visible state of an office's queue, with the event sequence it reflects."""
    # One read transaction: the counts, counters and seq all describe the same moment,
    # so a client resuming from ``seq`` neither misses nor double-applies an event.
    with read(db):
        return _snapshot(db, office_id, now, recent_calls)


def _snapshot(db: sqlite_utils.Database, office_id: int, now, recent_calls: int) -> dict:
    office = get_office(db, office_id)
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    waiting, not_arrived = kept_counts(db, office_id)
    service_rows = [
        {
            "id": s["id"],
            "prefix": s["prefix"],
            "name_vi": s["name_vi"],
            "name_en": s["name_en"],
            "field": s["field"],
            "field_en": s["field_en"],
            "daily_cap": s["daily_cap"],
            "waiting": waiting.get(s["id"], 0),
            "not_arrived": not_arrived.get(s["id"], 0),
        }
        for s in services(db, office_id)
    ]
    counter_rows = []
    names = dict(
        db.execute(
            "SELECT u.id, coalesce(nullif(u.display_name, ''), u.username) FROM users u"
            " JOIN counters c ON c.officer_id = u.id WHERE c.office_id = ?",
            [office_id],
        ).fetchall()
    )
    for c in counters(db, office_id):
        current = ticket_views(db, c["current_ticket_id"])[1] if c["current_ticket_id"] else None
        counter_rows.append(
            {
                "id": c["id"],
                "number": c["number"],
                "name": c["name"],
                "services": c["services"],
                "state": c["state"],
                "pause_reason": c["pause_reason"],
                "officer_id": c["officer_id"],
                "officer": names.get(c["officer_id"]),
                "current_ticket": current,
            }
        )
    calls = [
        event_view(e, ticket_views(db, e["ticket_id"])[1], office["timezone"])
        for e in db.query(
            "SELECT * FROM ticket_events WHERE office_id = ? AND type IN ('called', 'recalled')"
            " ORDER BY seq DESC LIMIT ?",
            [office_id, recent_calls],
        )
    ]
    totals = dict(
        db.execute(
            f"SELECT t.status, count(*) FROM {DAY_TICKETS} WHERE t.office_id = ? AND t.day = ?"
            " GROUP BY t.status",
            [office_id, day],
        ).fetchall()
    )
    return {
        "office": {"id": office["id"], "name": office["name"], "timezone": office["timezone"]},
        "seq": last_seq(db, office_id),
        "day": day,
        "services": service_rows,
        "waiting": {str(k): v for k, v in waiting.items()},
        "waiting_total": sum(waiting.values()),
        # of those waiting, online numbers still to check in (not callable yet)
        "not_arrived": {str(k): v for k, v in not_arrived.items()},
        "not_arrived_total": sum(not_arrived.values()),
        "counters": counter_rows,
        "recent_calls": calls,
        "today": {"issued": sum(totals.values()), **totals},
    }


def counter_row(db: sqlite_utils.Database, counter_id: int) -> dict | None:
    """One counter's row (active or not), or None."""
    return one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])


def counter_view(db: sqlite_utils.Database, counter_id: int) -> dict:
    """One counter as the snapshot shows it."""
    office_id = scalar(db, "SELECT office_id FROM counters WHERE id = ?", [counter_id])
    return next(c for c in snapshot(db, office_id)["counters"] if c["id"] == counter_id)


def kiosk_menu(db: sqlite_utils.Database, office_id: int, now: datetime | None = None) -> dict:
    """The office's active services that a counter serves, grouped by lĩnh vực (in service
    order, with its English name), priority categories by rank, whether the office is open
    now (and, closed, why and when it opens again: ``closed``), which services hit
    their cap, and whether online numbers check in at the kiosk (``online_checkin``)."""
    office = get_office(db, office_id)
    at = resolve_now(now)
    day = local_day(at, office["timezone"]).isoformat()
    issued = dict(
        db.execute(
            f"SELECT t.service_id, count(*) FROM {DAY_TICKETS} WHERE t.office_id = ?"
            " AND t.day = ? AND t.from_ticket_id IS NULL GROUP BY t.service_id",
            [office_id, day],
        ).fetchall()
    )
    served = served_services(db, office_id)
    fields: dict[str, list[dict]] = {}
    fields_en: dict[str, str] = {}
    for s in services(db, office_id):
        if s["id"] not in served:
            continue  # no counter serves it: not offered (engine.issue_ticket refuses it too)
        full = s["daily_cap"] is not None and issued.get(s["id"], 0) >= s["daily_cap"]
        if s["field_en"] and not fields_en.get(s["field"] or ""):
            fields_en[s["field"] or ""] = s["field_en"]
        fields.setdefault(s["field"] or "", []).append(
            {
                "id": s["id"],
                "prefix": s["prefix"],
                "name_vi": s["name_vi"],
                "name_en": s["name_en"] or s["name_vi"],
                "full": full,
            }
        )
    priorities = list(
        db.query(
            "SELECT key, name_vi, name_en FROM priority_categories WHERE office_id = ? AND active"
            " ORDER BY rank, id",
            [office_id],
        )
    )
    return {
        "office": {"id": office["id"], "name": office["name"], "timezone": office["timezone"]},
        "open": office_is_open(office, at),
        "closed": opening_words(office, at),
        "fields": [
            {"field": f, "field_en": fields_en.get(f) or f, "services": rows}
            for f, rows in fields.items()
        ],
        "priorities": priorities,
        # online numbers check in here too (the check-in screen's words say so)
        "online_checkin": office_setting(db, office_id, "online_checkin"),
    }


def menu_version(menu: dict) -> str:
    """A fingerprint of what the kiosk shows, so an idle kiosk reloads when setup changes."""
    parts = [menu["office"]["name"]]
    for group in menu["fields"]:
        parts += [group["field"], group["field_en"]] + [
            f"{s['id']}:{s['name_vi']}:{s['name_en']}" for s in group["services"]
        ]
    parts += [p["key"] for p in menu["priorities"]]
    parts.append(str(menu.get("online_checkin")))
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def priority_name(db: sqlite_utils.Database, office_id: int, key: str | None) -> str:
    """The Vietnamese name of a priority category ('' for none)."""
    if not key:
        return ""
    row = one(
        db,
        "SELECT name_vi FROM priority_categories WHERE office_id = ? AND key = ?",
        [office_id, key],
    )
    return row["name_vi"] if row else key


def priority_categories(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's priority categories (active or not) by rank and key."""
    return list(
        db.query(
            "SELECT * FROM priority_categories WHERE office_id = ? ORDER BY rank, key", [office_id]
        )
    )


def lowest_rating_level(db: sqlite_utils.Database, office_id: int):
    """The level of the office's scale that counts as not satisfied (the last one)."""
    scale = office_setting(db, office_id, "rating_scale")
    return scale[-1]["level"] if scale else None


def owned_row(db: sqlite_utils.Database, table: str, row_id: int) -> dict | None:
    """One row of an office-scoped setup table (it carries ``office_id``), or None."""
    if table not in OWNED_TABLES:
        raise ValueError(f"not an office-scoped setup table: {table}")
    return one(db, f"SELECT * FROM {table} WHERE id = ?", [row_id])


def service_ids_by_prefix(db: sqlite_utils.Database, office_id: int) -> dict[str, int]:
    """An office's service ids keyed by prefix letter(s)."""
    return {r["prefix"]: r["id"] for r in services(db, office_id, active_only=False)}


def targets(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's targets with their service's ``prefix`` and ``name_vi`` (None office-wide)."""
    return list(
        db.query(
            "SELECT t.*, s.prefix, s.name_vi FROM targets t LEFT JOIN services s ON"
            " s.id = t.service_id WHERE t.office_id = ?"
            " ORDER BY t.metric, t.service_id IS NOT NULL, s.prefix, t.effective_from",
            [office_id],
        )
    )


def setup_audit(db: sqlite_utils.Database, office_id: int, limit: int = 20) -> list[dict]:
    """The latest setup changes of an office and of no office, newest first, with ``who``."""
    return list(
        db.query(
            "SELECT a.at, a.action, a.details, coalesce(u.display_name, u.username) AS who FROM"
            " setup_audit a LEFT JOIN users u ON u.id = a.user_id WHERE a.office_id = ? OR"
            " a.office_id IS NULL ORDER BY a.id DESC LIMIT ?",
            [office_id, limit],
        )
    )
