"""The counter's rating tablet over HTTP and Socket.IO: pairing to a counter, what it may
hear and show, rating once per visit with the tracker page, the dossier code the counter
screen records; the setup pages that pair and move it."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import Bad, Case, confirm_pairing, login
from xephang import engine
from xephang.engine import accounts
from xephang.web.extensions import socketio

CODE = "000.00.12.H40-260302-0001"

API_CASES = [
    Case(
        "POST",
        "/api/v1/tickets/<int:ticket_id>/dossier-code",
        "/api/v1/tickets/{ticket}/dossier-code",
        "officer",
        state="serving",
        json={"dossier_code": CODE},
        denied="kiosk",
        check=lambda b, c: (
            b["ticket"]["dossier_code"] == CODE and b["ticket"]["status"] == "serving"
        ),
        bad=[
            Bad(409, state="waiting"),
            Bad(409, state="called"),
            Bad(400, json={}),
            Bad(400, json={"dossier_code": "   "}),
            Bad(400, json={"dossier_code": "x" * 600}),
            Bad(400, json={"code": CODE}),
            Bad(404, url="/api/v1/tickets/999999/dossier-code"),
            Bad(404, url="/api/v1/tickets/{other_ticket}/dossier-code"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/tickets/<int:ticket_id>/dossier-code",
        "/api/v1/tickets/{ticket}/dossier-code",
        "officer",
        state="done",
        json={"dossier_code": CODE},
        check=lambda b, c: b["ticket"]["dossier_code"] == CODE and b["ticket"]["status"] == "done",
    ),
]


def csrf_of(page) -> str:
    return re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()


@pytest.fixture
def tablet(app, demo):
    """A browser paired as counter 1's rating tablet (the demo's): ``.client``, ``.csrf``."""
    browser = app.test_client()
    assert confirm_pairing(browser, "counter/rating", demo["rating_token"]).status_code == 302
    page = browser.get("/counter/rating/")
    assert page.status_code == 200
    browser.csrf = csrf_of(page)
    browser.page = page.get_data(as_text=True)
    return browser


def served(client, tokens, counter=1, service="A", dossier=None) -> dict:
    """A ticket issued at the kiosk, called, started and finished at a counter over the API."""
    officer = tokens["officer"]
    ticket = client.post("/api/v1/tickets", json={"service": service}, headers=tokens["kiosk"])
    ticket = ticket.json["ticket"]
    called = client.post(
        f"/api/v1/counters/{counter}/call",
        json={"ticket": ticket["id"], "reason": "t"},
        headers=officer,
    )
    assert called.status_code == 200, called.json
    client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=officer)
    body = {"dossier_code": dossier} if dossier else {}
    done = client.post(f"/api/v1/tickets/{ticket['id']}/finish", json=body, headers=officer)
    assert done.status_code == 200, done.json
    return {**done.json["ticket"], "token": ticket["tracker_url"].rsplit("/", 1)[1]}


def rate(tablet, ticket_id, level=3, **extra):
    return tablet.post(
        "/counter/rating/api/ratings",
        json={"ticket": ticket_id, "level": level, **extra},
        headers={"X-CSRF-Token": tablet.csrf, "Accept": "application/json"},
    )


# --- pairing --------------------------------------------------------------------------------


def test_a_manager_pairs_a_tablet_to_a_counter_and_moves_it(app, client, db, demo):
    csrf = login(client, "quanly")
    page = client.get("/manager/setup/devices").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    counter_3 = db.execute("SELECT id FROM counters WHERE number = 3").fetchone()[0]
    answer = client.post(
        "/manager/setup/devices",
        data={
            "csrf_token": csrf,
            "nonce": nonce,
            "kind": "rating",
            "name": "Máy đánh giá quầy 3",
            "counter_id": str(counter_3),
        },
    )
    text = answer.get_data(as_text=True)
    link = re.search(r'id="pair-link">([^<]+)<', text).group(1)
    assert "/counter/rating/pair?token=xd_" in link
    browser = app.test_client()
    shown = browser.get(link.replace("http://xephang.test", ""))
    assert "máy đánh giá tại quầy" in shown.get_data(as_text=True)
    assert "Quầy số 3" in shown.get_data(as_text=True)
    token = link.rsplit("=", 1)[1]
    assert confirm_pairing(browser, "counter/rating", token).status_code == 302
    assert 'Quầy số <b id="counter-number">3</b>' in browser.get("/counter/rating/").get_data(
        as_text=True
    )
    device = db.execute("SELECT id FROM devices WHERE name = 'Máy đánh giá quầy 3'").fetchone()[0]
    counter_4 = db.execute("SELECT id FROM counters WHERE number = 4").fetchone()[0]
    moved = client.post(
        f"/manager/setup/devices/{device}",
        data={"csrf_token": csrf, "name": "Máy quầy 4", "counter_id": str(counter_4)},
    )
    assert moved.status_code == 302
    assert 'counter-number">4<' in browser.get("/counter/rating/").get_data(as_text=True)


def test_a_rating_tablet_needs_a_counter_to_pair(client, db, demo):
    csrf = login(client, "quanly")
    page = client.get("/manager/setup/devices").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    before = db.execute("SELECT count(*) FROM devices").fetchone()[0]
    refused = client.post(
        "/manager/setup/devices",
        data={
            "csrf_token": csrf,
            "nonce": nonce,
            "kind": "rating",
            "name": "Máy",
            "counter_id": "",
        },
    )
    assert refused.status_code == 400 and "gắn với một quầy" in refused.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM devices").fetchone()[0] == before


def test_tokens_of_other_kinds_pair_no_tablet_and_a_tablet_token_no_kiosk(app, demo):
    browser = app.test_client()
    assert browser.get(f"/counter/rating/pair?token={demo['kiosk_token']}").status_code == 403
    assert browser.get(f"/kiosk/pair?token={demo['rating_token']}").status_code == 403
    assert browser.get(f"/display/pair?token={demo['rating_token']}").status_code == 403
    unpaired = browser.get("/counter/rating/")
    assert unpaired.status_code == 403 and "chưa được ghép nối" in unpaired.get_data(as_text=True)
    assert browser.get("/counter/rating/api/state").status_code == 401


def test_the_tablet_is_not_an_officer(tablet, demo):
    assert tablet.get("/counter/").status_code == 403
    assert (
        tablet.post(
            "/api/v1/counters/1/call-next", headers={"X-CSRF-Token": tablet.csrf}
        ).status_code
        == 403
    )
    assert tablet.get("/manager/").status_code in (302, 403)


# --- what it hears and shows ---------------------------------------------------------------


def test_the_tablet_hears_its_counter_only_in_the_public_shape(app, client, tablet, tokens, demo):
    sio = socketio.test_client(app, flask_test_client=tablet)
    assert sio.is_connected()
    assert sio.emit("join", {"office": demo["office_id"]}, callback=True)["status"] == 403
    assert sio.emit("join", {"counter": 2}, callback=True)["status"] == 403
    served(client, tokens, counter=2, service="B")  # another counter: not heard
    assert sio.get_received() == []
    ticket = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"])
    ticket = ticket.json["ticket"]
    client.post("/api/v1/counters/1/call-next", headers=tokens["officer"])
    client.post(
        f"/api/v1/tickets/{ticket['id']}/return",
        json={"reason": "Thiếu giấy tờ tùy thân"},
        headers=tokens["officer"],
    )
    client.post("/api/v1/counters/1/call-next", headers=tokens["officer"])
    client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=tokens["officer"])
    client.post(
        f"/api/v1/tickets/{ticket['id']}/dossier-code",
        json={"dossier_code": CODE},
        headers=tokens["officer"],
    )
    client.post(
        f"/api/v1/tickets/{ticket['id']}/finish",
        json={"outcome": "received"},
        headers=tokens["officer"],
    )
    heard = [e["args"][0] for e in sio.get_received() if e["name"] == "queue_event"]
    assert [e["type"] for e in heard] == [
        "called",
        "returned",
        "called",
        "started",
        "dossier_set",
        "finished",
    ]
    text = json.dumps(heard, ensure_ascii=False)
    for staff_text in ("Thiếu giấy tờ", CODE, "has_dossier_code", "received", "tracker_token"):
        assert staff_text not in text
    state = sio.emit("sync", {}, callback=True)["tablet"]
    assert state["officer"] == "Cán bộ quầy 1"  # the display name, never the username
    assert "canbo1" not in json.dumps(state)
    assert state["pending"]["ticket_id"] == ticket["id"] and state["ticket"] is None


def test_the_staff_room_hears_that_a_dossier_code_was_set_not_the_code(app, client, tokens, demo):
    staff = socketio.test_client(app, auth={"token": tokens["officer"]["Authorization"][7:]})
    ticket = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"])
    ticket_id = ticket.json["ticket"]["id"]
    client.post("/api/v1/counters/1/call-next", headers=tokens["officer"])
    client.post(f"/api/v1/tickets/{ticket_id}/start", headers=tokens["officer"])
    staff.get_received()
    client.post(
        f"/api/v1/tickets/{ticket_id}/dossier-code",
        json={"dossier_code": CODE},
        headers=tokens["officer"],
    )
    got = [e["args"][0] for e in staff.get_received() if e["name"] == "queue_event"]
    assert got[0]["type"] == "dossier_set" and got[0]["details"] == {"has_dossier_code": True}
    assert CODE not in json.dumps(got)


def test_a_tablet_token_connects_and_a_revoked_or_moved_tablet_is_disconnected(app, db, demo):
    sio = socketio.test_client(app, auth={"token": demo["rating_token"]})
    assert sio.is_connected()
    device = db.execute("SELECT id FROM devices WHERE kind = 'rating'").fetchone()[0]
    counter_2 = db.execute("SELECT id FROM counters WHERE number = 2").fetchone()[0]
    accounts.rename_device(db, device, "Máy quầy 2", counter_id=counter_2)
    from xephang.web.revocations import apply_revocations

    with app.app_context():
        assert apply_revocations() == 1  # it reconnects, to counter 2's room
    again = socketio.test_client(app, auth={"token": demo["rating_token"]})
    assert again.emit("sync", {}, callback=True)["tablet"]["counter"]["number"] == 2
    accounts.revoke_device(db, device)
    with app.app_context():
        apply_revocations()
    assert not again.is_connected()
    assert not socketio.test_client(app, auth={"token": demo["rating_token"]}).is_connected()


# --- rating ---------------------------------------------------------------------------------


def test_rating_at_the_tablet_once_per_visit_with_the_tracker(app, client, db, tablet, tokens):
    ticket = served(client, tokens, dossier=CODE)
    answer = rate(tablet, ticket["id"], 1, attributes={"on_time": False}, comment="Chờ hơi lâu")
    assert answer.status_code == 201, answer.json
    assert answer.json["tablet"]["pending"] is None
    row = db.execute(
        "SELECT channel, dossier_code, level, attributes, comment FROM ratings WHERE ticket_id = ?",
        [ticket["id"]],
    ).fetchone()
    assert row == ("tablet", CODE, 1, '{"on_time": false}', "Chờ hơi lâu")
    tracker = client.get(f"/t/{ticket['token']}.json").json
    assert tracker["rating"]["allowed"] is False and tracker["rating"]["level"] == 1
    again = client.post(f"/t/{ticket['token']}/rating", json={"level": 3})
    assert again.status_code == 409
    assert rate(tablet, ticket["id"], 3).status_code == 409


def test_the_tracker_first_then_the_tablet_is_refused(client, tablet, tokens):
    ticket = served(client, tokens)
    assert client.post(f"/t/{ticket['token']}/rating", json={"level": 2}).status_code == 201
    refused = rate(tablet, ticket["id"])
    assert refused.status_code == 409 and "đã được đánh giá" in refused.json["error"]


def test_the_tablet_rates_only_what_its_counter_just_finished(client, db, tablet, tokens):
    other_counter = served(client, tokens, counter=2, service="B")
    assert rate(tablet, other_counter["id"]).status_code == 404
    office = engine.create_office(db, "Xã khác")
    engine.add_counter(db, office, 1, [engine.add_service(db, office, "A", "Hộ tịch")])
    foreign = engine.issue_ticket(db, office, "A", check_hours=False).ticket["id"]
    assert rate(tablet, foreign).status_code == 404
    waiting = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"])
    assert rate(tablet, waiting.json["ticket"]["id"]).status_code == 404  # no counter yet
    assert rate(tablet, 999999).status_code == 404
    ticket = served(client, tokens)
    db.execute(
        "UPDATE tickets SET finished_at = '2020-01-01T00:00:00+00:00' WHERE id = ?",
        [ticket["id"]],
    )
    late = rate(tablet, ticket["id"])
    assert late.status_code == 409 and "hết thời gian" in late.json["error"]
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 400),
        ({"ticket": 1}, 400),
        ({"ticket": 1, "level": 3, "attributes": {"on_time": "yes"}}, 400),
        ({"ticket": 1, "level": 3, "attributes": ["on_time"]}, 400),
        ({"ticket": 1, "level": 3, "attributes": {"nope": True}}, 400),
        ({"ticket": 1, "level": 7}, 400),
        ({"ticket": 1, "level": 3, "comment": "x" * 1001}, 400),
        ({"ticket": 1, "level": 3, "extra": 1}, 400),
    ],
)
def test_odd_tablet_ratings_are_refused(client, db, tablet, tokens, body, status):
    ticket = served(client, tokens)
    body = {**body, "ticket": ticket["id"]} if "ticket" in body else body
    answer = tablet.post(
        "/counter/rating/api/ratings",
        json=body,
        headers={"X-CSRF-Token": tablet.csrf, "Accept": "application/json"},
    )
    assert answer.status_code == status and answer.json["ok"] is False
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0


def test_a_tablet_rating_needs_the_pages_csrf_token(client, db, tablet, tokens):
    ticket = served(client, tokens)
    refused = tablet.post("/counter/rating/api/ratings", json={"ticket": ticket["id"], "level": 3})
    assert refused.status_code == 403
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0


def test_the_tablet_state_over_http_records_it_as_seen(client, db, tablet, tokens):
    ticket = served(client, tokens)
    state = tablet.get("/counter/rating/api/state").json["tablet"]
    assert state["pending"]["code"] == ticket["code"]
    seen = db.execute("SELECT last_seen_at FROM devices WHERE kind = 'rating'").fetchone()[0]
    assert seen is not None


# --- setup: the attributes the tablet asks -------------------------------------------------


def test_the_settings_page_edits_the_rating_attributes(client, db, demo):
    csrf = login(client, "quanly")
    page = client.get("/manager/setup/settings").get_data(as_text=True)
    assert "on_time | Đúng hẹn | Trễ hẹn | On time | Late" in page
    fields = {
        name: json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)
        for name, value in engine.office_settings(db, demo["office_id"]).items()
    }
    fields.update(rating_attributes="speed | Nhanh | Chậm | Fast | Slow", csrf_token=csrf)
    assert client.post("/manager/setup/settings", data=fields).status_code == 302
    assert engine.office_setting(db, demo["office_id"], "rating_attributes") == [
        {"key": "speed", "good_vi": "Nhanh", "bad_vi": "Chậm", "good_en": "Fast", "bad_en": "Slow"}
    ]
    fields["rating_attributes"] = "Speed | Nhanh"
    refused = client.post("/manager/setup/settings", data=fields)
    assert refused.status_code == 400
