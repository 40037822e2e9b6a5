"""The booking room's pages over real HTTP (Flask test client, real SQLite file): the
forms work without script, refusals are said on the page in Vietnamese and change
nothing, the confirmation has its code, QR and calendar file."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import login
from xephang import engine
from xephang.engine import booking
from xephang.engine.settings import in_section

TOMORROW = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).strftime("%Y-%m-%d")


def form_post(ctx, url, data, address="198.51.100.1"):
    return ctx.client.post(url, data=data, environ_base={"REMOTE_ADDR": address})


def test_behind_the_proxy_the_form_counts_the_address_nginx_saw(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_rate_per_hour": 1})
    services = ctx.db.execute(
        "SELECT id FROM services WHERE office_id = ? ORDER BY prefix LIMIT 2", [ctx.office]
    ).fetchall()

    def via_proxy(service, seen):
        return ctx.client.post(
            f"/booking/{ctx.office}/online",
            data={"service": service},
            headers={"X-Forwarded-For": seen},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )

    assert via_proxy(services[0][0], "203.0.113.5").status_code == 303
    assert via_proxy(services[1][0], "203.0.113.6").status_code == 303  # another citizen


def test_the_start_page_lists_services_with_their_waits(ctx):
    page = ctx.client.get(f"/booking/{ctx.office}/")
    assert page.status_code == 200
    text = page.get_data(True)
    assert "Lấy số trực tuyến" in text and "Đặt lịch hẹn" in text and "người chờ" in text
    assert ctx.client.get("/booking/9999/").status_code == 404


def test_an_online_number_from_the_form_opens_its_tracker(ctx):
    before = ctx.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    service = ctx.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'A'", [ctx.office]
    ).fetchone()[0]
    response = form_post(ctx, f"/booking/{ctx.office}/online", {"service": service})
    assert response.status_code == 303 and response.headers["Location"].startswith("/t/")
    assert ctx.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == before + 1
    tracker = ctx.client.get(response.headers["Location"])
    assert tracker.status_code == 200 and "A001" in tracker.get_data(True)


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "Thiếu dịch vụ"),
        ({"service": "999999"}, "Không có dịch vụ"),
        ({"service": "A", "citizen_id": "123"}, "Số CCCD phải gồm đúng 12 chữ số"),
        ({"service": "A", "citizen_id": "001203004567"}, "Cần đánh dấu đồng ý"),
    ],
)
def test_a_refused_online_form_says_why_and_changes_nothing(ctx, data, message):
    engine.set_office_settings(ctx.db, ctx.office, {"online_identity": "cccd"})
    before = ctx.dump()
    response = form_post(ctx, f"/booking/{ctx.office}/online", data)
    assert response.status_code in (400, 404)
    text = response.get_data(True)
    assert message in text and 'id="error"' in text
    assert "001203004567" not in text or 'value="001203004567"' in text
    assert ctx.dump() == before


def book_via_form(ctx, extra=None):
    service = ctx.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'B'", [ctx.office]
    ).fetchone()[0]
    steps = ctx.client.get(f"/booking/{ctx.office}/appointment?service={service}&day={TOMORROW}")
    slot = re.search(r'name="slot" value="([^"]+)"', steps.get_data(True)).group(1)
    data = {"service": service, "slot": slot, **(extra or {})}
    return form_post(ctx, f"/booking/{ctx.office}/appointment", data), slot


def test_booking_through_the_steps_shows_the_confirmation(ctx):
    response, slot = book_via_form(ctx)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/booking/b/")
    page = ctx.client.get(location)
    text = page.get_data(True)
    code = re.search(r'id="code">([A-Z0-9]{6})<', text).group(1)
    assert "Mã lịch hẹn" in text and slot[11:16] in text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    qr = ctx.client.get(location + "/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    ics = ctx.client.get(location + "/calendar.ics")
    body = ics.get_data(True)
    assert ics.mimetype == "text/calendar" and "BEGIN:VEVENT" in body and code in body
    start = datetime.fromisoformat(slot).astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_a_booking_is_cancelled_from_its_page_and_frees_its_place(ctx):
    response, slot = book_via_form(ctx)
    location = response.headers["Location"]
    cancelled = ctx.client.post(location + "/cancel")
    assert cancelled.status_code == 303
    assert "Đã hủy" in ctx.client.get(location).get_data(True)
    again = ctx.client.post(location + "/cancel")
    assert again.status_code == 409 and "không thể hủy" in again.get_data(True)
    assert ctx.client.get("/booking/b/not-a-real-token-at-all").status_code == 404


def test_a_full_slot_is_said_on_the_form(ctx):
    service = ctx.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'B'", [ctx.office]
    ).fetchone()[0]
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
        datetime.fromisoformat(TOMORROW).weekday()
    ]
    booking.set_slot_capacity(ctx.db, ctx.office, "B", weekday, "10:00", 0)
    before = ctx.dump()
    response = form_post(
        ctx,
        f"/booking/{ctx.office}/appointment",
        {"service": service, "slot": f"{TOMORROW}T10:00"},
    )
    assert response.status_code == 409 and "đã hết chỗ" in response.get_data(True)
    assert ctx.dump() == before


def test_the_manager_sets_slots_and_sees_the_days_bookings(ctx):
    client = ctx.app.test_client()
    csrf = login(client, "quanly")
    service = ctx.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'B'", [ctx.office]
    ).fetchone()[0]
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
        datetime.fromisoformat(TOMORROW).weekday()
    ]
    saved = client.post(
        "/manager/setup/booking",
        data={"csrf_token": csrf, "action": "slot", "service": service, "weekday": weekday,
              "starts": "10:00, 10:30", "capacity": "1"},
    )  # fmt: skip
    assert saved.status_code == 302
    page = client.get("/manager/setup/booking").get_data(True)
    assert "10:30" in page and "online_identity" in page
    bad = client.post(
        "/manager/setup/booking",
        data={"csrf_token": csrf, "action": "slot", "service": service, "weekday": weekday,
              "starts": "25:00", "capacity": "1"},
    )  # fmt: skip
    assert bad.status_code == 400 and "HH:MM" in bad.get_data(True)
    values = {s.name: str(s.default).lower() for s in in_section("booking")}
    refused = client.post(
        "/manager/setup/booking", data={"csrf_token": csrf, **values, "online_share": "2"}
    )
    assert refused.status_code == 400 and "phải từ 0 đến 1" in refused.get_data(True)
    saved = client.post(
        "/manager/setup/booking", data={"csrf_token": csrf, **values, "online_cap_per_person": "3"}
    )
    assert saved.status_code == 302
    assert engine.office_setting(ctx.db, ctx.office, "online_cap_per_person") == 3
    form_post(ctx, f"/booking/{ctx.office}/appointment", {"service": service,
              "slot": f"{TOMORROW}T10:00"})  # fmt: skip
    full = form_post(
        ctx, f"/booking/{ctx.office}/appointment", {"service": service, "slot": f"{TOMORROW}T10:00"}
    )
    assert full.status_code == 409
    listed = client.get(f"/manager/bookings?day={TOMORROW}").get_data(True)
    assert "10:00" in listed and "Đã đặt: <b>1</b>" in listed
    assert client.get("/manager/bookings?day=soon").status_code == 400
    # the CHECK7 booking of today is listed on today's page
    assert "CHECK7" in client.get("/manager/bookings").get_data(True)


def test_the_dashboard_counts_todays_bookings(ctx):
    client = ctx.app.test_client()
    login(client, "quanly")
    data = client.get("/manager/dashboard.json").get_json()
    assert data["bookings"]["booked"] == 1 and data["bookings"]["late"] == 1  # CHECK7
    kiosk = {"Authorization": f"Bearer {ctx.tokens['kiosk']}"}
    assert (
        ctx.client.post("/api/v1/checkins", json={"text": "CHECK7"}, headers=kiosk).status_code
        == 201
    )
    data = client.get("/manager/dashboard.json").get_json()
    assert data["bookings"] == {**data["bookings"], "booked": 0, "checked_in": 1, "late": 0}
    assert 'id="bookings-today"' in client.get("/manager/").get_data(True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.xephang.test"},
    ],
)
def test_another_site_cannot_take_numbers_or_book_with_its_visitors_browsers(ctx, headers):
    before = ctx.dump()
    for url, body in (
        (f"/booking/{ctx.office}/online", {"service": "A"}),
        (f"/booking/{ctx.office}/appointment", {"service": "A", "slot": f"{TOMORROW}T10:00"}),
        (f"/api/v1/offices/{ctx.office}/online-tickets", {"service": "A"}),
    ):
        response = ctx.client.post(url, data=body, headers=headers)
        assert response.status_code == 403, url
    assert ctx.dump() == before
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}
    assert (
        ctx.client.post(
            f"/api/v1/offices/{ctx.office}/online-tickets", json={"service": "A"}, headers=same
        ).status_code
        == 201
    )
