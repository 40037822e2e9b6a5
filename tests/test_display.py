"""The display pages: pairing, the public board link, the board's assets and today's wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import login, pair_display
from xephang import engine
from xephang.reports import live
from xephang.storage import write
from xephang.web.extensions import socketio


def test_the_pairing_link_only_shows_what_is_about_to_happen(client, demo):
    shown = client.get(f"/display/pair?token={demo['display_token']}")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "Ghép nối" in page and "TV phòng chờ" in page
    assert "no-store" in shown.headers["Cache-Control"]
    with client.session_transaction() as sess:
        assert "sid" not in sess  # nothing paired by the GET
    assert client.get("/display/").status_code == 401


def test_a_pairing_post_needs_the_pages_csrf_token(client, demo):
    r = client.post("/display/pair", data={"token": demo["display_token"]})
    assert r.status_code == 403
    with client.session_transaction() as sess:
        assert "sid" not in sess


def test_the_pairing_link_warns_a_signed_in_officer_and_keeps_their_session(client, demo):
    login(client, "canbo1")
    page = client.get(f"/display/pair?token={demo['display_token']}").get_data(as_text=True)
    assert "đang đăng nhập" in page and "Cán bộ quầy 1" in page
    assert client.get("/counter/").status_code == 200  # the GET changed nothing


def test_pair_then_board_of_the_paired_office(client, demo):
    pair_display(client, demo["display_token"])
    r = client.get("/display/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Trung tâm Phục vụ hành chính công (Demo)" in page
    assert 'data-mode="session"' in page
    for asset in (
        "xephang/vendor/socket.io.min.js",
        "xephang/live.js",
        "display/voice.js",
        "display/board.js",
    ):
        assert asset in page


def test_paired_session_authorises_the_board_socket(app, client, demo):
    pair_display(client, demo["display_token"])
    sio = socketio.test_client(app, flask_test_client=client)
    assert sio.is_connected()
    snap = sio.emit("sync", callback=True)["snapshot"]
    assert snap["office"]["id"] == demo["office_id"]
    assert set(snap["board"]) == set(live.BOARD_SETTINGS)


def test_pair_refuses_bad_and_non_display_tokens(client, demo):
    assert client.get("/display/pair?token=xd_wrong").status_code == 403
    assert client.get("/display/pair").status_code == 403
    assert client.get(f"/display/pair?token={demo['kiosk_token']}").status_code == 403


def test_unpaired_browser_is_told_how_to_pair(client, demo):
    r = client.get("/display/")
    assert r.status_code == 401
    assert "/display/pair?token=" in r.get_data(as_text=True)


def test_staff_may_open_their_office_board(client, demo):
    login(client, "canbo1")
    assert client.get("/display/").status_code == 200


def test_public_board_link(client, demo):
    r = client.get(f"/display/board/{demo['board_id']}")
    assert r.status_code == 200
    assert f'data-board="{demo["board_id"]}"' in r.get_data(as_text=True)
    assert client.get("/display/board/not-the-id").status_code == 404


def test_assets_are_served_from_the_app(client):
    r = client.get("/static/xephang/vendor/socket.io.min.js")
    assert r.status_code == 200 and b"Socket.IO v4" in r.data[:200]
    r = client.get("/display/static/display/voice/chime.ogg")
    assert r.status_code == 200 and r.data[:4] == b"OggS"
    assert client.get("/static/xephang/live.js").status_code == 200


def test_today_wait_against_target(db, demo):
    office = demo["office_id"]
    now = datetime.now(UTC)
    with write(db):
        db.execute("DELETE FROM targets WHERE office_id = ?", [office])
    engine.set_target(db, office, "avg_wait_s", 900, "2023-01-01")
    assert live.today_wait(db, office)["avg_s"] is None
    for minutes in (4, 10):
        t = engine.issue_ticket(
            db, office, "A", now=now - timedelta(minutes=minutes), check_hours=False
        ).ticket
        engine.call_next(db, 1 if minutes == 4 else 2, now=now)
        if minutes == 4:
            engine.no_show(db, t["id"], now=now)
    wait = live.today_wait(db, office, now=now)
    assert wait["visits"] == 2 and wait["avg_s"] == 420 and wait["target_s"] == 900


def test_board_snapshot_carries_the_managers_message_and_voice_settings(app, db, demo):
    with write(db):
        engine.set_office_settings(
            db, demo["office_id"], {"board_message": "Chiều thứ Sáu tiếp dân đến 17 giờ"}
        )
        engine.set_office_settings(db, demo["office_id"], {"number_dialect": "south"})
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    snap = board.emit("sync", callback=True)["snapshot"]
    assert snap["board"]["board_message"] == "Chiều thứ Sáu tiếp dân đến 17 giờ"
    assert snap["board"]["number_dialect"] == "south" and snap["board"]["voice_enabled"] is True
    assert snap["wait_today"]["avg_s"] is None


def test_the_board_counts_a_transferred_visits_waits_together(db, demo):
    """The board's average is per visit (DESIGN definitions), like the manager's figures."""
    office = demo["office_id"]
    now = datetime.now(UTC)
    first = engine.issue_ticket(
        db, office, "A", now=now - timedelta(minutes=10), check_hours=False
    ).ticket
    engine.call_next(db, 1, now=now - timedelta(minutes=6))  # counter 1 serves A first
    moved = engine.transfer(db, first["id"], service="C", now=now - timedelta(minutes=6)).ticket
    engine.call_next(db, 3, now=now)  # counter 3 serves C
    assert engine.get_ticket(db, moved["id"])["status"] == "called"
    wait = live.today_wait(db, office, now=now)
    assert wait["visits"] == 1 and wait["avg_s"] == 600  # 4 + 6 minutes, one visit
