"""Online numbers, appointments and check-ins over real HTTP (the Flask test client on a
real SQLite file): the API's table of cases, and what must hold end to end."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.helpers import Bad, Case, login
from xephang import engine
from xephang.web.extensions import socketio

AVAILABILITY = "/api/v1/offices/<int:office_id>/availability"
ONLINE = "/api/v1/offices/<int:office_id>/online-tickets"
BOOK = "/api/v1/offices/<int:office_id>/appointments"
OTP = "/api/v1/offices/<int:office_id>/otp"
TOMORROW_10 = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).strftime(
    "%Y-%m-%dT10:00"
)

API_CASES = [
    Case(
        "GET",
        AVAILABILITY,
        "/api/v1/offices/{office}/availability",
        "public",
        check=lambda b, c: (
            len(b["availability"]["services"]) == 6
            and b["availability"]["identity"]["mode"] == "none"
            and "slots" not in b["availability"]
        ),
        bad=[
            Bad(404, url="/api/v1/offices/9999/availability"),
            Bad(400, url="/api/v1/offices/{office}/availability?service=abc"),
        ],
    ),
    Case(
        "GET",
        AVAILABILITY,
        "/api/v1/offices/{office}/availability?service=1",
        "public",
        check=lambda b, c: isinstance(b["availability"]["slots"], dict),
    ),
    Case(
        "POST",
        ONLINE,
        "/api/v1/offices/{office}/online-tickets",
        "public",
        json={"service": "A"},
        status=201,
        check=lambda b, c: (
            b["ticket"]["channel"] == "online"
            and b["ticket"]["tracker_url"].startswith("http://xephang.test/t/")
        ),
        bad=[
            Bad(400, json={}),
            Bad(404, json={"service": "Z"}),
            Bad(400, json={"service": "A", "citizen_id": ["x"]}),
            Bad(400, json={"service": "A", "nickname": "x"}),
            Bad(404, url="/api/v1/offices/9999/online-tickets"),
            Bad(400, raw="[1]"),
        ],
    ),
    Case(
        "POST",
        BOOK,
        "/api/v1/offices/{office}/appointments",
        "public",
        json={"service": "A", "slot": TOMORROW_10},
        status=201,
        check=lambda b, c: (
            len(b["appointment"]["code"]) == 6
            and b["appointment"]["booking_url"].startswith("http://xephang.test/booking/b/")
            and b["appointment"]["slot_start"].endswith("10:00:00+07:00")
        ),
        bad=[
            Bad(400, json={"service": "A"}),
            Bad(400, json={"service": "A", "slot": "soon"}),
            Bad(409, json={"service": "A", "slot": "2001-01-01T10:00"}),
            Bad(409, json={"service": "A", "slot": TOMORROW_10[:-5] + "10:10"}),
            Bad(404, json={"service": "Z", "slot": TOMORROW_10}),
            Bad(404, url="/api/v1/offices/9999/appointments"),
        ],
    ),
    Case(
        "POST",
        OTP,
        "/api/v1/offices/{office}/otp",
        "public",
        json={"phone": "0912 345 678", "consent": True},
        state="phone_verified",
        status=201,
        check=lambda b, c: (
            len(b["otp"]["otp_id"]) >= 16
            and b["otp"]["channel"] == "sms"
            and b["otp"]["phone"].endswith("678")
            and "345" not in b["otp"]["phone"]
        ),
        bad=[
            Bad(400, json={"phone": "0912 345 678"}),
            Bad(400, json={"phone": "12345", "consent": True}),
            Bad(400, json={"consent": True}),
            Bad(400, json={"phone": "0912 345 678", "consent": True, "code": "1"}),
            Bad(404, url="/api/v1/offices/9999/otp"),
            Bad(400, raw="[1]"),
        ],
    ),
    Case(
        "POST",
        "/api/v1/checkins",
        "/api/v1/checkins",
        "kiosk",
        json={"text": "check7"},
        status=201,
        denied="display",
        check=lambda b, c: (
            b["ticket"]["channel"] == "appointment"
            and b["appointment"]["status"] == "checked_in"
            and b["on_time"] is True
            and "token" not in b["appointment"]
        ),
        bad=[
            Bad(400, json={}),
            Bad(400, json={"text": "   "}),
            Bad(404, json={"text": "NOPE99"}),
            Bad(400, json={"text": "12345|Nguyễn Văn A"}),
            Bad(404, json={"text": "check7", "office": "{other_office}"}),
            Bad(403, json={"text": "check7"}, role="admin"),  # an admin must say which office
        ],
    ),
]


def post(ctx, url, json, headers=None, address="198.51.100.1"):
    return ctx.client.post(
        url.format(office=ctx.office),
        json=json,
        headers=headers or {},
        environ_base={"REMOTE_ADDR": address},
    )


def test_caps_answer_409_in_vietnamese_and_create_nothing(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_identity": "cccd"})
    url = "/api/v1/offices/{office}/online-tickets"
    body = {"service": "A", "citizen_id": "001203004567", "consent": True}
    assert post(ctx, url, body).status_code == 201
    assert post(ctx, url, {**body, "service": "C"}).status_code == 201
    before = ctx.dump()
    third = post(ctx, url, {**body, "service": "D"})
    assert third.status_code == 409
    assert third.get_json()["code"] == "online_cap" and "tối đa 2" in third.get_json()["error"]
    assert ctx.dump() == before
    no_consent = post(ctx, url, {"service": "A", "citizen_id": "079090001234"})
    assert no_consent.status_code == 400 and no_consent.get_json()["field"] == "consent"


def test_the_address_limit_answers_429(ctx):
    engine.set_office_settings(ctx.db, ctx.office, {"online_rate_per_hour": 2})
    url = "/api/v1/offices/{office}/online-tickets"
    for service in "AB":
        assert post(ctx, url, {"service": service}, address="203.0.113.5").status_code == 201
    before = ctx.dump()
    refused = post(ctx, url, {"service": "C"}, address="203.0.113.5")
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    assert ctx.dump() == before
    assert post(ctx, url, {"service": "C"}, address="203.0.113.6").status_code == 201


def test_behind_the_proxy_the_address_limit_counts_each_citizen(ctx):
    """Through nginx every request comes from 127.0.0.1: the limit counts the address
    nginx saw, so citizens at home do not share one allowance."""
    engine.set_office_settings(ctx.db, ctx.office, {"online_rate_per_hour": 1})
    url = "/api/v1/offices/{office}/online-tickets"

    def via_proxy(service, seen):
        return ctx.client.post(
            url.format(office=ctx.office),
            json={"service": service},
            headers={"X-Forwarded-For": seen},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )

    assert via_proxy("A", "203.0.113.5").status_code == 201
    assert via_proxy("B", "203.0.113.6").status_code == 201
    assert via_proxy("C", "203.0.113.5").status_code == 429


def test_another_offices_booking_answers_as_missing(ctx):
    other = ctx.values["other_office"]
    response = ctx.client.post(
        "/api/v1/checkins",
        json={"text": "CHECK7", "office": other},
        headers={"Authorization": f"Bearer {ctx.tokens['admin']}"},
    )
    assert response.status_code == 404


def test_booked_then_checked_in_by_staff(ctx):
    booked = post(
        ctx, "/api/v1/offices/{office}/appointments", {"service": "A", "slot": TOMORROW_10}
    )
    code = booked.get_json()["appointment"]["code"]
    response = ctx.client.post(
        "/api/v1/checkins",
        json={"text": code},
        headers={"Authorization": f"Bearer {ctx.tokens['officer']}"},
    )
    assert response.status_code == 409 and "không phải hôm nay" in response.get_json()["error"]


CCCD = "001203004567"
CCCD_QR = f"{CCCD}|012345678|Trần Thị B|01011990|Nữ|Số 9 Lê Lợi, Huế|15062021"
PHONE_FORMS = ("0912345678", "912345678", "+84912345678")


def file_bytes(path) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_no_raw_cccd_or_phone_in_the_file_the_log_lines_or_any_socket(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    demo_board = ctx.db.execute(
        "SELECT board_id FROM offices WHERE id = ?", [ctx.office]
    ).fetchone()[0]
    board = socketio.test_client(ctx.app, auth={"board": demo_board})
    staff_client = ctx.app.test_client()
    login(staff_client, "quanly")
    staff = socketio.test_client(ctx.app, flask_test_client=staff_client)
    assert board.is_connected() and staff.is_connected()

    engine.set_office_settings(ctx.db, ctx.office, {"online_identity": "cccd"})
    online = "/api/v1/offices/{office}/online-tickets"
    person = {"citizen_id": CCCD, "consent": True}
    for service in "AC":
        assert post(ctx, online, {"service": service, **person}).status_code == 201
    refused = post(ctx, online, {"service": "D", **person})
    assert refused.status_code == 409  # two a day
    booked = post(
        ctx,
        "/api/v1/offices/{office}/appointments",
        {"service": "B", "slot": TOMORROW_10, **person},
    )
    assert booked.status_code == 201 and booked.get_json()["appointment"]["identity"] == "•••567"
    kiosk = {"Authorization": f"Bearer {ctx.tokens['kiosk']}"}
    wrong = ctx.client.post("/api/v1/checkins", json={"text": CCCD_QR}, headers=kiosk)
    assert wrong.status_code == 404  # booked for tomorrow, not today
    engine.set_office_settings(ctx.db, ctx.office, {"online_identity": "phone"})
    by_phone = {"service": "D", "phone": "0912 345 678", "consent": True}
    assert post(ctx, online, by_phone).status_code == 201

    received = repr(board.get_received() + staff.get_received())
    assert "booked" in received  # staff heard the booking...
    for raw in (CCCD, "Trần Thị B", "Lê Lợi", *PHONE_FORMS):
        assert raw not in received, raw  # ...but no one heard who
        assert raw not in caplog.text, raw
        assert raw.encode() not in file_bytes(ctx.path), raw
    board.disconnect()
    staff.disconnect()
