"""How well the wait estimates held: the estimate error per service and day (page, JSON,
CSV, XLSX). Definitions: xephang/reports/estimates.py and docs/reports.md."""

from __future__ import annotations

from flask import jsonify, render_template

from xephang import engine
from xephang.reports import exports
from xephang.reports.estimates import COLUMNS, estimate_report
from xephang.web import get_db
from xephang.web.auth import allow
from xephang.web.context import blocking

from .views import bp, download, office_id, page_context, period_nav, report_params


def _report() -> tuple[int, dict, dict]:
    oid = office_id()
    params = report_params(oid)
    return oid, params, blocking(estimate_report, get_db(), oid, params["from"], params["to"])


@bp.get("/estimates")
@allow("manager", login_page=True)
def estimates_page():
    """The estimate error per service over the period, and per service and day."""
    oid, params, report = _report()
    return render_template(
        "manager/estimates.html",
        report=report,
        params=params,
        nav=period_nav(params, "manager.estimates_page"),
        columns=COLUMNS,
        definitions=exports.ESTIMATE_DEFINITIONS,
        bound=engine.office_setting(get_db(), oid, "estimate_max_p90_error_min"),
        **page_context(oid),
    )


@bp.get("/estimates.json")
@allow("manager")
def estimates_json():
    """The estimate error report as JSON (seconds, shares as fractions)."""
    return jsonify(_report()[2])


@bp.get("/estimates/export.<fmt>")
@allow("manager")
def estimates_export(fmt: str):
    """The estimate error report as a CSV (machine or Vietnamese) or XLSX download."""
    _oid, params, report = _report()
    return download(
        fmt,
        f"sai-so-du-kien-{params['from']}_{params['to']}",
        csv=lambda: exports.estimate_csv(report),
        csv_vi=lambda: exports.estimate_csv_vi(report),
        xlsx=lambda: exports.estimate_xlsx(report),
    )
