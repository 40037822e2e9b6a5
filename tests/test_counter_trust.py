"""A counter an officer can trust: no-shows brought back the same day, the last action
undone, pause and close alike, takeovers confirmed and logged (engine and API)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.helpers import MONDAY_9AM, Bad, Case
from xephang import engine
from xephang.engine import states
from xephang.errors import BadInputError, ConflictError, NotFoundError
from xephang.queries import office as office_queries
from xephang.queries import queue as queue_queries

T0 = datetime.fromisoformat(MONDAY_9AM)
T_ACTION = "/api/v1/tickets/<int:ticket_id>/<action>"
C_ACTION = "/api/v1/counters/<int:counter_id>/<action>"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def issue(q, service="A", seconds=0):
    return engine.issue_ticket(q.db, q.office, service, now=at(seconds)).ticket


def events_of(db, ticket_id):
    return [
        (e["type"], json.loads(e["details"]))
        for e in db.query(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [ticket_id]
        )
    ]


def no_show_first(q):
    """A001 called at counter 1 and marked no-show; A002 and A003 wait behind it."""
    first = issue(q, seconds=0)
    issue(q, seconds=10)
    issue(q, seconds=20)
    engine.call_next(q.db, q.counters[1], now=at(30))
    engine.no_show(q.db, first["id"], now=at(60))
    return first


# --- a no-show is not a dead end ----------------------------------------------------------


def test_a_no_show_is_called_again_by_its_code_the_same_day(queue):
    q = queue
    first = no_show_first(q)
    first_call = engine.get_ticket(q.db, first["id"])["called_at"]
    ticket_id = engine.find_code_to_call(q.db, q.office, "a001", now=at(90))
    assert ticket_id == first["id"]
    out = engine.call_ticket(q.db, q.counters[2], ticket_id, "Gọi lại số đã bỏ lỡ", now=at(120))
    assert out.ticket["status"] == "called" and out.ticket["counter"]["number"] == 2
    row = engine.get_ticket(q.db, ticket_id)
    # the wait stays first call − issue: the second call does not reset it
    assert row["called_at"] == first_call and row["finished_at"] is None
    kinds = [kind for kind, _ in events_of(q.db, ticket_id)]
    assert kinds == ["issued", "called", "no_show", "called"]
    assert events_of(q.db, ticket_id)[-1][1]["reason"] == "Gọi lại số đã bỏ lỡ"
    assert engine.replay_states(q.db, q.office)[ticket_id] == "called"


def test_a_waiting_ticket_with_the_code_comes_before_a_no_show(queue):
    q = queue
    no_show_first(q)
    # a waiting ticket of the same code (yesterday's numbering is another day): none here,
    # so the no-show is found; an unknown code is refused in words that say both
    with pytest.raises(NotFoundError) as err:
        engine.find_code_to_call(q.db, q.office, "A099", now=at(90))
    assert "đang chờ hoặc vắng mặt hôm nay" in err.value.message_vi


def test_yesterdays_no_show_stays_gone(queue):
    q = queue
    first = no_show_first(q)
    tomorrow = at(24 * 3600)
    with pytest.raises(NotFoundError):
        engine.find_code_to_call(q.db, q.office, "A001", now=tomorrow)
    with pytest.raises(ConflictError) as err:
        engine.call_ticket(q.db, q.counters[1], first["id"], "muộn", now=tomorrow)
    assert "trong ngày" in err.value.message_vi
    with pytest.raises(ConflictError):
        engine.return_to_queue(q.db, first["id"], reason="muộn", now=tomorrow)


def test_a_returned_no_show_goes_back_to_its_original_place_with_a_reason(queue):
    q = queue
    first = no_show_first(q)
    with pytest.raises(BadInputError) as err:
        engine.return_to_queue(q.db, first["id"], now=at(90))
    assert "lý do" in err.value.message_vi
    out = engine.return_to_queue(q.db, first["id"], reason="Công dân đã quay lại", now=at(90))
    assert out.ticket["status"] == "waiting" and out.ticket["counter"] is None
    back = engine.get_ticket(q.db, first["id"])
    assert back["queue_at"] == back["issued_at"]
    assert engine.order.people_ahead(q.db, back) == 0  # first in line again, not last
    assert engine.call_next(q.db, q.counters[1], now=at(100)).ticket["id"] == first["id"]
    returned = [d for kind, d in events_of(q.db, first["id"]) if kind == "returned"]
    assert returned == [{"reason": "Công dân đã quay lại"}]
    # the line moved: trackers behind it are told one more person is ahead
    moves = queue_queries.queue_moves(q.db, out.events, {str(q.services["A"]): 3})
    assert [m["change"] for m in moves] == ["joined"]


def test_the_table_says_a_no_show_may_be_called_or_returned():
    rules = states.browser_rules()
    assert "no_show" in rules["needs"]["call"] and "no_show" in rules["needs"]["return"]
    assert set(rules["needs"]["undo"]) == {"no_show", "done", "transferred"}
    assert "undone" in rules["seats"] and "started" in rules["seats"]
    assert "undone" not in rules["releases"]
    assert rules["after"]["undone"] == states.RESTORED
    assert rules["undo_window_s"] == 30


# --- undo -------------------------------------------------------------------------------


def test_undo_a_no_show_puts_the_citizen_back_as_called(queue):
    q = queue
    first = no_show_first(q)
    out = engine.undo(q.db, first["id"], now=at(80))
    assert out.ticket["status"] == "called"
    counter = engine.get_counter(q.db, q.counters[1])
    assert counter["current_ticket_id"] == first["id"]
    assert engine.get_ticket(q.db, first["id"])["finished_at"] is None
    kind, details = events_of(q.db, first["id"])[-1]
    assert kind == "undone" and details["undid"] == "no_show"
    assert engine.replay_states(q.db, q.office)[first["id"]] == "called"
    assert engine.verify_log(q.db) == []


def test_undo_a_finish_reopens_the_service_and_forgets_the_dossier(queue):
    q = queue
    t = issue(q)
    engine.call_next(q.db, q.counters[1], now=at(10))
    engine.start(q.db, t["id"], now=at(20))
    engine.finish(q.db, t["id"], dossier_code="HS-1", outcome="received", now=at(300))
    out = engine.undo(q.db, t["id"], now=at(320))
    row = engine.get_ticket(q.db, t["id"])
    assert out.ticket["status"] == "serving" and row["dossier_code"] is None
    assert row["finished_at"] is None and row["started_at"] is not None
    assert engine.replay_states(q.db, q.office)[t["id"]] == "serving"


@pytest.mark.parametrize("started", [False, True], ids=["called", "serving"])
def test_undo_a_transfer_withdraws_the_new_ticket(queue, started):
    q = queue
    t = issue(q)
    engine.call_next(q.db, q.counters[1], now=at(10))
    if started:
        engine.start(q.db, t["id"], now=at(20))
    moved = engine.transfer(q.db, t["id"], service="C", reason="nhầm", now=at(40))
    new_id = moved.ticket["id"]
    out = engine.undo(q.db, t["id"], now=at(60))
    assert out.ticket["status"] == ("serving" if started else "called")
    assert engine.get_ticket(q.db, new_id)["status"] == "cancelled"
    assert [e["type"] for e in out.events] == ["undone", "cancelled"]
    assert engine.replay_states(q.db, q.office) == dict(
        q.db.execute("SELECT id, status FROM tickets").fetchall()
    )
    # the citizen's tracker follows the visit's ticket back at the counter, not the withdrawn one
    token = q.db.execute(
        "SELECT v.token FROM visits v JOIN tickets t ON t.visit_id = v.id WHERE t.id = ?", [t["id"]]
    ).fetchone()[0]
    state = queue_queries.tracker_state(q.db, token)
    assert state["ticket"]["id"] == t["id"] and [x["id"] for x in state["tickets"]] == [t["id"]]
    # nothing was called at counter 3 meanwhile: C waits for nobody
    assert engine.call_next(q.db, q.counters[3], now=at(70)).ticket is None


def test_undo_is_refused_after_30_seconds(queue):
    q = queue
    first = no_show_first(q)
    with pytest.raises(ConflictError) as err:
        engine.undo(q.db, first["id"], now=at(60 + 31))
    assert "30 giây" in err.value.message_vi


@pytest.mark.parametrize(
    "since",
    ["call-next", "pause", "return", "recall-elsewhere"],
)
def test_undo_is_refused_when_something_happened_since(queue, since):
    q = queue
    first = no_show_first(q)
    if since == "call-next":
        engine.call_next(q.db, q.counters[1], now=at(65))
    elif since == "pause":
        engine.pause(q.db, q.counters[1], "Nghỉ", now=at(65))
    elif since == "return":
        engine.return_to_queue(q.db, first["id"], reason="quay lại", now=at(65))
    else:  # another counter calls it back: the ticket moved on
        engine.call_ticket(q.db, q.counters[2], first["id"], "gọi lại", now=at(65))
    before = q.db.execute("SELECT * FROM ticket_events").fetchall()
    with pytest.raises(ConflictError):
        engine.undo(q.db, first["id"], now=at(70))
    assert q.db.execute("SELECT * FROM ticket_events").fetchall() == before


def test_undo_of_a_transfer_is_refused_once_the_new_ticket_was_called(queue):
    q = queue
    t = issue(q)
    engine.call_next(q.db, q.counters[1], now=at(10))
    moved = engine.transfer(q.db, t["id"], service="C", now=at(20))
    engine.call_next(q.db, q.counters[3], now=at(25))
    with pytest.raises(ConflictError) as err:
        engine.undo(q.db, t["id"], now=at(30))
    assert moved.ticket["code"] in err.value.message_vi


def test_only_no_show_finish_and_transfer_are_undone(queue):
    q = queue
    t = issue(q)
    engine.call_next(q.db, q.counters[1], now=at(10))
    with pytest.raises(ConflictError):  # called: nothing to undo
        engine.undo(q.db, t["id"], now=at(15))
    engine.cancel(q.db, t["id"], reason="x", now=at(20))
    with pytest.raises(ConflictError):  # a cancel is not undone
        engine.undo(q.db, t["id"], now=at(25))


# --- pause and close are alike; takeovers are confirmed ------------------------------------


@pytest.mark.parametrize("serving", [False, True], ids=["called", "serving"])
@pytest.mark.parametrize("operation", ["pause", "close"])
def test_pause_is_refused_like_close_while_the_counter_holds_a_citizen(queue, serving, operation):
    q = queue
    t = issue(q)
    engine.call_next(q.db, q.counters[1], now=at(10))
    if serving:
        engine.start(q.db, t["id"], now=at(20))
    with pytest.raises(ConflictError) as err:
        if operation == "pause":
            engine.pause(q.db, q.counters[1], "Nghỉ", now=at(30))
        else:
            engine.close_counter(q.db, q.counters[1], now=at(30))
    assert t["code"] in err.value.message_vi
    assert engine.get_counter(q.db, q.counters[1])["state"] == "open"


def test_a_counter_held_by_another_officer_is_taken_over_only_when_confirmed(queue):
    q = queue
    db = q.db
    from xephang.engine import accounts

    one = accounts.add_user(db, "canbo_mot", "officer", q.office, "mat-khau-dai-1", "Cán bộ Một")
    two = accounts.add_user(db, "canbo_hai", "officer", q.office, "mat-khau-dai-2", "Cán bộ Hai")
    engine.open_counter(db, q.counters[1], user_id=one, now=at(0))
    engine.open_counter(db, q.counters[1], user_id=one, now=at(5))  # the holder again: fine
    with pytest.raises(ConflictError) as err:
        engine.open_counter(db, q.counters[1], user_id=two, now=at(10))
    assert "Cán bộ Một" in err.value.message_vi and err.value.extra["officer_id"] == one
    out = engine.open_counter(db, q.counters[1], user_id=two, now=at(20), takeover=True)
    assert out.events[0]["details"]["takeover_from"] == one
    assert engine.get_counter(db, q.counters[1])["officer_id"] == two
    # the staff snapshot names the holder (the chooser says who); the public one does not
    snap = office_queries.snapshot(db, q.office, now=at(30))
    counter = next(c for c in snap["counters"] if c["id"] == q.counters[1])
    assert counter["officer"] == "Cán bộ Hai"
    public = engine.views.public_snapshot(snap)
    assert all("officer" not in c and "officer_id" not in c for c in public["counters"])
    # a closed counter is anyone's
    engine.close_counter(db, q.counters[1], user_id=two, now=at(40))
    engine.open_counter(db, q.counters[1], user_id=one, now=at(50))


# --- the API ----------------------------------------------------------------------------

API_CASES = [
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/undo",
        "officer",
        state="no_show",
        denied="kiosk",
        check=lambda b, c: b["ticket"]["status"] == "called",
        bad=[Bad(409, state="called"), Bad(409, state="waiting")],
    ),
    Case(
        "POST",
        T_ACTION,
        "/api/v1/tickets/{ticket}/return",
        "officer",
        state="no_show",
        json={"reason": "Công dân quay lại"},
        check=lambda b, c: b["ticket"]["status"] == "waiting",
        bad=[Bad(400, json={})],
    ),
    Case(
        "POST",
        "/api/v1/counters/<int:counter_id>/call",
        "/api/v1/counters/{counter}/call",
        "officer",
        state="no_show",
        json={"ticket": "{code}", "reason": "Gọi lại số đã bỏ lỡ"},
        check=lambda b, c: b["ticket"]["id"] == c.ticket and b["ticket"]["status"] == "called",
    ),
    Case(
        "POST",
        C_ACTION,
        "/api/v1/counters/{counter}/open",
        "officer",
        json={"takeover": True},
        check=lambda b, c: b["counter"]["state"] == "open",
        bad=[Bad(400, json={"takeover": "maybe"})],
    ),
]


def test_a_takeover_over_the_api_is_refused_then_confirmed(ctx):
    ctx.db.execute(
        "UPDATE counters SET state = 'open', officer_id = ? WHERE id = ?",
        [
            ctx.db.execute("SELECT id FROM users WHERE username = 'canbo2'").fetchone()[0],
            ctx.counters[1],
        ],
    )
    url = f"/api/v1/counters/{ctx.counters[1]}/open"
    refused = ctx.request("POST", url, "officer", json={})
    assert refused.status_code == 409 and "Cán bộ quầy 2" in refused.json["error"]
    assert refused.json["officer"] == "Cán bộ quầy 2"
    taken = ctx.request("POST", url, "officer", json={"takeover": True})
    assert taken.status_code == 200
    last = ctx.db.execute(
        "SELECT type, details FROM ticket_events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert last[0] == "counter_opened" and "takeover_from" in json.loads(last[1])


# --- reprinting a citizen's ticket at the counter -----------------------------------------


def test_a_counter_reprints_the_citizens_ticket_as_it_is_now(app, client, db, demo, tmp_path):
    import printers
    from tests.helpers import login, pair_kiosk

    kiosk_csrf = pair_kiosk(client, demo["kiosk_token"])
    issued = client.post(
        "/kiosk/api/tickets", json={"service": "A"}, headers={"X-CSRF-Token": kiosk_csrf}
    ).json["ticket"]
    printers.get_spooler(app).drain()
    client.post("/logout", data={"csrf_token": kiosk_csrf})
    csrf = login(client, "canbo1")
    headers = {"X-CSRF-Token": csrf}
    engine.call_next(db, 1)
    moved = engine.transfer(db, issued["id"], service="C").ticket  # the citizen now holds C001
    r = client.post(
        f"/counter/api/tickets/{moved['id']}/print", json={"counter": 1}, headers=headers
    )
    assert r.status_code == 201, r.json
    assert r.json["code"] == "C001" and r.json["print"]["printer"] == "virtual"
    payload = json.loads(
        db.execute(
            "SELECT payload FROM print_jobs WHERE id = ?", [r.json["print"]["id"]]
        ).fetchone()[0]
    )
    assert payload["code"] == "C001" and payload["service_vi"] == "Đất đai"
    assert payload["tracker_url"] == issued["tracker_url"]  # the same visit's tracker
    printers.get_spooler(app).drain()
    assert list((tmp_path / "printed").glob("*_C001.png"))
    assert "printed" in [kind for kind, _ in events_of(db, moved["id"])]
    # a second reprint is one more copy
    again = client.post(f"/counter/api/tickets/{moved['id']}/print", json={}, headers=headers)
    assert again.status_code == 201 and again.json["print"]["id"] != r.json["print"]["id"]


def test_a_counter_printer_is_used_when_the_counter_has_one(app, client, db, demo):
    import printers
    from tests.helpers import login

    ticket = engine.issue_ticket(db, demo["office_id"], "A").ticket
    app.config["COUNTER_PRINTER_MAP"] = "2=file:/tmp/xephang-counter-2.bin"
    assert "file:/tmp/xephang-counter-2.bin" in printers.configured_printers(app.config)
    csrf = login(client, "canbo2")
    r = client.post(
        f"/counter/api/tickets/{ticket['id']}/print",
        json={"counter": 2},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert r.status_code == 201 and r.json["print"]["printer"] == "file:/tmp/xephang-counter-2.bin"
    app.config["PRINTER"] = "none"
    app.config["COUNTER_PRINTER_MAP"] = ""
    refused = client.post(
        f"/counter/api/tickets/{ticket['id']}/print",
        json={},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert refused.status_code == 409 and "máy in" in refused.json["error"]
    app.config["COUNTER_PRINTER_MAP"] = "two=virtual"
    with pytest.raises(ValueError):
        printers.counter_printer_map(app.config)


def test_only_officers_of_the_office_reprint(client, db, demo, tokens):
    ticket = engine.issue_ticket(db, demo["office_id"], "A").ticket
    url = f"/counter/api/tickets/{ticket['id']}/print"
    assert client.post(url, json={}, headers=tokens["kiosk"]).status_code == 403
    assert client.post(url, json={}).status_code == 401
    other = engine.create_office(db, "Văn phòng khác")
    engine.add_counter(db, other, 1, [engine.add_service(db, other, "A", "Hộ tịch")])
    theirs = engine.issue_ticket(db, other, "A").ticket
    r = client.post(
        f"/counter/api/tickets/{theirs['id']}/print", json={}, headers=tokens["officer"]
    )
    assert r.status_code == 404
    bad = client.post(url, json={"counter": "x"}, headers=tokens["officer"])
    assert bad.status_code == 400
