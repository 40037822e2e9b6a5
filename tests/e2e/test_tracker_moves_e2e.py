"""The tracker counts its people ahead from ``queue_moved`` in a real Chromium, without a
fetch of its JSON state per move (1,000 trackers would mean 1,000 requests per call)."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import ARTIFACTS, seed_track_record
from xephang.engine.estimate import wait_words
from xephang.storage import connect

pytestmark = pytest.mark.e2e

PHONE_VIEWPORT = {"width": 390, "height": 844}
COUNTERS_SERVING_A = (1, 2, 6)  # demo counters 1 "AB", 2 "BA", 6 "FA"


@pytest.fixture
def server(start_demo_server, demo_file):
    """A demo server whose service A has a week's track record (its estimates are shown);
    ``officer`` is a bearer header of the demo officer."""
    path, info = demo_file
    db = connect(path)
    try:
        counter = db.execute(
            "SELECT id FROM counters WHERE office_id = ? AND number = 1", [info["office_id"]]
        ).fetchone()[0]
        seed_track_record(db, info["office_id"], "A", counter)
    finally:
        db.close()
    return start_demo_server()


def words(page) -> str:
    return page.inner_text("#wait-vi")


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
    first = requests.get(server.url + state_path, timeout=5).json()
    assert first["estimate_shown"] and first["counters_open"] == 3
    assert words(phone) == wait_words(first)["vi"] and words(phone).startswith("khoảng ")
    per_person = [first["estimated_wait_s"] / 5, *(x / 5 for x in first["estimate_range_s"])]
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
    # scaled locally: 2 people ahead at the pace the page was given (the next sync adds
    # what the busy counters still have to do)
    scaled = [round(2 * x) for x in per_person]
    local = {**first, "people_ahead": 2, "estimated_wait_s": scaled[0]}
    assert words(phone) == wait_words({**local, "estimate_range_s": scaled[1:]})["vi"]
    assert phone.inner_text("#status-vi") == "Đang chờ"
    assert len(fetches) - before <= 1, fetches  # not one fetch per move (a reconnect may sync)

    # the state agrees with what the page worked out by itself
    s = requests.get(server.url + state_path, timeout=5).json()
    assert s["people_ahead"] == 2 and s["estimated_wait_s"] >= scaled[0]
    phone.close()
