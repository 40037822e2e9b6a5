"""The ticket tracker /t/<token>: status and place in queue as the ticket moves, and rating."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import login
from xephang import engine

JSON = {"Accept": "application/json"}


@pytest.fixture
def issued(client, tokens):
    """Issue three tickets of service A through the API; return their tracker tokens."""

    def issue(service="A"):
        r = client.post("/api/v1/tickets", json={"service": service}, headers=tokens["kiosk"])
        assert r.status_code == 201
        return r.json["ticket"]["tracker_url"].rsplit("/t/", 1)[1]

    return issue


def state(client, token):
    r = client.get(f"/t/{token}.json")
    assert r.status_code == 200
    return r.json


def call(client, tokens, counter=1):
    return client.post(f"/api/v1/counters/{counter}/call-next", headers=tokens["officer"]).json


def act(client, tokens, ticket_id, action, **body):
    r = client.post(f"/api/v1/tickets/{ticket_id}/{action}", json=body, headers=tokens["officer"])
    assert r.status_code == 200, r.json
    return r.json


def test_position_and_status_change_as_tickets_are_called(client, tokens, issued, db):
    engine.open_counter(db, 1)
    first, second, third = issued(), issued(), issued()
    s = state(client, third)
    assert s["ticket"]["code"] == "A003" and s["people_ahead"] == 2
    assert s["message_vi"] == "Đang chờ" and s["estimated_wait_s"] > 0
    called = call(client, tokens)["ticket"]
    assert called["code"] == "A001"
    assert state(client, third)["people_ahead"] == 1
    assert state(client, first)["message_vi"] == "Mời đến quầy 1"
    assert state(client, first)["message_en"] == "Please go to counter 1"
    act(client, tokens, called["id"], "start")
    assert state(client, first)["message_vi"] == "Đang được phục vụ tại quầy 1"
    act(client, tokens, called["id"], "finish")
    assert state(client, first)["message_vi"] == "Đã phục vụ xong"
    assert call(client, tokens)["ticket"]["code"] == "A002"
    s = state(client, second)
    assert s["ticket"]["status"] == "called" and s["people_ahead"] is None
    assert state(client, third)["people_ahead"] == 0


def test_the_page_shows_the_live_state_and_loads_everything_from_the_app(client, issued):
    token = issued()
    page = client.get(f"/t/{token}")
    assert page.status_code == 200
    html = page.data.decode()
    assert "A001" in html and "Đang chờ" in html and "Hộ tịch" in html
    assert 'id="rating"' in html and "tracker.js" in html
    # nothing loaded from elsewhere (a check of the page's text for "cdn" failed when a
    # random token in it happened to spell it)
    loaded = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)""", html)
    assert loaded and not [u for u in loaded if u.startswith(("http:", "https:", "//"))]
    assert client.get("/kiosk/static/kiosk/tracker.js").status_code == 200


def test_a_transfer_makes_the_tracker_follow_the_new_ticket(client, tokens, issued):
    token = issued("A")
    called = call(client, tokens)["ticket"]
    moved = act(client, tokens, called["id"], "transfer", service="C")["ticket"]
    s = state(client, token)
    assert s["ticket"]["id"] == moved["id"] and s["ticket"]["code"].startswith("C")
    assert [v["code"] for v in s["visit"]] == ["A001", moved["code"]]
    assert s["message_vi"] == "Đang chờ"


def test_rating_only_after_service_and_only_once(client, tokens, issued, db):
    token = issued()
    r = client.post(f"/t/{token}/rating", json={"level": 3}, headers=JSON)
    assert r.status_code == 409 and "sau khi được phục vụ xong" in r.json["error"]
    called = call(client, tokens)["ticket"]
    assert state(client, token)["rating"]["allowed"] is False
    act(client, tokens, called["id"], "start")
    act(client, tokens, called["id"], "finish")
    s = state(client, token)
    assert s["message_vi"] == "Đã phục vụ xong" and s["rating"]["allowed"] is True
    assert [lv["vi"] for lv in s["rating"]["scale"]] == [
        "Rất hài lòng",
        "Hài lòng",
        "Không hài lòng",
    ]
    r = client.post(
        f"/t/{token}/rating", json={"level": 3, "comment": "Cán bộ nhiệt tình"}, headers=JSON
    )
    assert r.status_code == 201 and r.json["rating"] == {
        **s["rating"],
        "allowed": False,
        "level": 3,
    }
    again = client.post(f"/t/{token}/rating", json={"level": 1}, headers=JSON)
    assert again.status_code == 409 and "đã được đánh giá" in again.json["error"]
    rows = list(db.query("SELECT level, comment FROM ratings"))
    assert rows == [{"level": 3, "comment": "Cán bộ nhiệt tình"}]
    assert "Cảm ơn bạn đã đánh giá" in client.get(f"/t/{token}").data.decode()


@pytest.mark.parametrize("body", [{"level": 7}, {"level": "x"}, {}, {"level": 2, "comment": 5}])
def test_bad_ratings_are_refused_and_nothing_is_stored(client, tokens, issued, db, body):
    token = issued()
    called = call(client, tokens)["ticket"]
    act(client, tokens, called["id"], "start")
    act(client, tokens, called["id"], "finish")
    r = client.post(f"/t/{token}/rating", json=body, headers=JSON)
    assert r.status_code == 400
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0


def test_the_rating_form_works_without_javascript(client, tokens, issued, db):
    token = issued()
    called = call(client, tokens)["ticket"]
    act(client, tokens, called["id"], "start")
    act(client, tokens, called["id"], "finish")
    r = client.post(f"/t/{token}/rating", data={"level": "2", "comment": ""})
    assert r.status_code == 201
    assert db.execute("SELECT level FROM ratings").fetchone()[0] == 2


def test_the_tracker_asks_the_offices_questions_as_the_tablet_does(client, tokens, issued, db):
    """The office's rating attributes (Đúng hẹn / Hướng dẫn rõ ràng…) on the phone too,
    optional, stored with the rating; an unknown one is refused and nothing is stored."""
    token = issued()
    called = call(client, tokens)["ticket"]
    act(client, tokens, called["id"], "start")
    act(client, tokens, called["id"], "finish")
    s = state(client, token)
    keys = [a["key"] for a in s["rating"]["attributes"]]
    assert keys and "on_time" in keys
    page = client.get(f"/t/{token}").data.decode()
    for a in s["rating"]["attributes"]:
        assert f'data-key="{a["key"]}"' in page and a["good_vi"] in page and a["bad_vi"] in page
    bad = client.post(
        f"/t/{token}/rating", json={"level": 1, "attributes": {"nope": True}}, headers=JSON
    )
    assert bad.status_code == 400
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
    r = client.post(
        f"/t/{token}/rating", json={"level": 1, "attributes": {"on_time": False}}, headers=JSON
    )
    assert r.status_code == 201
    row = db.execute("SELECT channel, level, attributes FROM ratings").fetchone()
    assert row[0] == "tracker" and row[1] == 1 and json.loads(row[2]) == {"on_time": False}


def test_a_logged_in_staff_browser_still_needs_the_page_csrf_token(client, tokens, issued):
    token = issued()
    called = call(client, tokens)["ticket"]
    act(client, tokens, called["id"], "start")
    act(client, tokens, called["id"], "finish")
    csrf = login(client, "canbo1")
    assert client.post(f"/t/{token}/rating", json={"level": 3}, headers=JSON).status_code == 403
    r = client.post(f"/t/{token}/rating", json={"level": 3}, headers={**JSON, "X-CSRF-Token": csrf})
    assert r.status_code == 201


def test_unknown_tokens_are_a_friendly_404(client, demo):
    assert client.get("/t/nope").status_code == 404
    assert client.get("/t/nope.json").status_code == 404
    assert client.get("/t/nope/qr.svg").status_code == 404
    assert client.post("/t/nope/rating", json={"level": 3}, headers=JSON).status_code == 404
    page = client.get("/t/nope").data.decode()
    assert "Không tìm thấy" in page and "Traceback" not in page


def test_the_json_names_no_one_and_hides_the_token_of_other_tickets(client, issued):
    token = issued()
    s = state(client, token)
    assert "tracker_token" not in s["ticket"] and "dossier_code" not in s["ticket"]
    assert set(s) >= {"ticket", "people_ahead", "estimated_wait_s", "rating", "seq", "office"}
