"""Setup forms: valid and invalid input for each, CSRF, role checks, the audit."""

from __future__ import annotations

import pytest

from tests.helpers import login
from xephang import engine
from xephang.queries import people

OFFICE_OK = {
    "name": "Bộ phận Một cửa phường Demo",
    "address": "Số 2",
    "timezone": "Asia/Ho_Chi_Minh",
    "hours_mon_1_from": "07:30",
    "hours_mon_1_to": "11:30",
    "ticket_footer": "Cảm ơn",
}


def post(client, url, csrf, **data):
    return client.post(url, data={"csrf_token": csrf, **data})


def ids(db, sql, *params):
    return [r[0] for r in db.execute(sql, params).fetchall()]


@pytest.fixture
def manager(client, demo):
    return login(client, "quanly")


@pytest.fixture
def admin(client, demo):
    return login(client, "admin")


# ------------------------------------------------------------------ office


def test_office_update_valid(client, db, demo, manager):
    response = post(client, "/manager/setup/office", manager, **OFFICE_OK)
    assert response.status_code == 302
    office = engine.get_office(db, demo["office_id"])
    assert office["name"] == OFFICE_OK["name"] and '"mon"' in office["hours"]
    audit = db.execute("SELECT action FROM setup_audit").fetchall()
    assert ("office.update",) in audit


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "", "Thiếu tên văn phòng"),
        ("timezone", "Mars/Olympus", "Mars/Olympus&#39; không tồn tại"),
        ("hours_mon_1_to", "", "Thứ Hai, buổi sáng: cần cả giờ mở và giờ đóng"),
        ("hours_mon_1_to", "07:00", "Khoảng giờ không hợp lệ Thứ Hai"),
        ("hours_mon_1_from", "", "Chưa có giờ làm việc nào"),
        ("holiday_day_0", "2026-02-30", "Ngày nghỉ không hợp lệ"),
        ("ticket_footer", "x" * 301, "chân phiếu tối đa 300 ký tự"),
    ],
)
def test_office_update_invalid(client, db, demo, manager, field, value, message):
    data = {**OFFICE_OK, field: value}
    if field == "hours_mon_1_from" and not value:
        data["hours_mon_1_to"] = ""
    response = post(client, "/manager/setup/office", manager, **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert engine.get_office(db, demo["office_id"])["name"] != OFFICE_OK["name"]


def test_office_create_is_for_admins(client, db, demo, admin):
    response = post(client, "/manager/setup/offices", admin, **{**OFFICE_OK, "name": "VP mới"})
    assert response.status_code == 302
    assert ids(db, "SELECT id FROM offices WHERE name = 'VP mới'")
    bad = post(client, "/manager/setup/offices", admin, **{**OFFICE_OK, "timezone": "x"})
    assert bad.status_code == 400


def test_managers_cannot_create_offices(client, demo, manager):
    assert post(client, "/manager/setup/offices", manager, **OFFICE_OK).status_code == 403


# ------------------------------------------------------------------ services


def test_service_add_and_update(client, db, demo, manager):
    response = post(
        client,
        "/manager/setup/services",
        manager,
        prefix="g",
        name_vi="Tư pháp",
        name_en="Justice",
        field="Tư pháp",
        daily_cap="120",
        sort_order="7",
    )
    assert response.status_code == 302
    row = db.execute("SELECT id, prefix, daily_cap FROM services WHERE prefix = 'G'").fetchone()
    assert row[1:] == ("G", 120)
    response = post(
        client,
        f"/manager/setup/services/{row[0]}",
        manager,
        name_vi="Tư pháp 2",
        daily_cap="",
        sort_order="1",
    )  # active unchecked: deactivated
    assert response.status_code == 302
    assert db.execute(
        "SELECT name_vi, daily_cap, active FROM services WHERE id = ?", [row[0]]
    ).fetchone() == ("Tư pháp 2", None, 0)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"prefix": "A", "name_vi": "Trùng"}, "Ký hiệu A đã được dùng"),
        ({"prefix": "7", "name_vi": "Số"}, "Ký hiệu dịch vụ phải là 1–2 chữ cái"),
        ({"prefix": "Q", "name_vi": ""}, "Thiếu tên dịch vụ"),
        ({"prefix": "Q", "name_vi": "Q", "daily_cap": "0"}, "giới hạn số mỗi ngày phải từ 1"),
        ({"prefix": "Q", "name_vi": "Q", "daily_cap": "nhiều"}, "giới hạn số mỗi ngày phải là số"),
    ],
)
def test_service_add_invalid(client, db, demo, manager, data, message):
    count = len(ids(db, "SELECT id FROM services"))
    response = post(client, "/manager/setup/services", manager, **data)
    assert response.status_code in (400, 409)
    assert message in response.get_data(as_text=True)
    assert len(ids(db, "SELECT id FROM services")) == count


# ------------------------------------------------------------------ counters


def test_counter_add_and_update(client, db, demo, manager):
    response = post(
        client, "/manager/setup/counters", manager, number="7", name="Quầy ưu tiên", services="C, A"
    )
    assert response.status_code == 302
    counter = ids(db, "SELECT id FROM counters WHERE number = 7")[0]
    order = ids(
        db,
        "SELECT s.prefix FROM counter_services cs JOIN services s ON s.id ="
        " cs.service_id WHERE cs.counter_id = ? ORDER BY position",
        counter,
    )
    assert order == ["C", "A"]
    response = post(
        client,
        f"/manager/setup/counters/{counter}",
        manager,
        name="Quầy 7",
        services="B",
        active="1",
    )
    assert response.status_code == 302
    assert ids(db, "SELECT service_id FROM counter_services WHERE counter_id = ?", counter) == ids(
        db, "SELECT id FROM services WHERE prefix = 'B'"
    )


@pytest.mark.parametrize(
    "data,message",
    [
        ({"number": "1", "services": "A"}, "Quầy số 1 đã có"),
        ({"number": "", "services": "A"}, "Thiếu số quầy"),
        ({"number": "8", "services": "Z"}, "Không có dịch vụ ký hiệu Z"),
        ({"number": "8", "services": "A, A"}, "Một dịch vụ bị nhập hai lần"),
        ({"number": "-3", "services": "A"}, "số quầy phải từ 1"),
    ],
)
def test_counter_add_invalid(client, db, demo, manager, data, message):
    response = post(client, "/manager/setup/counters", manager, **data)
    assert response.status_code in (400, 409)
    assert message in response.get_data(as_text=True)
    assert not ids(db, "SELECT id FROM counters WHERE number = 8")


# ------------------------------------------------------------------ users (admins)


def test_user_add_and_update(client, db, demo, admin):
    response = post(
        client,
        "/manager/setup/users",
        admin,
        username="canbo9",
        role="officer",
        office_id=str(demo["office_id"]),
        password="mat-khau-9",
        display_name="Cán bộ 9",
    )
    assert response.status_code == 302
    user = ids(db, "SELECT id FROM users WHERE username = 'canbo9'")[0]
    response = post(
        client,
        f"/manager/setup/users/{user}",
        admin,
        role="manager",
        office_id=str(demo["office_id"]),
        display_name="Phó phòng",
    )
    assert response.status_code == 302  # active unchecked: deactivated
    assert db.execute("SELECT role, active FROM users WHERE id = ?", [user]).fetchone() == (
        "manager",
        0,
    )


@pytest.mark.parametrize(
    "data,message",
    [
        ({"username": "canbo1", "role": "officer", "password": "Mua-thu-Ha-Noi"}, "đã có"),
        (
            {"username": "x y", "role": "officer", "password": "Mua-thu-Ha-Noi"},
            "Tên đăng nhập 2–64",
        ),
        ({"username": "moi", "role": "officer", "password": "ngan-qua"}, "Mật khẩu tối thiểu 10"),
        ({"username": "moi", "role": "boss", "password": "Mua-thu-Ha-Noi"}, "Vai trò phải là"),
        ({"username": "moi", "role": "officer", "password": "password123"}, "quá phổ biến"),
        ({"username": "moi", "role": "officer", "password": "xephang-demo"}, "quá phổ biến"),
        (
            {"username": "nguyenvana", "role": "officer", "password": "NguyenVanA"},
            "trùng tên đăng nhập",
        ),
    ],
)
def test_user_add_invalid(client, db, demo, admin, data, message):
    data.setdefault("office_id", str(demo["office_id"]))
    response = post(client, "/manager/setup/users", admin, **data)
    assert response.status_code in (400, 409)
    assert message in response.get_data(as_text=True)


def test_officer_needs_an_office_and_admin_cannot_demote_self(client, db, demo, admin):
    response = post(
        client,
        "/manager/setup/users",
        admin,
        username="moi",
        role="officer",
        office_id="",
        password="12345678",
    )
    assert response.status_code == 400 and "phải thuộc một văn phòng" in response.get_data(
        as_text=True
    )
    me = ids(db, "SELECT id FROM users WHERE username = 'admin'")[0]
    response = post(
        client,
        f"/manager/setup/users/{me}",
        admin,
        role="officer",
        office_id=str(demo["office_id"]),
        active="1",
    )
    assert response.status_code == 400


def test_managers_manage_officers_of_their_office_only(client, db, demo, manager):
    page = client.get("/manager/setup/users").get_data(as_text=True)
    assert "canbo1" in page and "quanly" in page and ">admin<" not in page  # own office only
    made = post(
        client,
        "/manager/setup/users",
        manager,
        username="canbo10",
        role="officer",
        office_id=str(demo["office_id"]),
        password="Mua-thu-Ha-Noi",
    )
    assert made.status_code == 302
    for role in ("manager", "admin"):
        refused = post(
            client,
            "/manager/setup/users",
            manager,
            username=f"x{role}",
            role=role,
            office_id=str(demo["office_id"]),
            password="Mua-thu-Ha-Noi",
        )
        assert refused.status_code == 403
    boss = ids(db, "SELECT id FROM users WHERE username = 'quanly'")[0]
    officer = ids(db, "SELECT id FROM users WHERE username = 'canbo10'")[0]
    assert (
        post(
            client,
            f"/manager/setup/users/{officer}",
            manager,
            role="officer",
            office_id=str(demo["office_id"]),
        ).status_code
        == 302
    )  # deactivated
    assert db.execute("SELECT active FROM users WHERE id = ?", [officer]).fetchone()[0] == 0
    admin_id = ids(db, "SELECT id FROM users WHERE username = 'admin'")[0]
    assert (
        post(
            client,
            f"/manager/setup/users/{admin_id}",
            manager,
            role="officer",
            office_id=str(demo["office_id"]),
            active="1",
        ).status_code
        == 404
    )
    assert (
        post(
            client,
            f"/manager/setup/users/{boss}",
            manager,
            role="officer",
            office_id=str(demo["office_id"]),
            active="1",
        ).status_code
        == 400
    )  # self


# ------------------------------------------------------------------ devices


def pair_form(client, url="/manager/setup/devices"):
    """The pairing form's one-use nonce from the devices page."""
    page = client.get(url).get_data(as_text=True)
    return page.split('name="nonce" value="', 1)[1].split('"', 1)[0]


def shown_token(page: str) -> str:
    return page.split('<p class="token"', 1)[1].split(">", 1)[1].split("</p>", 1)[0]


def test_device_pair_shows_token_once_rename_revoke(client, db, demo, manager):
    nonce = pair_form(client)
    response = post(
        client, "/manager/setup/devices", manager, kind="printer", name="Máy in sảnh", nonce=nonce
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "chỉ hiện một lần" in page
    assert "no-store" in response.headers["Cache-Control"]
    assert shown_token(page).startswith("xd_")
    device = ids(db, "SELECT id FROM devices WHERE name = 'Máy in sảnh'")[0]
    assert "xd_" not in client.get("/manager/setup/devices").get_data(as_text=True)
    assert (
        post(client, f"/manager/setup/devices/{device}", manager, name="Máy in tầng 1").status_code
        == 302
    )
    assert (
        post(client, f"/manager/setup/devices/{device}", manager, action="revoke").status_code
        == 302
    )
    assert db.execute(
        "SELECT name, revoked_at IS NOT NULL FROM devices WHERE id = ?", [device]
    ).fetchone() == ("Máy in tầng 1", 1)


def test_a_resent_pairing_form_does_not_pair_again(client, db, demo, manager):
    before = db.execute("SELECT count(*) FROM devices").fetchone()[0]
    nonce = pair_form(client)
    first = post(
        client, "/manager/setup/devices", manager, kind="kiosk", name="Kiosk một", nonce=nonce
    )
    assert first.status_code == 200 and 'id="new-token"' in first.get_data(as_text=True)
    again = post(
        client, "/manager/setup/devices", manager, kind="kiosk", name="Kiosk một", nonce=nonce
    )  # the browser's "resend form" after a reload
    assert again.status_code == 400 and "đã được gửi" in again.get_data(as_text=True)
    assert 'id="new-token"' not in again.get_data(as_text=True)
    assert (
        post(client, "/manager/setup/devices", manager, kind="kiosk", name="Kiosk hai").status_code
        == 400
    )  # no nonce at all
    assert db.execute("SELECT count(*) FROM devices").fetchone()[0] == before + 1


def test_the_new_device_token_never_enters_the_session_cookie(client, db, demo, manager):
    response = post(
        client,
        "/manager/setup/devices",
        manager,
        kind="display",
        name="TV sảnh",
        nonce=pair_form(client),
    )
    token = shown_token(response.get_data(as_text=True)).rsplit("token=", 1)[1]
    with client.session_transaction() as sess:
        assert token not in repr(dict(sess))
    cookie = client.get_cookie("session")
    assert cookie is not None and token not in cookie.value
    assert people.principal_for_token(db, token).role == "display"


def test_pairing_shows_the_full_link_and_a_qr_code(client, db, demo, manager):
    page = post(
        client,
        "/manager/setup/devices",
        manager,
        kind="kiosk",
        name="Kiosk QR",
        nonce=pair_form(client),
    ).get_data(as_text=True)
    link = shown_token(page)
    assert link.startswith("http://xephang.test/kiosk/pair?token=xd_")
    assert "<svg" in page.split('id="new-token"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize(
    "data,message",
    [
        ({"kind": "toaster", "name": "X"}, "Loại thiết bị phải là"),
        ({"kind": "kiosk", "name": ""}, "Thiếu tên thiết bị"),
    ],
)
def test_device_pair_invalid(client, db, demo, manager, data, message):
    response = post(client, "/manager/setup/devices", manager, **data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


# ------------------------------------------------------------------ priority


def test_priority_add_update_and_streak(client, db, demo, manager):
    assert (
        post(
            client,
            "/manager/setup/priority",
            manager,
            key="veteran",
            name_vi="Cựu chiến binh",
            rank="2",
        ).status_code
        == 302
    )
    cat = ids(db, "SELECT id FROM priority_categories WHERE key = 'veteran'")[0]
    assert (
        post(
            client, f"/manager/setup/priority/{cat}", manager, name_vi="Cựu chiến binh", rank="1"
        ).status_code
        == 302
    )
    assert db.execute(
        "SELECT rank, active FROM priority_categories WHERE id = ?", [cat]
    ).fetchone() == (1, 0)
    assert (
        post(
            client, "/manager/setup/priority", manager, action="streak", priority_streak_max="3"
        ).status_code
        == 302
    )
    assert engine.office_setting(db, demo["office_id"], "priority_streak_max") == 3


@pytest.mark.parametrize(
    "data,status,message",
    [
        ({"key": "Người già", "name_vi": "X"}, 400, "Mã nhóm ưu tiên chỉ gồm"),
        ({"key": "elderly", "name_vi": "X"}, 409, "Mã nhóm ưu tiên đã có"),
        (
            {"action": "streak", "priority_streak_max": "-1"},
            400,
            "Số lượt ưu tiên liên tiếp phải từ 0",
        ),
        ({"action": "streak", "priority_streak_max": "hai"}, 400, "phải là số nguyên"),
    ],
)
def test_priority_invalid(client, db, demo, manager, data, status, message):
    response = post(client, "/manager/setup/priority", manager, **data)
    assert response.status_code == status and message in response.get_data(as_text=True)


# ------------------------------------------------------------------ targets


def test_target_add_and_delete(client, db, demo, manager):
    office = demo["office_id"]
    response = post(
        client,
        "/manager/setup/targets",
        manager,
        metric="avg_wait_s",
        value="10",
        effective_from="2026-01-01",
    )
    assert response.status_code == 302
    assert engine.Targets(db, office).on("avg_wait_s", "2026-02-01") == 600
    service = ids(db, "SELECT id FROM services WHERE prefix = 'C'")[0]
    assert (
        post(
            client,
            "/manager/setup/targets",
            manager,
            metric="satisfied_share",
            value="97,5",
            effective_from="2026-01-01",
            service_id=str(service),
        ).status_code
        == 302
    )
    assert engine.Targets(db, office).on("satisfied_share", "2026-02-01", service) == 0.975
    target = ids(db, "SELECT id FROM targets WHERE value = 600")[0]
    assert post(client, f"/manager/setup/targets/{target}/delete", manager).status_code == 302
    assert engine.Targets(db, office).on("avg_wait_s", "2026-02-01") == 900


@pytest.mark.parametrize(
    "data,message",
    [
        (
            {"metric": "avg_wait_s", "value": "0", "effective_from": "2026-01-01"},
            "phải từ 0 đến 600 phút",
        ),
        ({"metric": "avg_wait_s", "value": "mười", "effective_from": "2026-01-01"}, "phải là số"),
        (
            {"metric": "satisfied_share", "value": "120", "effective_from": "2026-01-01"},
            "phải từ 0 đến 100%",
        ),
        (
            {"metric": "avg_wait_s", "value": "15", "effective_from": "01/01/2026"},
            "Ngày hiệu lực không hợp lệ",
        ),
        (
            {"metric": "speed", "value": "15", "effective_from": "2026-01-01"},
            "Chỉ tiêu không hợp lệ",
        ),
    ],
)
def test_target_add_invalid(client, db, demo, manager, data, message):
    count = len(ids(db, "SELECT id FROM targets"))
    response = post(client, "/manager/setup/targets", manager, **data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert len(ids(db, "SELECT id FROM targets")) == count


def test_last_office_target_cannot_be_deleted(client, db, demo, manager):
    sat = ids(db, "SELECT id FROM targets WHERE metric = 'satisfied_share'")[0]
    response = post(client, f"/manager/setup/targets/{sat}/delete", manager)
    assert response.status_code == 409
    assert "ít nhất một chỉ tiêu chung" in response.get_data(as_text=True)


# ------------------------------------------------------------------ settings

SETTINGS_OK = {
    "rating_scale": "5 | Rất hài lòng | Very satisfied\n4 | Hài lòng | Satisfied\n"
    "3 | Bình thường | Neutral\n2 | Không hài lòng | Unsatisfied\n"
    "1 | Rất không hài lòng | Very unsatisfied",
    "announce_template": "Xin mời số {code} đến quầy {counter}",
    "number_reading": "number",
    "number_dialect": "south",
    "voice_enabled": "1",
    "board_message": "Nghỉ trưa 11:30–13:30",
    "estimate_max_p90_error_min": "8",
    "retention_days": "730",
    "comment_retention_days": "180",
}


def test_settings_valid(client, db, demo, manager):
    assert post(client, "/manager/setup/settings", manager, **SETTINGS_OK).status_code == 302
    values = engine.office_settings(db, demo["office_id"])
    assert [lv["level"] for lv in values["rating_scale"]] == [5, 4, 3, 2, 1]
    assert values["number_dialect"] == "south" and values["retention_days"] == 730
    assert values["voice_enabled"] is True and values["board_message"].startswith("Nghỉ")
    assert values["estimate_max_p90_error_min"] == 8
    page = client.get("/manager/setup/settings").get_data(as_text=True)
    assert "3 | Bình thường | Neutral" in page and "Thời gian chờ dự kiến" in page


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("rating_scale", "3 | Tốt", "Thang đánh giá cần từ 2 đến 7 mức"),
        ("rating_scale", "a | Tốt\n1 | Kém", "mức đánh giá phải là số nguyên"),
        ("rating_scale", "1 | Tốt\n1 | Kém", "Mức 1 bị lặp"),
        ("announce_template", "Mời số {code}", "phải có {code} và {counter}"),
        ("number_reading", "roman", "Cách đọc số không hợp lệ"),
        ("number_dialect", "central", "Giọng đọc không hợp lệ"),
        ("estimate_max_p90_error_min", "200", "sai số P90 không quá (phút) phải từ 0 đến 120"),
        ("retention_days", "7", "Số ngày lưu nhật ký phải từ 30"),
        ("comment_retention_days", "900", "không được vượt số ngày lưu nhật ký"),
    ],
)
def test_settings_invalid(client, db, demo, manager, field, value, message):
    response = post(client, "/manager/setup/settings", manager, **{**SETTINGS_OK, field: value})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert engine.office_setting(db, demo["office_id"], "retention_days") == 1825


# ------------------------------------------------------------------ guards


def test_forms_need_the_csrf_token(client, db, demo, manager):
    response = client.post("/manager/setup/office", data=OFFICE_OK)
    assert response.status_code == 403
    assert engine.get_office(db, demo["office_id"])["name"] != OFFICE_OK["name"]


SETUP_PAGES = [
    "/manager/setup/",
    "/manager/setup/office",
    "/manager/setup/services",
    "/manager/setup/counters",
    "/manager/setup/devices",
    "/manager/setup/priority",
    "/manager/setup/targets",
    "/manager/setup/settings",
]


def test_setup_role_checks(client, db, demo):
    for url in SETUP_PAGES + ["/manager/setup/users"]:
        assert client.get(url).status_code == 302, url  # to the login form
    csrf = login(client, "canbo1")
    for url in SETUP_PAGES:
        assert client.get(url).status_code == 403, url
    assert post(client, "/manager/setup/services", csrf, prefix="Q", name_vi="Q").status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "admin")
    for url in SETUP_PAGES + ["/manager/setup/users"]:
        assert client.get(url).status_code == 200, url


def test_manager_cannot_change_another_offices_rows(client, db, demo, manager):
    other = engine.create_office(db, "VP khác")
    service = engine.add_service(db, other, "A", "Hộ tịch")
    response = post(
        client, f"/manager/setup/services/{service}", manager, name_vi="Đổi", active="1"
    )
    assert response.status_code == 404
    assert (
        post(client, "/manager/setup/office", manager, office=str(other), **OFFICE_OK).status_code
        == 404
    )


# ------------------------------------------------------------------ setup reads (queries)


def test_setup_reads(db, demo):
    from xephang.engine import audit
    from xephang.queries import office as office_queries
    from xephang.queries import people
    from xephang.storage import write

    oid = demo["office_id"]
    counters = office_queries.counters(db, oid, active_only=False)
    assert counters and [c["number"] for c in counters] == sorted(c["number"] for c in counters)
    prefix = {s["id"]: s["prefix"] for s in office_queries.services(db, oid, active_only=False)}
    assert all(set(c["services"]) <= set(prefix) for c in counters)
    assert office_queries.service_ids_by_prefix(db, oid)["A"] in prefix
    mine = people.list_users(db, oid)
    assert mine and {u["office_id"] for u in mine} == {oid}
    assert len(people.list_users(db)) >= len(mine)
    assert all(name for _id, name in people.office_officers(db, oid))
    assert office_queries.first_office_id(db) == min(o["id"] for o in office_queries.offices(db))
    target = office_queries.targets(db, oid)[0]
    assert office_queries.owned_row(db, "targets", target["id"])["office_id"] == oid
    assert office_queries.owned_row(db, "targets", 10**9) is None
    with pytest.raises(ValueError):
        office_queries.owned_row(db, "users", 1)
    with write(db):
        audit.record(db, oid, None, "test.one", {})
        audit.record(db, oid, None, "test.two", {})
    assert [a["action"] for a in office_queries.setup_audit(db, oid, 2)] == ["test.two", "test.one"]
