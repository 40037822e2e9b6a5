"""Reports and the wait-time log as CSV and formatted XLSX files.

CSV files carry the machine names of the JSON report (seconds, shares as
fractions, ISO 8601 times) so scripts can read them; a UTF-8 byte order mark
makes Excel open the Vietnamese text correctly. The Vietnamese CSV variant
(``*_csv_vi``, ``export.vi.csv``) is for people who open it in Excel with
Vietnamese regional settings: Vietnamese headers, minutes and percentages
with a decimal comma, dd/mm/yyyy HH:MM office times, Vietnamese statuses and
priority names, and ``;`` between fields (the list separator of a
decimal-comma locale, which Excel splits on). XLSX files are for people:
Vietnamese headers, minutes, percentages, pass/fail colours, a summary sheet
that says when it was made on the office's clock.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .. import formats
from ..clock import SHOWN, local_now, shown_day
from .estimates import COLUMNS as ESTIMATE_COLUMNS
from .estimates import estimate_csv_rows

BOM = "\ufeff"
HEADER_FILL = PatternFill("solid", fgColor="0B5CAD")
HEADER_FONT = Font(bold=True, color="FFFFFF")
PASS_FILL = PatternFill("solid", fgColor="D7F0DD")
FAIL_FILL = PatternFill("solid", fgColor="F8D7DA")
TITLE_FONT = Font(bold=True, size=14)

# (key, Vietnamese header, kind): kind says how the XLSX shows the value.
REPORT_COLUMNS = (
    ("group", "Nhóm", "text"),
    ("issued", "Số vé cấp", "int"),
    ("served", "Đã phục vụ", "int"),
    ("no_show", "Vắng mặt", "int"),
    ("cancelled", "Đã hủy", "int"),
    ("expired", "Hết hạn", "int"),
    ("transferred", "Đã chuyển", "int"),
    ("visits", "Lượt", "int"),
    ("left_unserved", "Rời đi chưa được gọi", "int"),
    ("avg_wait_s", "Chờ TB (phút)", "minutes"),
    ("median_wait_s", "Chờ trung vị (phút)", "minutes"),
    ("p90_wait_s", "Chờ P90 (phút)", "minutes"),
    ("max_wait_s", "Chờ tối đa (phút)", "minutes"),
    ("target_wait_s", "Chỉ tiêu chờ (phút)", "minutes"),
    ("wait_pass", "Đạt chỉ tiêu chờ", "pass"),
    ("within_target_share", "Tỷ lệ lượt đạt", "share"),
    ("avg_service_s", "Phục vụ TB (phút)", "minutes"),
    ("ratings", "Lượt đánh giá", "int"),
    ("satisfied_share", "Tỷ lệ hài lòng", "share"),
    ("target_satisfied_share", "Chỉ tiêu hài lòng", "share"),
    ("satisfaction_pass", "Đạt chỉ tiêu hài lòng", "pass"),
)
REPORT_CSV_KEYS = (
    "group",
    "issued",
    "served",
    "no_show",
    "cancelled",
    "expired",
    "transferred",
    "in_progress",
    "visits",
    "visits_waited",
    "left_unserved",
    "avg_wait_s",
    "median_wait_s",
    "p90_wait_s",
    "max_wait_s",
    "within_target",
    "visits_judged",
    "within_target_share",
    "avg_service_s",
    "ratings",
    "satisfied",
    "satisfied_share",
    "target_wait_s",
    "target_satisfied_share",
    "wait_pass",
    "satisfaction_pass",
)
LOG_COLUMNS = (
    ("day", "Ngày", "date", 11),
    ("code", "Số", "text", 7),
    ("service", "Dịch vụ", "text", 24),
    ("priority_vi", "Ưu tiên", "text", 16),
    ("status_vi", "Trạng thái", "text", 13),
    ("issued_at", "Lấy số lúc", "datetime", 19),
    ("called_at", "Gọi lúc", "datetime", 19),
    ("started_at", "Bắt đầu", "datetime", 19),
    ("finished_at", "Kết thúc", "datetime", 19),
    ("wait_s", "Chờ (phút)", "minutes", 10),
    ("visit_wait_s", "Chờ cả lượt (phút)", "minutes", 12),
    ("target_wait_s", "Chỉ tiêu (phút)", "minutes", 10),
    ("over_target", "Vượt chỉ tiêu", "bool", 10),
    ("left_unserved", "Rời đi chưa được gọi", "bool", 10),
    ("service_s", "Phục vụ (phút)", "minutes", 10),
    ("counter", "Quầy", "int", 6),
    ("officer", "Cán bộ", "text", 20),
    ("recalls", "Gọi lại", "int", 7),
    ("from_code", "Chuyển từ số", "text", 10),
    ("dossier_code", "Mã hồ sơ", "text", 18),
    ("rating", "Đánh giá", "int", 8),
)
LOG_CSV_KEYS = (
    "id",
    "day",
    "code",
    "visit_id",
    "prefix",
    "service",
    "priority",
    "status",
    "issued_at",
    "called_at",
    "started_at",
    "finished_at",
    "wait_s",
    "visit_wait_s",
    "target_wait_s",
    "over_target",
    "left_unserved",
    "service_s",
    "counter",
    "officer",
    "recalls",
    "from_code",
    "dossier_code",
    "rating",
)
DEFINITIONS = (
    "Thời gian chờ của một số = lúc gọi lần đầu − lúc lấy số (gọi lại không tính lại).",
    "Số rời hàng chờ mà chưa được gọi (đã hủy, hết hạn) vẫn tính thời gian chờ đến lúc rời đi:"
    " số hủy tính đến lúc hủy; số hết hạn tính đến giờ đóng cửa của ngày đó (hoặc cuối ngày"
    " nếu sớm hơn).",
    "Thời gian chờ của một lượt = tổng thời gian chờ của các số trong lượt (kể cả khi chuyển"
    " quầy/dịch vụ). Lượt còn đang chờ chưa có thời gian chờ.",
    "Thời gian phục vụ = lúc kết thúc − lúc bắt đầu phục vụ (không tính số vắng mặt).",
    "Đạt chỉ tiêu = thời gian chờ của lượt ≤ chỉ tiêu có hiệu lực ngày đó. Lượt rời đi chưa"
    " được gọi sau khi đã quá chỉ tiêu là không đạt; rời đi trước đó thì không tính vào tỷ lệ"
    " đạt (tỷ lệ đạt = lượt đạt ÷ lượt được xét).",
    "Hài lòng = các đánh giá khác mức thấp nhất ÷ tổng số đánh giá.",
    "Số vé, thời gian phục vụ và đánh giá tính theo dịch vụ/quầy/cán bộ/giờ của chính số đó;"
    " lượt và thời gian chờ của lượt tính theo số đầu tiên của lượt.",
)


def _csv(rows, keys) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    for row in rows:
        writer.writerow(["" if row.get(k) is None else _csv_value(row.get(k)) for k in keys])
    return BOM + out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value):
    """Text a spreadsheet will not run: a leading ``= + - @``, tab or CR gets a ``'``.

    Staff and citizens type some of what exports carry (dossier codes, names,
    comments); a cell ``=HYPERLINK(...)`` would otherwise become a live formula
    when the manager opens the file. Numbers are left as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_value(value):
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, bool):
        return "1" if value else "0"
    return inert(value)


def report_csv(report: dict) -> str:
    """A report's rows and total as CSV (JSON names, seconds, fractions)."""
    return _csv([*report["rows"], report["total"]], REPORT_CSV_KEYS)


def log_csv(rows: list[dict]) -> str:
    """The raw wait-time log as CSV, one ticket a line."""
    return _csv(rows, LOG_CSV_KEYS)


VI_SEPARATOR = ";"  # Excel with Vietnamese regional settings splits a .csv on ";"


def _vi_value(value, kind: str) -> str:
    """A cell of the Vietnamese CSV as Excel-vi reads it (formats.py, clock.py)."""
    if value is None or value == "":
        return ""
    if kind == "minutes":
        return formats.number(value / 60, 1, grouping=False)
    if kind == "share":
        return formats.number(value * 100, 1, grouping=False)
    if kind == "pass":
        return "Đạt" if value else "Không đạt"
    if kind == "bool":
        return "Có" if value else ""
    if kind == "datetime":
        return value.strftime(SHOWN)
    if kind == "date":
        return shown_day(value)
    if kind == "int":
        return str(value)
    return inert(str(value))


def _vi_header(title: str, kind: str) -> str:
    return f"{title} (%)" if kind == "share" else title


def _csv_vi(rows, columns) -> str:
    """Rows as the Vietnamese CSV: ``columns`` are (key, Vietnamese header, kind, ...)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=VI_SEPARATOR)
    writer.writerow([_vi_header(title, kind) for key, title, kind, *_w in columns])
    for row in rows:
        writer.writerow([_vi_value(row.get(key), kind) for key, _t, kind, *_w in columns])
    return BOM + out.getvalue()


def group_cells(report: dict, day=shown_day) -> list[dict]:
    """A report's rows and total for people's files: a day group's cell is ``day(key)``
    (dd/mm/yyyy text, or a date for a spreadsheet cell), the other groups their label."""
    rows = [*report["rows"], report["total"]]
    if report["group"] != "day":
        return rows
    return [{**row, "group": day(row["key"])} if row.get("key") else row for row in rows]


def report_csv_vi(report: dict) -> str:
    """A report as the Vietnamese CSV: the XLSX's headers, minutes, percentages."""
    columns = ((REPORT_COLUMNS[0][0], report["group_vi"], "text"), *REPORT_COLUMNS[1:])
    return _csv_vi(group_cells(report), columns)


def log_csv_vi(rows: list[dict]) -> str:
    """The raw wait-time log as the Vietnamese CSV, the XLSX's columns, one ticket a line."""
    return _csv_vi(rows, LOG_COLUMNS)


def _xlsx_value(value, kind):
    if value is None:
        return None
    if kind == "minutes":
        return round(value / 60, 2)
    if kind == "pass":
        return "Đạt" if value else "Không đạt"
    if kind == "bool":
        return "Có" if value else ""
    if kind == "date":
        return _day_cell(value) if isinstance(value, str) else value
    return inert(value)


NUMBER_FORMATS = {
    "minutes": "0.0",
    "share": "0.0%",
    "int": "0",
    "datetime": "dd/mm/yyyy hh:mm:ss",
    "date": "dd/mm/yyyy",
}


def made_at(timezone: str, now: datetime | None = None) -> str:
    """A file's "made at" line, on the office's clock (never the server's or UTC)."""
    return f"Lập lúc {local_now(timezone, now).strftime(SHOWN)}"


def period_text(first: str, last: str) -> str:
    """A period as people read it: "Từ 01/01/2023 đến 31/01/2023"."""
    return f"Từ {shown_day(first)} đến {shown_day(last)}"


def _day_cell(day: str | None):
    """An office day as a spreadsheet date (shown dd/mm/yyyy)."""
    return date.fromisoformat(day) if day else None


def _header(ws, row: int, titles, widths=None) -> None:
    for col, title in enumerate(titles, start=1):
        cell = ws.cell(row=row, column=col, value=title)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        if widths:
            ws.column_dimensions[get_column_letter(col)].width = widths[col - 1]


def _summary_sheet(
    ws, title: str, office: dict, period: str, lines: list[tuple], definitions=DEFINITIONS, now=None
) -> None:
    ws.title = "Tóm tắt"
    ws["A1"] = title
    ws["A1"].font = TITLE_FONT
    ws["A2"] = inert(office["name"])
    ws["A3"] = period
    ws["A4"] = made_at(office["timezone"], now)
    row = 6
    for label, value, fmt in lines:
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        cell = ws.cell(row=row, column=2, value=value)
        if fmt:
            cell.number_format = fmt
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Định nghĩa").font = Font(bold=True)
    for text in definitions:
        row += 1
        ws.cell(row=row, column=1, value=text)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 22


def _minutes(seconds):
    return None if seconds is None else round(seconds / 60, 2)


def report_xlsx(report: dict, now: datetime | None = None) -> bytes:
    """A report as a workbook: a summary sheet, then the table with pass/fail colours."""
    wb = Workbook()
    total = report["total"]
    period = f"{period_text(report['from'], report['to'])} — nhóm theo: {report['group_vi']}"
    lines = [
        ("Số vé cấp", total["issued"], "0"),
        ("Đã phục vụ", total["served"], "0"),
        ("Vắng mặt", total["no_show"], "0"),
        ("Lượt", total["visits"], "0"),
        ("Chờ trung bình mỗi lượt (phút)", _minutes(total["avg_wait_s"]), "0.0"),
        ("Chờ P90 (phút)", _minutes(total["p90_wait_s"]), "0.0"),
        ("Chỉ tiêu chờ (phút)", _minutes(total["target_wait_s"]), "0.0"),
        ("Kết quả chỉ tiêu chờ", _xlsx_value(total["wait_pass"], "pass"), None),
        ("Tỷ lệ lượt đạt chỉ tiêu", total["within_target_share"], "0.0%"),
        ("Tỷ lệ hài lòng", total["satisfied_share"], "0.0%"),
        ("Chỉ tiêu hài lòng", total["target_satisfied_share"], "0.0%"),
        ("Kết quả chỉ tiêu hài lòng", _xlsx_value(total["satisfaction_pass"], "pass"), None),
    ]
    for change in report.get("target_changes", []):
        lines.append(
            (
                f"Chỉ tiêu từ {shown_day(change['from'])} (phút)",
                _minutes(change["target_wait_s"]),
                "0.0",
            )
        )
    _summary_sheet(
        wb.active,
        "Báo cáo thời gian chờ và phục vụ",
        report["office"],
        period,
        lines,
        now=now,
    )
    ws = wb.create_sheet("Báo cáo")
    widths = [30] + [13] * (len(REPORT_COLUMNS) - 1)
    titles = [report.get("issued_vi", t) if k == "issued" else t for k, t, _ in REPORT_COLUMNS]
    _header(ws, 1, titles, widths)
    ws.row_dimensions[1].height = 32
    cells = group_cells(report, _day_cell)
    for r, row in enumerate(cells, start=2):
        for c, (key, _title, kind) in enumerate(REPORT_COLUMNS, start=1):
            cell = ws.cell(row=r, column=c, value=_xlsx_value(row.get(key), kind))
            if kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]
            elif isinstance(cell.value, date):
                cell.number_format = NUMBER_FORMATS["date"]
            if kind == "pass" and row.get(key) is not None:
                cell.fill = PASS_FILL if row[key] else FAIL_FILL
        if r == len(cells) + 1:  # the total row
            for c in range(1, len(REPORT_COLUMNS) + 1):
                ws.cell(row=r, column=c).font = Font(bold=True)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(REPORT_COLUMNS))}{len(report['rows']) + 1}"
    return _save(wb)


def log_xlsx(
    rows: list[dict], office: dict, first: str, last: str, now: datetime | None = None
) -> bytes:
    """The raw wait-time log as a workbook: a summary sheet, then one ticket a row; times
    on the office's clock (``office`` has its name and timezone).

    Written with the streaming writer in ``xlsx_writer``: a month of a large
    centre is two million cells, too many for openpyxl's per-cell cost.
    """
    from . import xlsx_writer as xw

    waited = [
        r["visit_wait_s"] for r in rows if r["from_code"] == "" and r["visit_wait_s"] is not None
    ]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status_vi"]] = statuses.get(r["status_vi"], 0) + 1
    summary = xw.Sheet("Tóm tắt", widths=[38, 22])
    summary.append(["Nhật ký thời gian chờ"], xw.BOLD)
    summary.append([inert(office["name"])])
    summary.append([period_text(first, last)])
    summary.append([made_at(office["timezone"], now)])
    summary.append([])
    summary.append(["Số vé", len(rows)])
    for status, count in sorted(statuses.items()):
        summary.append([status, count])
    summary.append(["Lượt có thời gian chờ", len(waited)])
    summary.append(
        [
            "Chờ trung bình mỗi lượt (phút)",
            round(sum(waited) / len(waited) / 60, 2) if waited else None,
        ],
        [xw.PLAIN, xw.DECIMAL],
    )
    summary.append(["Số vé thuộc lượt vượt chỉ tiêu", sum(1 for r in rows if r["over_target"])])
    summary.append([])
    summary.append(["Định nghĩa"], xw.BOLD)
    for text in DEFINITIONS:
        summary.append([text])
    sheets = [summary]

    def new_log_sheet() -> xw.Sheet:
        """A log sheet with its header; past Excel's row limit the log goes on in another."""
        title = "Nhật ký" if len(sheets) == 1 else f"Nhật ký ({len(sheets)})"
        sheet = xw.Sheet(
            title, widths=[w for _k, _t, _kind, w in LOG_COLUMNS], freeze="C2", autofilter=True
        )
        sheet.append([title for _k, title, _kind, _w in LOG_COLUMNS], xw.HEADER)
        sheets.append(sheet)
        return sheet

    log = new_log_sheet()
    styles = [
        {"datetime": xw.DATETIME, "minutes": xw.DECIMAL, "date": xw.DATE}.get(kind, xw.PLAIN)
        for _k, _t, kind, _w in LOG_COLUMNS
    ]
    keys = [key for key, _t, _kind, _w in LOG_COLUMNS]
    converters = [
        (i, key, kind)
        for i, (key, _t, kind, _w) in enumerate(LOG_COLUMNS)
        if kind in ("minutes", "bool", "date")
    ]
    for row in rows:
        values = [inert(row[key]) for key in keys]
        for i, key, kind in converters:
            values[i] = _xlsx_value(row[key], kind)
        if log.full:
            log = new_log_sheet()
        log.append(values, styles)
    return xw.workbook_bytes(sheets)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


ESTIMATE_DEFINITIONS = (
    "Mỗi số giữ thời gian chờ dự kiến được báo khi lấy số (có quầy đang mở phục vụ dịch vụ).",
    "Sai số = dự kiến − thời gian chờ thực tế (từ lúc lấy số đến lúc được gọi); số dương: chờ"
    " ít hơn dự kiến. Số rời đi chưa được gọi không được xét.",
    "Trung vị và P90 là của |sai số| (P90 theo hạng gần nhất); 'Trong ±5 phút' là tỷ lệ số"
    " được xét có |sai số| không quá 5 phút.",
)


def estimate_csv(report: dict) -> str:
    """The estimate error report as CSV: per service and day, per service, the total."""
    keys = [key for key, _title, _kind in ESTIMATE_COLUMNS[:2]] + ["service_id"]
    keys += [key for key, _title, _kind in ESTIMATE_COLUMNS[2:]]
    return _csv(estimate_csv_rows(report), keys)


WHOLE_PERIOD = "Cả kỳ"  # the day cell of a row over the whole period


def estimate_csv_vi(report: dict) -> str:
    """The estimate error report as the Vietnamese CSV: the XLSX's columns and rows."""
    rows = [
        {**row, "day": shown_day(row["day"]) if row["day"] else WHOLE_PERIOD}
        for row in estimate_csv_rows(report)
    ]
    columns = [(k, t, "text" if k == "day" else kind) for k, t, kind in ESTIMATE_COLUMNS]
    return _csv_vi(rows, columns)


def estimate_xlsx(report: dict, now: datetime | None = None) -> bytes:
    """The estimate error report as a workbook: a summary, then one row per service and day."""
    wb = Workbook()
    total = report["total"]
    ws = wb.active
    _summary_sheet(
        ws,
        "Độ chính xác của thời gian chờ dự kiến",
        report["office"],
        period_text(report["from"], report["to"]),
        [
            ("Số vé", total["tickets"], "0"),
            ("Có dự kiến", total["with_estimate"], "0"),
            ("Không có quầy mở", total["without_estimate"], "0"),
            ("Đã gọi (được xét)", total["judged"], "0"),
            ("Sai số trung vị (phút)", _minutes(total["median_error_s"]), "0.0"),
            ("Sai số P90 (phút)", _minutes(total["p90_error_s"]), "0.0"),
            ("Trong ±5 phút", total["within_5min_share"], "0.0%"),
        ],
        ESTIMATE_DEFINITIONS,
        now=now,
    )
    sheet = wb.create_sheet("Sai số dự kiến")
    _header(
        sheet,
        1,
        [title for _k, title, _kind in ESTIMATE_COLUMNS],
        [12, 34] + [14] * (len(ESTIMATE_COLUMNS) - 2),
    )
    sheet.row_dimensions[1].height = 32
    for r, row in enumerate(estimate_csv_rows(report), start=2):
        for c, (key, _title, kind) in enumerate(ESTIMATE_COLUMNS, start=1):
            value = row.get(key)
            if key == "day" and value is None:
                value, kind = WHOLE_PERIOD, "text"
            cell = sheet.cell(row=r, column=c, value=_xlsx_value(value, kind))
            if kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]
    sheet.freeze_panes = "C2"
    return _save(wb)
