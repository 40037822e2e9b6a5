"""Access that ends: sessions, revocations reaching sockets, the login throttle, passwords,
the login ``next``, and what public channels may carry (issue 9)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.helpers import login
from xephang import engine
from xephang.clock import utcnow
from xephang.engine import access, accounts
from xephang.errors import BadInputError, RateLimitError
from xephang.queries import people
from xephang.web.auth import safe_next
from xephang.web.extensions import socketio

STAFF_TEXT = (
    "LYDO-GOI",
    "LYDO-TAMDUNG",
    "LYDO-TRA",
    "LYDO-HUY",
    "LYDO-CHUYEN",
    "KETQUA-XONG",
    "HOSO-123",
)


def received_text(sio) -> str:
    return json.dumps(sio.get_received(), ensure_ascii=False)


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, value):
    other = app.test_client()
    other.set_cookie("session", value, domain="localhost")
    return other


# --- sessions that end ----------------------------------------------------------------


def test_logout_ends_the_session_even_for_a_copied_cookie(app, client, demo):
    csrf = login(client, "quanly")
    stolen = session_cookie(client)
    assert with_cookie(app, stolen).get("/manager/dashboard.json").status_code == 200
    client.post("/logout", data={"csrf_token": csrf})
    assert with_cookie(app, stolen).get("/manager/dashboard.json").status_code == 401


@pytest.mark.parametrize("change", ["deactivate", "password"])
def test_deactivation_and_a_new_password_end_the_users_sessions(app, client, db, demo, change):
    login(client, "canbo2")
    cookie = session_cookie(client)
    assert with_cookie(app, cookie).get("/counter/").status_code == 200
    user = people.find_user(db, "canbo2")
    if change == "deactivate":
        accounts.update_user(db, user["id"], "officer", user["office_id"], active=False)
    else:
        accounts.set_password(db, user["id"], "Mot-mat-khau-moi")
    assert with_cookie(app, cookie).get("/api/v1/offices").status_code == 401


def test_a_revoked_token_and_a_revoked_device_are_refused(client, db, demo, tokens):
    assert client.get("/api/v1/offices", headers=tokens["officer"]).status_code == 200
    token_id = people.principal_for_token(db, tokens["officer"]["Authorization"][7:]).token_id
    accounts.revoke_user_token(db, token_id)
    assert client.get("/api/v1/offices", headers=tokens["officer"]).status_code == 401
    kiosk = people.principal_for_token(db, demo["kiosk_token"])
    accounts.revoke_device(db, kiosk.device_id)
    assert client.get("/api/v1/offices", headers=tokens["kiosk"]).status_code == 401


def test_a_session_past_its_lifetime_is_refused(db, demo):
    user = people.find_user(db, "canbo1")
    key = access.start_session(db, user_id=user["id"], now=utcnow() - timedelta(days=40))
    assert people.principal_for_session(db, key, timedelta(days=31)) is None
    fresh = access.start_session(db, user_id=user["id"])
    assert people.principal_for_session(db, fresh, timedelta(days=31)).user_id == user["id"]


def test_login_gives_a_new_session_key(client, demo):
    client.get("/login")
    with client.session_transaction() as sess:
        sess["sid"] = "planted-by-an-attacker"
    login(client, "canbo1")
    with client.session_transaction() as sess:
        assert sess["sid"] != "planted-by-an-attacker"


# --- sockets that end -------------------------------------------------------------------


def test_logout_disconnects_the_sessions_sockets(app, client, demo):
    csrf = login(client, "quanly")
    sio = socketio.test_client(app, flask_test_client=client)
    other = app.test_client()
    login(other, "quanly")  # the same user in another browser stays connected
    keeps = socketio.test_client(app, flask_test_client=other)
    assert sio.is_connected() and keeps.is_connected()
    client.post("/logout", data={"csrf_token": csrf})
    assert not sio.is_connected()
    assert keeps.is_connected()


@pytest.mark.parametrize("what", ["token", "device", "user", "board"])
def test_revocations_disconnect_open_sockets(app, client, db, demo, tokens, what):
    manager = login(client, "quanly")
    officer_token = tokens["officer"]["Authorization"][7:]
    auth = {
        "token": officer_token,
        "device": {"token": demo["display_token"]},
        "user": {"token": officer_token},
        "board": {"board": demo["board_id"]},
    }[what]
    auth = auth if isinstance(auth, dict) else {"token": auth}
    sio = socketio.test_client(app, auth=auth)
    bystander = socketio.test_client(app, auth={"token": tokens["manager"]["Authorization"][7:]})
    assert sio.is_connected()
    if what == "token":
        token_id = people.principal_for_token(db, officer_token).token_id
        r = client.post(f"/manager/setup/tokens/{token_id}/revoke", data={"csrf_token": manager})
    elif what == "device":
        device = people.principal_for_token(db, demo["display_token"]).device_id
        r = client.post(
            f"/manager/setup/devices/{device}", data={"csrf_token": manager, "action": "revoke"}
        )
    elif what == "user":
        user = people.find_user(db, "canbo1")
        r = client.post(
            f"/manager/setup/users/{user['id']}",
            data={"csrf_token": manager, "role": "officer", "office_id": str(user["office_id"])},
        )  # active unticked
    else:
        r = client.post("/manager/setup/office/board-link", data={"csrf_token": manager})
    assert r.status_code == 302
    assert not sio.is_connected()
    assert bystander.is_connected()


def test_a_rotated_board_link_stops_working(app, client, db, demo):
    csrf = login(client, "quanly")
    client.post("/manager/setup/office/board-link", data={"csrf_token": csrf})
    new = engine.get_office(db, demo["office_id"])["board_id"]
    assert new != demo["board_id"]
    assert client.get(f"/display/board/{demo['board_id']}").status_code == 404
    assert client.get(f"/display/board/{new}").status_code == 200
    assert not socketio.test_client(app, auth={"board": demo["board_id"]}).is_connected()


# --- what a public channel may carry ----------------------------------------------------


def test_public_and_citizen_channels_carry_no_staff_text(app, client, db, demo, tokens):
    officer = tokens["officer"]
    kiosk = tokens["kiosk"]

    def issue(service="A"):
        r = client.post("/api/v1/tickets", json={"service": service}, headers=kiosk)
        return r.json["ticket"]

    first, second, third = issue(), issue(), issue()
    tracker_token = first["tracker_url"].rsplit("/", 1)[1]
    public = {
        "board": socketio.test_client(app, auth={"board": demo["board_id"]}),
        "display": socketio.test_client(app, auth={"token": demo["display_token"]}),
        "kiosk": socketio.test_client(app, auth={"token": demo["kiosk_token"]}),
        "tracker": socketio.test_client(app, auth={"visit": tracker_token}),
    }
    staff = socketio.test_client(app, auth={"token": officer["Authorization"][7:]})
    assert all(s.is_connected() for s in (*public.values(), staff))

    def act(path, body=None):
        r = client.post("/api/v1" + path, json=body or {}, headers=officer)
        assert r.status_code == 200, r.json

    act("/counters/1/call", {"ticket": first["id"], "reason": "LYDO-GOI"})
    act(f"/tickets/{first['id']}/return", {"reason": "LYDO-TRA"})
    act("/counters/1/call", {"ticket": first["id"], "reason": "LYDO-GOI"})
    act(f"/tickets/{first['id']}/start")
    act(f"/tickets/{first['id']}/transfer", {"service": "B", "reason": "LYDO-CHUYEN"})
    act(f"/tickets/{second['id']}/cancel", {"reason": "LYDO-HUY"})
    act("/counters/2/call", {"ticket": third["id"], "reason": "LYDO-GOI"})
    act(f"/tickets/{third['id']}/start")
    act(f"/tickets/{third['id']}/finish", {"dossier_code": "HOSO-123", "outcome": "KETQUA-XONG"})
    act("/counters/3/pause", {"reason": "LYDO-TAMDUNG"})
    texts = {}
    for name, sio in public.items():
        ack = sio.emit("sync", callback=True)
        seen = texts[name] = received_text(sio) + json.dumps(ack, ensure_ascii=False)
        assert ack["ok"], name
        leaked = [t for t in STAFF_TEXT if t in seen]
        assert leaked == [], (name, leaked)
        assert '"pause_reason"' not in seen and '"officer_id"' not in seen, name
    staff_seen = received_text(staff) + json.dumps(staff.emit("sync", callback=True))
    for text in ("LYDO-GOI", "LYDO-TAMDUNG", "LYDO-TRA", "LYDO-HUY", "LYDO-CHUYEN"):
        assert text in staff_seen  # staff rooms still get the reasons
    assert "HOSO-123" not in staff_seen  # dossier codes stay out of every room
    assert first["code"] in texts["board"]  # codes do reach the board


def test_a_board_sees_whether_a_ticket_has_priority_not_which(app, client, demo, tokens):
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    client.post(
        "/api/v1/tickets", json={"service": "A", "priority": "disability"}, headers=tokens["kiosk"]
    )
    issued = [e["args"][0] for e in board.get_received() if e["name"] == "queue_event"][0]
    assert issued["ticket"]["priority"] is True and "disability" not in json.dumps(issued)


# --- logins -----------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_account(client, demo):
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    for _ in range(access.LOGIN_FAILURES_PER_ACCOUNT):
        r = client.post(
            "/login", data={"username": "canbo3", "password": "sai-mat-khau", "csrf_token": csrf}
        )
        assert r.status_code == 401
    refused = client.post(
        "/login", data={"username": "canbo3", "password": "xephang-demo", "csrf_token": csrf}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "thử lại sau" in page and "phút" in page
    other = client.post(
        "/login", data={"username": "canbo4", "password": "xephang-demo", "csrf_token": csrf}
    )
    assert other.status_code == 302  # another account from the same address still may


def test_the_throttle_counts_per_address_and_resets_after_its_window(db, demo):
    now = utcnow()
    for n in range(access.LOGIN_FAILURES_PER_ADDRESS):
        access.record_login_failure(db, f"ten{n}", "10.0.0.9", now=now)
    with pytest.raises(RateLimitError) as err:
        access.check_login_allowed(db, "canbo1", "10.0.0.9", now=now)
    assert "15 phút" in err.value.message_vi
    access.check_login_allowed(db, "canbo1", "10.0.0.8", now=now)  # another address
    access.check_login_allowed(db, "canbo1", "10.0.0.9", now=now + access.LOGIN_WINDOW)


def test_behind_the_proxy_the_throttle_counts_the_address_the_proxy_saw(client, db, demo):
    """nginx on this machine connects from 127.0.0.1 for everyone: the login throttle
    counts the address it appended to X-Forwarded-For, so one person's failures lock out
    that person's address, not the office. A client's own header counts for nothing."""
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]

    def attempt(username, password, forwarded, peer="127.0.0.1"):
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf},
            headers={"X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": peer},
        )

    guesser = "203.0.113.5, 198.51.100.66"  # what it sent, then what nginx saw
    for n in range(access.LOGIN_FAILURES_PER_ADDRESS):
        assert attempt(f"doan{n}", "sai", guesser).status_code == 401
    assert attempt("canbo1", "xephang-demo", "198.51.100.66").status_code == 429
    failed = db.execute("SELECT DISTINCT address FROM login_failures").fetchall()
    assert failed == [("198.51.100.66",)]
    # not from a proxy: the header is the client's own words, the peer is counted
    assert attempt("doan-x", "sai", "198.51.100.8", peer="192.0.2.44").status_code == 401
    assert db.execute(
        "SELECT address FROM login_failures WHERE username = 'doan-x'"
    ).fetchall() == [("192.0.2.44",)]
    assert attempt("canbo1", "xephang-demo", "198.51.100.7").status_code == 302


def test_unknown_and_known_usernames_run_the_same_hash(db, demo, monkeypatch):
    checked = []

    def check(stored, password):
        checked.append(stored.split("$", 1)[0])
        return False

    assert people.authenticate(db, "canbo1", "sai", check=check) is None
    assert people.authenticate(db, "khong-co-ai", "sai", check=check) is None
    assert len(checked) == 2  # a hash is checked for the unknown name too


@pytest.mark.parametrize(
    "password,message",
    [
        ("ngan", "tối thiểu 10"),
        ("canbo1canbo1"[:6] + "xxxx", None),
        ("1234567890", "quá phổ biến"),
        ("matkhau123", "quá phổ biến"),
        ("aaaaaaaaaaaa", "quá phổ biến"),
        ("Canbo1", "tối thiểu 10"),
    ],
)
def test_password_rules(password, message):
    if message is None:
        assert accounts.check_password(password, "canbo1") == password
        return
    with pytest.raises(BadInputError) as err:
        accounts.check_password(password, "canbo1")
    assert message in err.value.message_vi


def test_a_password_may_not_be_the_username():
    with pytest.raises(BadInputError):
        accounts.check_password("nguyenvanan", "NguyenVanAn")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("/manager/", "/manager/"),
        ("/manager/reports?period=day", "/manager/reports?period=day"),
        ("/%09/evil.example/", ""),
        ("//evil.example/", ""),
        ("/\\evil.example", ""),
        ("https://evil.example/", ""),
        ("/%2F%2Fevil.example", ""),
        ("/manager/\r\nSet-Cookie: x", ""),
        ("manager", ""),
        ("", ""),
    ],
)
def test_login_next_is_a_same_site_path_only(raw, expected):
    assert safe_next(raw) == expected


def test_login_does_not_redirect_off_site(client, demo):
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    r = client.post(
        "/login?next=/%09/evil.example/",
        data={"username": "canbo1", "password": "xephang-demo", "csrf_token": csrf},
    )
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_under_gevent_password_checks_run_off_the_event_loop():
    """The production server (gevent) checks passwords in a thread of gevent's pool, so
    the event loop keeps serving boards and counters meanwhile; without gevent, inline."""
    import subprocess
    import sys
    import threading

    from xephang.web.context import blocking

    assert blocking(threading.get_native_id) == threading.get_native_id()
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import threading\nfrom xephang.web.context import blocking\n"
        "print(blocking(threading.get_native_id) != threading.get_native_id())"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr[-2000:]


# --- another office answers as missing ----------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("GET", "/api/v1/tickets/{id}"),
        ("POST", "/api/v1/tickets/{id}/recall"),
        ("POST", "/api/v1/counters/{id}/call-next"),
        ("POST", "/api/v1/counters/{id}/open"),
        ("GET", "/api/v1/offices/{id}/snapshot"),
        ("GET", "/api/v1/offices/{id}/waiting"),
    ],
)
def test_another_offices_rows_answer_exactly_as_missing_ones(client, db, demo, tokens, method, url):
    other = engine.create_office(db, "Văn phòng khác")
    service = engine.add_service(db, other, "A", "Hộ tịch")
    counter = engine.add_counter(db, other, 1, [service])
    ticket = engine.issue_ticket(db, other, "A").ticket["id"]
    theirs = {"tickets": ticket, "counters": counter, "offices": other}[url.split("/")[3]]
    missing = 10**9

    def answer(row_id):
        r = client.open(
            url.format(id=row_id),
            method=method,
            json={} if method == "POST" else None,
            headers=tokens["officer"],
        )
        return r.status_code, r.get_data(as_text=True).replace(str(row_id), "ID")

    assert answer(theirs) == answer(missing)
    assert answer(theirs)[0] == 404


def test_another_offices_user_answers_as_missing_on_setup(client, db, demo):
    other = engine.create_office(db, "Văn phòng khác")
    stranger = accounts.add_user(db, "canbo-khac", "officer", other, "Mua-thu-Ha-Noi")
    csrf = login(client, "quanly")

    def answer(user_id):
        r = client.post(
            f"/manager/setup/users/{user_id}",
            data={"csrf_token": csrf, "role": "officer", "office_id": str(demo["office_id"])},
        )
        return r.status_code

    assert answer(stranger) == answer(10**9) == 404
    assert "canbo-khac" not in client.get("/manager/setup/users").get_data(as_text=True)


def test_an_office_bound_admin_stays_in_its_office(app, db, demo):
    other = engine.create_office(db, "Văn phòng khác")
    stranger = accounts.add_user(db, "canbo-khac", "officer", other, "Mua-thu-Ha-Noi")
    accounts.add_user(db, "qtv-phuong", "admin", demo["office_id"], "Quan-tri-Phuong-1")
    client = app.test_client()
    csrf = login(client, "qtv-phuong", "Quan-tri-Phuong-1")
    page = client.get("/manager/setup/users").get_data(as_text=True)
    assert "canbo-khac" not in page and "(mọi văn phòng" not in page
    me = people.find_user(db, "qtv-phuong")["id"]
    lift = client.post(
        f"/manager/setup/users/{me}",
        data={"csrf_token": csrf, "role": "admin", "office_id": "", "active": "1"},
    )
    assert lift.status_code == 403  # cannot make itself an admin of every office
    assert people.find_user(db, "qtv-phuong")["office_id"] == demo["office_id"]
    reset = client.post(
        f"/manager/setup/users/{stranger}",
        data={
            "csrf_token": csrf,
            "role": "officer",
            "office_id": str(other),
            "active": "1",
            "password": "Mat-khau-chiem-quyen",
        },
    )
    assert reset.status_code == 404  # another office's officer: not even there
    assert people.authenticate(db, "canbo-khac", "Mat-khau-chiem-quyen") is None
    made = client.post(
        "/manager/setup/users",
        data={
            "csrf_token": csrf,
            "username": "qtv-moi",
            "role": "admin",
            "office_id": "",
            "password": "Quan-tri-Moi-123",
        },
    )
    assert made.status_code == 403 and people.find_user(db, "qtv-moi") is None
    moved = client.post(
        "/manager/setup/users",
        data={
            "csrf_token": csrf,
            "username": "canbo-sang",
            "role": "officer",
            "office_id": str(other),
            "password": "Quan-tri-Moi-123",
        },
    )
    assert moved.status_code == 403 and people.find_user(db, "canbo-sang") is None
    assert (
        client.post(
            "/manager/setup/offices",
            data={"csrf_token": csrf, "name": "VP mới", "timezone": "Asia/Ho_Chi_Minh"},
        ).status_code
        == 404
    )


# --- one rate limit for every path a device issues by -----------------------------------


def test_a_kiosk_token_is_rate_limited_on_the_api_too(app, client, demo, tokens):
    app.config["KIOSK_RATE_LIMIT"] = "3/60"
    for _ in range(3):
        assert (
            client.post(
                "/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"]
            ).status_code
            == 201
        )
    refused = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"])
    assert refused.status_code == 429 and refused.json["code"] == "rate_limited"
    # and the kiosk page's own path shares the same count
    assert (
        client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["officer"]).status_code
        == 201
    )  # staff are not limited


def test_issuing_for_a_device_without_its_limit_is_a_programming_error(queue):
    with pytest.raises(ValueError):
        engine.issue_ticket(queue.db, queue.office, "A", device_id=1)


def test_reports_and_exports_run_off_the_event_loop(client, demo, monkeypatch):
    """Long reports go through ``blocking`` (gevent's thread pool under the server)."""
    import manager.views
    from xephang.web.context import blocking

    ran = []

    def recording(fn, *args, **kwargs):
        ran.append(getattr(fn, "__name__", repr(fn)))
        return blocking(fn, *args, **kwargs)

    monkeypatch.setattr(manager.views, "blocking", recording)
    login(client, "quanly")
    for url in (
        "/manager/reports?period=month",
        "/manager/reports/export.xlsx?period=month",
        "/manager/log.json",
        "/manager/log/export.csv",
    ):
        assert client.get(url).status_code == 200, url
    assert {"wait_report", "heatmap", "wait_log", "log_rows"} <= set(ran)
    assert "<lambda>" in ran  # the export files themselves


def test_printed_receipts_are_shown_to_their_own_office_only(app, client, db, demo):
    from PIL import Image

    from printers.backends import printed_label

    folder = app.config["PRINT_DIR"]
    other = engine.create_office(db, "Văn phòng khác")
    import pathlib

    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
    mine = f"20260302T020000000000_{printed_label(demo['office_id'], 'A001')}.png"
    theirs = f"20260302T020001000000_{printed_label(other, 'A001')}.png"
    for name in (mine, theirs):
        Image.new("1", (8, 8), 1).save(pathlib.Path(folder) / name)
    login(client, "quanly")
    page = client.get("/manager/printed/").get_data(as_text=True)
    assert mine in page and theirs not in page
    assert client.get(f"/manager/printed/{mine}").status_code == 200
    assert client.get(f"/manager/printed/{theirs}").status_code == 404
    assert client.get(f"/manager/printed/?office={other}").status_code == 404


# --- socket and tracker input that cannot break a request ---------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        {"visit": "\ud800"},
        {"board": "\ud800"},
        {"token": "\ud800"},
        {"visit": ["x"]},
        {"token": {"a": 1}},
        {"board": "x" * 5000},
    ],
)
def test_odd_socket_handshakes_are_refused_not_crashed(app, demo, auth):
    assert not socketio.test_client(app, auth=auth).is_connected()


def test_odd_socket_messages_get_an_error_answer(app, demo):
    sio = socketio.test_client(app, auth={"token": demo["display_token"]})
    assert sio.emit("join", {"visit": "\ud800"}, callback=True)["status"] == 404
    assert sio.emit("join", {"office": "abc"}, callback=True)["status"] == 400
    assert sio.emit("join", {"office": 2**70}, callback=True)["status"] == 400
    assert sio.emit("leave", {"counter": "abc"}, callback=True)["status"] == 400
    assert sio.emit("display_status", {"audio": "\ud800"}, callback=True) == {"ok": True}
    assert sio.emit("sync", "garbage", callback=True)["ok"] is True
    assert sio.is_connected()


@pytest.mark.parametrize(
    "body",
    [
        '{"level": 3, "comment": "\\ud800"}',
        "[" * 5000 + "]" * 5000,
        '{"level": "x"}',
        '{"level": 3, "comment": 5}',
        '{"level": 3, "extra": 1}',
    ],
)
def test_odd_ratings_are_refused_and_change_nothing(client, db, demo, body):
    ticket = engine.issue_ticket(db, demo["office_id"], "A", check_hours=False).ticket
    engine.call_next(db, 1)
    engine.start(db, ticket["id"])
    engine.finish(db, ticket["id"])
    r = client.post(
        f"/t/{ticket['tracker_token']}/rating", data=body, content_type="application/json"
    )
    assert r.status_code == 400
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
