"""The manager's screens in a real Chromium: the charts of one day (the target shows), long
service names not clipped, the second chart following the grouping; a report date error on
the form; a date field says its day day-first; hours, lunch breaks and holidays edited with
time and date fields."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, login_page
from xephang import engine
from xephang.storage import connect

pytestmark = pytest.mark.e2e

LAND = "Cấp giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền"


def a_day_of_work(server) -> None:
    db = connect(server.db_path)
    office = server.demo["office_id"]
    service = engine.add_service(db, office, "G", LAND, "", "Đất đai")
    engine.update_counter(db, 3, "Quầy 3", True, [service, 3])
    for prefix in ("G", "C", "A", "G"):
        ticket = engine.issue_ticket(db, office, prefix, check_hours=False).ticket
        counter = {"G": 3, "C": 3, "A": 1}[prefix]
        engine.call_ticket(db, counter, ticket["id"], "test")
        engine.start(db, ticket["id"])
        engine.finish(db, ticket["id"])
    db.close()


def test_one_day_charts_show_the_target_and_whole_long_names(browser, live_server):
    server = live_server
    a_day_of_work(server)
    page = login_page(browser, server, "quanly", "/manager/reports?period=day&group=service")
    page.wait_for_function("() => window.xephangCharts && window.xephangCharts.groups")
    target = page.evaluate(
        """() => { const c = window.xephangCharts.daily, meta = c.getDatasetMeta(1);
          return {points: meta.data.length, radius: meta.data[0].options.radius,
                  hidden: meta.hidden, value: c.data.datasets[1].data[0]}; }"""
    )
    assert target["points"] == 1 and target["radius"] >= 20 and target["value"] == 15
    # every line of every label lies inside the canvas, left of the bars
    clipped = page.evaluate(
        """() => { const c = window.xephangCharts.groups, ctx = c.ctx;
          ctx.save(); ctx.font = Chart.helpers.toFont(c.scales.y.options.ticks.font).string;
          const widest = Math.max(...c.data.labels.flat().map(l => ctx.measureText(l).width));
          ctx.restore();
          return {widest: widest, room: c.chartArea.left, lines: c.data.labels}; }"""
    )
    assert clipped["widest"] < clipped["room"], clipped
    assert any(len(lines) > 1 for lines in clipped["lines"])  # the long name wraps
    page.locator("#chart-groups").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manager-report-day-charts.png"), full_page=True)

    # grouping by counter: the second chart is per counter
    page.goto(server.url + "/manager/reports?period=day&group=counter")
    page.wait_for_function("() => window.xephangCharts && window.xephangCharts.groups")
    labels = page.evaluate("window.xephangCharts.groups.data.labels.map(l => l.join(' '))")
    assert labels and all(label.startswith("Quầy") for label in labels)
    assert "theo quầy" in page.inner_text(".charts")
    page.screenshot(path=str(ARTIFACTS / "manager-report-by-counter.png"), full_page=True)


def test_a_report_date_error_is_on_the_form(browser, live_server):
    server = live_server
    page = login_page(
        browser, server, "quanly", "/manager/reports?period=custom&from=2024-03-10&to=2024-03-01"
    )
    assert "Ngày kết thúc phải sau ngày bắt đầu" in page.inner_text("#report-error")
    assert page.input_value("input[name=from]") == "2024-03-10"
    assert page.is_visible("#report-form button[type=submit]")
    page.screenshot(path=str(ARTIFACTS / "manager-report-date-error.png"))


def test_a_date_field_says_its_day_as_vietnamese_read_it(browser, live_server):
    """A browser in English writes a date field month first (11/01/2026 is 1 November):
    each date field says its day beside it, day first, with its weekday."""
    server = live_server
    page = login_page(
        browser,
        server,
        "quanly",
        "/manager/reports?period=custom&from=2026-11-01&to=2026-11-30",
        locale="en-US",
    )
    read = page.locator("#report-form input[name=from] + output.day-read")
    assert read.inner_text() == "Chủ nhật 01/11/2026"
    assert page.inner_text("#report-form input[name=to] + .day-read") == "Thứ Hai 30/11/2026"
    page.fill("#report-form input[name=from]", "2026-11-12")
    assert read.inner_text() == "Thứ Năm 12/11/2026"
    page.fill("#report-form input[name=from]", "")
    assert read.inner_text() == ""
    page.fill("#report-form input[name=from]", "2026-11-12")
    page.screenshot(path=str(ARTIFACTS / "manager-date-read.png"))


def test_opening_hours_lunch_breaks_and_holidays_with_fields(browser, live_server):
    server = live_server
    page = login_page(browser, server, "quanly", "/manager/setup/office")
    page.uncheck("input[name=always_open]")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        page.fill(f"input[name=hours_{day}_1_from]", "07:30")
        page.fill(f"input[name=hours_{day}_1_to]", "11:30")
        page.fill(f"input[name=hours_{day}_2_from]", "13:30")
        page.fill(f"input[name=hours_{day}_2_to]", "17:00")
    page.fill("input[name=holiday_day_0]", "2026-09-02")
    page.fill("input[name=holiday_name_0]", "Quốc khánh")
    page.click("#office-form button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert page.input_value("input[name=hours_wed_2_from]") == "13:30"
    assert page.input_value("input[name=holiday_day_0]") == "2026-09-02"
    page.locator("fieldset.hours").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "manager-setup-hours.png"), full_page=True)
    db = connect(server.db_path)
    office = engine.get_office(db, server.demo["office_id"])
    db.close()
    assert '"13:30"' in office["hours"] and "Quốc khánh" in office["holidays"]
