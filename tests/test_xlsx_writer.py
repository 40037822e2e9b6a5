"""The streaming XLSX writer: what it writes opens in openpyxl with the values it was given."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from xephang.reports import exports
from xephang.reports import xlsx_writer as xw


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
    book = reopen(exports.log_xlsx(rows, "Văn phòng", "2026-03-01", "2026-03-01"))
    assert book.sheetnames == ["Tóm tắt", "Nhật ký", "Nhật ký (2)", "Nhật ký (3)"]
    codes = [c.value for name in book.sheetnames[1:] for c in book[name]["B"][1:]]
    assert codes == [f"A{n:03d}" for n in range(1, 61)]
    assert all(book[name]["B1"].value == "Số" for name in book.sheetnames[1:])
