"""Every time helper: times are stored in UTC and shown in the office's zone.

A stored time is ISO 8601 UTC with milliseconds (``iso``). A person sees
the office's wall clock (``local_iso``, ``to_local``); an office's day
(ticket numbering, reports) is its local calendar day (``local_day``,
``day_bounds``). The engine takes an injected ``now`` for tests
(``resolve_now``).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


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


def local_iso(text: str | None, timezone: str) -> str | None:
    """A stored UTC time shown in the office's time zone, with its offset."""
    moment = to_local(text, timezone)
    return None if moment is None else moment.isoformat(timespec="seconds")


def utc_offset(timezone: str, day: str) -> timedelta:
    """The office's UTC offset on a day (taken at local noon)."""
    noon = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo(timezone))
    return noon.utcoffset() or timedelta(0)


def shown(text: str | None, timezone: str, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored time as a person reads it: the office's wall clock, dd/mm/yyyy HH:MM."""
    moment = to_local(text, timezone)
    return "" if moment is None else moment.strftime(fmt)


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
