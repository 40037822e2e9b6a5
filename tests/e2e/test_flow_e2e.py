"""A real browser through the whole flow: ticket issued, called at the counter, shown and
announced on the display, the tracker page told where to go."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import (
    ARTIFACTS,
    AUTOPLAY_POLICY,
    issue_ticket,
    open_counter,
    open_display,
    press,
)
from xephang.engine import accounts
from xephang.storage import connect

pytestmark = pytest.mark.e2e


def test_ticket_called_shown_announced_and_tracked(browser, live_server):
    server = live_server
    display = open_display(browser, server)
    counter = open_counter(browser, server)
    ticket = issue_ticket(server, browser.new_page())
    code = ticket["code"]

    # the counter sees the new ticket waiting without a reload
    counter.wait_for_function(f"document.getElementById('next').textContent.includes('{code}')")
    press(counter, "n")  # call next
    counter.wait_for_function(f"document.getElementById('current-code').textContent === '{code}'")
    counter.screenshot(path=str(ARTIFACTS / "flow-2-counter.png"))

    # the display shows it and starts announcing it
    display.wait_for_function(f"document.getElementById('latest-code').textContent === '{code}'")
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
        f"document.getElementById('next').textContent.includes('{first['code']}')"
    )
    press(counter, "n")
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{first['code']}'"
    )
    press(counter, "s")  # start serving
    counter.wait_for_function(
        "document.getElementById('current-code').dataset.status === 'serving'"
    )
    press(counter, "f")  # finish with a dossier code
    counter.fill("#dlg-finish input[name=dossier_code]", "H01.22-260101-0001")
    counter.keyboard.press("Enter")
    counter.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    counter.wait_for_function("document.getElementById('mine').textContent.includes('1')")
    press(counter, "p")  # pause with a reason
    counter.fill("#dlg-pause input[name=reason]", "Họp giao ban")
    counter.keyboard.press("Enter")
    display.wait_for_function(
        "document.querySelector(\"[data-counter='2']\").textContent.includes('Tạm dừng')"
    )
    # The waiting room sees that the counter is paused, never the staff's reason.
    assert "Họp giao ban" not in display.locator("[data-counter='2']").inner_text()
    display.screenshot(path=str(ARTIFACTS / "counter-paused-on-display.png"))
    press(counter, "n")  # refused while paused: the message says so
    counter.wait_for_function("document.getElementById('message').textContent.includes('tạm dừng')")
    press(counter, "p")  # resume
    display.wait_for_function(
        "!document.querySelector(\"[data-counter='2']\").textContent.includes('Tạm dừng')"
    )


def officer(server) -> dict:
    db = connect(server.db_path)
    token = accounts.add_user_token(db, "canbo1")
    db.close()
    return {"Authorization": f"Bearer {token}"}


def test_blocked_audio_shows_button_then_announces_in_turn(browser, live_server):
    """With autoplay blocked the board shows "Bật âm thanh"; after the click, calls queue."""
    server = live_server
    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    board.add_init_script(AUTOPLAY_POLICY)
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}")
    board.locator("#sound").wait_for(state="visible")
    board.screenshot(path=str(ARTIFACTS / "voice-blocked-button.png"))

    headers = officer(server)
    first, second = issue_ticket(server, service="A"), issue_ticket(server, service="C")
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=headers)
    requests.post(f"{server.url}/api/v1/counters/3/call-next", headers=headers)
    requests.post(f"{server.url}/api/v1/tickets/{first['id']}/recall", headers=headers)
    board.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{first['code']}'"
    )
    assert board.evaluate("window.xephangVoice.log.length") == 0  # nothing played yet

    board.click("#sound")
    board.locator("#sound").wait_for(state="hidden")
    board.wait_for_function("window.xephangVoice.log.length === 3", timeout=60000)
    log = board.evaluate("window.xephangVoice.log")
    assert [entry["text"].split()[-5] for entry in log] == [
        first["code"],
        second["code"],
        first["code"],
    ]  # the recall announced again
    for before, after in zip(log, log[1:], strict=False):
        assert after["at"] >= before["at"] + before["duration_ms"]  # never overlapping


def test_counter_calls_specific_transfers_and_returns(browser, live_server):
    server = live_server
    counter = open_counter(browser, server, "canbo1", 1)
    a1, a2 = issue_ticket(server, service="A"), issue_ticket(server, service="A")
    counter.wait_for_function(
        f"document.getElementById('next').textContent.includes('{a2['code']}')"
    )
    # G: call a specific ticket out of order, with a reason
    press(counter, "g")
    counter.fill("#dlg-call input[name=ticket]", a2["code"])
    counter.fill("#dlg-call input[name=reason]", "Công dân ưu tiên")
    counter.keyboard.press("Enter")
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{a2['code']}'"
    )
    # a second call-next is refused while this one is only called: the message says why
    counter.wait_for_function("document.body.dataset.busy === ''")
    counter.keyboard.press("n")  # its button is disabled: press() would wait for it
    counter.wait_for_function(
        "document.getElementById('message').classList.contains('error')"
        f" && document.getElementById('message').textContent.includes('giữ số {a2['code']}')"
    )
    # B: return it to the queue, then call next takes a1 (a2 now queues behind it)
    press(counter, "b")
    counter.fill("#dlg-return input[name=reason]", "Thiếu giấy tờ")
    counter.keyboard.press("Enter")
    counter.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    press(counter, "n")
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{a1['code']}'"
    )
    # T: transfer a1 to service C (Đất đai): a new ticket of the same visit waits there
    press(counter, "s")
    counter.wait_for_function(
        "document.getElementById('current-code').dataset.status === 'serving'"
    )
    press(counter, "t")
    counter.select_option("#dlg-transfer select[name=service]", label="C — Đất đai")
    counter.keyboard.press("Enter")
    counter.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    counter.wait_for_function(  # the next tickets and figures follow within a moment
        f"!document.getElementById('next').textContent.includes('{a1['code']}')"
        " && document.getElementById('mine').textContent.includes('Đã gọi2')"
    )
    counter.screenshot(path=str(ARTIFACTS / "counter-after-transfer.png"))
    r = requests.get(
        f"{server.url}/api/v1/offices/{server.demo['office_id']}/waiting", headers=officer(server)
    )
    waiting = {t["code"]: t for t in r.json()["tickets"]}
    assert a2["code"] in waiting and "C001" in waiting
    assert waiting["C001"]["from_ticket_id"] == a1["id"]
