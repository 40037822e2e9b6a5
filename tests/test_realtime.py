"""The realtime hub over Socket.IO: who may connect, which rooms get which events."""

from __future__ import annotations

import contextlib

import pytest

from tests.helpers import login
from xephang import engine
from xephang.engine import accounts
from xephang.web.extensions import socketio


def events(sio, name="queue_event"):
    return [e["args"][0] for e in sio.get_received() if e["name"] == name]


def split(received):
    out = {}
    for e in received:
        out.setdefault(e["name"], []).append(e["args"][0])
    return out


@pytest.fixture
def issue(client, tokens):
    def issue_ticket(service="A", priority=None):
        body = {"service": service, **({"priority": priority} if priority else {})}
        r = client.post("/api/v1/tickets", json=body, headers=tokens["kiosk"])
        assert r.status_code == 201, r.json
        ticket = r.json["ticket"]
        ticket["token"] = ticket["tracker_url"].rsplit("/", 1)[1]
        return ticket

    return issue_ticket


def call_next(client, tokens, counter=1):
    r = client.post(f"/api/v1/counters/{counter}/call-next", headers=tokens["officer"])
    assert r.status_code == 200, r.json
    return r.json["ticket"]


def test_display_token_joins_its_office_board_and_gets_every_call(app, client, tokens, demo, issue):
    display = socketio.test_client(app, auth={"token": demo["display_token"]})
    assert display.is_connected()
    ticket = issue("A")
    call_next(client, tokens)
    got = events(display)
    assert [e["type"] for e in got] == ["issued", "called"]
    called = got[1]
    assert called["ticket"]["code"] == ticket["code"]
    assert called["details"]["counter_number"] == 1
    assert [e["seq"] for e in got] == [got[0]["seq"], got[0]["seq"] + 1]
    assert called["announcement"]["clips"][:2] == ["chime", "phrase_moi_cong_dan_co_so_thu_tu"]
    assert called["waiting"] == {} and called["waiting_total"] == 0
    assert "tracker_token" not in called["ticket"]


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"token": "xd_not-a-token"},
        {"token": "xu_nope"},
        {"board": "not-a-board"},
        {"visit": "not-a-visit"},
        "junk",
    ],
)
def test_unauthorised_sockets_are_refused(app, demo, auth):
    sio = socketio.test_client(app, auth=auth)
    assert not sio.is_connected()


def test_revoked_display_is_refused(app, db, demo):
    device_id, token = accounts.add_device(db, demo["office_id"], "display", "TV 2")
    accounts.revoke_device(db, device_id)
    assert not socketio.test_client(app, auth={"token": token}).is_connected()


def test_printer_device_may_not_listen(app, db, demo):
    _, token = accounts.add_device(db, demo["office_id"], "printer", "P1")
    assert not socketio.test_client(app, auth={"token": token}).is_connected()


def test_other_office_gets_nothing(app, db, client, tokens, demo, issue):
    other = engine.create_office(db, "Phường Khác")
    _, token = accounts.add_device(db, other, "display", "TV")
    elsewhere = socketio.test_client(app, auth={"token": token})
    assert elsewhere.is_connected()
    issue("A")
    call_next(client, tokens)
    assert elsewhere.get_received() == []
    assert elsewhere.emit("join", {"office": demo["office_id"]}, callback=True)["status"] == 403
    assert elsewhere.emit("join", {"counter": 1}, callback=True)["status"] == 403


def test_public_board_link_follows_office(app, client, tokens, demo, issue):
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    assert board.is_connected()
    issue("B")
    call_next(client, tokens, counter=2)
    assert [e["type"] for e in events(board)] == ["issued", "called"]
    ack = board.emit("sync", callback=True)
    assert ack["ok"] and ack["snapshot"]["office"]["id"] == demo["office_id"]
    assert ack["snapshot"]["recent_calls"][0]["ticket"]["code"] == "B001"
    # read-only: a board may not join a counter room
    assert board.emit("join", {"counter": 1}, callback=True)["status"] == 403


def test_counter_room_gets_only_its_counter(app, client, tokens, demo, issue):
    c1 = socketio.test_client(
        app, auth={"token": tokens["officer"]["Authorization"][7:], "counter": 1}
    )
    assert c1.is_connected()
    issue("A")
    issue("C")
    call_next(client, tokens, counter=3)  # counter 3 serves C
    call_next(client, tokens, counter=1)
    got = events(c1)
    # c1 follows the office room too, but each event reaches it exactly once
    assert [e["type"] for e in got] == ["issued", "issued", "called", "called"]
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(set(seqs))


def test_counter_room_alone_for_third_parties(app, db, client, tokens, demo, issue):
    admin_token = accounts.add_user_token(db, "admin")
    # an admin of every office follows no office until it says which
    sign = socketio.test_client(app, auth={"token": admin_token, "counter": 3})
    assert sign.is_connected()
    issue("A")
    issue("C")
    call_next(client, tokens, counter=1)
    call_next(client, tokens, counter=3)
    got = events(sign)
    assert [(e["type"], e["counter_id"]) for e in got] == [("called", 3)]


def test_officer_counter_of_other_office_refused(app, db, tokens, demo):
    other = engine.create_office(db, "Xã Khác")
    service = engine.add_service(db, other, "A", "Hộ tịch")
    counter = engine.add_counter(db, other, 1, [service])
    sio = socketio.test_client(
        app, auth={"token": tokens["officer"]["Authorization"][7:], "counter": counter}
    )
    assert not sio.is_connected()


def test_session_cookie_authorises_officer_socket(app, client, tokens, demo, issue):
    login(client, "canbo2")
    sio = socketio.test_client(app, flask_test_client=client, auth={"counter": 2})
    assert sio.is_connected()
    issue("B")
    assert [e["type"] for e in events(sio)] == ["issued"]
    ack = sio.emit("counter_sync", {"counter": 2}, callback=True)
    assert ack["ok"] and [t["code"] for t in ack["counter"]["next_tickets"]] == ["B001"]


def test_tracker_gets_its_ticket_and_queue_moves_only(app, client, tokens, demo, issue):
    first, mine, other_service = issue("A"), issue("A"), issue("C")
    tracker = socketio.test_client(app, auth={"visit": mine["token"]})
    assert tracker.is_connected()
    state = tracker.emit("sync", callback=True)["tracker"]
    assert state["ticket"]["code"] == mine["code"] and state["people_ahead"] == 1
    assert "tracker_token" not in state["ticket"]
    call_next(client, tokens, counter=3)  # takes the C ticket: nothing for this tracker
    assert tracker.get_received() == []
    call_next(client, tokens, counter=1)  # takes `first`: one person fewer ahead
    got = split(tracker.get_received())
    assert list(got) == ["queue_moved"]
    move = got["queue_moved"][0]
    assert move["change"] == "left" and move["ticket_id"] == first["id"]
    assert move["key"] < state["queue_key"]
    assert move["waiting"] == 1
    call_next(client, tokens, counter=2)  # counter 2 serves B then A: my ticket is called
    got = split(tracker.get_received())
    assert [e["type"] for e in got["queue_event"]] == ["called"]
    assert got["queue_event"][0]["ticket"]["counter"]["number"] == 2
    state = tracker.emit("sync", callback=True)["tracker"]
    assert state["ticket"]["status"] == "called" and state["people_ahead"] is None
    # once called (and synced), the tracker leaves its service's queue moves
    issue("A", priority="elderly")
    issue("A")
    call_next(client, tokens, counter=6)
    assert tracker.get_received() == []
    del other_service


def test_tracker_keys_count_people_ahead(app, client, tokens, demo, issue):
    """Replaying queue_moved on the tracker's key gives the engine's people_ahead."""
    tickets = [issue("A") for _ in range(4)]
    last = tickets[-1]
    tracker = socketio.test_client(app, auth={"visit": last["token"]})
    state = tracker.emit("sync", callback=True)["tracker"]
    ahead, key = state["people_ahead"], state["queue_key"]
    assert ahead == 3
    issue("A", priority="elderly")  # jumps ahead of everyone
    call_next(client, tokens, counter=1)
    call_next(client, tokens, counter=2)  # B first, then A
    r = client.post(
        f"/api/v1/tickets/{tickets[1]['id']}/cancel",
        json={"reason": "đi về"},
        headers=tokens["officer"],
    )
    assert r.status_code == 200
    for move in events(tracker, "queue_moved"):
        if move["ticket_id"] != last["id"] and move["key"] < key:
            ahead += 1 if move["change"] == "joined" else -1
    assert ahead == tracker.emit("sync", callback=True)["tracker"]["people_ahead"]


def test_tracker_follows_a_transfer(app, client, tokens, demo, issue):
    ticket = issue("A")
    tracker = socketio.test_client(app, auth={"visit": ticket["token"]})
    call_next(client, tokens, counter=1)
    client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=tokens["officer"])
    r = client.post(
        f"/api/v1/tickets/{ticket['id']}/transfer", json={"service": "C"}, headers=tokens["officer"]
    )
    new_id = r.json["ticket"]["id"]
    assert [e["type"] for e in events(tracker)][-1] == "transferred"
    state = tracker.emit("sync", callback=True)["tracker"]  # re-joins the new ticket's rooms
    assert state["ticket"]["id"] == new_id and state["ticket"]["status"] == "waiting"
    call_next(client, tokens, counter=3)
    assert [e["type"] for e in events(tracker)] == ["called"]


def test_dossier_code_is_not_broadcast(app, client, tokens, demo, issue):
    display = socketio.test_client(app, auth={"board": demo["board_id"]})
    staff = socketio.test_client(app, auth={"token": tokens["officer"]["Authorization"][7:]})
    ticket = issue("A")
    call_next(client, tokens)
    client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=tokens["officer"])
    client.post(
        f"/api/v1/tickets/{ticket['id']}/finish",
        json={"dossier_code": "000.00.01.H01-260101-0001", "outcome": "received"},
        headers=tokens["officer"],
    )
    finished = [e for e in events(display) if e["type"] == "finished"][0]
    assert finished["details"] == {}  # a board learns neither the code nor that there is one
    assert "000.00.01" not in repr(finished) and "received" not in repr(finished)
    for_staff = [e for e in events(staff) if e["type"] == "finished"][0]
    assert for_staff["details"] == {"has_dossier_code": True, "outcome": "received"}


def test_missed_events_resync_through_snapshot(app, client, tokens, demo, issue):
    """A client that was away sees a seq gap; the snapshot has everything it missed."""
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    issue("A")
    first = events(board)
    last_seen = first[-1]["seq"]
    board.disconnect()
    issue("A")
    call_next(client, tokens)  # missed while away
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    issue("B")
    live = events(board)
    assert live[0]["seq"] > last_seen + 1  # a gap: the client must resync
    snap = board.emit("sync", callback=True)["snapshot"]
    assert snap["seq"] == live[-1]["seq"]
    assert snap["recent_calls"][0]["ticket"]["code"] == "A001"
    assert snap["waiting"] == {"1": 1, "2": 1}
    assert snap["counters"][0]["current_ticket"]["code"] == "A001"


def test_pause_and_counter_events_reach_board_without_the_reason(app, client, tokens, demo):
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    staff = socketio.test_client(app, auth={"token": tokens["officer"]["Authorization"][7:]})
    r = client.post(
        "/api/v1/counters/4/pause", json={"reason": "Họp giao ban"}, headers=tokens["officer"]
    )
    assert r.status_code == 200
    client.post("/api/v1/counters/4/resume", headers=tokens["officer"])
    got = events(board)
    assert [(e["type"], e["counter_id"]) for e in got] == [("paused", 4), ("resumed", 4)]
    assert "reason" not in got[0]["details"] and "Họp giao ban" not in repr(got)
    assert events(staff)[0]["details"]["reason"] == "Họp giao ban"  # staff still see why


def test_recall_is_announced_again(app, client, tokens, demo, issue):
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    ticket = issue("A")
    call_next(client, tokens)
    client.post(f"/api/v1/tickets/{ticket['id']}/recall", headers=tokens["officer"])
    got = [e for e in events(board) if "announcement" in e]
    assert [e["type"] for e in got] == ["called", "recalled"]
    assert got[0]["announcement"] == got[1]["announcement"]


def test_announcement_follows_office_settings(app, db, client, tokens, demo, issue):
    from xephang.storage import write

    with write(db):
        engine.set_office_settings(db, demo["office_id"], {"number_reading": "number"})
        engine.set_office_settings(
            db,
            demo["office_id"],
            {"announce_template": "Xin mời quý khách có số thứ tự {code} đến quầy {counter}"},
        )
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    issue("A")
    call_next(client, tokens)
    ann = events(board)[-1]["announcement"]
    assert ann["text"] == "Xin mời quý khách có số thứ tự A001 đến quầy 1"
    assert ann["clips"] == [
        "chime",
        "phrase_xin_moi_quy_khach_co_so_thu_tu",
        "letter_a",
        "digit_1",
        "phrase_den_quay",
        "digit_1",
    ]


def test_join_and_sync_need_a_connection_and_valid_input(app, client, tokens, demo, issue):
    ticket = issue("A")
    sio = socketio.test_client(app, auth={"token": tokens["officer"]["Authorization"][7:]})
    assert sio.emit("join", {"counter": "x"}, callback=True)["status"] == 400
    assert sio.emit("join", {"counter": 999}, callback=True)["status"] == 404
    assert sio.emit("join", {}, callback=True)["status"] == 400
    assert sio.emit("join", {"visit": "nope"}, callback=True)["status"] == 404
    assert sio.emit("join", {"visit": ticket["token"]}, callback=True)["ok"]
    assert sio.emit("counter_sync", {"counter": "x"}, callback=True)["status"] == 400
    assert sio.emit("counter_sync", {"counter": 999}, callback=True)["status"] == 404


def test_display_status_recorded_for_paired_display(app, db, demo):
    display = socketio.test_client(app, auth={"token": demo["display_token"]})
    assert display.emit("display_status", {"audio": "blocked"}, callback=True)["ok"]
    row = db.execute("SELECT status FROM devices WHERE kind = 'display'").fetchone()
    assert '"audio": "blocked"' in row[0]
    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    assert board.emit("display_status", {"audio": "on"}, callback=True)["status"] == 403


def test_joining_at_the_back_moves_nobody(app, client, tokens, demo, issue):
    first = issue("A")
    tracker = socketio.test_client(app, auth={"visit": first["token"]})
    issue("A")  # behind the tracker: its position does not change, nothing is sent
    assert events(tracker, "queue_moved") == []
    issue("A", priority="elderly")  # ahead of it: one more person ahead
    moves = events(tracker, "queue_moved")
    assert [(m["change"], m["cause"]) for m in moves] == [("joined", "issued")]


def test_sync_is_rate_limited_per_socket(app, demo):
    from xephang.web.realtime import SYNC_LIMIT

    board = socketio.test_client(app, auth={"board": demo["board_id"]})
    acks = [board.emit("sync", callback=True) for _ in range(SYNC_LIMIT + 1)]
    assert all(a["ok"] for a in acks[:SYNC_LIMIT])
    assert acks[-1] == {"ok": False, "status": 429, "error": "too many sync requests"}
    other = socketio.test_client(app, auth={"board": demo["board_id"]})
    assert other.emit("sync", callback=True)["ok"]  # per socket, not per office


# --- the order of a broadcast: the rooms' message out before the tracker fan-out ---------


@pytest.mark.parametrize("cooperative", [False, True], ids=["inline", "gevent"])
def test_the_rooms_message_is_published_before_the_tracker_fan_out_starts(
    ctx, monkeypatch, cooperative
):
    """Started inside the batch, the fan-out ran whenever the publish to the other workers
    yielded (reading Redis's reply; a process's first publish connects): their boards and
    this request's answer waited for this worker's thousands of tracker sends."""
    from xephang.web import broadcast

    order = []

    @contextlib.contextmanager
    def batch(server):
        yield
        order.append("published")  # the batch's one message goes when the block ends

    monkeypatch.setattr(broadcast.redis_queue, "batch", batch)
    monkeypatch.setattr(broadcast, "emit_moves", lambda moves: order.append("moves"))
    monkeypatch.setattr(broadcast, "_cooperative", lambda: cooperative)
    monkeypatch.setattr(
        broadcast.socketio, "start_background_task", lambda fn, *a: order.append("spawned")
    )
    for _ in range(3):  # the first is called; two wait behind it: they move
        engine.issue_ticket(ctx.db, ctx.office, "A", check_hours=False)
    called = engine.call_next(ctx.db, ctx.counters[1])
    with ctx.app.app_context():
        broadcast.broadcast_with(ctx.db, called.events)
    assert order == ["published", "spawned" if cooperative else "moves"]
