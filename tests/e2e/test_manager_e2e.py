"""A manager in a real Chromium: log in, watch the live dashboard, open a monthly report, download
the XLSX and check it carries the page's figures."""

from __future__ import annotations

import openpyxl
import pytest
import requests

from tests.helpers import ARTIFACTS
from xephang import formats
from xephang.engine import accounts
from xephang.storage import connect, write

pytestmark = pytest.mark.e2e
MONTH = "period=month&ref=2023-01-10&group=service"


@pytest.fixture
def month_server(tmp_path, month_template, live_servers):
    """A real server on a copy of the generated test month, with a kiosk."""
    path = tmp_path / "server.db"
    info = month_template.copy_to(path)
    db = connect(path)
    _, info["kiosk_token"] = accounts.add_device(db, info["office_id"], "kiosk", "Kiosk e2e")
    display, _ = accounts.add_device(db, info["office_id"], "display", "Màn hình e2e")
    with write(db):  # last seen at 21:22 UTC: 04:22 the next morning on the office's clock
        db.execute(
            "UPDATE devices SET last_seen_at = '2026-06-01T21:22:00.000+00:00' WHERE id = ?",
            [display],
        )
    db.close()
    server = live_servers(path)
    server.info = info
    return server


def test_manager_dashboard_report_and_xlsx(month_server, browser):
    server = month_server
    context = browser.new_context(
        accept_downloads=True,
        viewport={"width": 1400, "height": 1000},
        locale="vi-VN",
        timezone_id="America/Los_Angeles",  # the browser's zone is not the office's
    )
    page = context.new_page()
    page.goto(server.url + "/manager/")
    assert "/login" in page.url
    page.fill("input[name=username]", "quanly")
    page.fill("input[name=password]", "xephang-demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/manager/")
    page.wait_for_selector("#conn[data-status=online]", timeout=15000)
    page.wait_for_selector("#services tbody tr")
    before = page.locator("#services tbody tr").first.locator("td").nth(1).inner_text()

    # A citizen takes a ticket: the dashboard follows over Socket.IO, without a reload.
    issued = requests.post(
        server.url + "/api/v1/tickets",
        json={"service": "A"},
        headers={"Authorization": f"Bearer {server.info['kiosk_token']}"},
        timeout=10,
    )
    assert issued.status_code == 201, issued.text
    page.wait_for_function(
        "n => document.querySelector('#services tbody tr td:nth-child(2)').textContent"
        " === String(n)",
        arg=int(before) + 1,
        timeout=10000,
    )
    assert "Đã cấp hôm nay" in page.inner_text("#kpis")
    # The kiosk's "last seen" is on the office's clock (Asia/Ho_Chi_Minh), not the browser's.
    page.wait_for_selector("#devices td:text-is('02/06/2026 04:22')", timeout=10000)
    assert "," in page.inner_text("#kpis") and "%" in page.inner_text("#kpis")  # "95,0 %"
    page.screenshot(path=str(ARTIFACTS / "manager-dashboard.png"), full_page=True)

    # The monthly report with its charts.
    page.click("nav >> text=Báo cáo")
    page.goto(server.url + "/manager/reports?" + MONTH)
    page.wait_for_selector("#report-table tr.total")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-daily')")
    # A month shows the day-in-period field only; "custom" shows from and to instead.
    assert page.locator("#report-form label.fixed").is_visible()
    assert not page.locator("#report-form label.custom").first.is_visible()
    total_row = page.locator("#report-table tr.total").inner_text()
    assert "Tổng cộng" in total_row
    page.screenshot(path=str(ARTIFACTS / "manager-report-month.png"), full_page=True)
    data = page.request.get(server.url + "/manager/reports.json?" + MONTH).json()
    assert data["from"] == "2023-01-01" and formats.number(data["total"]["issued"]) in total_row
    assert "từ 01/01/2023 đến 31/01/2023" in page.inner_text(".toolbar")

    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    download = download_info.value
    target = ARTIFACTS / "manager-report-month.xlsx"
    download.save_as(str(target))
    sheet = list(openpyxl.load_workbook(target)["Báo cáo"].iter_rows(values_only=True))
    assert sheet[-1][0] == "Tổng cộng" and sheet[-1][1] == data["total"]["issued"]
    assert [r[0] for r in sheet[1:-1]] == [r["group"] for r in data["rows"]]

    # The wait-time log, visits over target, and the printable report.
    page.goto(server.url + "/manager/log?from=2023-01-09&to=2023-01-13&over=1")
    page.wait_for_selector("#log-table")
    page.locator("#log-table details summary").first.click()
    page.screenshot(path=str(ARTIFACTS / "manager-log.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("#export-csv-vi")
    vi_csv = ARTIFACTS / "manager-log.vi.csv"
    download_info.value.save_as(str(vi_csv))
    assert vi_csv.read_text(encoding="utf-8-sig").startswith("Ngày;Số;Dịch vụ;")
    page.goto(server.url + "/manager/reports/print?" + MONTH)
    assert "BÁO CÁO THỜI GIAN CHỜ VÀ PHỤC VỤ" in page.inner_text("h1")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page.inner_text("#national-heading")
    assert "NGƯỜI LẬP BIỂU" in page.inner_text("#signatures")
    page.screenshot(path=str(ARTIFACTS / "manager-report-print.png"), full_page=True)
    # How well the estimates held: the page, its period fields, its downloads.
    page.goto(server.url + "/manager/estimates?" + MONTH)
    page.wait_for_selector("#estimates-services tr.total")
    page.select_option("#period", "custom")
    assert page.locator("#estimates-form label.custom").first.is_visible()
    assert not page.locator("#estimates-form label.fixed").is_visible()
    page.screenshot(path=str(ARTIFACTS / "manager-estimates.png"), full_page=True)
    page.goto(server.url + "/manager/setup/targets")
    page.screenshot(path=str(ARTIFACTS / "manager-setup-targets.png"), full_page=True)
    context.close()
