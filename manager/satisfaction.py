"""Satisfaction pages: the QĐ 766 report per dossier, its one-row-per-dossier export, and
the ratings with the citizens' comments (filters, exports).

Figures and definitions are ``xephang.reports.satisfaction``; these views only read the
request, call it and render or download the answer.
"""

from __future__ import annotations

from datetime import date

from flask import Response, jsonify, render_template, request, url_for

from xephang import engine, reports
from xephang.errors import BadInputError
from xephang.queries import people
from xephang.reports import satisfaction
from xephang.web import get_db
from xephang.web.auth import allow
from xephang.web.context import blocking

from .views import XLSX, _today, bp, office_id, page_context

RATINGS_PAGE = 100


def period_params(oid: int, default_group: str = "officer", groups=satisfaction.GROUPS) -> dict:
    """Period (day/week/month/year/custom) and grouping of a satisfaction request."""
    args = request.args
    period = args.get("period") or "month"
    if period not in reports.PERIODS:
        raise BadInputError("Kỳ báo cáo không hợp lệ", "Invalid period")
    group = args.get("group") or default_group
    if group not in groups:
        raise BadInputError("Cách nhóm không hợp lệ", "Invalid grouping")
    if period == "custom":
        first, last = reports.check_range(args.get("from", ""), args.get("to", ""))
        ref = first
    else:
        ref = args.get("ref") or _today(oid)
        first, last = reports.period_bounds(period, ref)
    return {"period": period, "ref": ref, "from": first, "to": last, "group": group, "office": oid}


def _nav(endpoint: str, params: dict, **keep) -> dict:
    if params["period"] == "custom":
        return {}
    first, last = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    base = {k: params[k] for k in ("period", "group", "office")} | keep
    return {
        "prev": url_for(endpoint, ref=date.fromordinal(first.toordinal() - 1).isoformat(), **base),
        "next": url_for(endpoint, ref=date.fromordinal(last.toordinal() + 1).isoformat(), **base),
    }


def download(fmt: str, name: str, rows_json, make_csv, make_xlsx) -> Response:
    """A CSV, XLSX or JSON download of a table (the work runs off the event loop)."""
    if fmt == "csv":
        body, mime = blocking(make_csv).encode("utf-8"), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, mime = blocking(make_xlsx), XLSX
    elif fmt == "json":
        response = jsonify(blocking(rows_json))
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    else:
        raise BadInputError("Định dạng phải là csv, xlsx hoặc json", "Format: csv, xlsx or json")
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    )


@bp.get("/satisfaction")
@allow("manager", "province", login_page=True)
def satisfaction_page():
    """The QĐ 766 satisfaction report per dossier, by officer, service or lĩnh vực."""
    oid = office_id()
    params = period_params(oid)
    report = blocking(
        satisfaction.satisfaction_report,
        get_db(),
        [oid],
        params["from"],
        params["to"],
        params["group"],
    )
    return render_template(
        "manager/satisfaction.html",
        report=report,
        params=params,
        nav=_nav("manager.satisfaction_page", params),
        definitions=satisfaction.DEFINITIONS_766,
        **page_context(oid),
    )


@bp.get("/satisfaction.json")
@allow("manager", "province")
def satisfaction_json():
    """The QĐ 766 report as JSON: ``{"rows": [...], "total": {...}, ...}``."""
    oid = office_id()
    params = period_params(oid)
    return jsonify(
        blocking(
            satisfaction.satisfaction_report,
            get_db(),
            [oid],
            params["from"],
            params["to"],
            params["group"],
        )
    )


@bp.get("/satisfaction/dossiers.<fmt>")
@allow("manager", "province")
def satisfaction_dossiers(fmt: str):
    """One row per dossier of the period (CSV, XLSX or JSON), for the province's system."""
    oid = office_id()
    params = period_params(oid)
    db = get_db()

    def rows():
        return satisfaction.dossier_rows(db, [oid], params["from"], params["to"])

    office = engine.get_office(db, oid)
    name = f"danh-gia-ho-so-{params['from']}_{params['to']}"
    lines = [office["name"], f"Từ {params['from']} đến {params['to']}"]
    return download(
        fmt,
        name,
        lambda: {"from": params["from"], "to": params["to"], "dossiers": rows()},
        lambda: satisfaction.table_csv(rows(), satisfaction.DOSSIER_KEYS),
        lambda: satisfaction.table_xlsx(
            rows(),
            satisfaction.DOSSIER_COLUMNS,
            "Đánh giá hài lòng theo hồ sơ (QĐ 766)",
            lines + list(satisfaction.DEFINITIONS_766),
            office["timezone"],
        ),
    )


def ratings_params(oid: int) -> dict:
    """Filters of the ratings list (default: the last 31 days, with a comment)."""
    args = request.args
    today = _today(oid)
    default_from = date.fromordinal(date.fromisoformat(today).toordinal() - 30).isoformat()
    first, last = reports.check_range(
        args.get("from") or default_from, args.get("to") or args.get("from") or today
    )
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    return {
        "from": first,
        "to": last,
        "service": args.get("service") or "",
        "officer": args.get("officer") or "",
        "level": args.get("level") or "",
        # a filter form sent without the box ticked lists every rating
        "comments": args.get("comments") == "1" or "filtered" not in args,
        "page": page,
        "office": oid,
    }


def _ratings(oid: int, params: dict, limit: int | None, offset: int = 0) -> dict:
    return blocking(
        satisfaction.ratings_list,
        get_db(),
        oid,
        params["from"],
        params["to"],
        service=params["service"],
        officer=params["officer"],
        level=params["level"],
        with_comment=params["comments"],
        limit=limit,
        offset=offset,
    )


@bp.get("/ratings")
@allow("manager", "province", login_page=True)
def ratings_page():
    """Citizens' ratings and comments: filters by day, service, officer and level."""
    oid = office_id()
    params = ratings_params(oid)
    result = _ratings(oid, params, RATINGS_PAGE, (params["page"] - 1) * RATINGS_PAGE)
    db = get_db()
    services = list(satisfaction.OfficeNames.load(db, oid, params["to"]).services.values())
    return render_template(
        "manager/ratings.html",
        result=result,
        params=params,
        services=sorted(services, key=lambda s: (s["sort_order"], s["prefix"])),
        officers=sorted(people.office_officers(db, oid), key=lambda o: o[1]),
        pages=max(1, -(-result["total"] // RATINGS_PAGE)),
        retention=engine.office_setting(db, oid, "comment_retention_days"),
        **page_context(oid),
    )


@bp.get("/ratings/export.<fmt>")
@allow("manager", "province")
def ratings_export(fmt: str):
    """The filtered ratings with their comments as CSV, XLSX or JSON (every matching one)."""
    oid = office_id()
    params = ratings_params(oid)
    office = engine.get_office(get_db(), oid)

    def rows():
        return _ratings(oid, params, None)["rows"]

    return download(
        fmt,
        f"danh-gia-{params['from']}_{params['to']}",
        lambda: {"from": params["from"], "to": params["to"], "ratings": rows()},
        lambda: satisfaction.table_csv(rows(), satisfaction.RATING_KEYS),
        lambda: satisfaction.table_xlsx(
            rows(),
            satisfaction.RATING_COLUMNS,
            "Đánh giá và góp ý của công dân",
            [office["name"], f"Từ {params['from']} đến {params['to']}"],
            office["timezone"],
        ),
    )
