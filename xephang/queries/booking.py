"""Read models of online numbers and appointments: what an office offers now and ahead
(the public availability), and a day's bookings for staff."""

from __future__ import annotations

import threading
from datetime import date, datetime

import sqlite_utils

from ..clock import WEEKDAY_KEYS, iso, local_day, resolve_now
from ..engine import booking, estimate
from ..engine.hours import day_is_closed, office_is_open
from ..engine.lookups import find_service, get_office, serving_counters
from ..engine.settings import office_settings
from ..storage import file_of, one

AVAILABILITY_TTL_S = 20.0  # estimates drift with the clock too: recomputed at least this often
_CACHE: dict[tuple, tuple[int, datetime, dict]] = {}
_CACHE_LOCK = threading.Lock()


def _services(db, office_id: int) -> list[dict]:
    return list(
        db.query(
            "SELECT * FROM services WHERE office_id = ? AND active ORDER BY sort_order, prefix",
            [office_id],
        )
    )


def new_ticket_estimate(db, office: dict, svc: dict, day: str, default_s: float, at) -> dict:
    """The estimate a ticket taken now would get (people waiting, counters open): a ticket
    that is not written, at the back of the line."""
    ghost = {
        "id": 2**62,
        "office_id": office["id"],
        "service_id": svc["id"],
        "status": "waiting",
        "priority": None,
        "priority_rank": None,
        "queue_at": iso(at),
        "day": day,
        "target_counter_id": None,
        "unsaved": True,
    }
    return estimate.for_citizen(db, ghost, default_s, now=at)


BOOKING_EVENTS = ("booked", "booking_cancelled", "booking_missed")


def queue_seq(db: sqlite_utils.Database, office_id: int) -> int:
    """The office's last event that can change what availability shows (a booking's own
    events change only its slot's places, which are never cached): read backwards along
    the log's (office, seq) index."""
    marks = ",".join("?" * len(BOOKING_EVENTS))
    row = db.execute(
        f"SELECT seq FROM ticket_events WHERE office_id = ? AND type NOT IN ({marks})"
        " ORDER BY seq DESC LIMIT 1",
        [office_id, *BOOKING_EVENTS],
    ).fetchone()
    return row[0] if row else 0


def availability(
    db: sqlite_utils.Database,
    office_id: int,
    now: datetime | None = None,
    default_s: float = estimate.DEFAULT_SERVICE_S,
    cached: bool = True,
) -> dict:
    """What an office offers citizens from home: its services open now with the people
    waiting, the honest estimate and the online numbers left today; the days that take
    appointments. Served from a cache that any queue event of the office (``queue_seq``)
    or ``AVAILABILITY_TTL_S`` invalidates."""
    at = resolve_now(now)
    key = (file_of(db), office_id, default_s)
    seq = queue_seq(db, office_id)
    if cached:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit and hit[0] == seq and 0 <= (at - hit[1]).total_seconds() < AVAILABILITY_TTL_S:
            return hit[2]
    office = get_office(db, office_id)
    settings = office_settings(db, office_id)
    day = local_day(at, office["timezone"]).isoformat()
    open_now = office_is_open(office, at) and not day_is_closed(office, date.fromisoformat(day))
    closes = booking.online_closes_at(office, day, settings)
    online_open = settings["online_numbers_enabled"] and open_now and at < closes
    waiting = dict(
        db.execute(
            "SELECT service_id, count(*) FROM tickets WHERE office_id = ? AND status = 'waiting'"
            " GROUP BY service_id",
            [office_id],
        ).fetchall()
    )
    services = []
    for svc in _services(db, office_id):
        fields = new_ticket_estimate(db, office, svc, day, default_s, at)
        offered = serving_counters(db, svc["id"]) > 0
        left = 0
        if offered:
            capacity = booking.online_capacity(
                db, office, svc, day, settings["online_share"], default_s
            )
            left = max(0, capacity - booking.online_taken(db, office_id, svc["id"], day))
        services.append(
            {
                "id": svc["id"],
                "prefix": svc["prefix"],
                "name_vi": svc["name_vi"],
                "name_en": svc["name_en"],
                "field": svc["field"],
                "waiting": waiting.get(svc["id"], 0),
                **{k: fields.get(k) for k in estimate.CITIZEN_FIELDS},
                "wait": estimate.wait_words(fields),
                "online_left": left if online_open else 0,
                "online_open": bool(online_open and offered and left > 0),
                "bookable": bool(settings["appointments_enabled"] and offered),
            }
        )
    mode = settings["online_identity"]
    consent = booking.consent_text(mode)
    result = {
        "office": {
            "id": office["id"],
            "name": office["name"],
            "address": office["address"],
            "timezone": office["timezone"],
        },
        "day": day,
        "open_now": open_now,
        "online": {
            "enabled": bool(settings["online_numbers_enabled"]),
            "open": bool(online_open),
            "closes_at": closes.astimezone(at.tzinfo).isoformat() if open_now else None,
            # a number taken now must check in at the kiosk before it is called
            "checkin": bool(settings["online_checkin"]),
        },
        "appointments": {
            "enabled": bool(settings["appointments_enabled"]),
            "days": booking.bookable_days(office, settings["booking_horizon_days"], at)
            if settings["appointments_enabled"]
            else [],
            "slot_minutes": booking.SLOT_MINUTES,
        },
        "identity": {
            "mode": mode,
            "consent_vi": consent[0] if consent else "",
            "consent_en": consent[1] if consent else "",
        },
        "services": services,
        "seq": seq,
    }
    with _CACHE_LOCK:
        _CACHE[key] = (seq, at, result)
    return result


def forget_cache() -> None:
    """Drop cached availability (tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def slots(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    day: str,
    now: datetime | None = None,
    default_s: float = estimate.DEFAULT_SERVICE_S,
) -> list[dict]:
    """A service's slots on a day (none on a day that takes no appointments)."""
    at = resolve_now(now)
    office = get_office(db, office_id)
    settings = office_settings(db, office_id)
    if not settings["appointments_enabled"]:
        return []
    if day not in booking.bookable_days(office, settings["booking_horizon_days"], at):
        return []
    svc = find_service(db, office_id, service)
    return booking.day_slots(db, office, svc, day, at, default_s, settings)


def slots_by_day(
    db: sqlite_utils.Database,
    office_id: int,
    service,
    days: list[str],
    now: datetime | None = None,
    default_s: float = estimate.DEFAULT_SERVICE_S,
) -> dict[str, list[dict]]:
    """A service's slots on each of these bookable days (the availability's ``slots``)."""
    at = resolve_now(now)
    office = get_office(db, office_id)
    settings = office_settings(db, office_id)
    svc = find_service(db, office_id, service)
    if not settings["appointments_enabled"]:
        return {}
    return {day: booking.day_slots(db, office, svc, day, at, default_s, settings) for day in days}


def day_bookings(db: sqlite_utils.Database, office_id: int, day: str) -> list[dict]:
    """A day's appointments for staff, by slot: code, service, status, last 3 digits."""
    rows = db.query(
        "SELECT * FROM appointments WHERE office_id = ? AND day = ? ORDER BY slot_start, id",
        [office_id, day],
    )
    return [booking.appointment_view(db, row, private=False) for row in rows]


def booking_counts(db: sqlite_utils.Database, office_id: int, day: str) -> dict:
    """A day's appointments by status (the dashboard's line)."""
    counts = dict.fromkeys(booking.STATUS_VI, 0)
    for status, n in db.execute(
        "SELECT status, count(*) FROM appointments WHERE office_id = ? AND day = ? GROUP BY status",
        [office_id, day],
    ).fetchall():
        counts[status] = n
    return counts


def appointment_for_ticket(db: sqlite_utils.Database, ticket_id: int) -> dict | None:
    """The appointment a ticket checked in from, as staff see it (or None)."""
    row = one(db, "SELECT * FROM appointments WHERE ticket_id = ?", [ticket_id])
    return None if row is None else booking.appointment_view(db, row, private=False)


def slot_capacities(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """The manager's slot capacities of an office, by service, weekday and start."""
    order = "CASE weekday " + " ".join(f"WHEN '{d}' THEN {i}" for i, d in enumerate(WEEKDAY_KEYS))
    return list(
        db.query(
            "SELECT b.service_id, s.prefix, s.name_vi, b.weekday, b.start, b.capacity"
            " FROM booking_slots b JOIN services s ON s.id = b.service_id WHERE b.office_id = ?"
            f" ORDER BY s.sort_order, s.prefix, {order} END, b.start",
            [office_id],
        )
    )
