"""A real browser through the whole flow: ticket issued, called at the counter, shown and
announced on the display, the tracker page told where to go."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS
from xephang.demo import SERVICES

pytestmark = pytest.mark.e2e


def issue_ticket(server, page=None, service="A") -> dict:
    """Issue by pressing the service on the kiosk page, or through the API with the kiosk token."""
    if page is not None:
        page.goto(f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
        name = next(vi for prefix, vi, *_ in SERVICES if prefix == service)
        button = page.locator(".k-service[data-service]", has_text=name).first
        with page.expect_response(lambda r: "/tickets" in r.url
                                  and r.request.method == "POST") as response:
            button.click()
        assert response.value.status == 201
        ticket = response.value.json()["ticket"]
        page.locator(f"text={ticket['code']}").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "flow-1-kiosk.png"))
        return ticket
    r = requests.post(f"{server.url}/api/v1/tickets", json={"service": service},
                      headers={"Authorization": f"Bearer {server.demo['kiosk_token']}"})
    assert r.status_code == 201, r.text
    return r.json()["ticket"]


def open_display(browser, server):
    display = browser.new_page(viewport={"width": 1920, "height": 1080})
    display.goto(f"{server.url}/display/pair?token={server.demo['display_token']}")
    assert display.url == f"{server.url}/display/"
    display.wait_for_function("window.xephangBoard && window.xephangBoard.state()")
    return display


def open_counter(browser, server, username="canbo1", counter_number=1):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(f"{server.url}/counter/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.demo["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/counter/")
    page.locator("#dlg-counter").wait_for(state="visible")
    page.click(f"#counter-choices button:has-text('Quầy {counter_number}')")
    page.wait_for_function(
        f"document.getElementById('counter-title').textContent.includes('{counter_number}')")
    return page


def test_ticket_called_shown_announced_and_tracked(browser, live_server):
    server = live_server
    display = open_display(browser, server)
    counter = open_counter(browser, server)
    ticket = issue_ticket(server, browser.new_page())
    code = ticket["code"]

    # the counter sees the new ticket waiting without a reload
    counter.wait_for_function(f"document.getElementById('next').textContent.includes('{code}')")
    counter.keyboard.press("n")  # call next
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{code}'")
    counter.screenshot(path=str(ARTIFACTS / "flow-2-counter.png"))

    # the display shows it and starts announcing it
    display.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{code}'")
    assert display.text_content("#latest-counter") == "1"
    sound = display.locator("#sound")
    if sound.is_visible():  # autoplay blocked: the one-time button unlocks audio
        display.screenshot(path=str(ARTIFACTS / "flow-3-display-sound-button.png"))
        sound.click()
    display.wait_for_function("window.xephangVoice && window.xephangVoice.log.length > 0")
    played = display.evaluate("window.xephangVoice.log[0]")
    assert played["clips"][0] == "chime" and played["played"] == len(played["clips"])
    assert played["text"] == f"Mời công dân có số thứ tự {code} đến quầy số 1"
    display.screenshot(path=str(ARTIFACTS / "flow-3-display.png"))

    # the tracker page the QR code opens says where to go
    tracker = browser.new_page(viewport={"width": 412, "height": 915})
    assert tracker.goto(ticket["tracker_url"]).status == 200
    tracker.wait_for_function("document.body.innerText.includes('Mời đến quầy 1')")
    tracker.screenshot(path=str(ARTIFACTS / "flow-4-tracker.png"))


def test_counter_keyboard_actions_and_display_pause(browser, live_server):
    server = live_server
    display = open_display(browser, server)
    counter = open_counter(browser, server, "canbo2", 2)
    first = issue_ticket(server, service="B")
    issue_ticket(server, service="B")
    counter.wait_for_function(
        f"document.getElementById('next').textContent.includes('{first['code']}')")
    counter.keyboard.press("n")
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{first['code']}'")
    counter.keyboard.press("s")  # start serving
    counter.wait_for_function("document.getElementById('current-code').dataset.status"
                              " === 'serving'")
    counter.keyboard.press("f")  # finish with a dossier code
    counter.fill("#dlg-finish input[name=dossier_code]", "H01.22-260101-0001")
    counter.keyboard.press("Enter")
    counter.wait_for_function("document.getElementById('current-code').textContent === '—'")
    counter.wait_for_function("document.getElementById('mine').textContent.includes('1')")
    counter.keyboard.press("p")  # pause with a reason
    counter.fill("#dlg-pause input[name=reason]", "Họp giao ban")
    counter.keyboard.press("Enter")
    display.wait_for_function(
        "document.querySelector(\"[data-counter='2']\").textContent.includes('Họp giao ban')")
    display.screenshot(path=str(ARTIFACTS / "counter-paused-on-display.png"))
    counter.keyboard.press("n")  # refused while paused: the message says so
    counter.wait_for_function("document.getElementById('message').textContent"
                              ".includes('tạm dừng')")
    counter.keyboard.press("p")  # resume
    display.wait_for_function(
        "!document.querySelector(\"[data-counter='2']\").textContent.includes('Họp')")
