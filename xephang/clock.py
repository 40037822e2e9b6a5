"""Every time helper: times are stored in UTC and shown in the office's zone.

A stored time is ISO 8601 UTC with milliseconds (``iso``). A person sees
the office's wall clock (``local_iso``, ``to_local``); an office's day
(ticket numbering, reports) is its local calendar day (``local_day``,
``day_bounds``). The engine takes an injected ``now`` for tests
(``resolve_now``).

The one home of how a person reads a time or a date: ``shown`` (a stored time,
dd/mm/yyyy HH:MM in the office's zone), ``shown_day`` (a day, dd/mm/yyyy),
``written_day`` (a printed report's date line, "ngày 05 tháng 3 năm 2026"),
``local_now`` (this moment on the office's clock: "made at" lines) and
``file_stamp`` (file names). Machine forms (JSON, ``export.csv``) stay ISO 8601.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"  # an office's zone unless it has its own


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def resolve_now(now: datetime | None) -> datetime:
    """The injected clock value, or the real time; always timezone-aware UTC."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the engine")
    return now.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Stored form of a time: UTC, millisecond precision, with its offset."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> datetime | None:
    """A stored time back as an aware datetime (None stays None)."""
    return datetime.fromisoformat(text) if text else None


def local_day(moment: datetime, timezone: str) -> date:
    """The office's calendar day at a moment (numbering restarts each local day)."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def today(timezone: str, now: datetime | None = None) -> str:
    """The office's current local day as YYYY-MM-DD."""
    return local_day(resolve_now(now), timezone).isoformat()


@functools.lru_cache(maxsize=512)  # pure, and on the path of every wait estimate
def day_bounds(day: str, timezone: str) -> tuple[str, str]:
    """UTC ISO bounds [start, end) of an office's local day."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(timezone))
    return iso(start), iso(start + timedelta(days=1))


def to_local(text: str | None, timezone: str) -> datetime | None:
    """A stored UTC time as an aware datetime in the office's zone."""
    moment = parse_iso(text)
    return None if moment is None else moment.astimezone(ZoneInfo(timezone))


@functools.lru_cache(maxsize=4096)  # pure; every ticket view shows eight of these
def local_iso(text: str | None, timezone: str) -> str | None:
    """A stored UTC time shown in the office's time zone, with its offset."""
    moment = to_local(text, timezone)
    return None if moment is None else moment.isoformat(timespec="seconds")


def utc_offset(timezone: str, day: str) -> timedelta:
    """The office's UTC offset on a day (taken at local noon)."""
    noon = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo(timezone))
    return noon.utcoffset() or timedelta(0)


SHOWN = "%d/%m/%Y %H:%M"  # how a person reads a time: 26/11/2026 14:05


def shown(text: str | None, timezone: str, fmt: str = SHOWN) -> str:
    """A stored time as a person reads it: the office's wall clock, dd/mm/yyyy HH:MM."""
    moment = to_local(text, timezone)
    return "" if moment is None else moment.strftime(fmt)


def shown_day(day: str | None) -> str:
    """An office's day (YYYY-MM-DD) as a person reads it: dd/mm/yyyy ("" for none)."""
    return date.fromisoformat(day).strftime("%d/%m/%Y") if day else ""


def written_day(day: str) -> str:
    """A day as an administrative document writes it (Nghị định 30/2020/NĐ-CP): a day
    below 10 and the months 1 and 2 take a leading zero, "ngày 05 tháng 02 năm 2026",
    "ngày 15 tháng 3 năm 2026"."""
    moment = date.fromisoformat(day)
    month = f"{moment.month:02d}" if moment.month < 3 else str(moment.month)
    return f"ngày {moment.day:02d} tháng {month} năm {moment.year}"


def local_now(timezone: str, now: datetime | None = None) -> datetime:
    """This moment (or the injected ``now``) on the office's wall clock, aware."""
    return resolve_now(now).astimezone(ZoneInfo(timezone))


def file_stamp(timezone: str, now: datetime | None = None) -> str:
    """A file name's time stamp on the office's clock, sortable: 20260601T081503123456."""
    return local_now(timezone, now).strftime("%Y%m%dT%H%M%S%f")


WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # keys of offices.hours


def opening_spans(hours: str | None, timezone: str, day: str) -> list[tuple[datetime, datetime]]:
    """An office's opening spans on a local day as aware datetimes, in order, from its
    stored hours (JSON ``{"mon": [["07:30", "11:30"], ...]}``); [] when it has no hours
    (open all day) or is closed that day."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(timezone))
    spans = json.loads(hours).get(WEEKDAY_KEYS[start.weekday()], []) if hours else []

    def moment(text: str) -> datetime:
        if text == "24:00":
            return start + timedelta(days=1)
        hour, minute = (int(part) for part in text.split(":"))
        return start.replace(hour=hour, minute=minute)

    return sorted((moment(a), moment(b)) for a, b in spans)


def closing_time(hours: str | None, timezone: str, day: str) -> datetime:
    """When an office stops serving on a local day: the end of that day's last opening
    span. An office open all day (no hours) or, unusually, closed that day closes at
    local midnight."""
    spans = opening_spans(hours, timezone, day)
    if spans:
        return spans[-1][1]
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(timezone)) + timedelta(days=1)
