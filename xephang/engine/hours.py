"""Opening hours and closed days: when an office issues tickets and takes bookings.

``offices.hours`` is JSON: ``{"mon": [["07:30", "11:30"], ["13:30", "17:00"]],
...}``; NULL means always open, a missing day means closed that day. Holidays
(``offices.holidays``, a JSON list of ``{"day": "2026-09-02", "name": ...}``, where
the schema has them) close a whole day whatever the hours; ``day_is_closed`` is the
one check bookings use.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..clock import WEEKDAY_KEYS as DAYS
from ..clock import closing_time as clock_closing_time
from ..errors import BadInputError

TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def holidays(office: dict) -> list[dict]:
    """The office's holidays, by date ([] where the schema has no holidays yet)."""
    return json.loads(office.get("holidays") or "[]")


def holiday_on(office: dict, day: date) -> str | None:
    """The name of the office's holiday on ``day`` ("" if unnamed), or None."""
    for h in holidays(office):
        if h["day"] == day.isoformat():
            return h.get("name") or ""
    return None


def day_is_closed(office: dict, day: date) -> bool:
    """Whether the office is closed all of a local day: a holiday, or no opening span that
    weekday (an office without hours is open every day but its holidays)."""
    if holiday_on(office, day) is not None:
        return True
    if not office.get("hours"):
        return False
    return not json.loads(office["hours"]).get(DAYS[day.weekday()])


def office_is_open(office: dict, now: datetime) -> bool:
    """Whether ``now`` falls within the office's opening hours."""
    if not office["hours"]:
        return True
    hours = json.loads(office["hours"])
    local = now.astimezone(ZoneInfo(office["timezone"]))
    # Zero-padded "HH:MM" strings compare like times, and "24:00" (allowed as an
    # end) works, which datetime.time cannot parse.
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(DAYS[local.weekday()], []))


def validate_hours(hours) -> str | None:
    """Opening hours as stored JSON, or None for always open; raises on bad input."""
    if hours in (None, "", {}):
        return None
    if isinstance(hours, str):
        try:
            hours = json.loads(hours)
        except ValueError:
            raise BadInputError(
                "Giờ làm việc không đúng định dạng JSON", "Opening hours are not valid JSON"
            ) from None
    if not isinstance(hours, dict) or not set(hours) <= set(DAYS):
        raise BadInputError("Giờ làm việc phải theo ngày (mon..sun)", "Hours keyed by mon..sun")
    for day, spans in hours.items():
        if not isinstance(spans, list):
            raise BadInputError(
                f"Giờ làm việc ngày {day} phải là danh sách khoảng giờ",
                f"Hours of {day} must be a list of spans",
            )
        for span in spans:
            if (
                not isinstance(span, list)
                or len(span) != 2
                or not all(isinstance(t, str) and TIME_RE.match(t) for t in span)
                or span[0] >= span[1]
            ):
                raise BadInputError(
                    f"Khoảng giờ không hợp lệ ngày {day}: {span}", f"Invalid span on {day}"
                )
    return json.dumps(hours)


def closing_time(office: dict, day: str) -> datetime:
    """When the office stops serving on a local day (``clock.closing_time``)."""
    return clock_closing_time(office["hours"], office["timezone"], day)
