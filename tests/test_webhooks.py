"""Signed webhooks: the receiver printed in docs/webhooks.md checks every delivery's
signature (and refuses a tampered body); hooks are added and listed from the command line;
a failing hook shows on the dashboard; no dossier code leaves the server."""

from __future__ import annotations

import re
import threading
import time
from http.server import HTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from notifiers.channels import sign, signed_body
from xephang.cli import cli
from xephang.queries.messages import outbox_status, webhooks
from xephang.reports import live

DOC = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"


def documented_receiver() -> dict:
    """The receiver of docs/webhooks.md, run as written (its namespace)."""
    section = DOC.read_text(encoding="utf-8").split("### Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace


@pytest.fixture
def receiver():
    """The documented receiver on 127.0.0.1 (``.url``, ``.set_secret(s)``, and
    ``.wait_handled(n)``: until it has finished n requests, its print included)."""
    namespace = documented_receiver()
    handled = threading.Condition()
    done = [0]

    class Counted(namespace["Receiver"]):
        def do_POST(self):  # noqa: N802 - http.server's name
            try:
                super().do_POST()  # answers, then prints: the client may hear first
            finally:
                with handled:
                    done[0] += 1
                    handled.notify_all()

    server = HTTPServer(("127.0.0.1", 0), Counted)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.set_secret = lambda secret: namespace.__setitem__("SECRET", secret.encode())

    def wait_handled(count: int) -> None:
        with handled:
            assert handled.wait_for(lambda: done[0] >= count, timeout=30), done[0]

    server.wait_handled = wait_handled
    yield server
    server.shutdown()
    server.server_close()


def add_hook(office, url: str, events: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["webhook", "add", "--db", str(office.path), "--office", str(office.office)]
        + ["--url", url, "--events", events],
    )
    assert result.exit_code == 0, result.output
    hook_id = int(re.search(r"^id: (\d+)$", result.output, re.M).group(1))
    secret = re.search(r"^secret: (\S+)$", result.output, re.M).group(1)
    return hook_id, secret


def test_the_documented_receiver_accepts_signed_deliveries(notify_office, receiver, capsys):
    office = notify_office()
    hook_id, secret = add_hook(office, receiver.url, "called,finished")
    receiver.set_secret(secret)
    office.issue()  # "issued" is not asked for
    ticket = office.call()
    office.act(ticket["id"], "start")
    office.act(ticket["id"], "finish", dossier_code="HS-000123", outcome="Đã nhận hồ sơ")
    deliveries = office.messages(channel="webhook")
    assert [m["purpose"] for m in deliveries] == ["event", "event"]
    assert "HS-000123" not in "".join(m["payload"] for m in deliveries)
    assert office.worker.drain() == 2
    assert {m["state"] for m in office.messages(channel="webhook")} == {"sent"}
    receiver.wait_handled(2)
    printed = capsys.readouterr().out.splitlines()  # a batch goes out side by side:
    seqs = [m["event_seq"] for m in deliveries]  # in any order (receivers order by seq)
    assert sorted(printed) == sorted(
        [f"{office.office}-{seqs[0]} called", f"{office.office}-{seqs[1]} finished"]
    )
    (hook,) = webhooks(office.db, office.office)
    assert (hook["id"], hook["last_status"], hook["failures"]) == (hook_id, "204", 0)
    listing = CliRunner().invoke(cli, ["webhook", "list", "--db", str(office.path)])
    assert f"{hook_id}\toffice {office.office}\t{receiver.url}\tcalled,finished\tactive" in (
        listing.output
    )
    assert "last 204" in listing.output and secret not in listing.output


def test_a_tampered_or_replayed_body_fails_the_documented_check(receiver):
    secret = "whsec_test"
    receiver.set_secret(secret)
    payload = '{"office_id":1,"seq":7,"type":"called","ticket":{"code":"A007"}}'
    body = signed_body(payload, "1-7", int(time.time()))
    good = {"X-Xephang-Signature": "sha256=" + sign(secret, body)}
    assert requests.post(receiver.url, data=body, headers=good, timeout=30).status_code == 204
    tampered = body.replace(b"A007", b"A008")
    assert requests.post(receiver.url, data=tampered, headers=good, timeout=30).status_code == 401
    wrong_key = {"X-Xephang-Signature": "sha256=" + sign("whsec_other", body)}
    assert requests.post(receiver.url, data=body, headers=wrong_key, timeout=30).status_code == 401
    old = signed_body(payload, "1-7", int(time.time()) - 3600)
    replay = {"X-Xephang-Signature": "sha256=" + sign(secret, old)}
    assert requests.post(receiver.url, data=old, headers=replay, timeout=30).status_code == 401


def test_each_delivery_is_signed_with_its_hooks_secret(notify_office, provider):
    office = notify_office()
    _, secret = add_hook(office, provider.url + "/a", "*")
    office.issue()
    assert office.worker.drain() == 1
    (request,) = provider.received
    assert request.headers["X-Xephang-Signature"] == "sha256=" + sign(secret, request.body)
    event = request.json()
    assert request.headers["X-Xephang-Event-Id"] == event["event_id"]
    assert request.headers["X-Xephang-Timestamp"] == str(event["sent_at"])
    assert (event["type"], event["ticket"]["code"], event["waiting_total"]) == ("issued", "A001", 1)


def test_a_hook_that_keeps_failing_is_retried_and_shown_on_the_dashboard(notify_office, provider):
    office = notify_office()
    hook_id, _ = add_hook(office, provider.url + "/down", "issued")
    provider.set_mode("error")
    office.issue()
    for _ in range(3):
        assert office.worker.run_once() == 1
    (hook,) = webhooks(office.db, office.office)
    assert (hook["last_status"], hook["failures"]) == ("500", 3)
    status = outbox_status(office.db, office.office)
    assert status["alert"] and status["failing_webhooks"] == [hook_id]
    assert "Webhook" in status["message_vi"]
    dashboard = live.dashboard(office.db, office.office)
    assert dashboard["outbox"]["alert"]
    assert any(a["kind"] == "outbox" for a in dashboard["alerts"])
    provider.set_mode("ok")
    assert office.worker.drain() == 1
    (hook,) = webhooks(office.db, office.office)
    assert (hook["last_status"], hook["failures"]) == ("200", 0)
    assert not outbox_status(office.db, office.office)["alert"]


def test_a_removed_hook_gets_nothing_more(notify_office, provider):
    office = notify_office()
    hook_id, _ = add_hook(office, provider.url + "/a", "issued")
    office.issue()
    result = CliRunner().invoke(cli, ["webhook", "remove", "--db", str(office.path), str(hook_id)])
    assert result.exit_code == 0, result.output
    office.issue()
    assert office.worker.drain() == 0
    assert [m["state"] for m in office.messages()] == ["skipped"]
    assert provider.received == []


@pytest.mark.parametrize(
    "args, error",
    [
        (["--url", "ftp://x/y"], "http"),
        (["--url", "https://x.example/y", "--events", "called,nonsense"], "nonsense"),
    ],
)
def test_bad_hooks_are_refused(notify_office, args, error):
    office = notify_office()
    result = CliRunner().invoke(
        cli, ["webhook", "add", "--db", str(office.path), "--office", str(office.office), *args]
    )
    assert result.exit_code != 0 and error in result.output
    assert webhooks(office.db) == []


def test_every_event_the_engine_logs_may_be_asked_for_and_is_documented():
    """Each ticket move of the transition table (an undo too), a rating, a dossier code
    and a print are webhook event types, named in the wait log and listed in
    docs/realtime.md."""
    from xephang.engine import outbox, states
    from xephang.reports.log import EVENT_VI

    moves = {t.event for t in states.TRANSITIONS}
    logged = moves | {"printed", "print_failed", "rated", "dossier_set"}
    assert logged <= set(outbox.EVENT_TYPES)
    assert logged <= set(EVENT_VI)
    realtime = (DOC.parent / "realtime.md").read_text(encoding="utf-8")
    assert [e for e in outbox.EVENT_TYPES if f"`{e}`" not in realtime] == []


def test_a_scanned_dossier_code_reaches_a_hook_as_a_yes_only(notify_office, provider):
    """``dossier_set`` (the counter's scanned or typed code) goes to a hook that asks for it,
    as ``has_dossier_code``: the code never leaves the server."""
    office = notify_office()
    add_hook(office, provider.url + "/hook", "dossier_set")
    office.issue()
    ticket = office.call()
    office.act(ticket["id"], "start")
    r = office.client.post(
        f"/api/v1/tickets/{ticket['id']}/dossier-code",
        json={"dossier_code": "HS-000777"},
        headers=office.officer,
    )
    assert r.status_code == 200, r.json
    (delivery,) = office.messages(channel="webhook")
    assert "HS-000777" not in delivery["payload"]
    assert office.worker.drain() == 1
    (request,) = provider.received
    body = request.json()
    assert body["type"] == "dossier_set" and body["details"] == {"has_dossier_code": True}
