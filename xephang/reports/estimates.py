"""How well the wait estimates held: per service and day, the error of the estimate each
ticket was given when it joined the line (``tickets.estimated_wait_s``, kept by
``engine.estimate.promise``) against the wait it then had.

Definitions (docs/reports.md, "Wait estimates"):
- a ticket *with an estimate* was given one (an open counter served its
  service); *without* it was told no counter was serving;
- an estimate is *judged* once its ticket is called: error = estimate −
  (called − issued) in seconds, positive when the wait was shorter than said;
  a ticket that left uncalled is not judged (its wait had no end at a counter);
- median and p90 are of |error| (p90 by nearest rank, as every p90 in the
  reports); *within ±5 minutes* is the share of judged estimates with
  |error| ≤ 300 s; *bias* is the mean signed error.
"""

from __future__ import annotations

import statistics
from datetime import date

import sqlite_utils

from ..engine.estimate import SIGNED_ERROR_S_SQL, WITHIN_S, nearest_rank
from ..engine.lookups import get_office

# (key, Vietnamese header, kind) — the page, the CSV (keys) and the XLSX (headers) share it.
COLUMNS = (
    ("day", "Ngày", "date"),
    ("service", "Dịch vụ", "text"),
    ("tickets", "Số vé", "int"),
    ("with_estimate", "Có dự kiến", "int"),
    ("without_estimate", "Không có quầy mở", "int"),
    ("judged", "Đã gọi (được xét)", "int"),
    ("median_error_s", "Sai số trung vị (phút)", "minutes"),
    ("p90_error_s", "Sai số P90 (phút)", "minutes"),
    ("within_5min_share", "Trong ±5 phút", "share"),
    ("bias_s", "Lệch TB (phút)", "minutes"),
)


def _figures(errors: list[float]) -> dict:
    size = sorted(abs(e) for e in errors)
    if not size:
        return dict.fromkeys(("median_error_s", "p90_error_s", "within_5min_share", "bias_s"))
    return {
        "median_error_s": round(statistics.median(size), 1),
        "p90_error_s": round(nearest_rank(size, 0.9), 1),
        "within_5min_share": round(sum(1 for e in size if e <= WITHIN_S) / len(size), 4),
        "bias_s": round(statistics.fmean(errors), 1),
    }


def estimate_report(db: sqlite_utils.Database, office_id: int, first: str, last: str) -> dict:
    """The estimate error per service and day from ``first`` to ``last`` (local days, ISO),
    each service over the period, and the office over the period."""
    office = get_office(db, office_id)
    for value in (first, last):
        date.fromisoformat(value)  # the caller validated the period; a bad one fails loudly
    names = {
        sid: (prefix, name)
        for sid, prefix, name in db.execute(
            "SELECT id, prefix, name_vi FROM services WHERE office_id = ?", [office_id]
        ).fetchall()
    }
    groups: dict[tuple[str, int], dict] = {}
    for day, service_id, estimated, error in db.execute(
        f"SELECT t.day, t.service_id, t.estimated_wait_s IS NOT NULL,"
        f" CASE WHEN t.estimated_wait_s IS NOT NULL AND t.called_at IS NOT NULL"
        f" THEN {SIGNED_ERROR_S_SQL} END FROM tickets t"
        " WHERE t.office_id = ? AND t.day BETWEEN ? AND ? ORDER BY t.day, t.service_id",
        [office_id, first, last],
    ).fetchall():
        group = groups.setdefault(
            (day, service_id), {"tickets": 0, "with_estimate": 0, "errors": []}
        )
        group["tickets"] += 1
        group["with_estimate"] += estimated
        if error is not None:
            group["errors"].append(error)

    def row(day, service_id, tickets, with_estimate, errors) -> dict:
        prefix, name = names.get(service_id, ("?", "?")) if service_id else ("", "Tất cả")
        return {
            "day": day,
            "service_id": service_id,
            "service": f"{prefix} · {name}" if service_id else name,
            "tickets": tickets,
            "with_estimate": with_estimate,
            "without_estimate": tickets - with_estimate,
            "judged": len(errors),
            **_figures(errors),
        }

    rows = [
        row(day, sid, g["tickets"], g["with_estimate"], g["errors"])
        for (day, sid), g in groups.items()
    ]
    per_service: dict[int, list] = {}
    for (_day, sid), g in groups.items():
        acc = per_service.setdefault(sid, [0, 0, []])
        acc[0] += g["tickets"]
        acc[1] += g["with_estimate"]
        acc[2].extend(g["errors"])
    services = [row(None, sid, *per_service[sid]) for sid in sorted(per_service)]
    totals = list(per_service.values())
    everything = (
        sum(a[0] for a in totals),
        sum(a[1] for a in totals),
        [e for a in totals for e in a[2]],
    )
    return {
        "office": {"id": office["id"], "name": office["name"], "timezone": office["timezone"]},
        "from": first,
        "to": last,
        "within_s": WITHIN_S,
        "rows": rows,
        "services": services,
        "total": row(None, None, *everything),
    }


def estimate_csv_rows(report: dict) -> list[dict]:
    """Every row of the report for a CSV: days, then each service's period, then the total."""
    return [*report["rows"], *report["services"], report["total"]]
