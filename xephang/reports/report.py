"""Wait reports of an office over a period, grouped, against the targets in force each day."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import sqlite_utils

from ..clock import local_day, resolve_now
from ..engine.lookups import get_office
from ..engine.targets import Targets
from ..errors import BadInputError
from ..queries.office import counters, lowest_rating_level, services
from ..queries.people import user_names
from .facts import NEVER_CAME, NONE_KEY, day_tallies
from .rollup import ensure_days, stored_tallies
from .stats import Tally

GROUPINGS = ("office", "service", "counter", "officer", "day", "hour", "weekday", "channel")
GROUPING_VI = {
    "office": "Toàn văn phòng",
    "service": "Dịch vụ",
    "counter": "Quầy",
    "officer": "Cán bộ",
    "day": "Ngày",
    "hour": "Giờ trong ngày",
    "weekday": "Thứ trong tuần",
    "channel": "Kênh lấy số",
}
CHANNELS_VI = {1: "Tại văn phòng (kiosk, quầy)", 2: "Lấy số trực tuyến", 3: "Lịch hẹn"}
# The stored dimension each grouping is read from.
DIM_OF = {
    "office": "office",
    "service": "service",
    "counter": "counter",
    "officer": "officer",
    "day": "office",
    "hour": "hour",
    "weekday": "office",
    "channel": "channel",
}
# A counter or officer handles tickets; it issues none: their count is named so.
ISSUED_VI = {"counter": "Số vé xử lý", "officer": "Số vé xử lý"}
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
PERIODS = ("day", "week", "month", "year", "custom")
MAX_DAYS = 3 * 366
# Days a report may name: wide enough for any office's history, narrow enough that a
# period's neighbours (previous/next links) are still dates.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _day(text) -> date:
    """An ISO day within FIRST_DAY..LAST_DAY, or a clear BadInputError."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadInputError("Ngày không hợp lệ (YYYY-MM-DD)", "Invalid date") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadInputError(
            f"Ngày phải trong khoảng {FIRST_DAY:%d/%m/%Y}–{LAST_DAY:%d/%m/%Y}",
            f"Dates must be within {FIRST_DAY}..{LAST_DAY}",
        )
    return day


def period_bounds(period: str, ref: str, last: str | None = None) -> tuple[str, str]:
    """First and last day of a day / week (Mon–Sun) / month / year containing ``ref``."""
    day = _day(ref)
    end = _day(last) if last else None
    if period == "day":
        return day.isoformat(), day.isoformat()
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return monday.isoformat(), (monday + timedelta(days=6)).isoformat()
    if period == "month":
        days = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1).isoformat(), day.replace(day=days).isoformat()
    if period == "year":
        return day.replace(month=1, day=1).isoformat(), day.replace(month=12, day=31).isoformat()
    if period == "custom":
        return check_range(day.isoformat(), (end or day).isoformat())
    raise BadInputError("Kỳ báo cáo không hợp lệ", "Invalid period")


def check_range(first: str, last: str) -> tuple[str, str]:
    """Validate a [first, last] range of ISO days."""
    start, end = _day(first), _day(last)
    if end < start:
        raise BadInputError("Ngày kết thúc phải sau ngày bắt đầu", "End before start")
    if (end - start).days >= MAX_DAYS:
        raise BadInputError("Khoảng thời gian tối đa 3 năm", "At most three years")
    return start.isoformat(), end.isoformat()


class ReportContext:
    """What every report of an office needs: the office, its today, targets and scale."""

    def __init__(
        self, db: sqlite_utils.Database, office_id: int, first: str, last: str, now=None
    ) -> None:
        self.db = db
        self.office = get_office(db, office_id)
        self.first, self.last = check_range(first, last)
        self.today = local_day(resolve_now(now), self.office["timezone"]).isoformat()
        self.targets = Targets(db, office_id)
        self.lowest = lowest_rating_level(db, office_id)
        ensure_days(db, self.office, self.first, self.last, self.today, self.targets, self.lowest)

    def tallies(self, dim: str, with_waits: bool = True):
        """Yield (day, key, Tally) for stored days plus today computed live."""
        yield from stored_tallies(
            self.db, self.office["id"], dim, self.first, self.last, with_waits
        )
        if self.first <= self.today <= self.last:
            live = day_tallies(
                self.db,
                self.office,
                self.today,
                self.targets,
                self.lowest,
                dims=(dim,),
            )
            for (_dim, key), tally in live.items():
                yield self.today, key, tally


def _names(db, office_id: int, group: str) -> dict:
    if group == "service":
        return {
            r["id"]: (r["sort_order"], f"{r['prefix']} — {r['name_vi']}")
            for r in services(db, office_id, active_only=False)
        }
    if group == "counter":
        return {
            r["id"]: (
                r["number"],
                f"Quầy {r['number']}"
                + (f" ({r['name']})" if r["name"] and r["name"] != f"Quầy {r['number']}" else ""),
            )
            for r in counters(db, office_id, active_only=False)
        }
    if group == "officer":
        return {uid: (name, name) for uid, name in user_names(db).items()}
    return {}


def group_label(group: str, key, names: dict) -> tuple:
    """(sort key, label) of a group."""
    if group == "day":
        return key, key
    if group == "weekday":
        return key, WEEKDAYS_VI[key]
    if group == "hour":
        return key, f"{key:02d}:00–{key + 1:02d}:00"
    if group == "office":
        return 0, "Toàn văn phòng"
    if group == "channel":
        return key, CHANNELS_VI.get(key, f"#{key}")
    if key == NONE_KEY:
        none = {"counter": "(chưa gọi tại quầy nào)", "officer": "(không ghi cán bộ)"}
        return (1, ""), none.get(group, "—")
    order, label = names.get(key, (key, f"#{key}"))
    return (0, order), label


def wait_report(
    db: sqlite_utils.Database,
    office_id: int,
    first: str,
    last: str,
    group: str = "service",
    now=None,
) -> dict:
    """The report of a period grouped one way: one row per group and a total row."""
    if group not in GROUPINGS:
        raise BadInputError("Cách nhóm không hợp lệ", "Invalid grouping")
    ctx = ReportContext(db, office_id, first, last, now)
    groups: dict = {}
    total = Tally()
    dim = DIM_OF[group]
    for day, key, tally in ctx.tallies(dim):
        if group == "day":
            key = day
        elif group == "weekday":
            key = date.fromisoformat(day).weekday()
        groups.setdefault(key, Tally()).merge(tally)
        if dim == "office":
            total.merge(tally)
    if dim != "office":
        for _day, _key, tally in ctx.tallies("office"):
            total.merge(tally)
    names = _names(db, office_id, group)
    rows = []
    for key, tally in groups.items():
        order, label = group_label(group, key, names)
        ref_day = key if group == "day" else min(ctx.last, ctx.today)
        service = key if group == "service" else None
        figures = tally.figures(
            ctx.targets.on("avg_wait_s", ref_day, service),
            ctx.targets.on("satisfied_share", ref_day, service),
        )
        rows.append((order, {"group": label, "key": key, **figures}))
    rows.sort(key=lambda r: r[0])
    ref = min(ctx.last, ctx.today)
    return {
        "office": {
            "id": ctx.office["id"],
            "name": ctx.office["name"],
            "timezone": ctx.office["timezone"],
        },
        "from": ctx.first,
        "to": ctx.last,
        "group": group,
        "group_vi": GROUPING_VI[group],
        "issued_vi": ISSUED_VI.get(group, "Số vé cấp"),
        "rows": [r for _o, r in rows],
        "total": {
            "group": "Tổng cộng",
            "key": None,
            **total.figures(
                ctx.targets.on("avg_wait_s", ref), ctx.targets.on("satisfied_share", ref)
            ),
        },
        "target_changes": target_changes(ctx),
        "channels": channel_summary(db, ctx.office["id"], ctx.first, ctx.last),
    }


def channel_summary(db: sqlite_utils.Database, office_id: int, first: str, last: str) -> dict:
    """Bookings of the period by status (``missed``: never came; ``no_show``: checked in,
    called and absent), online numbers that had to check in (``online``: ``checked_in``,
    ``never_came``) and dossiers recorded per channel (the share of each channel)."""
    bookings = dict.fromkeys(("booked", "checked_in", "cancelled", "missed"), 0)
    for status, n in db.execute(
        "SELECT status, count(*) FROM appointments WHERE office_id = ? AND day BETWEEN ? AND ?"
        " GROUP BY status",
        [office_id, first, last],
    ).fetchall():
        bookings[status] = n
    bookings["no_show"] = db.execute(
        "SELECT count(*) FROM tickets WHERE office_id = ? AND day BETWEEN ? AND ?"
        " AND channel = 'appointment' AND status = 'no_show'",
        [office_id, first, last],
    ).fetchone()[0]
    # Online numbers taken under online_checkin: checked in, or gone without ever checking
    # in (expired at closing or cancelled: they never came, and are no visit).
    checked_in, never_came = db.execute(
        f"SELECT coalesce(sum(t.checked_in_at IS NOT NULL), 0), coalesce(sum({NEVER_CAME}), 0)"
        " FROM tickets t WHERE t.office_id = ? AND t.day BETWEEN ? AND ?"
        " AND t.channel = 'online'",
        [office_id, first, last],
    ).fetchone()
    dossiers = dict.fromkeys(("kiosk", "online", "appointment"), 0)
    for channel, n in db.execute(
        "SELECT channel, count(*) FROM tickets WHERE office_id = ? AND day BETWEEN ? AND ?"
        " AND dossier_code IS NOT NULL AND dossier_code != '' GROUP BY channel",
        [office_id, first, last],
    ).fetchall():
        dossiers[channel] = n
    total = sum(dossiers.values())
    return {
        "bookings": bookings,
        "online": {"checked_in": checked_in, "never_came": never_came},
        "dossiers": dossiers,
        "dossier_share": {k: (v / total if total else None) for k, v in dossiers.items()},
    }


def target_changes(ctx: ReportContext) -> list[dict]:
    """Office-wide wait targets in force during the period, with the day each took effect."""
    changes, previous = [], None
    for m, sid, since, _id, _value in sorted(ctx.targets.rows, key=lambda r: r[2]):
        if m != "avg_wait_s" or sid is not None:
            continue
        if since > ctx.last:
            continue
        start = max(since, ctx.first)
        value_now = ctx.targets.on("avg_wait_s", start)
        if value_now != previous:
            if changes and changes[-1]["from"] == start:
                changes.pop()
            changes.append({"from": start, "target_wait_s": value_now})
            previous = value_now
    return changes


def heatmap(db: sqlite_utils.Database, office_id: int, first: str, last: str, now=None) -> dict:
    """Weekday × hour of issue: tickets per day (load) and average visit wait."""
    ctx = ReportContext(db, office_id, first, last, now)
    cells: dict = {}
    for day, hour, tally in ctx.tallies("hour", with_waits=False):
        cells.setdefault((date.fromisoformat(day).weekday(), hour), Tally()).merge(tally)
    open_days = [0] * 7
    for day, _key, tally in ctx.tallies("office", with_waits=False):
        if tally.counts.get("issued"):
            open_days[date.fromisoformat(day).weekday()] += 1
    hours = sorted({h for _w, h in cells}) or list(range(7, 18))
    grid = []
    for weekday in range(7):
        row = []
        for hour in hours:
            c = cells.get((weekday, hour), Tally()).counts
            row.append(
                {
                    "issued": c["issued"],
                    "per_day": round(c["issued"] / open_days[weekday], 1)
                    if open_days[weekday]
                    else 0,
                    "avg_wait_s": round(c["wait_sum_ms"] / c["visits_waited"] / 1000, 1)
                    if c["visits_waited"]
                    else None,
                }
            )
        grid.append(
            {
                "weekday": weekday,
                "label": WEEKDAYS_VI[weekday],
                "open_days": open_days[weekday],
                "cells": row,
            }
        )
    return {
        "from": ctx.first,
        "to": ctx.last,
        "hours": hours,
        "rows": grid,
        "target_wait_s": ctx.targets.on("avg_wait_s", min(ctx.last, ctx.today)),
    }
