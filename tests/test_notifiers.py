"""The outbox worker against a fake SMS gateway on 127.0.0.1 that refuses, hangs, answers
500 or accepts: every due message is delivered exactly once after it recovers, none after
its give-up time, two workers never send one message twice, a recovered message goes out
with the same id.

The worker runs in the test thread (``run_once``, ``drain``) where the order of attempts
matters, and as real threads where concurrency does. Timeouts are generous (the fake
answers at once unless told to misbehave); the test of a gateway that never answers sets
its own short one. Time is the worker's injected clock, never a sleep.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

import pytest

from notifiers.channels import SmsChannel
from notifiers.texts import is_gsm7, render, strip_diacritics
from notifiers.worker import Notifier
from xephang.clock import utcnow
from xephang.engine import outbox
from xephang.engine.settings import DEFAULT_MESSAGES

WAIT_S = 120  # a guard against a hang, never expected to run out
PHONES = [f"09123456{i:02d}" for i in range(60)]


@pytest.fixture
def office(notify_office, provider):
    return notify_office(SMS_URL=provider.url + "/sms", SMS_TOKEN="secret-token", SMS_SENDER="UBND")


def delivered_ids(provider) -> set[str]:
    return set(provider.delivered)


def test_the_sms_contract(office, provider):
    ticket = office.issue(phone="0912 345 678", consent=True)["ticket"]
    (message,) = office.messages()
    assert (message["purpose"], message["channel"], message["state"]) == ("near", "sms", "queued")
    assert office.worker.drain() == 1
    (request,) = provider.received
    body = request.json()
    assert body["id"] == f"xephang-{message['id']}"
    assert body["to"] == "+84912345678"
    assert body["sender"] == "UBND"
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert body["text"].startswith(f"Sap den luot so {ticket['code']}: con 0 nguoi truoc ban")
    assert body["text"].endswith(ticket["tracker_url"])
    assert office.messages()[0]["state"] == "sent"


def test_refused_hung_and_failing_gateways_deliver_each_message_once_when_back(office, provider):
    for phone in PHONES[:3]:
        office.issue(phone=phone, consent=True)
    ids = {f"xephang-{m['id']}" for m in office.messages()}
    assert len(ids) == 3
    worker = office.worker
    provider.set_mode("refuse")
    assert worker.run_once() == 3
    assert {m["state"] for m in office.messages()} == {"queued"}
    assert "cannot reach" in office.messages()[0]["last_error"]

    channel = worker.channels["sms"]
    channel.timeout = 0.3  # it will run out
    provider.set_mode("hang")
    assert worker.run_once() == 3
    assert "no answer" in office.messages()[0]["last_error"]
    channel.timeout = 30.0

    provider.set_mode("error")
    assert worker.run_once() == 3
    assert office.messages()[0]["last_error"] == "HTTP 500"
    assert provider.delivered == {}

    provider.set_mode("ok")
    assert worker.drain() == 3
    assert delivered_ids(provider) == ids
    assert provider.repeats == []
    assert [m["attempts"] for m in office.messages()] == [4, 4, 4]
    assert {m["state"] for m in office.messages()} == {"sent"}
    assert worker.drain() == 0  # nothing more goes out
    assert len(provider.answered()) == 3


def test_nothing_goes_out_after_its_give_up_time(office, provider):
    office.issue(phone=PHONES[0], consent=True)
    provider.set_mode("error")
    assert office.worker.run_once() == 1
    provider.set_mode("ok")
    (message,) = office.messages()
    late = outbox.parse_iso(message["give_up_at"]) + timedelta(seconds=1)
    office.worker.clock = lambda: late
    assert office.worker.drain() == 0
    (message,) = office.messages()
    assert message["state"] == "failed" and message["last_error"].startswith("gave up")
    assert provider.delivered == {}


def test_a_message_whose_next_try_would_come_too_late_fails_now(office, provider):
    office.issue(phone=PHONES[0], consent=True)
    office.worker.config = dataclasses.replace(
        office.worker.config, retry_base_s=3600.0, retry_max_s=3600.0
    )
    provider.set_mode("error")
    assert office.worker.run_once() == 1
    (message,) = office.messages()
    assert message["state"] == "failed" and message["attempts"] == 1


def test_refused_for_good_is_not_retried(office, provider):
    provider.responder = lambda request: (400, {"error": "bad number"})
    office.issue(phone=PHONES[0], consent=True)
    assert office.worker.run_once() == 1
    assert office.worker.drain() == 0
    (message,) = office.messages()
    assert (message["state"], message["attempts"], message["last_error"]) == (
        "failed",
        1,
        "HTTP 400",
    )


def test_out_of_tries_is_failed(office, provider):
    office.worker.config = dataclasses.replace(office.worker.config, max_attempts=2)
    office.issue(phone=PHONES[0], consent=True)
    provider.set_mode("error")
    assert office.worker.drain() == 2
    (message,) = office.messages()
    assert (message["state"], message["attempts"]) == ("failed", 2)


def test_two_workers_on_one_database_never_send_the_same_message_twice(office, provider):
    office.set(notify_near_people=50)
    for phone in PHONES[:40]:
        office.issue(phone=phone, consent=True)
    # Not written yet: whichever worker comes first writes the 40 "near" of the line
    assert office.messages(expand=False) == [] and len(office.moves()) == 1
    config = dataclasses.replace(office.worker.config, batch=3)
    workers = [
        Notifier(config, {"sms": SmsChannel(provider.url + "/sms", "", "", True, 30.0)})
        for _ in range(2)
    ]
    start = threading.Barrier(2)
    handled = [0, 0]

    def run(i):
        start.wait()
        handled[i] = workers[i].drain(timeout=WAIT_S)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    for w in workers:
        w.stop()
    posted = Counter(r.json()["id"] for r in provider.received)
    assert len(posted) == 40 and set(posted.values()) == {1}
    assert sum(handled) == 40 and all(handled), handled  # both took part
    assert {m["state"] for m in office.messages()} == {"sent"}
    assert len(office.messages()) == 40


def test_a_message_taken_back_from_a_dead_worker_goes_out_with_the_same_id(office, provider):
    office.issue(phone=PHONES[0], consent=True)
    office.expand()
    (claimed,) = outbox.claim(office.db)  # a worker claims it, sends it, and dies
    channel = office.worker.channels["sms"]
    message = {**claimed, "payload_data": {}}
    channel.send(message, render(message, {"message_near": "x"}, "http://xephang.test"))
    assert outbox.recover(office.db, lease_s=3600) == 0  # within its lease: left alone
    assert outbox.recover(office.db, lease_s=0, now=utcnow() + timedelta(seconds=1)) == 1
    assert office.worker.drain() == 1
    assert [r.json()["id"] for r in provider.received] == [f"xephang-{claimed['id']}"] * 2
    assert list(provider.delivered) == [f"xephang-{claimed['id']}"]  # the gateway drops it
    assert provider.repeats == [f"xephang-{claimed['id']}"]


def test_a_waiting_message_is_skipped_once_it_is_pointless(office, provider):
    ticket = office.issue(phone=PHONES[0], consent=True)["ticket"]
    office.expand()  # "near" is written...
    office.call()  # ...but the ticket is called before it went out: moot; "called" goes
    assert office.worker.drain() == 1
    by_purpose = {m["purpose"]: m for m in office.messages()}
    assert by_purpose["near"]["state"] == "skipped"
    assert by_purpose["near"]["last_error"] == "ticket is called"
    assert by_purpose["called"]["state"] == "sent"
    (request,) = provider.received
    assert request.json()["text"] == f"Moi so {ticket['code']} den quay 1."


def test_near_goes_out_once_when_few_enough_are_ahead(office, provider):
    office.set(notify_near_people=2, notify_near_minutes=0)
    for _ in range(4):
        office.issue()
    mine = office.issue(phone=PHONES[0], consent=True)["ticket"]
    assert office.messages() == []  # four ahead
    office.call(1)
    assert office.messages() == []  # three ahead
    office.call(2)
    (near,) = office.messages()
    assert (near["ticket_id"], near["purpose"]) == (mine["id"], "near")
    assert near["payload"] == '{"ahead":2,"wait_s":null}'
    office.call(6)
    assert len(office.messages()) == 1  # once
    office.worker.drain()
    assert "con 2 nguoi" in provider.received[0].json()["text"]


def test_a_citizen_sent_back_to_the_line_is_told_near_and_called_again(office, provider):
    """Messages were once per ticket: one returned to the line (to fetch a paper) was never
    told again that its turn was near, nor that it was called. They are once per turn."""
    office.set(notify_near_people=1, notify_near_minutes=0)
    mine = office.issue(phone=PHONES[0], consent=True)["ticket"]
    office.issue()
    office.issue()
    assert office.messages()[-1]["purpose"] == "near"  # nobody ahead
    office.worker.drain()
    assert office.call()["id"] == mine["id"]
    office.worker.drain()
    office.act(mine["id"], "return", reason="Thiếu bản sao giấy tờ")  # behind the two
    assert len(office.messages()) == 2  # two ahead: not near
    office.act(office.call(2)["id"], "no-show")  # one ahead
    assert [(m["purpose"], m["returns"]) for m in office.messages()] == [
        ("near", 0),
        ("called", 0),
        ("near", 1),
    ]
    office.worker.drain()
    office.call(2)
    assert len(office.messages()) == 3  # once in this turn too
    assert office.call()["id"] == mine["id"]
    assert [(m["purpose"], m["returns"]) for m in office.messages()][3:] == [("recalled", 1)]
    office.worker.drain()
    code = mine["code"]
    assert [r.json()["text"].split(" ngu")[0] for r in provider.received] == [
        f"Sap den luot so {code}: con 0",
        f"Moi so {code} den quay 1.",
        f"Sap den luot so {code}: con 1",
        f"Nhac lai: moi so {code} den quay 1 ngay.",
    ]


def test_near_by_the_estimate_needs_a_measured_service_time_and_an_open_counter(office):
    office.set(notify_near_people=0, notify_near_minutes=10)
    first = office.issue()["ticket"]
    for _ in range(3):
        office.issue()
    mine = office.issue(phone=PHONES[0], consent=True)["ticket"]
    assert office.messages() == []  # nothing measured today: no estimate, no message
    called = office.call(1)
    assert called["id"] == first["id"]
    office.act(called["id"], "start")
    office.act(called["id"], "finish")  # a measured time (at least 30 s a person)
    (near,) = office.messages()
    assert near["ticket_id"] == mine["id"]


def test_called_and_recalled_go_to_every_channel_of_the_visit(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    office.set(notify_near_people=0, notify_near_minutes=0)
    office.issue(phone=PHONES[0], consent=True)
    ticket = office.call()
    office.act(ticket["id"], "recall")
    office.act(ticket["id"], "recall")  # a second recall: "recalled" was already sent
    assert [m["purpose"] for m in office.messages()] == ["called", "recalled"]
    assert office.worker.drain() == 2
    # A batch goes out over concurrent connections: the arrival order is not fixed.
    texts = sorted(r.json()["text"] for r in provider.received)
    assert texts == [
        f"Moi so {ticket['code']} den quay 1.",
        f"Nhac lai: moi so {ticket['code']} den quay 1 ngay.",
    ]


def test_the_rating_invitation_waits_for_the_evening_and_skips_a_rated_visit(office, provider):
    office.set(notify_near_people=0, rating_invite_time="20:00")
    ticket = office.issue(phone=PHONES[0], consent=True)["ticket"]
    office.call()
    office.act(ticket["id"], "start")
    office.act(ticket["id"], "finish")
    rating = office.messages(purpose="rating")[0]
    due = outbox.parse_iso(rating["next_attempt_at"])
    finished = outbox.parse_iso(rating["created_at"])
    local = due.astimezone(outbox.ZoneInfo("Asia/Ho_Chi_Minh"))
    evening_passed = finished.astimezone(local.tzinfo).strftime("%H:%M") >= "20:00"
    assert local.strftime("%H:%M") == "20:00" or (evening_passed and due == finished)
    if evening_passed:
        return  # finished after 20:00 local: invited at once (test_evening_invitation_...)
    office.worker.drain()  # "called" goes now; the invitation is not due yet
    assert [m["state"] for m in office.messages(purpose="rating")] == ["queued"]
    office.worker.clock = lambda: due + timedelta(seconds=1)
    assert office.worker.drain() == 1
    invitation = provider.received[-1].json()["text"]
    assert invitation.startswith("Cam on ban da den Trung tam") and ticket["tracker_url"] in (
        invitation
    )


def test_a_rated_visit_is_not_invited(office, provider):
    office.set(notify_near_people=0, rating_invite_time="")
    ticket = office.issue(phone=PHONES[0], consent=True)["ticket"]
    office.call()
    office.act(ticket["id"], "start")
    office.act(ticket["id"], "finish")
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    assert office.client.post(f"/t/{token}/rating", json={"level": 3}).status_code == 201
    office.worker.drain()
    (rating,) = office.messages(purpose="rating")
    assert (rating["state"], rating["last_error"]) == ("skipped", "already rated")


def test_a_no_show_called_back_is_reminded(notify_office, provider):
    """Called again after a no-show (by its code, or returned and called), the citizen gets
    the reminder: "called" went out with the first call."""
    office = notify_office(SMS_URL=provider.url + "/sms")
    office.set(notify_near_people=0, notify_near_minutes=0)
    office.issue(phone=PHONES[0], consent=True)
    ticket = office.call()
    office.act(ticket["id"], "no-show")
    r = office.client.post(
        f"/api/v1/counters/{office.counters[2]}/call",
        json={"ticket": ticket["code"], "reason": "Gọi lại số vắng mặt"},
        headers=office.officer,
    )
    assert r.status_code == 200, r.json
    assert [m["purpose"] for m in office.messages()] == ["called", "recalled"]
    assert office.worker.drain() == 2
    texts = sorted(r.json()["text"] for r in provider.received)
    assert texts[1] == f"Nhac lai: moi so {ticket['code']} den quay 2 ngay."


def test_an_undone_finish_invites_after_the_next_finish(office, provider):
    """The invitation of an undone finish is withdrawn unless already sent; the next
    finish queues it again."""
    office.set(notify_near_people=0, rating_invite_time="")
    ticket = office.issue(phone=PHONES[0], consent=True)["ticket"]
    office.call()
    office.act(ticket["id"], "start")
    office.act(ticket["id"], "finish")
    assert [m["state"] for m in office.messages(purpose="rating")] == ["queued"]
    assert office.act(ticket["id"], "undo")["status"] == "serving"
    assert office.messages(purpose="rating") == []
    office.act(ticket["id"], "finish")
    office.worker.drain()
    assert [m["state"] for m in office.messages(purpose="rating")] == ["sent"]


def test_evening_invitation_time_rules():
    office = {"timezone": "Asia/Ho_Chi_Minh"}
    morning = outbox.parse_iso("2026-03-02T03:00:00+00:00")  # 10:00 local
    assert outbox.invite_time(office, morning, "20:00") == outbox.parse_iso(
        "2026-03-02T13:00:00+00:00"
    )
    late = outbox.parse_iso("2026-03-02T14:00:00+00:00")  # 21:00 local: at once
    assert outbox.invite_time(office, late, "20:00") == late
    assert outbox.invite_time(office, morning, "") == morning


@pytest.mark.parametrize("purpose", sorted(DEFAULT_MESSAGES))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_default_texts_fit_one_sms_without_diacritics(purpose, lang):
    vi, en = DEFAULT_MESSAGES[purpose]
    message = {
        "purpose": purpose,
        "lang": lang,
        "code": "F123",
        "token": "x" * 22,
        "office_name": "UBND phường Hoàn Kiếm",
        "service_vi": "Đăng ký kinh doanh",
        "service_en": "Business registration",
        "payload_data": {"counter": 12, "ahead": 3, "wait_s": 600, "time": "14:30 27/11"},
    }
    settings = {f"message_{purpose}": vi, f"message_{purpose}_en": en}
    content = render(message, settings, "https://dichvucong.example.gov.vn")
    text = strip_diacritics(content.text)
    assert is_gsm7(text), text
    assert len(text) <= 160, (len(text), text)
    assert "{" not in content.text


def test_stripping_diacritics():
    assert (
        strip_diacritics("Sắp đến lượt ĐƯỢC gọi, Quầy số 3") == "Sap den luot DUOC goi, Quay so 3"
    )
