"""The counter's rating tablet in a real Chromium, next to the officer's counter screen: it
follows the counter live, asks for the rating when the officer finishes, sends it once with
its attributes and comment, thanks and resets; the dossier code scanned at the counter is on
the rating; a rating on the phone first makes the tablet stand down."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import ARTIFACTS, issue_ticket, open_counter, open_paired, press
from xephang.storage import connect

pytestmark = pytest.mark.e2e
CODE = "000.00.12.H40-260302-0042"


def open_tablet(browser, server):
    tablet = browser.new_page(viewport={"width": 1280, "height": 800})
    open_paired(tablet, f"{server.url}/counter/rating/pair?token={server.demo['rating_token']}")
    assert tablet.url == f"{server.url}/counter/rating/"
    tablet.locator("#conn[data-status=online]").wait_for()
    return tablet


def mode(page, wanted: str) -> None:
    page.wait_for_function(f"window.xephangTablet.mode() === '{wanted}'")


def test_the_tablet_follows_the_counter_and_rates_what_it_finished(browser, live_server):
    server = live_server
    tablet = open_tablet(browser, server)
    counter = open_counter(browser, server, "canbo1", 1)
    tablet.wait_for_function("document.getElementById('officer').textContent === 'Cán bộ quầy 1'")
    ticket = issue_ticket(server, service="A")
    counter.wait_for_function(
        f"document.getElementById('next').textContent.includes('{ticket['code']}')"
    )
    press(counter, "n")
    tablet.wait_for_function(f"document.getElementById('code').textContent === '{ticket['code']}'")
    tablet.screenshot(path=str(ARTIFACTS / "tablet-1-serving.png"))
    press(counter, "s")
    counter.wait_for_function(
        "document.getElementById('current-code').dataset.status === 'serving'"
    )
    # The officer scans the receipt's code: M, then the scanner types it and presses Enter.
    press(counter, "m")
    counter.keyboard.type(CODE, delay=2)
    counter.keyboard.press("Enter")
    counter.wait_for_function(
        "document.getElementById('dossier-for').textContent.includes('Đã ghi mã hồ sơ')"
    )
    counter.screenshot(path=str(ARTIFACTS / "counter-dossier-scanned.png"))
    press(counter, "f")
    counter.keyboard.press("Enter")  # finish; the dialog's empty code keeps the scanned one
    counter.wait_for_function("document.getElementById('current-code').classList.contains('empty')")

    mode(tablet, "ask")
    assert tablet.text_content("#ask-code") == ticket["code"]
    tablet.screenshot(path=str(ARTIFACTS / "tablet-2-ask.png"))
    tablet.click(".rt-level[data-level='2']")
    tablet.click(".rt-attr[data-key='on_time'] [data-answer='1']")
    tablet.click(".rt-attr[data-key='attitude'] [data-answer='0']")
    tablet.fill("#comment", "Hướng dẫn kỹ, nhưng chờ hơi lâu")
    tablet.screenshot(path=str(ARTIFACTS / "tablet-3-chosen.png"))
    with tablet.expect_response(lambda r: "/counter/rating/api/ratings" in r.url) as sent:
        tablet.click("#send")
    assert sent.value.status == 201
    mode(tablet, "thanks")
    tablet.screenshot(path=str(ARTIFACTS / "tablet-4-thanks.png"))
    mode(tablet, "idle")

    db = connect(server.db_path)
    row = db.execute(
        "SELECT channel, level, attributes, comment, dossier_code, counter_id FROM ratings"
        " WHERE ticket_id = ?",
        [ticket["id"]],
    ).fetchone()
    db.close()
    assert row[:2] == ("tablet", 2) and json.loads(row[2]) == {"attitude": False, "on_time": True}
    assert row[3:5] == ("Hướng dẫn kỹ, nhưng chờ hơi lâu", CODE)
    tracker = requests.get(ticket["tracker_url"] + ".json", timeout=10).json()
    assert tracker["rating"] == {**tracker["rating"], "allowed": False, "level": 2}


def test_a_rating_on_the_phone_first_makes_the_tablet_stand_down(browser, live_server):
    server = live_server
    tablet = open_tablet(browser, server)
    ticket = issue_ticket(server, service="A")
    headers = server.officer
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=headers, timeout=10)
    requests.post(f"{server.url}/api/v1/tickets/{ticket['id']}/start", headers=headers, timeout=10)
    requests.post(f"{server.url}/api/v1/tickets/{ticket['id']}/finish", headers=headers, timeout=10)
    mode(tablet, "ask")
    rated = requests.post(ticket["tracker_url"] + "/rating", json={"level": 3}, timeout=10)
    assert rated.status_code == 201
    mode(tablet, "idle")  # nothing left to ask: one rating per visit


def test_a_chosen_level_is_sent_when_the_citizen_walks_away(browser, start_demo_server):
    server = start_demo_server(env={"XEPHANG_RATING_TABLET_RESET_S": "1"})
    tablet = open_tablet(browser, server)
    ticket = issue_ticket(server, service="A")
    headers = server.officer
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=headers, timeout=10)
    requests.post(f"{server.url}/api/v1/tickets/{ticket['id']}/start", headers=headers, timeout=10)
    requests.post(f"{server.url}/api/v1/tickets/{ticket['id']}/finish", headers=headers, timeout=10)
    mode(tablet, "ask")
    with tablet.expect_response(lambda r: "/counter/rating/api/ratings" in r.url) as sent:
        tablet.click(".rt-level[data-level='1']")  # then nothing more
    assert sent.value.status == 201
    mode(tablet, "thanks")
    db = connect(server.db_path)
    assert db.execute("SELECT level FROM ratings").fetchall() == [(1,)]
    db.close()
