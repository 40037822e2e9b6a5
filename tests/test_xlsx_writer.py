"""The streaming XLSX writer: what it writes opens in openpyxl with the values it was given."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from xephang.reports import exports
from xephang.reports import xlsx_writer as xw

OFFICE = {"name": "Văn phòng", "timezone": "Asia/Ho_Chi_Minh"}


def reopen(data: bytes):
    return load_workbook(io.BytesIO(data))


def test_text_is_escaped_and_control_characters_dropped():
    sheet = xw.Sheet("Nhật ký")
    sheet.append(['<b>&"Nguyễn"</b>', "a\x00b\x1fc", "=1+1"])
    ws = reopen(xw.workbook_bytes([sheet]))["Nhật ký"]
    assert [c.value for c in ws[1]] == ['<b>&"Nguyễn"</b>', "abc", "=1+1"]
    assert ws["C1"].data_type == "s"  # a string, never a formula


def test_sheet_names_with_quotes_and_forbidden_characters_open():
    odd = xw.Sheet('Quầy "3" / it\'s [A]', autofilter=True)
    odd.append(["a", "b"])
    odd.append([1, 2])
    book = reopen(xw.workbook_bytes([xw.Sheet("Tóm tắt"), odd]))
    assert book.sheetnames[1] == odd.title
    assert not set("[]:*?/\\") & set(odd.title) and '"' in odd.title
    assert book[odd.title]["B2"].value == 2


def test_aware_times_are_written_in_the_sheets_zone():
    moment = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    local = xw.Sheet("Giờ", timezone="Asia/Ho_Chi_Minh")
    local.append([moment, moment.astimezone(timezone(timedelta(hours=-5)))])
    own = xw.Sheet("Giờ gốc")
    own.append([moment.astimezone(timezone(timedelta(hours=7)))])
    book = reopen(xw.workbook_bytes([local, own]))
    assert book["Giờ"]["A1"].value == datetime(2026, 3, 2, 9, 0)
    assert book["Giờ"]["B1"].value == datetime(2026, 3, 2, 9, 0)  # converted, not its own
    assert book["Giờ gốc"]["A1"].value == datetime(2026, 3, 2, 9, 0)


def test_nan_and_infinity_leave_the_cell_empty():
    sheet = xw.Sheet("Số")
    sheet.append([1.5, math.nan, math.inf, -math.inf, 2])
    ws = reopen(xw.workbook_bytes([sheet]))["Số"]
    assert [c.value for c in ws[1]] == [1.5, None, None, None, 2]


def test_a_sheet_refuses_rows_past_excels_limit(monkeypatch):
    monkeypatch.setattr(xw, "MAX_ROWS", 3)
    sheet = xw.Sheet("Nhỏ")
    for n in range(3):
        sheet.append([n])
    assert sheet.full
    with pytest.raises(xw.SheetFullError):
        sheet.append([3])


def test_the_log_goes_on_in_another_sheet_past_the_limit(monkeypatch):
    monkeypatch.setattr(xw, "MAX_ROWS", 25)  # a header and 24 tickets a sheet
    row = {key: None for key, *_ in exports.LOG_COLUMNS}
    rows = [
        {
            **row,
            "code": f"A{n:03d}",
            "status_vi": "Đã xong",
            "from_code": "",
            "visit_wait_s": 60.0,
            "over_target": False,
        }
        for n in range(1, 61)
    ]
    book = reopen(exports.log_xlsx(rows, OFFICE, "2026-03-01", "2026-03-01"))
    assert book.sheetnames == ["Tóm tắt", "Nhật ký", "Nhật ký (2)", "Nhật ký (3)"]
    codes = [c.value for name in book.sheetnames[1:] for c in book[name]["B"][1:]]
    assert codes == [f"A{n:03d}" for n in range(1, 61)]
    assert all(book[name]["B1"].value == "Số" for name in book.sheetnames[1:])


@pytest.mark.parametrize(
    "typed", ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_typed_text_never_becomes_a_formula_in_any_export(typed):
    row = {key: None for key, *_ in exports.LOG_COLUMNS}
    row.update(
        code="A001",
        status_vi="Đã xong",
        from_code="",
        visit_wait_s=60.0,
        over_target=False,
        dossier_code=typed,
        officer=typed,
        wait_s=-5.0,
    )
    csv_text = exports.log_csv([{**row, "status": "done"}])
    parsed = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"), newline="")))
    assert parsed[0]["dossier_code"] == "'" + typed and parsed[0]["officer"] == "'" + typed
    assert parsed[0]["wait_s"] == "-5.0"  # a number keeps its sign
    shown = "'" + typed.replace("\r", "\n")  # XML reads a CR back as a LF
    vi_csv = exports.log_csv_vi([row])
    parsed = list(csv.DictReader(io.StringIO(vi_csv.lstrip("\ufeff"), newline=""), delimiter=";"))
    assert parsed[0]["Mã hồ sơ"] == "'" + typed and parsed[0]["Cán bộ"] == "'" + typed
    office = {"name": typed, "timezone": "Asia/Ho_Chi_Minh"}
    book = reopen(exports.log_xlsx([row], office, "2026-03-01", "2026-03-01"))
    log = book["Nhật ký"]
    header = [c.value for c in log[1]]
    cells = {h: c for h, c in zip(header, log[2], strict=False)}
    assert cells["Mã hồ sơ"].value == shown and cells["Mã hồ sơ"].data_type == "s"
    assert cells["Cán bộ"].value == shown
    assert book["Tóm tắt"]["A2"].value == shown
    report = {
        "rows": [{"group": typed}],
        "total": {"group": "Tổng cộng"},
        "office": office,
        "from": "2026-03-01",
        "to": "2026-03-01",
        "group": "officer",
        "group_vi": "Cán bộ",
    }
    for part in (report["rows"][0], report["total"]):
        part.update(
            {
                k: None
                for k in (
                    "issued",
                    "served",
                    "no_show",
                    "visits",
                    "avg_wait_s",
                    "p90_wait_s",
                    "target_wait_s",
                    "wait_pass",
                    "within_target_share",
                    "satisfied_share",
                    "target_satisfied_share",
                    "satisfaction_pass",
                )
            }
        )
    workbook = reopen(exports.report_xlsx(report))
    assert workbook["Báo cáo"]["A2"].value == shown
    assert workbook["Báo cáo"]["A2"].data_type == "s"
    assert workbook["Tóm tắt"]["A2"].value == shown


def test_numbers_stay_numbers_in_exports():
    assert exports.inert(-5) == -5 and exports.inert(-2.5) == -2.5
    assert exports.inert("A001") == "A001"
