"""Per-office settings: one table of (name, default, help), values stored as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..errors import BadInputError


@dataclass(frozen=True)
class OfficeSetting:
    name: str
    default: Any
    help: str


DEFAULT_RATING_SCALE = [
    {"level": 3, "vi": "Rất hài lòng", "en": "Very satisfied"},
    {"level": 2, "vi": "Hài lòng", "en": "Satisfied"},
    {"level": 1, "vi": "Không hài lòng", "en": "Not satisfied"},
]

OFFICE_SETTINGS: tuple[OfficeSetting, ...] = (
    OfficeSetting(
        "priority_streak_max",
        2,
        "At most this many priority tickets are called in a row at one counter before "
        "a ticket in arrival order is taken (0: priority gets no precedence).",
    ),
    OfficeSetting(
        "rating_scale",
        DEFAULT_RATING_SCALE,
        "Satisfaction levels, best first; the last (lowest) level counts as not satisfied.",
    ),
    OfficeSetting(
        "announce_template",
        "Mời công dân có số thứ tự {code} đến quầy số {counter}",
        "Sentence the display speaks and shows when a ticket is called.",
    ),
    OfficeSetting(
        "number_reading",
        "digits",
        "How announcements read ticket numbers: 'digits' (một không hai ba) or 'number' "
        "(một nghìn không trăm hai mươi ba).",
    ),
    OfficeSetting("number_dialect", "north", "'north' (nghìn, linh) or 'south' (ngàn, lẻ)."),
    OfficeSetting("board_message", "", "Scrolling message at the bottom of the display board."),
    OfficeSetting(
        "retention_days",
        1825,
        "Days ticket logs are kept before `xephang purge` removes them (ratings' comments too).",
    ),
    OfficeSetting(
        "comment_retention_days",
        365,
        "Days free-text rating comments are kept; older comments are blanked.",
    ),
    OfficeSetting("voice_enabled", True, "Whether the display speaks calls."),
)

OFFICE_SETTINGS_BY_NAME = {s.name: s for s in OFFICE_SETTINGS}


def office_setting(db: sqlite_utils.Database, office_id: int, name: str) -> Any:
    """An office's value of a setting, or its default."""
    if name not in OFFICE_SETTINGS_BY_NAME:
        raise KeyError(name)
    row = db.execute(
        "SELECT value FROM settings WHERE office_id = ? AND name = ?", [office_id, name]
    ).fetchone()
    return json.loads(row[0]) if row else OFFICE_SETTINGS_BY_NAME[name].default


def office_settings(db: sqlite_utils.Database, office_id: int) -> dict:
    """Every setting of an office, defaults filled in."""
    values = {s.name: s.default for s in OFFICE_SETTINGS}
    for name, value in db.execute(
        "SELECT name, value FROM settings WHERE office_id = ?", [office_id]
    ).fetchall():
        if name in values:
            values[name] = json.loads(value)
    return values


def set_office_setting(db: sqlite_utils.Database, office_id: int, name: str, value: Any) -> None:
    """Store one setting; the caller owns the transaction."""
    if name not in OFFICE_SETTINGS_BY_NAME:
        raise BadInputError(f"Không có thiết lập '{name}'", f"Unknown setting '{name}'")
    db.execute(
        "INSERT INTO settings (office_id, name, value) VALUES (?, ?, ?)"
        " ON CONFLICT (office_id, name) DO UPDATE SET value = excluded.value",
        [office_id, name, json.dumps(value, ensure_ascii=False)],
    )
