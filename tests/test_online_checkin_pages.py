"""An online number that must check in (``online_checkin``) over HTTP, on a real SQLite
file through the Flask test client: the booking page and the tracker say so until it has,
the kiosk and the counter's API check it in, refusals are JSON in Vietnamese and change
nothing, and another office's number answers as missing."""

from __future__ import annotations

from tests.helpers import login, pair_kiosk
from xephang import engine
from xephang.engine import checkin
from xephang.engine.settings import in_section

# --- over HTTP: the booking page, the tracker, the kiosk, the counter's API ----------------


def take_over_http(ctx, service="A") -> dict:
    r = ctx.client.post(
        f"/api/v1/offices/{ctx.office}/online-tickets",
        json={"service": service},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["ticket"]


def test_the_pages_tell_the_citizen_to_check_in_until_they_have(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_checkin": True})
    page = ctx.client.get(f"/booking/{ctx.office}/online").get_data(True)
    assert 'id="checkin-needed"' in page
    assert "chỉ được gọi sau khi bạn xác nhận có mặt tại kiosk" in page
    assert "called only once you have checked in at the kiosk" in page
    availability = ctx.client.get(f"/api/v1/offices/{ctx.office}/availability").get_json()
    assert availability["availability"]["online"]["checkin"] is True

    ticket = take_over_http(ctx)
    assert ticket["awaiting_checkin"] is True
    tracker = ticket["tracker_url"].replace("http://xephang.test", "")
    shown = ctx.client.get(tracker).get_data(True)
    assert "Đang chờ — chưa xác nhận có mặt" in shown
    assert "Khi đến văn phòng, vui lòng xác nhận có mặt tại kiosk" in shown
    assert "When you arrive, please check in at the kiosk" in shown
    assert f"{tracker}/qr.svg" in shown and 'id="checkin" class="tr-checkin">' in shown
    code = checkin.checkin_code(ticket["code"], tracker.rsplit("/", 1)[1])
    assert f'<b class="tr-checkin-code">{code}</b>' in shown  # what the kiosk takes typed
    state = ctx.client.get(tracker + ".json").get_json()
    assert state["message_vi"] == "Đang chờ — chưa xác nhận có mặt"

    officer = {"Authorization": f"Bearer {ctx.tokens['officer']}"}
    r = ctx.client.post("/api/v1/checkins", json={"text": ticket["code"]}, headers=officer)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["kind"] == "online" and body["appointment"] is None and body["on_time"] is None
    assert body["ticket"]["id"] == ticket["id"] and body["ticket"]["awaiting_checkin"] is False
    state = ctx.client.get(tracker + ".json").get_json()
    assert state["message_vi"] == "Đang chờ" and state["ticket"]["checked_in_at"]
    assert 'id="checkin" class="tr-checkin" hidden>' in ctx.client.get(tracker).get_data(True)
    user = ctx.db.execute(
        "SELECT user_id FROM ticket_events WHERE ticket_id = ? AND type = 'checked_in'",
        [ticket["id"]],
    ).fetchone()[0]
    assert user is not None  # the officer who checked the citizen in


def test_without_the_setting_the_pages_say_nothing_of_it(ctx):
    page = ctx.client.get(f"/booking/{ctx.office}/online").get_data(True)
    assert 'id="checkin-needed"' not in page
    ticket = take_over_http(ctx)
    assert ticket["awaiting_checkin"] is False
    shown = ctx.client.get(ticket["tracker_url"].replace("http://xephang.test", "")).get_data(True)
    assert 'id="checkin" class="tr-checkin" hidden>' in shown


def test_the_api_refuses_unknown_and_foreign_codes_as_json_and_changes_nothing(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_checkin": True})
    ticket = take_over_http(ctx)
    officer = {"Authorization": f"Bearer {ctx.tokens['officer']}"}
    admin = {"Authorization": f"Bearer {ctx.tokens['admin']}"}
    before = ctx.dump()
    unknown = ctx.client.post("/api/v1/checkins", json={"text": "Z999"}, headers=officer)
    assert unknown.status_code == 404
    refused = unknown.get_json()
    assert refused["ok"] is False and refused["status"] == 404
    assert refused["error"].startswith(
        "Không tìm thấy lịch hẹn hoặc số thứ tự với mã này; vui lòng kiểm tra lại"
    )
    blank = ctx.client.post("/api/v1/checkins", json={"text": "  "}, headers=officer)
    assert blank.status_code == 400 and blank.get_json()["ok"] is False
    # (Its code typed for the other office names that office's own ticket A001, if any.)
    tracker = ticket["tracker_url"]
    foreign = ctx.client.post(
        "/api/v1/checkins",
        json={"text": tracker, "office": ctx.values["other_office"]},
        headers=admin,
    )
    assert foreign.status_code == 404
    assert ctx.dump() == before


def test_the_kiosk_checks_it_in_and_prints_its_ticket(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_checkin": True})
    ticket = take_over_http(ctx)
    client = ctx.app.test_client()
    csrf = pair_kiosk(client, ctx.tokens["kiosk"])
    start = client.get("/kiosk/").get_data(True)
    assert "Đã đặt lịch hẹn hoặc lấy số trực tuyến? Xác nhận có mặt tại đây" in start
    screen = client.get("/kiosk/checkin").get_data(True)
    assert "Xác nhận lịch hẹn hoặc số trực tuyến" in screen
    headers = {"Accept": "application/json", "X-CSRF-Token": csrf}
    bare = client.post("/kiosk/api/checkins", json={"text": ticket["code"]}, headers=headers)
    assert bare.status_code == 400  # a number anyone could read off the board: not enough
    assert bare.get_json()["vi"].startswith(f"Số {ticket['code']} cần mã xác nhận")
    assert engine.get_ticket(ctx.db, ticket["id"])["awaiting_checkin"] == 1
    r = client.post("/kiosk/api/checkins", json={"text": ticket["tracker_url"]}, headers=headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["kind"] == "online" and body["appointment"] is None
    assert body["ticket"]["code"] == ticket["code"] and "print" in body  # (no printer here)
    again = client.post("/kiosk/api/checkins", json={"text": ticket["code"]}, headers=headers)
    assert again.status_code == 409
    assert (
        again.get_json()["vi"]
        == f"Số {ticket['code']} đã được xác nhận có mặt, vui lòng chờ gọi số"
    )


def test_the_manager_turns_it_on_in_the_booking_setup_form(ctx):
    client = ctx.app.test_client()
    csrf = login(client, "quanly")
    page = client.get("/manager/setup/booking").get_data(True)
    assert 'name="online_checkin"' in page
    assert "Số trực tuyến phải xác nhận có mặt tại kiosk mới được gọi" in page
    values = {s.name: str(s.default).lower() for s in in_section("booking") if s.type != "bool"}
    values.update({s.name: "1" for s in in_section("booking") if s.type == "bool" and s.default})
    values["online_close_before_min"] = "0"  # the number below is taken at the wall clock
    saved = client.post(
        "/manager/setup/booking", data={"csrf_token": csrf, **values, "online_checkin": "1"}
    )
    assert saved.status_code == 302
    assert engine.office_setting(ctx.db, ctx.office, "online_checkin") is True
    assert take_over_http(ctx)["awaiting_checkin"] is True


def test_the_kiosk_counts_wrong_digits_across_requests_and_then_refuses_them(ctx):
    """Each wrong try is its own request, answered as an unknown code; the count survives
    the request's rolled-back check-in, and the kiosk then says (429, in Vietnamese) to
    scan the tracker page's QR instead, which still checks the number in."""
    engine.set_office_settings(ctx.db, ctx.office, {"online_checkin": True})
    ticket = take_over_http(ctx)
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    right = checkin.checkin_code(ticket["code"], token)
    wrong = f"{ticket['code']} {(int(right[-4:]) + 1) % 10000:04d}"
    client = ctx.app.test_client()
    headers = {
        "Accept": "application/json",
        "X-CSRF-Token": pair_kiosk(client, ctx.tokens["kiosk"]),
    }
    for _ in range(checkin.FAILURES_PER_NUMBER):
        r = client.post("/kiosk/api/checkins", json={"text": wrong}, headers=headers)
        assert r.status_code == 404 and r.get_json()["vi"].startswith("Không tìm thấy")
    refused = client.post("/kiosk/api/checkins", json={"text": right}, headers=headers)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["ok"] is False and "quét mã QR trên trang theo dõi lượt" in body["vi"]
    assert "Scan the QR code on the tracking page" in body["en"]
    assert engine.get_ticket(ctx.db, ticket["id"])["awaiting_checkin"] == 1
    api = ctx.client.post(  # the same rule through the API, for a kiosk's bearer token
        "/api/v1/checkins",
        json={"text": right},
        headers={"Authorization": f"Bearer {ctx.tokens['kiosk']}"},
    )
    assert api.status_code == 429 and api.get_json()["code"] == "rate_limited"
    scanned = client.post(
        "/kiosk/api/checkins", json={"text": ticket["tracker_url"]}, headers=headers
    )
    assert scanned.status_code == 201, scanned.get_json()
