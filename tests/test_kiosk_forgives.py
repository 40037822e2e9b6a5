"""A kiosk that forgives and says when the office opens: "Hủy số này", holidays and
opening hours (engine and setup form), the lĩnh vực in English, the receipt's footer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import printers
from printers.layout import footer_text
from tests.helpers import MONDAY_9AM, login, make_office, pair_kiosk
from xephang import engine
from xephang.engine import hours as office_hours
from xephang.errors import BadInputError, ConflictError, NotFoundError, OfficeClosedError

JSON = {"Accept": "application/json"}
MONDAY = datetime.fromisoformat(MONDAY_9AM)  # 09:00 in Asia/Ho_Chi_Minh
WEEK = {d: [["07:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def kiosk(client, demo):
    csrf = pair_kiosk(client, demo["kiosk_token"])
    headers = {**JSON, "X-CSRF-Token": csrf}

    def post(url, body=None):
        return client.post(url, json=body or {}, headers=headers)

    return post


# --- "Hủy số này" ------------------------------------------------------------------------


def test_a_citizen_cancels_a_mis_tap_at_the_kiosk(kiosk, app, db):
    issued = kiosk("/kiosk/api/tickets", {"service": "A"}).json
    ticket_id = issued["ticket"]["id"]
    assert db.execute("SELECT count(*) FROM print_jobs").fetchone()[0] == 1
    r = kiosk(f"/kiosk/api/tickets/{ticket_id}/cancel")
    assert r.status_code == 200 and r.json["ticket"]["code"] == "A001"
    assert engine.get_ticket(db, ticket_id)["status"] == "cancelled"
    event = db.execute(
        "SELECT type, details FROM ticket_events WHERE ticket_id = ? ORDER BY seq DESC", [ticket_id]
    ).fetchone()
    assert event[0] == "cancelled" and json.loads(event[1])["by"] == "citizen"
    # its receipt, not printed yet, is withdrawn: nothing prints for a cancelled number
    assert db.execute("SELECT count(*) FROM print_jobs").fetchone()[0] == 0
    assert kiosk(f"/kiosk/api/tickets/{ticket_id}/cancel").status_code == 409  # once


def test_a_printed_receipt_stays_and_a_called_ticket_is_not_cancelled(kiosk, app, db):
    first = kiosk("/kiosk/api/tickets", {"service": "A"}).json["ticket"]
    printers.get_spooler(app).drain()
    engine.call_next(db, 1)
    r = kiosk(f"/kiosk/api/tickets/{first['id']}/cancel")
    assert r.status_code == 409 and "đã được gọi" in r.json["error"]
    second = kiosk("/kiosk/api/tickets", {"service": "B"}).json["ticket"]
    printers.get_spooler(app).drain()
    assert kiosk(f"/kiosk/api/tickets/{second['id']}/cancel").status_code == 200
    assert (
        db.execute("SELECT state FROM print_jobs WHERE ticket_id = ?", [second["id"]]).fetchone()[0]
        == "done"
    )


def test_only_the_issuing_kiosk_and_only_for_a_few_seconds(db, demo):
    office = demo["office_id"]
    kiosk_id = db.execute("SELECT id FROM devices WHERE kind = 'kiosk'").fetchone()[0]
    at = MONDAY
    t = engine.issue_ticket(
        db, office, "A", device_id=kiosk_id, device_limit=(20, 60), now=at, check_hours=False
    ).ticket
    with pytest.raises(NotFoundError):  # another kiosk's (or an officer's) ticket is not found
        engine.cancel_by_citizen(db, t["id"], kiosk_id + 99, 12, now=at)
    with pytest.raises(ConflictError) as err:
        engine.cancel_by_citizen(db, t["id"], kiosk_id, 12, now=at + timedelta(seconds=13))
    assert "quá thời gian" in err.value.message_vi
    out = engine.cancel_by_citizen(db, t["id"], kiosk_id, 12, now=at + timedelta(seconds=11))
    assert out.ticket["status"] == "cancelled"
    assert engine.replay_states(db, office)[t["id"]] == "cancelled"
    # it left the line uncalled, then: the reports count its 11 seconds (docs/reports.md)
    left_at = engine.get_ticket(db, t["id"])["left_at"]
    assert datetime.fromisoformat(left_at) == at + timedelta(seconds=11)


def test_the_kiosk_page_offers_the_cancel_and_idle_times(kiosk, client, app):
    app.config.update(KIOSK_CANCEL_S=7, KIOSK_IDLE_S=45)
    page = client.get("/kiosk/").get_data(as_text=True)
    config = json.loads(page.split('id="kiosk-config" type="application/json">')[1].split("<")[0])
    assert config["cancelS"] == 7 and config["idleS"] == 45
    assert config["cancelUrl"] == "/kiosk/api/tickets/"
    assert 'id="t-cancel"' in page and "Hủy số này" in page
    app.config["KIOSK_CANCEL_S"] = 0
    ticket = kiosk("/kiosk/api/tickets", {"service": "A"}).json["ticket"]
    assert kiosk(f"/kiosk/api/tickets/{ticket['id']}/cancel").status_code == 409


# --- holidays and opening hours -------------------------------------------------------------


def test_holidays_close_the_office_and_the_next_opening_is_said(bare_db):
    q = make_office(bare_db, hours=WEEK)
    engine.update_office(
        bare_db,
        q.office,
        "Văn phòng thử",
        hours=WEEK,
        holidays=[{"day": "2026-03-02", "name": "Ngày thử"}, "2026-03-03"],
    )
    office = engine.get_office(bare_db, q.office)
    assert not office_hours.office_is_open(office, MONDAY)  # Monday 09:00, a holiday
    with pytest.raises(OfficeClosedError) as err:  # the kiosk and online numbers alike
        engine.issue_ticket(bare_db, q.office, "A", now=MONDAY)
    assert err.value.message_vi == "Hôm nay nghỉ lễ (Ngày thử), chưa thể lấy số"
    words = office_hours.opening_words(office, MONDAY)
    assert words["holiday"] == "Ngày thử"
    assert words["next_vi"] == "Mở cửa lại Thứ Tư 04/03 lúc 07:30"  # Tuesday is a holiday too
    assert words["next_en"] == "Opens again Wednesday 04/03 at 07:30"
    assert words["week"][0]["spans"] == ["07:30–11:30", "13:30–17:00"] and words["week"][0]["today"]
    assert words["week"][6]["spans"] == []  # Sunday: closed


@pytest.mark.parametrize(
    "moment, expected",
    [
        ("2026-03-03T23:00:00+00:00", "hôm nay lúc 07:30"),  # Wednesday 06:00
        ("2026-03-04T05:00:00+00:00", "hôm nay lúc 13:30"),  # 12:00, the lunch break
        ("2026-03-04T11:00:00+00:00", "ngày mai (05/03) lúc 07:30"),  # 18:00
        ("2026-03-06T11:00:00+00:00", "Thứ Hai 09/03 lúc 07:30"),  # Friday evening
    ],
)
def test_the_next_opening_after_lunch_evening_and_weekend(bare_db, moment, expected):
    q = make_office(bare_db, hours=WEEK)
    office = engine.get_office(bare_db, q.office)
    at = datetime.fromisoformat(moment)
    assert not office_hours.office_is_open(office, at)
    assert office_hours.next_opening(office, at + timedelta(hours=0)) is not None
    assert office_hours.next_opening(office, MONDAY) is None  # open now: no next opening
    assert office_hours.opening_words(office, at)["next_vi"] == f"Mở cửa lại {expected}"


def test_bad_holidays_and_hours_are_refused_in_words():
    with pytest.raises(BadInputError) as err:
        office_hours.validate_holidays([{"day": "2026-02-30"}])
    assert "Ngày nghỉ không hợp lệ" in err.value.message_vi
    with pytest.raises(BadInputError):
        office_hours.validate_holidays(["2026-09-02", {"day": "2026-09-02"}])
    with pytest.raises(BadInputError) as err:
        office_hours.validate_hours({"mon": [["07:30", "12:00"], ["11:00", "17:00"]]})
    assert "chồng lên nhau" in err.value.message_vi
    assert office_hours.validate_holidays([]) == "[]"


def test_the_setup_form_edits_hours_lunch_breaks_and_holidays_with_fields(client, db, demo):
    csrf = login(client, "quanly")
    page = client.get("/manager/setup/office").get_data(as_text=True)
    assert (
        'type="time" name="hours_mon_1_from"' in page and 'type="date" name="holiday_day_0"' in page
    )
    assert '<textarea name="hours"' not in page
    form = {
        "csrf_token": csrf,
        "name": "Trung tâm Phục vụ hành chính công (Demo)",
        "timezone": "Asia/Ho_Chi_Minh",
        "hours_mon_1_from": "07:30",
        "hours_mon_1_to": "11:30",
        "hours_mon_2_from": "13:30",
        "hours_mon_2_to": "17:00",
        "hours_sat_1_from": "08:00",
        "hours_sat_1_to": "11:00",
        "holiday_day_0": "2026-09-02",
        "holiday_name_0": "Quốc khánh",
        "holiday_day_1": "2026-04-30",
        "holiday_name_1": "Ngày Giải phóng miền Nam",
    }
    assert client.post("/manager/setup/office", data=form).status_code == 302
    office = engine.get_office(db, demo["office_id"])
    assert json.loads(office["hours"]) == {
        "mon": [["07:30", "11:30"], ["13:30", "17:00"]],
        "sat": [["08:00", "11:00"]],
    }
    assert json.loads(office["holidays"]) == [
        {"day": "2026-04-30", "name": "Ngày Giải phóng miền Nam"},
        {"day": "2026-09-02", "name": "Quốc khánh"},
    ]
    page = client.get("/manager/setup/office").get_data(as_text=True)
    assert 'value="13:30"' in page and 'value="2026-09-02"' in page and "Quốc khánh" in page
    # a holiday is removed by ticking it; "always open" forgets the hours
    client.post(
        "/manager/setup/office",
        data={**form, "holiday_drop_1": "1", "always_open": "1"},
    )
    office = engine.get_office(db, demo["office_id"])
    assert office["hours"] is None and [h["day"] for h in json.loads(office["holidays"])] == [
        "2026-09-02"
    ]
    # a refused form keeps what was typed
    bad = client.post("/manager/setup/office", data={**form, "hours_mon_2_to": ""})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Thứ Hai, buổi chiều: cần cả giờ mở và giờ đóng" in text
    assert 'value="08:00"' in text and 'value="Quốc khánh"' in text


def test_the_kiosk_state_says_when_the_office_opens_again(kiosk, client, db, demo):
    from xephang.storage import write

    with write(db):
        db.execute("UPDATE offices SET hours = ? WHERE id = ?", [json.dumps({}), demo["office_id"]])
    state = client.get("/kiosk/api/state").json
    assert state["open"] is False and state["closed"]["next_vi"] == ""  # never opens
    page = client.get("/kiosk/").get_data(as_text=True)
    assert "Ngoài giờ làm việc" in page and 'id="closed-hours"' in page


# --- English lĩnh vực, the receipt's footer --------------------------------------------------


def test_a_field_has_its_english_name_in_setup_and_on_the_kiosk(client, db, demo):
    csrf = login(client, "quanly")
    r = client.post(
        "/manager/setup/services",
        data={
            "csrf_token": csrf,
            "prefix": "Đ",
            "name_vi": "Đăng ký đất đai lần đầu",
            "name_en": "First land registration",
            "field": "Đất đai",
            "field_en": "Land",
        },
    )
    assert r.status_code == 302
    service = engine.find_service(db, demo["office_id"], "Đ")
    assert service["field_en"] == "Land"
    from xephang.queries import office as office_queries

    engine.add_counter(db, demo["office_id"], 40, [service["id"]])  # offered once served

    menu = office_queries.kiosk_menu(db, demo["office_id"])
    group = next(g for g in menu["fields"] if g["field"] == "Đất đai")
    assert group["field_en"] == "Land"


def test_the_receipt_footer_does_not_repeat_the_qr_line():
    assert footer_text("Cảm ơn quý khách! Quét mã QR để theo dõi số thứ tự.") == "Cảm ơn quý khách!"
    assert footer_text("Giữ phiếu đến khi được gọi.") == "Giữ phiếu đến khi được gọi."
    assert footer_text("quet ma QR de theo doi") == ""
