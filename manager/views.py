"""Manager pages: the live dashboard, reports against targets, the wait-time log, exports."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from xephang import clock, engine, reports
from xephang.engine.booking import STATUS_VI as STATUS_VI_BOOKING
from xephang.errors import BadInputError, QueueError
from xephang.queries import booking as booking_queries
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.reports import exports, live
from xephang.reports.log import Names, as_json, log_rows, timelines, wait_log
from xephang.web import get_db
from xephang.web.auth import allow, current_principal, require_office
from xephang.web.context import blocking

bp = Blueprint(
    "manager",
    __name__,
    url_prefix="/manager",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

LOG_PAGE = 100
LOG_MAX_DAYS = 31  # a month of a large centre is ~90,000 tickets
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def office_id() -> int:
    """The office this request is about: the manager's own, or ``?office=`` for admins and
    province users (their first office by default)."""
    principal = current_principal()
    wanted = request.values.get("office")
    if wanted not in (None, ""):
        try:
            chosen = int(wanted)
        except ValueError:
            raise BadInputError("Văn phòng không hợp lệ", "Invalid office") from None
    elif principal.office_id is not None:
        chosen = principal.office_id
    else:
        first = (
            min(principal.offices, default=None)
            if principal.is_province
            else office_queries.first_office_id(get_db())
        )
        if first is None:
            raise BadInputError(
                "Chưa có văn phòng nào (hoặc chưa được giao văn phòng nào)", "No office yet"
            )
        chosen = first
    require_office(principal, chosen)
    engine.get_office(get_db(), chosen)
    return chosen


def page_context(oid: int) -> dict:
    """What every manager page shows in its header: the office and the offices to switch to."""
    db = get_db()
    principal = current_principal()
    offices = (
        sorted(
            (o for o in office_queries.offices(db) if principal.may_access_office(o["id"])),
            key=lambda o: o["name"],
        )
        if (principal.office_id is None)
        else []
    )
    return {
        "office": engine.get_office(db, oid),
        "offices": offices,
        "principal": principal,
        "is_admin": principal.role == "admin",
        "is_province": principal.is_province,
        "sees_province": principal.is_province or principal.is_global_admin,
    }


def _today(oid: int) -> str:
    return clock.today(engine.get_office(get_db(), oid)["timezone"])


@bp.get("/")
@allow("manager", "province", login_page=True)
def dashboard():
    """The live dashboard: queues, counters, today's waits against the target, devices."""
    oid = office_id()
    return render_template(
        "manager/dashboard.html", data=live.dashboard(get_db(), oid), **page_context(oid)
    )


@bp.get("/dashboard.json")
@allow("manager", "province")
def dashboard_json():
    """The live dashboard's data (polled when the socket is down)."""
    return jsonify({"ok": True, **live.dashboard(get_db(), office_id())})


def report_params(oid: int) -> dict:
    """Period and grouping of a report request, validated (Vietnamese errors)."""
    args = request.args
    period = args.get("period") or "month"
    if period not in reports.PERIODS:
        raise BadInputError("Kỳ báo cáo không hợp lệ", "Invalid period")
    group = args.get("group") or "service"
    if group not in reports.GROUPINGS:
        raise BadInputError("Cách nhóm không hợp lệ", "Invalid grouping")
    if period == "custom":
        first, last = reports.check_range(args.get("from", ""), args.get("to", ""))
        ref = first
    else:
        ref = args.get("ref") or _today(oid)
        first, last = reports.period_bounds(period, ref)
    return {"period": period, "ref": ref, "from": first, "to": last, "group": group, "office": oid}


CHART_GROUPS = ("service", "counter", "officer", "hour", "weekday")


@bp.get("/reports")
@allow("manager", "province", login_page=True)
def report_page():
    """A report for any period and grouping, with pass/fail and charts; a bad period or
    date is said on the form, which keeps what was typed."""
    oid = office_id()
    try:
        params = report_params(oid)
    except QueueError as err:
        typed = {k: request.args.get(k, "") for k in ("period", "ref", "from", "to", "group")}
        typed["period"] = typed["period"] or "month"
        typed["group"] = typed["group"] or "service"
        page = render_template(
            "manager/report.html",
            report=None,
            params=typed,
            error=err,
            nav={},
            **page_context(oid),
        )
        return page, err.status
    db = get_db()
    report = blocking(reports.wait_report, db, oid, params["from"], params["to"], params["group"])
    daily = (
        report
        if params["group"] == "day"
        else blocking(reports.wait_report, db, oid, params["from"], params["to"], "day")
    )
    # the second chart follows the grouping chosen (by service when it is office or day)
    chart_group = params["group"] if params["group"] in CHART_GROUPS else "service"
    by_group = (
        report
        if params["group"] == chart_group
        else blocking(reports.wait_report, db, oid, params["from"], params["to"], chart_group)
    )
    grid = blocking(reports.heatmap, db, oid, params["from"], params["to"])
    charts = {
        "daily": [
            {
                "day": r["key"],
                "label": clock.shown_day(r["key"]),
                "avg_wait_s": r["avg_wait_s"],
                "target_wait_s": r["target_wait_s"],
                "issued": r["issued"],
            }
            for r in daily["rows"]
        ],
        "group": chart_group,
        "group_vi": by_group["group_vi"],
        "groups": [
            {
                "label": r["group"],
                "share": r["within_target_share"],
                "satisfied": r["satisfied_share"],
                "avg_wait_s": r["avg_wait_s"],
                "target_wait_s": r["target_wait_s"],
            }
            for r in by_group["rows"]
        ],
    }
    return render_template(
        "manager/report.html",
        report=report,
        params=params,
        grid=grid,
        charts=charts,
        nav=period_nav(params),
        **page_context(oid),
    )


def period_nav(params: dict, endpoint: str = "manager.report_page") -> dict:
    """Previous/next period links for fixed periods of a page that takes report_params."""
    if params["period"] == "custom":
        return {}
    first = date.fromisoformat(params["from"])
    last = date.fromisoformat(params["to"])
    before = first.fromordinal(first.toordinal() - 1).isoformat()
    after = last.fromordinal(last.toordinal() + 1).isoformat()
    base = {k: params[k] for k in ("period", "group", "office")}
    return {
        "prev": url_for(endpoint, ref=before, **base),
        "next": url_for(endpoint, ref=after, **base),
    }


@bp.get("/reports.json")
@allow("manager", "province")
def report_json():
    """A report as JSON: ``{"rows": [...], "total": {...}, ...}``."""
    oid = office_id()
    params = report_params(oid)
    return jsonify(
        blocking(reports.wait_report, get_db(), oid, params["from"], params["to"], params["group"])
    )


@bp.get("/reports/export.<fmt>")
@allow("manager", "province")
def report_export(fmt: str):
    """A report as a CSV (machine or Vietnamese, ``export.vi.csv``) or XLSX download."""
    oid = office_id()
    params = report_params(oid)
    report = blocking(
        reports.wait_report, get_db(), oid, params["from"], params["to"], params["group"]
    )
    name = f"bao-cao-{params['group']}-{params['from']}_{params['to']}"
    return download(
        fmt,
        name,
        csv=lambda: exports.report_csv(report),
        csv_vi=lambda: exports.report_csv_vi(report),
        xlsx=lambda: exports.report_xlsx(report),
    )


def download(fmt: str, name: str, *, csv, csv_vi, xlsx) -> Response:
    """A file to save: ``csv`` (machine names, ISO times, for scripts), ``vi.csv``
    (Vietnamese headers and numbers, ``;``-separated, for Excel) or ``xlsx``."""
    if fmt == "csv":
        body, mime = blocking(csv).encode("utf-8"), "text/csv; charset=utf-8"
    elif fmt == "vi.csv":
        body, mime = blocking(csv_vi).encode("utf-8"), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, mime = blocking(xlsx), XLSX
    else:
        raise BadInputError(
            "Định dạng phải là csv, vi.csv hoặc xlsx", "Format must be csv, vi.csv or xlsx"
        )
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


@bp.get("/reports/print")
@allow("manager", "province", login_page=True)
def report_print():
    """A printable report: office name, period, targets, the table and the definitions."""
    oid = office_id()
    params = report_params(oid)
    report = blocking(
        reports.wait_report, get_db(), oid, params["from"], params["to"], params["group"]
    )
    return render_template(
        "manager/report_print.html",
        report=report,
        params=params,
        definitions=exports.DEFINITIONS,
        generated=_today(oid),
        parent=engine.office_setting(get_db(), oid, "report_parent"),
        place=engine.office_setting(get_db(), oid, "report_place"),
        **page_context(oid),
    )


def log_params(oid: int) -> dict:
    """Filters of the wait-time log (default: today)."""
    args = request.args
    today = _today(oid)
    first, last = reports.check_range(
        args.get("from") or today, args.get("to") or args.get("from") or today
    )
    if (date.fromisoformat(last) - date.fromisoformat(first)).days >= LOG_MAX_DAYS:
        raise BadInputError(
            f"Nhật ký xem tối đa {LOG_MAX_DAYS} ngày mỗi lần; báo cáo dùng được cho khoảng dài hơn",
            f"The log covers at most {LOG_MAX_DAYS} days at a time",
        )
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    return {
        "from": first,
        "to": last,
        "service": args.get("service") or "",
        "counter": args.get("counter") or "",
        "officer": args.get("officer") or "",
        "status": args.get("status") or "",
        "over": args.get("over") == "1",
        "q": (args.get("q") or "").strip(),
        "page": page,
        "office": oid,
    }


def _log(oid: int, params: dict, limit: int | None, offset: int = 0) -> dict:
    return blocking(
        wait_log,
        get_db(),
        oid,
        params["from"],
        params["to"],
        service=params["service"],
        counter=params["counter"],
        officer=params["officer"],
        status=params["status"],
        over_target=params["over"],
        q=params["q"],
        limit=limit,
        offset=offset,
    )


@bp.get("/log")
@allow("manager", "province", login_page=True)
def log_page():
    """The wait-time log: every ticket with its timeline; filters and search."""
    oid = office_id()
    params = log_params(oid)
    result = _log(oid, params, LOG_PAGE, (params["page"] - 1) * LOG_PAGE)
    events = timelines(get_db(), oid, [r["id"] for r in result["rows"]])
    names = Names(get_db(), oid)
    officers = sorted(
        {(r["officer_id"], r["officer"]) for r in result["rows"] if r["officer_id"]}
        | set(people.office_officers(get_db(), oid)),
        key=lambda o: o[1],
    )
    pages = max(1, -(-result["total"] // LOG_PAGE))
    return render_template(
        "manager/log.html",
        result=result,
        params=params,
        events=events,
        names=names,
        officers=officers,
        pages=pages,
        statuses=engine.STATUS_VI,
        **page_context(oid),
    )


@bp.get("/log.json")
@allow("manager", "province")
def log_json():
    """The filtered wait-time log as JSON (one page of 100; ``page=``)."""
    oid = office_id()
    params = log_params(oid)
    result = _log(oid, params, LOG_PAGE, (params["page"] - 1) * LOG_PAGE)
    events = timelines(get_db(), oid, [r["id"] for r in result["rows"]])
    tz = engine.get_office(get_db(), oid)["timezone"]
    result["rows"] = [
        {**as_json(row, tz), "timeline": [as_json(e, tz) for e in events.get(row["id"], [])]}
        for row in result["rows"]
    ]
    return jsonify(result)


@bp.get("/log/export.<fmt>")
@allow("manager", "province")
def log_export(fmt: str):
    """The raw log of the filtered period as a CSV (machine or Vietnamese) or XLSX download
    (every matching ticket)."""
    oid = office_id()
    params = log_params(oid)
    filtered = any(params[k] for k in ("service", "counter", "officer", "status", "over", "q"))
    rows = (
        _log(oid, params, None)["rows"]
        if filtered
        else blocking(log_rows, get_db(), oid, params["from"], params["to"])
    )
    office = engine.get_office(get_db(), oid)
    name = f"nhat-ky-{params['from']}_{params['to']}"
    return download(
        fmt,
        name,
        csv=lambda: exports.log_csv(rows),
        csv_vi=lambda: exports.log_csv_vi(rows),
        xlsx=lambda: exports.log_xlsx(rows, office, params["from"], params["to"]),
    )


@bp.get("/bookings")
@allow("manager", login_page=True)
def bookings_page():
    """A day's appointments (code, time, service, status, the last 3 digits only)."""
    oid = office_id()
    day = request.args.get("day") or _today(oid)
    try:
        date.fromisoformat(day)
    except ValueError:
        raise BadInputError("Ngày không hợp lệ (YYYY-MM-DD)", "Invalid day") from None
    db = get_db()
    return render_template(
        "manager/bookings.html",
        day=day,
        rows=booking_queries.day_bookings(db, oid, day),
        counts=booking_queries.booking_counts(db, oid, day),
        statuses=STATUS_VI_BOOKING,
        **page_context(oid),
    )
