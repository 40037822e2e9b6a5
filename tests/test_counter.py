"""The counter screen: who may open it, what it shows, and never calling a ticket twice."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.helpers import LiveServer, login, pair_display
from xephang.engine import accounts
from xephang.storage import connect
from xephang.web.extensions import socketio


def test_counter_page_needs_an_officer_login(client, demo):
    r = client.get("/counter/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    pair_display(client, demo["display_token"])
    assert client.get("/counter/").status_code == 403


def test_officer_lands_on_the_counter_screen(client, demo):
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    r = client.post(
        "/login", data={"username": "canbo1", "password": demo["password"], "csrf_token": csrf}
    )
    assert r.headers["Location"].endswith("/counter/")
    page = client.get("/counter/").get_data(as_text=True)
    assert '<meta name="csrf-token"' in page
    # every action is on the keyboard, and the shortcuts are documented on the page
    for key, action in (
        ("n", "call-next"),
        ("r", "recall"),
        ("s", "start"),
        ("f", "finish"),
        ("v", "no-show"),
        ("t", "transfer"),
        ("b", "return"),
        ("g", "call"),
        ("p", "pause"),
        ("x", "close"),
    ):
        assert f'data-action="{action}" data-key="{key}"' in page
        assert f"<kbd>{key.upper()}</kbd>" in page
    assert "Mã hồ sơ" in page and "counter/counter.js" in page


def test_counter_sync_gives_next_tickets_and_own_figures(app, client, tokens, demo):
    for service in ("B", "A", "B"):
        client.post("/api/v1/tickets", json={"service": service}, headers=tokens["kiosk"])
    client.post(
        "/api/v1/tickets", json={"service": "A", "priority": "elderly"}, headers=tokens["kiosk"]
    )
    csrf = login(client, "canbo1")
    sio = socketio.test_client(app, flask_test_client=client, auth={"counter": 1})
    state = sio.emit("counter_sync", {"counter": 1}, callback=True)["counter"]
    # counter 1 serves A then B; the priority ticket goes first
    assert [t["code"] for t in state["next_tickets"]][0] == "A002"
    assert state["next_ticket_id"] == state["next_tickets"][0]["id"]
    assert state["mine"] == {"called": 0, "done": 0, "no_show": 0, "avg_service_s": None}
    headers = {"X-CSRF-Token": csrf}
    ticket = client.post("/api/v1/counters/1/call-next", headers=headers).json["ticket"]
    client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=headers)
    client.post(
        f"/api/v1/tickets/{ticket['id']}/finish", json={"dossier_code": "X-1"}, headers=headers
    )
    nxt = client.post("/api/v1/counters/1/call-next", headers=headers).json["ticket"]
    client.post(f"/api/v1/tickets/{nxt['id']}/no-show", headers=headers)
    mine = sio.emit("counter_sync", {"counter": 1}, callback=True)["counter"]["mine"]
    assert mine["called"] == 2 and mine["done"] == 1 and mine["no_show"] == 1
    assert mine["avg_service_s"] is not None


def test_the_counter_state_counts_todays_no_shows_beyond_its_list(db, demo):
    from xephang import engine
    from xephang.queries import queue as queue_queries

    office = demo["office_id"]
    for _ in range(5):
        ticket = engine.issue_ticket(db, office, "A", check_hours=False).ticket
        engine.no_show(db, engine.call_ticket(db, 1, ticket["id"], "test").ticket["id"])
    state = queue_queries.counter_state(db, 1, None, next_limit=3)
    assert [t["code"] for t in state["no_shows"]] == ["A005", "A004", "A003"]
    assert state["no_show_count"] == 5
    assert queue_queries.counter_state(db, 1, None)["no_show_count"] == 5


def test_counter_sync_refuses_others(app, db, client, tokens, demo):
    display = socketio.test_client(app, auth={"token": demo["display_token"]})
    assert display.emit("counter_sync", {"counter": 1}, callback=True)["status"] == 403
    from xephang import engine

    other = engine.create_office(db, "Xã Khác")
    service = engine.add_service(db, other, "A", "Hộ tịch")
    counter = engine.add_counter(db, other, 1, [service])
    officer = socketio.test_client(app, auth={"token": tokens["officer"]["Authorization"][7:]})
    assert officer.emit("counter_sync", {"counter": counter}, callback=True)["status"] == 403


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_template):
    """A real server on a copy of the demo office, with a bearer token for each officer."""
    path = tmp_path_factory.mktemp("counter") / "server.db"
    info = demo_template.copy_to(path)
    db = connect(path)
    info["tokens"] = {f"canbo{n}": accounts.add_user_token(db, f"canbo{n}") for n in range(1, 7)}
    db.close()
    live = LiveServer(path).start()
    live.demo = info
    yield live
    live.stop()


def _session(server, username):
    """A browser-like session: logged in through the form, with its CSRF token."""
    s = requests.Session()
    page = s.get(f"{server.url}/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = s.post(
        f"{server.url}/login",
        data={"username": username, "password": server.demo["password"], "csrf_token": csrf},
    )
    assert r.ok
    s.headers["X-CSRF-Token"] = (
        s.get(f"{server.url}/counter/").text.split('name="csrf-token" content="')[1].split('"')[0]
    )
    return s


def _issue(server, service, n):
    # Staff issue without the kiosk's rate limit (a kiosk may issue 20 a minute).
    kiosk = {"Authorization": f"Bearer {server.demo['tokens']['canbo6']}"}
    return [
        requests.post(
            f"{server.url}/api/v1/tickets", json={"service": service}, headers=kiosk
        ).json()["ticket"]
        for _ in range(n)
    ]


def test_double_click_over_http_calls_one_ticket(server):
    """Two call-next requests at the same instant for one counter: one call, one refusal."""
    _issue(server, "C", 3)
    session = _session(server, "canbo3")
    barrier, results = threading.Barrier(4), []

    def click():
        barrier.wait()
        r = session.post(f"{server.url}/api/v1/counters/3/call-next")
        results.append((r.status_code, (r.json().get("ticket") or {}).get("code")))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(200, "C001"), (409, None), (409, None), (409, None)]


def test_officers_at_once_never_call_the_same_ticket(server):
    """Three officers whose counters share service A call through 30 tickets at once."""
    issued = _issue(server, "A", 30)
    called: dict[str, list[str]] = {}

    def officer(username, counter_id):
        s = _session(server, username)
        mine = called.setdefault(username, [])
        while True:
            r = s.post(f"{server.url}/api/v1/counters/{counter_id}/call-next")
            assert r.status_code == 200, r.text
            ticket = r.json()["ticket"]
            if ticket is None:
                return
            mine.append(ticket["code"])
            assert s.post(f"{server.url}/api/v1/tickets/{ticket['id']}/start").ok

    # counters 1 (A, B), 2 (B, A) and 6 (F, A) all take A tickets
    threads = [
        threading.Thread(target=officer, args=(u, c))
        for u, c in (("canbo1", 1), ("canbo2", 2), ("canbo6", 6))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [code for codes in called.values() for code in codes]
    assert sorted(codes) == sorted(t["code"] for t in issued)  # each exactly once
