"""Creating and changing offices, services, counters, priority categories and targets."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date

import sqlite_utils

from ..db import one, write
from ..errors import BadInputError, ConflictError, NotFoundError
from .core import get_office, iso, resolve_now

DEFAULT_TARGETS = (
    ("avg_wait_s", 1800, "2022-01-01"),
    ("avg_wait_s", 900, "2023-01-01"),
    ("satisfied_share", 0.95, "2022-01-01"),
)
PREFIX_RE = re.compile(r"^[A-Z]{1,2}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def validate_hours(hours) -> str | None:
    """Opening hours as stored JSON, or None for always open; raises on bad input."""
    if hours in (None, "", {}):
        return None
    if isinstance(hours, str):
        try:
            hours = json.loads(hours)
        except ValueError:
            raise BadInputError("Giờ làm việc không đúng định dạng JSON",
                                "Opening hours are not valid JSON") from None
    if not isinstance(hours, dict) or not set(hours) <= set(DAYS):
        raise BadInputError("Giờ làm việc phải theo ngày (mon..sun)", "Hours keyed by mon..sun")
    for day, spans in hours.items():
        for span in spans:
            if (len(span) != 2 or not all(isinstance(t, str) and TIME_RE.match(t) for t in span)
                    or span[0] >= span[1]):
                raise BadInputError(f"Khoảng giờ không hợp lệ ngày {day}: {span}",
                                    f"Invalid span on {day}")
    return json.dumps(hours)


def create_office(db: sqlite_utils.Database, name: str, address: str = "",
                  timezone: str = "Asia/Ho_Chi_Minh", hours=None, ticket_footer: str = "",
                  now=None) -> int:
    """A new office with the default targets (30 min from 2022, 15 min from 2023, 95%)."""
    if not name or not name.strip():
        raise BadInputError("Thiếu tên văn phòng", "Missing office name")
    timezone = _check_timezone(timezone)
    at = resolve_now(now)
    with write(db):
        office_id = db.execute(
            "INSERT INTO offices (name, address, timezone, hours, ticket_footer, board_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [name.strip(), address, timezone, validate_hours(hours), ticket_footer,
             secrets.token_urlsafe(12), iso(at)],
        ).lastrowid
        for metric, value, since in DEFAULT_TARGETS:
            db.execute("INSERT INTO targets (office_id, metric, value, effective_from)"
                       " VALUES (?, ?, ?, ?)", [office_id, metric, value, since])
    return office_id


def add_service(db, office_id: int, prefix: str, name_vi: str, name_en: str = "",
                field: str = "", daily_cap: int | None = None, sort_order: int = 0) -> int:
    """A service of an office, identified on tickets by its prefix letter(s)."""
    prefix = (prefix or "").strip().upper()
    if not PREFIX_RE.match(prefix):
        raise BadInputError("Ký hiệu dịch vụ phải là 1–2 chữ cái A–Z", "Prefix must be 1-2 letters")
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên dịch vụ", "Missing service name")
    if daily_cap is not None and (not isinstance(daily_cap, int) or daily_cap < 1):
        raise BadInputError("Giới hạn số mỗi ngày phải là số nguyên dương", "Invalid daily cap")
    with write(db):
        get_office(db, office_id)
        if one(db, "SELECT id FROM services WHERE office_id = ? AND prefix = ?",
               [office_id, prefix]):
            raise ConflictError(f"Ký hiệu {prefix} đã được dùng", f"Prefix {prefix} in use")
        return db.execute(
            "INSERT INTO services (office_id, prefix, name_vi, name_en, field, daily_cap,"
            " sort_order) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [office_id, prefix, name_vi.strip(), name_en.strip(), field.strip(), daily_cap,
             sort_order],
        ).lastrowid


def set_counter_services(db, counter_id: int, service_ids: list[int]) -> None:
    """Which services a counter takes, in order of preference (caller's transaction)."""
    counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
    if len(set(service_ids)) != len(service_ids):
        raise BadInputError("Dịch vụ bị lặp", "Duplicate service")
    for sid in service_ids:
        if not one(db, "SELECT id FROM services WHERE id = ? AND office_id = ?",
                   [sid, counter["office_id"]]):
            raise NotFoundError(f"Không có dịch vụ {sid}", f"No service {sid}")
    db.execute("DELETE FROM counter_services WHERE counter_id = ?", [counter_id])
    for position, sid in enumerate(service_ids):
        db.execute("INSERT INTO counter_services (counter_id, service_id, position)"
                   " VALUES (?, ?, ?)", [counter_id, sid, position])


def add_counter(db, office_id: int, number: int, service_ids: list[int], name: str = "") -> int:
    """A counter with its services in order of preference."""
    if not isinstance(number, int) or number < 1:
        raise BadInputError("Số quầy phải là số nguyên dương", "Counter number must be positive")
    with write(db):
        get_office(db, office_id)
        if one(db, "SELECT id FROM counters WHERE office_id = ? AND number = ?",
               [office_id, number]):
            raise ConflictError(f"Quầy số {number} đã có", f"Counter {number} exists")
        counter_id = db.execute(
            "INSERT INTO counters (office_id, number, name) VALUES (?, ?, ?)",
            [office_id, number, name or f"Quầy {number}"],
        ).lastrowid
        set_counter_services(db, counter_id, service_ids)
        return counter_id


def add_priority_category(db, office_id: int, key: str, name_vi: str, name_en: str = "",
                          rank: int = 0) -> int:
    """A priority category (người cao tuổi, khuyết tật, ...); lower rank is called first."""
    if not re.match(r"^[a-z0-9_]{1,32}$", key or ""):
        raise BadInputError("Mã nhóm ưu tiên chỉ gồm a-z, 0-9, _", "Key must be [a-z0-9_]")
    with write(db):
        get_office(db, office_id)
        return db.execute(
            "INSERT INTO priority_categories (office_id, key, name_vi, name_en, rank)"
            " VALUES (?, ?, ?, ?, ?)", [office_id, key, name_vi, name_en, rank],
        ).lastrowid


def set_target(db, office_id: int, metric: str, value: float, effective_from: str,
               service_id: int | None = None) -> int:
    """A target in force from a date (per office, optionally per service)."""
    if metric not in ("avg_wait_s", "satisfied_share"):
        raise BadInputError("Chỉ tiêu không hợp lệ", "Unknown metric")
    try:
        date.fromisoformat(effective_from)
    except (TypeError, ValueError):
        raise BadInputError("Ngày hiệu lực không hợp lệ (YYYY-MM-DD)", "Invalid date") from None
    if metric == "satisfied_share" and not 0 <= value <= 1:
        raise BadInputError("Tỷ lệ hài lòng phải từ 0 đến 1", "Share must be within 0..1")
    if metric == "avg_wait_s" and value <= 0:
        raise BadInputError("Thời gian chờ phải dương", "Wait must be positive")
    with write(db):
        get_office(db, office_id)
        return db.execute(
            "INSERT INTO targets (office_id, service_id, metric, value, effective_from)"
            " VALUES (?, ?, ?, ?, ?)", [office_id, service_id, metric, value, effective_from],
        ).lastrowid


def target_on(db, office_id: int, metric: str, day: str, service_id: int | None = None
              ) -> float | None:
    """The target in force on a day: a service's own target wins over the office's."""
    row = db.execute(
        "SELECT value FROM targets WHERE office_id = ? AND metric = ? AND effective_from <= ?"
        " AND (service_id IS NULL OR service_id = ?) ORDER BY service_id IS NULL,"
        " effective_from DESC, id DESC LIMIT 1", [office_id, metric, day, service_id],
    ).fetchone()
    return row[0] if row else None


def _check_timezone(timezone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo((timezone or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInputError(f"Múi giờ '{timezone}' không tồn tại (ví dụ Asia/Ho_Chi_Minh)",
                            "Unknown time zone") from None
    return timezone.strip()


def update_office(db, office_id: int, name: str, address: str = "",
                  timezone: str = "Asia/Ho_Chi_Minh", hours=None, ticket_footer: str = ""
                  ) -> None:
    """Change an office's name, address, time zone, opening hours and ticket footer."""
    if not name or not name.strip():
        raise BadInputError("Thiếu tên văn phòng", "Missing office name")
    if len(ticket_footer or "") > 300:
        raise BadInputError("Chân phiếu tối đa 300 ký tự", "Ticket footer too long")
    timezone = _check_timezone(timezone)
    stored_hours = validate_hours(hours)
    with write(db):
        get_office(db, office_id)
        db.execute("UPDATE offices SET name = ?, address = ?, timezone = ?, hours = ?,"
                   " ticket_footer = ? WHERE id = ?",
                   [name.strip(), (address or "").strip(), timezone, stored_hours,
                    (ticket_footer or "").strip(), office_id])


def update_service(db, service_id: int, name_vi: str, name_en: str = "", field: str = "",
                   daily_cap: int | None = None, active: bool = True, sort_order: int = 0
                   ) -> None:
    """Change a service's names, lĩnh vực, daily cap, order, or (de)activate it."""
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên dịch vụ", "Missing service name")
    if daily_cap is not None and (not isinstance(daily_cap, int) or daily_cap < 1):
        raise BadInputError("Giới hạn số mỗi ngày phải là số nguyên dương", "Invalid daily cap")
    with write(db):
        if not one(db, "SELECT id FROM services WHERE id = ?", [service_id]):
            raise NotFoundError(f"Không có dịch vụ {service_id}", f"No service {service_id}")
        db.execute("UPDATE services SET name_vi = ?, name_en = ?, field = ?, daily_cap = ?,"
                   " active = ?, sort_order = ? WHERE id = ?",
                   [name_vi.strip(), (name_en or "").strip(), (field or "").strip(), daily_cap,
                    int(bool(active)), sort_order, service_id])


def update_counter(db, counter_id: int, name: str, active: bool, service_ids: list[int]
                   ) -> None:
    """Rename a counter, (de)activate it and set its services in order of preference."""
    with write(db):
        counter = one(db, "SELECT * FROM counters WHERE id = ?", [counter_id])
        if counter is None:
            raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
        if not active and counter["current_ticket_id"]:
            raise ConflictError("Quầy đang giữ một số, không thể ngừng sử dụng",
                                "Counter holds a ticket")
        db.execute("UPDATE counters SET name = ?, active = ? WHERE id = ?",
                   [(name or "").strip() or f"Quầy {counter['number']}", int(bool(active)),
                    counter_id])
        set_counter_services(db, counter_id, service_ids)


def update_priority_category(db, category_id: int, name_vi: str, name_en: str = "",
                             rank: int = 0, active: bool = True) -> None:
    """Rename a priority category, change its rank, or (de)activate it."""
    if not name_vi or not name_vi.strip():
        raise BadInputError("Thiếu tên nhóm ưu tiên", "Missing category name")
    with write(db):
        if not one(db, "SELECT id FROM priority_categories WHERE id = ?", [category_id]):
            raise NotFoundError("Không có nhóm ưu tiên này", "No such category")
        db.execute("UPDATE priority_categories SET name_vi = ?, name_en = ?, rank = ?,"
                   " active = ? WHERE id = ?",
                   [name_vi.strip(), (name_en or "").strip(), rank, int(bool(active)),
                    category_id])


def delete_target(db, target_id: int) -> None:
    """Remove a target entered by mistake (the office keeps at least one wait target)."""
    with write(db):
        target = one(db, "SELECT * FROM targets WHERE id = ?", [target_id])
        if target is None:
            raise NotFoundError("Không có chỉ tiêu này", "No such target")
        left = db.execute("SELECT count(*) FROM targets WHERE office_id = ? AND metric = ? AND"
                          " service_id IS NULL AND id != ?",
                          [target["office_id"], target["metric"], target_id]).fetchone()[0]
        if target["service_id"] is None and left == 0:
            raise ConflictError("Phải còn ít nhất một chỉ tiêu chung của văn phòng",
                                "The office needs one office-wide target")
        db.execute("DELETE FROM targets WHERE id = ?", [target_id])


def record_setup_change(db, office_id: int | None, user_id: int | None, action: str,
                        details: dict | None = None, now=None) -> None:
    """Append a line to the setup audit (who changed which setting, when)."""
    with write(db):
        db.execute("INSERT INTO setup_audit (office_id, user_id, action, details, at)"
                   " VALUES (?, ?, ?, ?, ?)",
                   [office_id, user_id, action,
                    json.dumps(details or {}, ensure_ascii=False, default=str),
                    iso(resolve_now(now))])
