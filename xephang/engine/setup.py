"""Creating and changing offices, services, counters and priority categories.

Each change is one transaction that writes its setup-audit row too
(``audit.record``); ``user_id`` is who made it. Targets live in
``targets``, office settings in ``settings``, users and devices in
``accounts``.
"""

from __future__ import annotations

import re
import secrets

import sqlite_utils

from ..clock import iso, resolve_now
from ..errors import BadInputError, ConflictError, NotFoundError
from ..storage import one, write
from . import access, audit
from .hours import validate_holidays, validate_hours
from .lookups import get_office
from .targets import add_default_targets

# Prefix letters: A–Z and Đ (the voice pack reads "đê"), never I or O (read as 1 and 0
# on a ticket and a board: "I01", "O10").
PREFIX_RE = re.compile(r"^[A-HJ-NP-ZĐ]{1,2}$")
NUMBERS_RE = re.compile(r"^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$")
PRIORITY_KEY_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _check_timezone(timezone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo((timezone or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInputError(
            f"Múi giờ '{timezone}' không tồn tại (ví dụ Asia/Ho_Chi_Minh)", "Unknown time zone"
        ) from None
    return timezone.strip()


def _office_values(
    name: str, address: str, timezone: str, hours, ticket_footer: str, holidays=None
) -> dict:
    if not name or not name.strip():
        raise BadInputError("Thiếu tên văn phòng", "Missing office name")
    if len(ticket_footer or "") > 300:
        raise BadInputError("Chân phiếu tối đa 300 ký tự", "Ticket footer too long")
    values = {
        "name": name.strip(),
        "address": (address or "").strip(),
        "timezone": _check_timezone(timezone),
        "hours": validate_hours(hours),
        "ticket_footer": (ticket_footer or "").strip(),
    }
    if holidays is not None:
        values["holidays"] = validate_holidays(holidays)
    return values


def create_office(
    db: sqlite_utils.Database,
    name: str,
    address: str = "",
    timezone: str = "Asia/Ho_Chi_Minh",
    hours=None,
    ticket_footer: str = "",
    now=None,
    user_id: int | None = None,
    holidays=None,
) -> int:
    """A new office with the default targets (30 min from 2022, 15 min from 2023, 95%)."""
    values = _office_values(name, address, timezone, hours, ticket_footer, holidays or [])
    at = resolve_now(now)
    with write(db):
        office_id = db.execute(
            "INSERT INTO offices (name, address, timezone, hours, ticket_footer, holidays,"
            " board_id, created_at) VALUES (:name, :address, :timezone, :hours, :ticket_footer,"
            " :holidays, :board, :at)",
            {**values, "board": secrets.token_urlsafe(12), "at": iso(at)},
        ).lastrowid
        add_default_targets(db, office_id)
        audit.record(db, office_id, user_id, "office.create", values, at)
    return office_id


def update_office(
    db,
    office_id: int,
    name: str,
    address: str = "",
    timezone: str = "Asia/Ho_Chi_Minh",
    hours=None,
    ticket_footer: str = "",
    user_id: int | None = None,
    holidays=None,
) -> None:
    """Change an office's name, address, time zone, opening hours, holidays (None: kept)
    and ticket footer."""
    values = _office_values(name, address, timezone, hours, ticket_footer, holidays)
    with write(db):
        get_office(db, office_id)
        db.execute(
            "UPDATE offices SET name = :name, address = :address, timezone = :timezone,"
            " hours = :hours, ticket_footer = :ticket_footer"
            + (", holidays = :holidays" if "holidays" in values else "")
            + " WHERE id = :id",
            {**values, "id": office_id},
        )
        audit.record(db, office_id, user_id, "office.update", values)


def _check_daily_cap(daily_cap) -> None:
    if daily_cap is not None and (
        isinstance(daily_cap, bool) or not isinstance(daily_cap, int) or daily_cap < 1
    ):
        raise BadInputError("Giới hạn số mỗi ngày phải là số nguyên dương", "Invalid daily cap")


def add_service(
    db,
    office_id: int,
    prefix: str,
    name_vi: str,
    name_en: str = "",
    field: str = "",
    daily_cap: int | None = None,
    sort_order: int = 0,
    user_id: int | None = None,
    field_en: str = "",
) -> int:
    """A service of an office, identified on tickets by its prefix letter(s); ``field`` is
    its lĩnh vực (``field_en`` its English name, for the kiosk's English mode)."""
    prefix = (prefix or "").strip().upper()
    if prefix and set(prefix) & set("IO"):
        raise BadInputError(
            "Không dùng chữ I hoặc O làm ký hiệu dịch vụ: trên phiếu và bảng gọi số chúng dễ"
            " nhầm với số 1 và 0",
            "I and O are not used as prefixes: they read like 1 and 0",
        )
    if not PREFIX_RE.match(prefix):
        raise BadInputError(
            "Ký hiệu dịch vụ phải là 1–2 chữ cái A–Z hoặc Đ", "Prefix must be 1-2 letters (A-Z, Đ)"
        )
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên dịch vụ", "Missing service name")
    _check_daily_cap(daily_cap)
    values = {
        "prefix": prefix,
        "name_vi": name_vi.strip(),
        "name_en": (name_en or "").strip(),
        "field": (field or "").strip(),
        "field_en": (field_en or "").strip(),
        "daily_cap": daily_cap,
        "sort_order": sort_order,
    }
    with write(db):
        get_office(db, office_id)
        if one(
            db, "SELECT id FROM services WHERE office_id = ? AND prefix = ?", [office_id, prefix]
        ):
            raise ConflictError(f"Ký hiệu {prefix} đã được dùng", f"Prefix {prefix} in use")
        service_id = db.execute(
            "INSERT INTO services (office_id, prefix, name_vi, name_en, field, field_en,"
            " daily_cap, sort_order) VALUES (:office, :prefix, :name_vi, :name_en, :field,"
            " :field_en, :daily_cap, :sort_order)",
            {"office": office_id, **values},
        ).lastrowid
        audit.record(db, office_id, user_id, "service.add", values)
        return service_id


def update_service(
    db,
    service_id: int,
    name_vi: str,
    name_en: str = "",
    field: str = "",
    daily_cap: int | None = None,
    active: bool = True,
    sort_order: int = 0,
    user_id: int | None = None,
    field_en: str = "",
) -> None:
    """Change a service's names, lĩnh vực (and its English name), daily cap, order, or
    (de)activate it."""
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên dịch vụ", "Missing service name")
    _check_daily_cap(daily_cap)
    values = {
        "name_vi": name_vi.strip(),
        "name_en": (name_en or "").strip(),
        "field": (field or "").strip(),
        "field_en": (field_en or "").strip(),
        "daily_cap": daily_cap,
        "active": bool(active),
        "sort_order": sort_order,
    }
    with write(db):
        service = one(db, "SELECT * FROM services WHERE id = ?", [service_id])
        if service is None:
            raise NotFoundError(f"Không có dịch vụ {service_id}", f"No service {service_id}")
        db.execute(
            "UPDATE services SET name_vi = :name_vi, name_en = :name_en, field = :field,"
            " field_en = :field_en, daily_cap = :daily_cap, active = :active,"
            " sort_order = :sort_order"
            " WHERE id = :id",
            {**values, "active": int(values["active"]), "id": service_id},
        )
        audit.record(
            db,
            service["office_id"],
            user_id,
            "service.update",
            {"id": service_id, "prefix": service["prefix"], **values},
        )


def set_counter_services(db, counter_id: int, service_ids: list[int]) -> None:
    """Which services a counter takes, in order of preference (caller's transaction)."""
    counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
    if len(set(service_ids)) != len(service_ids):
        raise BadInputError("Dịch vụ bị lặp", "Duplicate service")
    for sid in service_ids:
        if not one(
            db,
            "SELECT id FROM services WHERE id = ? AND office_id = ?",
            [sid, counter["office_id"]],
        ):
            raise NotFoundError(f"Không có dịch vụ {sid}", f"No service {sid}")
    db.execute("DELETE FROM counter_services WHERE counter_id = ?", [counter_id])
    for position, sid in enumerate(service_ids):
        db.execute(
            "INSERT INTO counter_services (counter_id, service_id, position) VALUES (?, ?, ?)",
            [counter_id, sid, position],
        )


def add_counter(
    db,
    office_id: int,
    number: int,
    service_ids: list[int],
    name: str = "",
    user_id: int | None = None,
) -> int:
    """A counter with its services in order of preference."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise BadInputError("Số quầy phải là số nguyên dương", "Counter number must be positive")
    with write(db):
        get_office(db, office_id)
        if one(
            db, "SELECT id FROM counters WHERE office_id = ? AND number = ?", [office_id, number]
        ):
            raise ConflictError(f"Quầy số {number} đã có", f"Counter {number} exists")
        counter_id = db.execute(
            "INSERT INTO counters (office_id, number, name) VALUES (?, ?, ?)",
            [office_id, number, (name or "").strip() or f"Quầy {number}"],
        ).lastrowid
        set_counter_services(db, counter_id, service_ids)
        audit.record(
            db, office_id, user_id, "counter.add", {"number": number, "services": service_ids}
        )
        return counter_id


def update_counter(
    db, counter_id: int, name: str, active: bool, service_ids: list[int], user_id: int | None = None
) -> None:
    """Rename a counter, (de)activate it and set its services in order of preference."""
    with write(db):
        counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
        if counter is None:
            raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
        if not active and counter["current_ticket_id"]:
            raise ConflictError(
                "Quầy đang giữ một số, không thể ngừng sử dụng", "Counter holds a ticket"
            )
        db.execute(
            "UPDATE counters SET name = ?, active = ? WHERE id = ?",
            [(name or "").strip() or f"Quầy {counter['number']}", int(bool(active)), counter_id],
        )
        set_counter_services(db, counter_id, service_ids)
        audit.record(
            db,
            counter["office_id"],
            user_id,
            "counter.update",
            {"number": counter["number"], "services": service_ids, "active": bool(active)},
        )


def add_priority_category(
    db,
    office_id: int,
    key: str,
    name_vi: str,
    name_en: str = "",
    rank: int = 0,
    user_id: int | None = None,
) -> int:
    """A priority category (người cao tuổi, khuyết tật, ...); lower rank is called first."""
    if not PRIORITY_KEY_RE.match(key or ""):
        raise BadInputError("Mã nhóm ưu tiên chỉ gồm a-z, 0-9, _", "Key must be [a-z0-9_]")
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên nhóm ưu tiên", "Missing category name")
    values = {
        "key": key,
        "name_vi": name_vi.strip(),
        "name_en": (name_en or "").strip(),
        "rank": rank,
    }
    with write(db):
        get_office(db, office_id)
        if one(
            db,
            "SELECT id FROM priority_categories WHERE office_id = ? AND key = ?",
            [office_id, key],
        ):
            raise ConflictError("Mã nhóm ưu tiên đã có", "Key in use")
        category_id = db.execute(
            "INSERT INTO priority_categories (office_id, key, name_vi, name_en, rank)"
            " VALUES (:office, :key, :name_vi, :name_en, :rank)",
            {"office": office_id, **values},
        ).lastrowid
        audit.record(db, office_id, user_id, "priority.add", values)
        return category_id


def update_priority_category(
    db,
    category_id: int,
    name_vi: str,
    name_en: str = "",
    rank: int = 0,
    active: bool = True,
    user_id: int | None = None,
) -> None:
    """Rename a priority category, change its rank, or (de)activate it.

    Tickets already issued keep the rank they were issued with.
    """
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên nhóm ưu tiên", "Missing category name")
    values = {
        "name_vi": name_vi.strip(),
        "name_en": (name_en or "").strip(),
        "rank": rank,
        "active": bool(active),
    }
    with write(db):
        category = one(db, "SELECT * FROM priority_categories WHERE id = ?", [category_id])
        if category is None:
            raise NotFoundError("Không có nhóm ưu tiên này", "No such category")
        db.execute(
            "UPDATE priority_categories SET name_vi = :name_vi, name_en = :name_en,"
            " rank = :rank, active = :active WHERE id = :id",
            {**values, "active": int(values["active"]), "id": category_id},
        )
        audit.record(
            db,
            category["office_id"],
            user_id,
            "priority.update",
            {"key": category["key"], **values},
        )


def rotate_board_link(db, office_id: int, user_id: int | None = None) -> str:
    """Give the office's public board link a new unguessable id; boards on the old one
    are disconnected and must be opened with the new link. Returns the new id."""
    board_id = secrets.token_urlsafe(12)
    with write(db):
        get_office(db, office_id)
        db.execute("UPDATE offices SET board_id = ? WHERE id = ?", [board_id, office_id])
        access.revoke(db, "board", office_id)
        audit.record(db, office_id, user_id, "office.board_link", {})
    return board_id


def parse_zone(db, office_id: int, services: str = "", counters: str = "") -> dict:
    """A board's zone from what a person types: service prefixes ("A, B, Đ") and counter
    numbers ("1-5, 8"); empty means every one. Returns ``{"services": [ids], "counters":
    [ids]}`` in the order given; an unknown prefix or number is refused."""
    known = {
        r["prefix"]: r["id"]
        for r in db.query("SELECT id, prefix FROM services WHERE office_id = ?", [office_id])
    }
    numbers = {
        r["number"]: r["id"]
        for r in db.query("SELECT id, number FROM counters WHERE office_id = ?", [office_id])
    }
    service_ids, counter_ids = [], []
    for word in re.split(r"[,;\s]+", (services or "").strip().upper()):
        if not word:
            continue
        if word not in known:
            raise BadInputError(f"Không có dịch vụ ký hiệu {word}", f"No service {word}")
        if known[word] not in service_ids:
            service_ids.append(known[word])
    for part in re.split(r"[,;]+", counters or ""):
        if not part.strip():
            continue
        match = NUMBERS_RE.match(part)
        if not match:
            raise BadInputError(
                f"Số quầy không hợp lệ: '{part.strip()}' (ví dụ 1-5, 8)", "Invalid counter numbers"
            )
        first = int(match[1])
        last = int(match[2] or first)
        if last < first or last - first > 999:
            raise BadInputError(f"Khoảng quầy không hợp lệ: {part.strip()}", "Invalid range")
        for number in range(first, last + 1):
            if number not in numbers:
                raise BadInputError(f"Không có quầy số {number}", f"No counter {number}")
            if numbers[number] not in counter_ids:
                counter_ids.append(numbers[number])
    return {"services": service_ids, "counters": counter_ids}


def zone_text(db, office_id: int, zone: dict | None) -> dict:
    """A zone as people type it back: ``{"services": "A, B", "counters": "1, 2, 3"}``."""
    zone = zone or {}
    prefix = dict(db.execute("SELECT id, prefix FROM services WHERE office_id = ?", [office_id]))
    number = dict(db.execute("SELECT id, number FROM counters WHERE office_id = ?", [office_id]))
    return {
        "services": ", ".join(prefix[i] for i in zone.get("services", []) if i in prefix),
        "counters": ", ".join(str(number[i]) for i in zone.get("counters", []) if i in number),
    }
