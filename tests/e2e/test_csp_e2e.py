"""Every page works with its Content-Security-Policy in force: its scripts run and the
browser reports no violation (no inline script, handler or style slipped in)."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import ARTIFACTS

pytestmark = pytest.mark.e2e


def watch(page, problems: list[str] | None = None) -> list[str]:
    """Console errors and CSP violations the page reports, added to ``problems`` as they come."""
    problems = [] if problems is None else problems
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    return problems


def real(problems: list[str]) -> list[str]:
    # Autoplay refusals are the board's to handle (it shows "Bật âm thanh").
    return [p for p in problems if "play()" not in p]


def test_every_page_runs_under_its_content_security_policy(chromium, live_server):
    server = live_server
    context = chromium.new_context(viewport={"width": 1600, "height": 900})  # CSP in force
    page = context.new_page()
    problems = watch(page)

    page.goto(f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    with page.expect_navigation():
        page.click("#pair-button")
    page.locator(".k-service[data-service]").first.wait_for()
    with page.expect_response(lambda r: "/kiosk/api/tickets" in r.url) as issued:
        page.locator(".k-service[data-service]").first.click()
    tracker = issued.value.json()["ticket"]["tracker_url"]
    page.locator("#t-cancel").wait_for(state="visible")  # "Hủy số này", offered for a while
    page.screenshot(path=str(ARTIFACTS / "csp-kiosk.png"))

    page.goto(tracker)
    page.locator("main.tr[data-status=waiting]").wait_for()

    board = context.new_page()
    watch(board, problems)
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}")
    board.locator("#conn[data-status=online]").wait_for()
    board.locator(".counter").first.wait_for()  # laid out by board.js
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}?services=A&counters=1-2")
    board.locator(".counter").nth(1).wait_for()
    assert board.locator(".counter").count() == 2

    staff = chromium.new_context(viewport={"width": 1600, "height": 900})
    counter = staff.new_page()
    watch(counter, problems)
    counter.goto(f"{server.url}/counter/")
    counter.fill("input[name=username]", "quanly")
    counter.fill("input[name=password]", server.demo["password"])
    with counter.expect_navigation():
        counter.click("button[type=submit]")
    for path, ready in (
        ("/manager/", "#conn[data-status=online], [data-status=online]"),
        ("/manager/reports?period=month", "canvas"),
        ("/manager/log", "main"),
        ("/manager/estimates?period=month", "#estimates-services"),
        ("/manager/setup/settings", "#settings-form"),
        ("/manager/setup/", "main"),
        ("/manager/setup/devices", "#device-new"),
        ("/manager/setup/office", "input[type=time]"),
        ("/manager/setup/office?zone_services=A&zone_counters=1", "#zone-link-url"),
        ("/manager/reports?period=day", "canvas"),
        ("/manager/setup/users", "#user-new"),
        ("/manager/printed/", "main"),
        ("/manager/reports/print?period=month", "[data-print]"),
        ("/manager/satisfaction", "#satisfaction-table"),
        ("/manager/ratings", "#ratings-table"),
    ):
        counter.goto(server.url + path)
        counter.locator(ready).first.wait_for()
    # a report date error is a 400 with the form: its scripts run under the policy too
    counter.goto(f"{server.url}/manager/reports?period=custom&from=2024-03-10&to=2024-03-01")
    counter.locator("#report-error").wait_for()
    problems[:] = [p for p in problems if not p.startswith("400 ") and "status of 400" not in p]
    counter.goto(f"{server.url}/counter/")
    counter.locator("#conn[data-status=online]").wait_for()
    counter.screenshot(path=str(ARTIFACTS / "csp-counter.png"))

    tablets = chromium.new_context(viewport={"width": 1280, "height": 800})
    tablet = tablets.new_page()
    problems += watch(tablet)
    tablet.goto(f"{server.url}/counter/rating/pair?token={server.demo['rating_token']}")
    with tablet.expect_navigation():
        tablet.click("#pair-button")
    tablet.locator("#conn[data-status=online]").wait_for()

    province = chromium.new_context(viewport={"width": 1600, "height": 900})
    reader = province.new_page()
    problems += watch(reader)
    reader.goto(f"{server.url}/login")
    reader.fill("input[name=username]", "tinh")
    reader.fill("input[name=password]", server.demo["password"])
    with reader.expect_navigation():
        reader.click("button[type=submit]")
    reader.locator("#province-table").wait_for()
    reader.screenshot(path=str(ARTIFACTS / "csp-province.png"))
    reader.goto(f"{server.url}/manager/province/report?period=month")
    reader.locator("#province-satisfaction").wait_for()
    reader.goto(f"{server.url}/manager/?office={server.demo['office_id']}")
    reader.locator("#conn[data-status=online]").wait_for()

    assert real(problems) == []
    tablets.close()
    province.close()
    policy = requests.get(server.url + "/counter/", timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    staff.close()
    context.close()
