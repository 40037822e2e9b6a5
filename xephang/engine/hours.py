"""Opening hours and holidays: when an office issues tickets and takes bookings (kiosk,
online numbers and appointments alike).

``offices.hours`` is JSON: ``{"mon": [["07:30", "11:30"], ["13:30", "17:00"]],
...}`` (the gap between two spans is the lunch break); NULL means always open, a
missing day means closed that day. ``offices.holidays`` is a JSON list of
``{"day": "2026-09-02", "name": "Quốc khánh"}``: closed all day, whatever the hours;
``day_is_closed`` is the one check bookings use.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..clock import WEEKDAY_KEYS as DAYS
from ..clock import closing_time as clock_closing_time
from ..errors import BadInputError

DAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_HOLIDAYS = 100


def _hours(office: dict) -> dict | None:
    return json.loads(office["hours"]) if office.get("hours") else None


def holidays(office: dict) -> list[dict]:
    """The office's holidays, by date."""
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
    hours = _hours(office)
    return hours is not None and not hours.get(DAYS[day.weekday()])


def office_is_open(office: dict, now: datetime) -> bool:
    """Whether ``now`` falls within the office's opening hours and is no holiday."""
    local = now.astimezone(ZoneInfo(office["timezone"]))
    if holiday_on(office, local.date()) is not None:
        return False
    hours = _hours(office)
    if hours is None:
        return True
    # Zero-padded "HH:MM" strings compare like times, and "24:00" (allowed as an
    # end) works, which datetime.time cannot parse.
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours.get(DAYS[local.weekday()], []))


def next_opening(office: dict, now: datetime) -> datetime | None:
    """When the office next opens (office-local), if it is closed now; None if it is open
    now, or never opens again within a year (no hours at all, or every day a holiday)."""
    if office_is_open(office, now):
        return None
    hours = _hours(office)
    tz = ZoneInfo(office["timezone"])
    local = now.astimezone(tz)
    clock = local.strftime("%H:%M")
    for ahead in range(0, 370):
        day = local.date() + timedelta(days=ahead)
        if holiday_on(office, day) is not None:
            continue
        if hours is None:  # always open but for holidays: opens when the day starts
            return datetime.combine(day, time(0, 0), tz)
        for start, _end in sorted(hours.get(DAYS[day.weekday()], [])):
            if ahead or start > clock:
                hh, mm = (int(x) for x in start.split(":"))
                return datetime.combine(day, time(hh % 24, mm), tz)
    return None


def opening_words(office: dict, now: datetime) -> dict:
    """What a closed kiosk says: why (a holiday, outside hours) and when it opens next, in
    Vietnamese and English, and the week's hours, one line per day."""
    local = now.astimezone(ZoneInfo(office["timezone"]))
    holiday = holiday_on(office, local.date())
    nxt = next_opening(office, now)
    hours = _hours(office)
    week = []
    for i, key in enumerate(DAYS):
        spans = (hours or {}).get(key, []) if hours is not None else [["00:00", "24:00"]]
        week.append(
            {
                "day_vi": DAYS_VI[i],
                "day_en": DAYS_EN[i],
                "spans": [f"{a}–{b}" for a, b in spans],
                "today": i == local.weekday(),
            }
        )
    words = {"holiday": holiday, "week": week, "always_open": hours is None}
    if nxt is None:
        words.update(next_vi="", next_en="", next_at=None)
        return words
    if nxt.date() == local.date():
        when_vi, when_en = f"hôm nay lúc {nxt:%H:%M}", f"today at {nxt:%H:%M}"
    elif nxt.date() == local.date() + timedelta(days=1):
        when_vi, when_en = f"ngày mai ({nxt:%d/%m}) lúc {nxt:%H:%M}", f"tomorrow at {nxt:%H:%M}"
    else:
        weekday = nxt.weekday()
        when_vi = f"{DAYS_VI[weekday]} {nxt:%d/%m} lúc {nxt:%H:%M}"
        when_en = f"{DAYS_EN[weekday]} {nxt:%d/%m} at {nxt:%H:%M}"
    words.update(
        next_vi=f"Mở cửa lại {when_vi}",
        next_en=f"Opens again {when_en}",
        next_at=nxt.isoformat(timespec="minutes"),
    )
    return words


def closed_message(office: dict, now: datetime) -> tuple[str, str]:
    """Why a ticket cannot be taken now (the refusal's words)."""
    local = now.astimezone(ZoneInfo(office["timezone"]))
    holiday = holiday_on(office, local.date())
    if holiday is not None:
        named = f" ({holiday})" if holiday else ""
        return (
            f"Hôm nay nghỉ lễ{named}, chưa thể lấy số",
            f"The office is closed today (holiday{named})",
        )
    return "Ngoài giờ làm việc, chưa thể lấy số", "Outside opening hours"


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
        name = DAYS_VI[DAYS.index(day)]
        if not isinstance(spans, list):
            raise BadInputError(
                f"Giờ làm việc {name} phải là danh sách khoảng giờ",
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
                    f"Khoảng giờ không hợp lệ {name}: {span} (giờ mở phải trước giờ đóng)",
                    f"Invalid span on {day}",
                )
        ordered = sorted(spans)
        for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
            if start < end:
                raise BadInputError(
                    f"Các buổi làm việc {name} chồng lên nhau", f"Overlapping spans on {day}"
                )
    return json.dumps(hours)


def closing_time(office: dict, day: str) -> datetime:
    """When the office stops serving on a local day (``clock.closing_time``)."""
    return clock_closing_time(office["hours"], office["timezone"], day)


def validate_holidays(days) -> str:
    """Holidays as stored JSON (sorted, one per date); raises on bad input."""
    if days in (None, ""):
        return "[]"
    if isinstance(days, str):
        try:
            days = json.loads(days)
        except ValueError:
            raise BadInputError(
                "Ngày nghỉ không đúng định dạng", "Holidays are not valid JSON"
            ) from None
    if not isinstance(days, list) or len(days) > MAX_HOLIDAYS:
        raise BadInputError(
            f"Ngày nghỉ phải là danh sách (tối đa {MAX_HOLIDAYS} ngày)", "Holidays must be a list"
        )
    seen: dict[str, str] = {}
    for item in days:
        if isinstance(item, str):
            item = {"day": item}
        if not isinstance(item, dict):
            raise BadInputError("Ngày nghỉ không hợp lệ", "Invalid holiday")
        try:
            day = date.fromisoformat(str(item.get("day", ""))).isoformat()
        except ValueError:
            raise BadInputError(
                f"Ngày nghỉ không hợp lệ: '{item.get('day', '')}' (YYYY-MM-DD)", "Invalid date"
            ) from None
        name = str(item.get("name") or "").strip()
        if len(name) > 80:
            raise BadInputError("Tên ngày nghỉ tối đa 80 ký tự", "Holiday name too long")
        if day in seen:
            raise BadInputError(f"Ngày nghỉ {day} bị nhập hai lần", "Duplicate holiday")
        seen[day] = name
    return json.dumps([{"day": d, "name": seen[d]} for d in sorted(seen)], ensure_ascii=False)
