"""Finding the rows an operation works on: an office, ticket, counter or service.

A missing row, or one whose id SQLite cannot even bind, raises
``NotFoundError``. ``visible_to`` (a principal) makes another office's row
answer exactly as a missing one, so ids cannot be probed across offices.
"""

from __future__ import annotations

import unicodedata

import sqlite_utils

from ..errors import BadInputError, NotFoundError
from ..storage import one

MAX_TEXT = 500

# An office's tickets of a day (or days), as ``FROM {DAY_TICKETS} WHERE t.office_id = ? AND
# t.day ...``: through the (office, day) index by name. xephang never runs ANALYZE, and
# without statistics SQLite walked every ticket the office ever had to spare a GROUP BY
# its sort, so a day's figures grew slower with each year kept (tests/test_day_queries.py).
DAY_TICKETS = "tickets t INDEXED BY tickets_day"


def storable_id(value) -> bool:
    """False for an int SQLite cannot bind (OverflowError past 64 bits)."""
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _row(db, table: str, row_id, what_vi: str, what_en: str, visible_to=None) -> dict:
    row = one(db, f"SELECT * FROM {table} WHERE id = ?", [row_id]) if storable_id(row_id) else None
    office = None if row is None else row["id"] if table == "offices" else row["office_id"]
    if row is None or (visible_to is not None and not visible_to.may_access_office(office)):
        raise NotFoundError(f"Không có {what_vi} {row_id}", f"No {what_en} {row_id}")
    return row


def get_office(db: sqlite_utils.Database, office_id: int, visible_to=None) -> dict:
    return _row(db, "offices", office_id, "văn phòng", "office", visible_to)


def get_ticket(db: sqlite_utils.Database, ticket_id: int, visible_to=None) -> dict:
    return _row(db, "tickets", ticket_id, "vé", "ticket", visible_to)


def get_counter(db: sqlite_utils.Database, counter_id: int, visible_to=None) -> dict:
    """An active counter."""
    counter = _row(db, "counters", counter_id, "quầy", "counter", visible_to)
    if not counter["active"]:
        raise NotFoundError(f"Không có quầy {counter_id}", f"No counter {counter_id}")
    return counter


def counter_services(db: sqlite_utils.Database, counter_id: int) -> list[int]:
    """The service ids a counter takes, in its order of preference."""
    return [
        r[0]
        for r in db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [counter_id],
        ).fetchall()
    ]


def serving_counters(db: sqlite_utils.Database, service_id: int) -> int:
    """Active counters that serve a service, open or not (none: it cannot be offered)."""
    return db.execute(
        "SELECT count(*) FROM counter_services cs JOIN counters c ON c.id = cs.counter_id"
        " WHERE cs.service_id = ? AND c.active",
        [service_id],
    ).fetchone()[0]


def served_services(db: sqlite_utils.Database, office_id: int) -> set[int]:
    """The office's services that an active counter serves (open or not): the ones that
    can be offered."""
    return {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT cs.service_id FROM counter_services cs JOIN counters c ON"
            " c.id = cs.counter_id WHERE c.active AND c.office_id = ?",
            [office_id],
        ).fetchall()
    }


def find_service(db: sqlite_utils.Database, office_id: int, ref) -> dict:
    """An active service of the office by id or by prefix letter(s)."""
    if ref is None or ref == "":
        raise BadInputError("Thiếu dịch vụ", "Missing service")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal()):
        if not storable_id(int(ref)):
            raise NotFoundError(f"Không có dịch vụ {ref}", f"No service {ref}")
        row = one(
            db, "SELECT * FROM services WHERE id = ? AND office_id = ?", [int(ref), office_id]
        )
    elif isinstance(ref, str):
        # Prefixes are stored upper-case; SQLite's upper() knows ASCII only (not "đ").
        row = one(
            db,
            "SELECT * FROM services WHERE prefix = ? AND office_id = ?",
            [ref.strip().upper(), office_id],
        )
    else:
        raise BadInputError("Dịch vụ không hợp lệ", "Invalid service")
    if row is None or not row["active"]:
        raise NotFoundError(f"Không có dịch vụ {ref}", f"No service {ref}")
    return row


def clean_text(
    value, label_vi: str, label_en: str, required: bool = False, max_len: int = MAX_TEXT
) -> str | None:
    """Staff free text (a reason, an outcome): trimmed, bounded; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInputError(f"Thiếu {label_vi}", f"Missing {label_en}")
        return None
    if not isinstance(value, str):
        raise BadInputError(f"{label_vi} không hợp lệ", f"Invalid {label_en}")
    value = value.strip()
    if len(value) > max_len:
        raise BadInputError(f"{label_vi} quá dài", f"{label_en} too long")
    return value


def fold(text: str | None) -> str:
    """Text without diacritics or case, for matching what people type: "nguyen van an"
    finds "Nguyễn Văn An" (đ is d)."""
    decomposed = unicodedata.normalize("NFD", text or "").replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
