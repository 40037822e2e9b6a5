"""Many offices at once: every office's state now on one page, and a period's report grouped
by office across any set of offices (the province view).

Nothing here defines a figure: each office's today is the dashboard's tally
(``live.today_tally``, the reports' definitions), its waiting line
``live.waiting_now``, its devices ``live.devices_now``; a period is each
office's ``ReportContext`` (stored daily tallies, today live). Tallies of
several offices merge exactly (``stats.Tally``): the province's average
and p90 are over all its visits, not an average of averages.
"""

from __future__ import annotations

import sqlite_utils

from ..clock import DEFAULT_TIMEZONE, local_day, resolve_now
from ..engine.lookups import get_office
from ..engine.targets import Targets
from ..errors import BadInputError
from ..queries.office import lowest_rating_level
from . import live
from .report import ReportContext, check_range
from .stats import Tally

SORTS = {
    # key -> (label, the row value it sorts by); None values sort last either way
    "name": ("Văn phòng", lambda r: r["office"]["name"].lower()),
    "waiting": ("Đang chờ", lambda r: r["waiting"]),
    "longest": ("Chờ lâu nhất", lambda r: r["longest_wait_s"]),
    "over": ("Vượt chỉ tiêu", lambda r: r["over_target"]),
    "avg": ("Chờ TB hôm nay", lambda r: r["today"]["avg_wait_s"]),
    "p90": ("Chờ P90 hôm nay", lambda r: r["today"]["p90_wait_s"]),
    "within": ("Lượt đạt", lambda r: r["today"]["within_target_share"]),
    "satisfaction": ("Hài lòng", lambda r: r["today"]["satisfied_share"]),
    "open": ("Quầy mở", lambda r: r["counters"]["open"]),
    "alerts": ("Cảnh báo", lambda r: len(r["alerts"])),
}


def office_now(db: sqlite_utils.Database, office_id: int, now=None) -> tuple[dict, Tally]:
    """One office's row of the province page, and its tally of today (for the total)."""
    now = resolve_now(now)
    office = get_office(db, office_id)
    today = local_day(now, office["timezone"]).isoformat()
    targets = Targets(db, office_id)
    target_wait = targets.on("avg_wait_s", today)
    target_sat = targets.on("satisfied_share", today)
    waiting = live.waiting_now(db, office_id, now, targets, today)
    tally = live.today_tally(db, office, today, targets, lowest_rating_level(db, office_id))
    counters = live.counters_now(db, office_id, now)
    devices = live.devices_now(db, office_id, now, today)
    alerts = [
        f"{d['label']}: {d['problem']}"  # the device named once, as on the dashboard
        for d in devices["devices"]
        if d["problem"]
    ] + [
        f"Máy in {p['printer']}: {p['problem'] or p['state']}"
        for p in devices["printers"]
        if p["state"] != "ok"
    ]
    here = [w for w in waiting if not w["not_arrived"]]  # as the dashboard: clocks of those here
    longest = max(here, key=lambda w: w["wait_s"]) if here else None
    row = {
        "office": {"id": office["id"], "name": office["name"]},
        "day": today,
        "waiting": len(waiting),
        "longest_wait_s": longest["wait_s"] if longest else None,
        "longest_code": longest["code"] if longest else None,
        "over_target": sum(w["over_target"] for w in here),
        "target_wait_s": target_wait,
        "target_satisfied_share": target_sat,
        "today": tally.figures(target_wait, target_sat),
        "counters": {
            "open": sum(c["state"] == "open" for c in counters),
            "paused": sum(c["state"] == "paused" for c in counters),
            "closed": sum(c["state"] == "closed" for c in counters),
            "total": len(counters),
        },
        "alerts": alerts,
    }
    return row, tally


def province_overview(
    db: sqlite_utils.Database,
    office_ids: list[int],
    now=None,
    sort: str = "name",
    descending: bool = False,
) -> dict:
    """Every office's state now, sorted, with the total over all of them."""
    if sort not in SORTS:
        raise BadInputError("Cách sắp xếp không hợp lệ", "Invalid sort")
    now = resolve_now(now)
    rows, total = [], Tally()
    for office_id in office_ids:
        row, tally = office_now(db, office_id, now)
        rows.append(row)
        total.merge(tally)
    value = SORTS[sort][1]
    present = [r for r in rows if value(r) is not None]
    absent = [r for r in rows if value(r) is None]
    present.sort(key=value, reverse=descending)
    absent.sort(key=SORTS["name"][1])
    return {
        "now": now.isoformat(timespec="seconds"),
        "sort": sort,
        "descending": descending,
        "offices": present + absent,
        "total": {
            "offices": len(rows),
            "waiting": sum(r["waiting"] for r in rows),
            "over_target": sum(r["over_target"] for r in rows),
            "open": sum(r["counters"]["open"] for r in rows),
            "counters": sum(r["counters"]["total"] for r in rows),
            "alerts": sum(len(r["alerts"]) for r in rows),
            "today": total.figures(),
        },
    }


def offices_report(
    db: sqlite_utils.Database, office_ids: list[int], first: str, last: str, now=None
) -> dict:
    """The wait report of a period grouped by office across these offices: each office's
    row (its targets), and the total over all their visits (weighted by visits)."""
    if not office_ids:
        raise BadInputError("Hãy chọn ít nhất một văn phòng", "Choose at least one office")
    first, last = check_range(first, last)
    rows, total, zones = [], Tally(), set()
    for office_id in office_ids:
        ctx = ReportContext(db, office_id, first, last, now)
        zones.add(ctx.office["timezone"])
        tally = Tally()
        for _day, _key, day_tally in ctx.tallies("office"):
            tally.merge(day_tally)
        ref = min(ctx.last, ctx.today)
        figures = tally.figures(
            ctx.targets.on("avg_wait_s", ref), ctx.targets.on("satisfied_share", ref)
        )
        rows.append({"group": ctx.office["name"], "key": office_id, **figures})
        total.merge(tally)
    rows.sort(key=lambda r: r["group"].lower())
    return {
        "offices": [{"id": r["key"], "name": r["group"]} for r in rows],
        # "Lập lúc" of the exports: the offices' zone (Vietnam has one), else the default
        "office": {
            "id": None,
            "name": f"{len(rows)} văn phòng",
            "timezone": zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE,
        },
        "from": first,
        "to": last,
        "group": "office",
        "group_vi": "Văn phòng",
        "rows": rows,
        "total": {"group": "Tổng cộng", "key": None, **total.figures()},
        "target_changes": [],
    }
