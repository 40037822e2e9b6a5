"""The tracker counts its people ahead from ``queue_moved`` in a real Chromium, without a
fetch of its JSON state per move (1,000 trackers would mean 1,000 requests per call)."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import ARTIFACTS

pytestmark = pytest.mark.e2e

PHONE_VIEWPORT = {"width": 390, "height": 844}
COUNTERS_SERVING_A = (1, 2, 6)  # demo counters 1 "AB", 2 "BA", 6 "FA"


@pytest.fixture
def server(start_demo_server):
    """A demo server; ``officer`` is a bearer header of the demo officer."""
    return start_demo_server()


def test_queue_moves_update_people_ahead_without_refetching_the_state(browser, server):
    api = server.url + "/api/v1"

    def officer(path, **body):
        r = requests.post(f"{api}/{path}", json=body, headers=server.officer, timeout=5)
        assert r.ok, r.text
        return r.json()

    for number in COUNTERS_SERVING_A:  # three counters: one call-next each, no finish needed
        officer(f"counters/{number}/open")
    ahead = [officer("tickets", service="A")["ticket"] for _ in range(5)]
    mine = officer("tickets", service="A")["ticket"]
    token = mine["tracker_url"].rsplit("/t/", 1)[1]
    state_path = f"/t/{token}.json"

    phone = browser.new_page(viewport=PHONE_VIEWPORT)
    fetches = []
    phone.on("request", lambda r: fetches.append(r.url) if state_path in r.url else None)
    # the page comes with its state; it fetches the JSON once the socket connects
    with phone.expect_response(lambda r: state_path in r.url, timeout=10000):
        phone.goto(f"{server.url}/t/{token}")
    phone.wait_for_selector("#live.on")
    assert phone.inner_text("#code") == mine["code"] == "A006"
    assert phone.inner_text("#ahead") == "5"
    assert phone.inner_text("#wait") == "~8 phút"  # 5 × 300 s / 3 open counters = 500 s
    before = len(fetches)
    assert before >= 1

    # one move at a time, each seen on the page before the next (a burst would hide
    # per-move fetches in one debounced refresh)
    for left, (number, ticket) in enumerate(zip(COUNTERS_SERVING_A, ahead, strict=False), 1):
        assert officer(f"counters/{number}/call-next")["ticket"]["id"] == ticket["id"]
        phone.wait_for_function(
            f"document.getElementById('ahead').textContent === '{5 - left}'", timeout=10000
        )
    phone.screenshot(path=str(ARTIFACTS / "tracker_moves.png"))
    assert phone.inner_text("#ahead") == "2"
    assert phone.inner_text("#wait") == "~3 phút"  # 2 × 100 s per person, scaled locally
    assert phone.inner_text("#status-vi") == "Đang chờ"
    assert len(fetches) - before <= 1, fetches  # not one fetch per move (a reconnect may sync)

    # the state agrees with what the page worked out by itself
    s = requests.get(server.url + state_path, timeout=5).json()
    assert s["people_ahead"] == 2 and s["estimated_wait_s"] == 200
    phone.close()
