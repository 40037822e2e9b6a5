"""A province user in a real Chromium on a generated month: the province page with two
offices, sorting, the link to an office's dashboard; the QĐ 766 page and the comments."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS
from xephang import engine
from xephang.engine import accounts
from xephang.storage import connect

pytestmark = pytest.mark.e2e
MONTH = "period=month&ref=2023-01-10"


@pytest.fixture
def province_server(tmp_path, month_template, live_servers):
    """The generated month, a second office with people waiting, ``tinh`` reading both."""
    path = tmp_path / "server.db"
    info = month_template.copy_to(path)
    db = connect(path)
    other = engine.create_office(db, "UBND xã An Hòa")
    service = engine.add_service(db, other, "A", "Hộ tịch", field="Tư pháp - Hộ tịch")
    engine.add_counter(db, other, 1, [service])
    for _ in range(4):
        engine.issue_ticket(db, other, "A", check_hours=False)
    accounts.add_device(db, other, "kiosk", "Kiosk xã")  # never connected: an alert
    user = db.execute("SELECT id FROM users WHERE username = 'tinh'").fetchone()[0]
    accounts.set_user_offices(db, user, [info["office_id"], other])
    ticket = db.execute(
        "SELECT t.id FROM tickets t JOIN ratings r ON r.ticket_id = t.id LIMIT 1"
    ).fetchone()[0]
    db.execute(
        "UPDATE ratings SET comment = 'Cán bộ hướng dẫn rất tận tình' WHERE ticket_id = ?",
        [ticket],
    )
    db.close()
    server = live_servers(path)
    server.info, server.other = info, other
    return server


def test_the_province_page_sorts_and_opens_an_offices_dashboard(province_server, browser):
    server = province_server
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(server.url + "/login")
    page.fill("input[name=username]", "tinh")
    page.fill("input[name=password]", "xephang-demo")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.locator("#province-table").wait_for()
    assert page.locator("#province-table tbody tr").count() == 2
    page.click("#province-table th >> text=Đang chờ")
    page.wait_for_url("**sort=waiting**")
    first = page.locator("#province-table tbody tr").first
    assert first.get_attribute("data-office") == str(server.other)
    page.screenshot(path=str(ARTIFACTS / "province-page.png"), full_page=True)
    with page.expect_navigation():
        first.locator("th a").click()
    page.locator("#conn[data-status=online]").wait_for()
    assert "UBND xã An Hòa" in page.inner_text("header")
    assert page.locator("nav >> text=Thiết lập").count() == 0

    page.goto(f"{server.url}/manager/satisfaction?{MONTH}&office={server.info['office_id']}")
    page.locator("#satisfaction-table").wait_for()
    assert page.inner_text("#share-766").endswith("%")
    page.screenshot(path=str(ARTIFACTS / "satisfaction-766.png"), full_page=True)
    page.goto(f"{server.url}/manager/ratings?from=2022-12-19&to=2023-01-13")
    page.locator("#ratings-table").wait_for()
    assert "Cán bộ hướng dẫn rất tận tình" in page.inner_text("#ratings-table")
    page.screenshot(path=str(ARTIFACTS / "ratings-comments.png"), full_page=True)
    page.goto(f"{server.url}/manager/province/report?{MONTH}")
    page.locator("#province-satisfaction").wait_for()
    page.screenshot(path=str(ARTIFACTS / "province-report.png"), full_page=True)
