"""Boards per zone, a muted board on the dashboard, and the board's small slips: a zone
is typed once in setup (or on the public link), a display keeps to it; the dashboard
warns in words; prefixes read well on a board."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.helpers import login, pair_display
from xephang import engine
from xephang.clock import today, utcnow
from xephang.engine import accounts
from xephang.engine.setup import parse_zone, zone_text
from xephang.errors import BadInputError
from xephang.reports import live
from xephang.storage import write
from xephang.web.extensions import socketio


def ids(db, table, column, values):
    return [
        db.execute(f"SELECT id FROM {table} WHERE {column} = ?", [v]).fetchone()[0] for v in values
    ]


def display_id(db):
    return db.execute("SELECT id FROM devices WHERE kind = 'display'").fetchone()[0]


def zone_of(page: str) -> dict:
    return json.loads(re.search(r'id="board-zone" type="application/json">([^<]*)<', page)[1])


# --- zones ----------------------------------------------------------------------------


def test_a_zone_is_typed_as_prefixes_and_counter_numbers(db, demo):
    office = demo["office_id"]
    zone = parse_zone(db, office, "c, D;e", "1-3, 5")
    assert zone == {
        "services": ids(db, "services", "prefix", "CDE"),
        "counters": ids(db, "counters", "number", [1, 2, 3, 5]),
    }
    assert zone_text(db, office, zone) == {"services": "C, D, E", "counters": "1, 2, 3, 5"}
    assert parse_zone(db, office) == {"services": [], "counters": []}
    for services, counters, message in (
        ("Z", "", "Không có dịch vụ ký hiệu Z"),
        ("", "9", "Không có quầy số 9"),
        ("", "3-1", "Khoảng quầy không hợp lệ"),
        ("", "một", "Số quầy không hợp lệ"),
    ):
        with pytest.raises(BadInputError) as err:
            parse_zone(db, office, services, counters)
        assert message in err.value.message_vi


def test_a_manager_limits_a_display_to_a_zone_and_the_board_keeps_to_it(app, client, db, demo):
    csrf = login(client, "quanly")
    device = display_id(db)
    r = client.post(
        f"/manager/setup/devices/{device}",
        data={"action": "zone", "zone_services": "C", "zone_counters": "3-4", "csrf_token": csrf},
    )
    assert r.status_code == 302
    page = client.get("/manager/setup/devices").get_data(as_text=True)
    assert 'name="zone_services" value="C"' in page and 'value="3, 4"' in page
    refused = client.post(
        f"/manager/setup/devices/{device}",
        data={"action": "zone", "zone_services": "Q", "csrf_token": csrf},
    )
    assert refused.status_code == 400 and "Không có dịch vụ ký hiệu Q" in refused.get_data(True)
    audit = db.execute("SELECT details FROM setup_audit WHERE action = 'device.zone'").fetchall()
    assert len(audit) == 1
    client.post("/logout", data={"csrf_token": csrf})

    pair_display(client, demo["display_token"])
    zone = zone_of(client.get("/display/").get_data(as_text=True))
    assert zone == {
        "services": ids(db, "services", "prefix", "C"),
        "counters": ids(db, "counters", "number", [3, 4]),
    }
    board = socketio.test_client(app, flask_test_client=client)
    assert board.emit("sync", callback=True)["snapshot"]["zone"] == zone  # changes follow live


def test_only_displays_have_zones(db, demo):
    kiosk = db.execute("SELECT id FROM devices WHERE kind = 'kiosk'").fetchone()[0]
    with pytest.raises(BadInputError):
        accounts.set_device_zone(db, kiosk, {"services": [], "counters": []})
    other = engine.create_office(db, "Văn phòng khác")
    theirs = engine.add_service(db, other, "A", "Hộ tịch")
    with pytest.raises(engine.lookups.NotFoundError):
        accounts.set_device_zone(db, display_id(db), {"services": [theirs], "counters": []})


def test_the_public_board_link_takes_a_zone(client, db, demo):
    board = f"/display/board/{demo['board_id']}"
    assert zone_of(client.get(board).get_data(as_text=True)) == {"services": [], "counters": []}
    page = client.get(board + "?services=A,B&counters=1-2").get_data(as_text=True)
    assert zone_of(page) == {
        "services": ids(db, "services", "prefix", "AB"),
        "counters": ids(db, "counters", "number", [1, 2]),
    }
    assert client.get(board + "?counters=77").status_code == 400


def test_setup_builds_the_zone_link_of_the_public_board(client, db, demo):
    login(client, "quanly")
    page = client.get("/manager/setup/office?zone_services=C&zone_counters=3").get_data(True)
    link = f"http://xephang.test/display/board/{demo['board_id']}?services=C&amp;counters=3"
    assert link in page
    bad = client.get("/manager/setup/office?zone_counters=99")
    assert bad.status_code == 400 and "Không có quầy số 99" in bad.get_data(True)


# --- a muted board on the dashboard -----------------------------------------------------


def report_display(db, status: dict, seen=None):
    with write(db):
        db.execute(
            "UPDATE devices SET last_seen_at = ?, status = ? WHERE kind = 'display'",
            [(seen or utcnow()).isoformat(), json.dumps(status)],
        )


def test_a_board_whose_sound_is_blocked_is_a_warning_in_words(db, demo):
    report_display(db, {"audio": "blocked", "screen": "1920x1080"})
    data = live.dashboard(db, demo["office_id"])
    texts = [a["text"] for a in data["alerts"]]
    assert "TV phòng chờ: chưa bật âm thanh" in texts
    assert "Kiosk sảnh chính: chưa từng kết nối" in texts  # not "Kiosk Kiosk sảnh chính"
    tv = next(d for d in data["devices"] if d["kind"] == "display")
    assert tv["problem"] == "chưa bật âm thanh"
    assert tv["status_vi"] == "Chưa bật âm thanh; màn hình 1920×1080"
    report_display(db, {"audio": "on", "voice_pack": "missing"})
    texts = [a["text"] for a in live.dashboard(db, demo["office_id"])["alerts"]]
    assert "TV phòng chờ: thiếu gói giọng đọc" in texts
    report_display(db, {"audio": "on"})
    data = live.dashboard(db, demo["office_id"])
    assert not [a for a in data["alerts"] if a["text"].startswith("TV phòng chờ")]
    # a board long gone says so, not what it last heard
    report_display(db, {"audio": "blocked"}, seen=utcnow() - timedelta(minutes=30))
    texts = [a["text"] for a in live.dashboard(db, demo["office_id"])["alerts"]]
    assert "TV phòng chờ: mất kết nối 30 phút" in texts


def test_a_display_reports_its_sound_over_its_socket(app, client, db, demo):
    pair_display(client, demo["display_token"])
    board = socketio.test_client(app, flask_test_client=client)
    assert board.emit("display_status", {"audio": "blocked"}, callback=True)["ok"]
    texts = [a["text"] for a in live.dashboard(db, demo["office_id"])["alerts"]]
    assert "TV phòng chờ: chưa bật âm thanh" in texts


def test_wait_alerts_say_a_target_to_the_tenth_of_a_minute(db, demo):
    office = demo["office_id"]
    day = today(engine.get_office(db, office)["timezone"])
    engine.set_target(db, office, "avg_wait_s", 630, day)  # 10.5 minutes from today
    engine.issue_ticket(db, office, "A", now=utcnow() - timedelta(minutes=12), check_hours=False)
    texts = " ".join(a["text"] for a in live.dashboard(db, office)["alerts"])
    assert "vượt chỉ tiêu 10,5 phút" in texts and "10 phút" not in texts.replace("10,5", "")


# --- prefixes that read well on a board and a ticket --------------------------------------


def test_prefix_dd_is_accepted_and_i_o_are_refused(db, demo):
    office = demo["office_id"]
    service = engine.add_service(db, office, "đ", "Đăng ký đất đai lần đầu")
    assert engine.find_service(db, office, "đ")["id"] == service
    engine.add_counter(db, office, 40, [service])
    ticket = engine.issue_ticket(db, office, "Đ", check_hours=False).ticket
    assert ticket["code"] == "Đ001"
    from xephang.engine.announcements import announcement

    said = announcement(ticket["code"], 1, "Mời {code} đến quầy {counter}", "digits", "north")
    assert "letter_dd" in said["clips"] and not said["missing"]
    for prefix in ("I", "O", "AI", "OB"):
        with pytest.raises(BadInputError) as err:
            engine.add_service(db, office, prefix, "Dịch vụ")
        assert "dễ nhầm với số 1 và 0" in err.value.message_vi


def test_the_setup_form_explains_why_i_and_o_are_refused(client, demo):
    csrf = login(client, "quanly")
    r = client.post(
        "/manager/setup/services", data={"prefix": "O", "name_vi": "Khác", "csrf_token": csrf}
    )
    assert r.status_code == 400 and "dễ nhầm với số 1 và 0" in r.get_data(True)
