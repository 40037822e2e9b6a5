"""The province view: every office the caller may read on one page (waiting now, today's
waits against target, satisfaction, counters, device and printer alerts), sortable, each
linking to its dashboard; and a period's report grouped by office across any set of them.

For admins of every office (all offices) and province users (the offices they were
given); read-only like every page a province user may open.
"""

from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from xephang import clock, reports
from xephang.errors import BadInputError, NotFoundError
from xephang.queries import office as office_queries
from xephang.reports import exports, satisfaction
from xephang.reports import province as offices_figures
from xephang.web import get_db
from xephang.web.auth import allow, current_principal
from xephang.web.context import blocking

from .satisfaction import download
from .views import bp, page_context

VIEWERS = ("admin", "province")


def readable_offices() -> list[dict]:
    """The offices the caller may read, by name."""
    principal = current_principal()
    return sorted(
        (o for o in office_queries.offices(get_db()) if principal.may_access_office(o["id"])),
        key=lambda o: o["name"].lower(),
    )


def _context(offices: list[dict]) -> dict:
    if not offices:
        raise NotFoundError(
            "Chưa được giao văn phòng nào; hãy liên hệ quản trị hệ thống",
            "No office given to this account",
        )
    return page_context(offices[0]["id"])


def _overview():
    offices = readable_offices()
    sort = request.args.get("sort") or "name"
    descending = request.args.get("dir") == "desc"
    data = blocking(
        offices_figures.province_overview,
        get_db(),
        [o["id"] for o in offices],
        sort=sort,
        descending=descending,
    )
    return offices, data


@bp.get("/province")
@allow(*VIEWERS, login_page=True)
def province():
    """Every office on one page; click a column to sort, an office to open its dashboard."""
    offices, data = _overview()
    return render_template(
        "manager/province.html",
        data=data,
        sort_links={key: sort_url(key, data) for key in offices_figures.SORTS},
        **_context(offices),
    )


@bp.get("/province.json")
@allow(*VIEWERS)
def province_json():
    """The province page's data as JSON."""
    _offices, data = _overview()
    return jsonify({"ok": True, **data})


def report_params(offices: list[dict]) -> dict:
    """The offices chosen (``?offices=ID``, repeated; default: all the caller may read) and
    the period; another office answers as missing."""
    readable = {o["id"] for o in offices}
    try:
        chosen = sorted({int(v) for v in request.args.getlist("offices") if v != ""})
    except ValueError:
        raise BadInputError("Văn phòng không hợp lệ", "Invalid office") from None
    if any(oid not in readable for oid in chosen):
        raise NotFoundError("Không có văn phòng này", "No such office")
    chosen = chosen or sorted(readable)
    args = request.args
    period = args.get("period") or "month"
    if period not in reports.PERIODS:
        raise BadInputError("Kỳ báo cáo không hợp lệ", "Invalid period")
    if period == "custom":
        first, last = reports.check_range(args.get("from", ""), args.get("to", ""))
        ref = first
    else:
        ref = args.get("ref") or clock.today(offices[0]["timezone"])
        first, last = reports.period_bounds(period, ref)
    return {"offices": chosen, "period": period, "ref": ref, "from": first, "to": last}


def _report(params: dict) -> dict:
    return blocking(
        offices_figures.offices_report, get_db(), params["offices"], params["from"], params["to"]
    )


@bp.get("/province/report")
@allow(*VIEWERS, login_page=True)
def province_report():
    """A period's wait report and QĐ 766 satisfaction, grouped by office, across the
    offices chosen."""
    offices = readable_offices()
    context = _context(offices)
    params = report_params(offices)
    report = _report(params)
    sat = blocking(
        satisfaction.satisfaction_report,
        get_db(),
        params["offices"],
        params["from"],
        params["to"],
        "office",
    )
    query = {k: params[k] for k in ("period", "ref", "from", "to", "offices")}
    return render_template(
        "manager/province_report.html",
        report=report,
        sat=sat,
        params=params,
        readable=offices,
        query=query,
        **context,
    )


@bp.get("/province/report.json")
@allow(*VIEWERS)
def province_report_json():
    """The report grouped by office as JSON (``rows`` per office, ``total`` over all)."""
    offices = readable_offices()
    _context(offices)
    return jsonify(_report(report_params(offices)))


@bp.get("/province/report/export.<fmt>")
@allow(*VIEWERS)
def province_report_export(fmt: str):
    """The report grouped by office as CSV, XLSX or JSON."""
    offices = readable_offices()
    _context(offices)
    params = report_params(offices)
    report = _report(params)
    return download(
        fmt,
        f"bao-cao-van-phong-{params['from']}_{params['to']}",
        lambda: report,
        lambda: exports.report_csv(report),
        lambda: exports.report_xlsx(report),
    )


@bp.get("/province/dossiers.<fmt>")
@allow(*VIEWERS)
def province_dossiers(fmt: str):
    """One row per dossier of the chosen offices (CSV, XLSX or JSON), for the province's
    one-stop system."""
    offices = readable_offices()
    _context(offices)
    params = report_params(offices)
    db = get_db()

    def rows():
        return satisfaction.dossier_rows(db, params["offices"], params["from"], params["to"])

    names = {o["id"]: o["name"] for o in offices}
    lines = [
        ", ".join(names[o] for o in params["offices"]),
        f"Từ {params['from']} đến {params['to']}",
    ]
    return download(
        fmt,
        f"danh-gia-ho-so-{params['from']}_{params['to']}",
        lambda: {"from": params["from"], "to": params["to"], "dossiers": rows()},
        lambda: satisfaction.table_csv(rows(), satisfaction.DOSSIER_KEYS),
        lambda: satisfaction.table_xlsx(
            rows(),
            satisfaction.DOSSIER_COLUMNS,
            "Đánh giá hài lòng theo hồ sơ (QĐ 766)",
            lines + list(satisfaction.DEFINITIONS_766),
            offices[0]["timezone"],
        ),
    )


def sort_url(key: str, data: dict) -> str:
    """The page sorted by ``key``: figures largest first, names A to Z; the same column
    again flips the direction."""
    descending = key != "name"
    if data["sort"] == key:
        descending = not data["descending"]
    return url_for("manager.province", sort=key, dir="desc" if descending else "asc")
