"""Each channel against a fake that speaks its protocol on 127.0.0.1: e-mail through a
local aiosmtpd, Zalo ZNS through a fake endpoint, Web Push through a fake push service
whose payload the test decrypts with the subscriber's own key."""

from __future__ import annotations

import base64
import email
import json
import os
from email import policy

import http_ece
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import notifiers
from notifiers.testing import FakeSmtpServer
from xephang.cli import cli


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def smtp():
    server = FakeSmtpServer()
    yield server
    server.stop()


def test_email_goes_through_smtp(notify_office, smtp):
    office = notify_office(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_SECURITY="none",
        MAIL_FROM="xephang@ubnd.example.vn",
    )
    ticket = office.issue(email="nguyen.van.a@example.vn", consent=True, lang="en")["ticket"]
    assert office.worker.drain() == 1
    (mail,) = smtp.wait_for(1)
    assert mail.recipients == ["nguyen.van.a@example.vn"]
    parsed = email.message_from_bytes(mail.data, policy=policy.default)
    (message,) = office.messages()
    assert parsed["Message-ID"] == f"<xephang-{message['id']}@ubnd.example.vn>"
    assert parsed["Subject"] == f"Trung tâm Phục vụ hành chính công (Demo): number {ticket['code']}"
    text = parsed.get_content()
    assert text.startswith(f"Your turn is near, number {ticket['code']}: 0 people ahead.")
    assert ticket["tracker_url"] in text


def test_an_unreachable_smtp_server_is_retried(notify_office, smtp):
    office = notify_office(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_SECURITY="none")
    office.issue(email="a@example.vn", consent=True)
    smtp.stop()
    assert office.worker.run_once() == 1
    (message,) = office.messages()
    assert message["state"] == "queued" and "SMTP connection failed" in message["last_error"]


def test_zalo_sends_the_offices_template_with_the_messages_fields(notify_office, provider):
    provider.responder = lambda r: (
        200,
        {"error": 0, "message": "Success", "data": {"msg_id": "1"}},
    )
    office = notify_office(ZALO_ACCESS_TOKEN="zalo-token", ZALO_URL=provider.url + "/zns")
    office.set(zalo_templates="near=231001, called=231002")
    ticket = office.issue(phone="0987654321", consent=True)["ticket"]
    (message,) = office.messages()
    assert message["channel"] == "zalo"  # no SMS here: the phone goes to Zalo
    assert office.worker.drain() == 1
    (request,) = provider.received
    assert request.headers["access_token"] == "zalo-token"
    body = request.json()
    assert body["phone"] == "84987654321" and body["template_id"] == "231001"
    assert body["tracking_id"] == f"xephang-{message['id']}"
    assert body["template_data"]["code"] == ticket["code"]
    assert body["template_data"]["link"] == ticket["tracker_url"]
    assert office.messages()[0]["state"] == "sent"


def test_zalo_refusals_and_missing_templates_fail_the_message(notify_office, provider):
    provider.responder = lambda r: (200, {"error": -124, "message": "Invalid access token"})
    office = notify_office(ZALO_ACCESS_TOKEN="zalo-token", ZALO_URL=provider.url + "/zns")
    office.set(zalo_templates="near=231001")
    office.issue(phone="0987654321", consent=True)
    office.worker.drain()
    (near,) = office.messages()
    assert (near["state"], near["last_error"]) == (
        "failed",
        "Zalo error -124: Invalid access token",
    )
    office.set(notify_near_people=0)
    office.issue(phone="0987654322", consent=True)
    office.call(1)
    office.call(2)
    office.worker.drain()
    called = office.messages(purpose="called")
    assert called and {m["last_error"] for m in called} == {"no Zalo template for 'called'"}


class Subscriber:
    """A browser's side of Web Push: its key pair and auth secret, and a subscription whose
    endpoint is the fake push service."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def test_web_push_is_encrypted_for_the_subscriber_and_signed_with_the_servers_key(
    notify_office, provider
):
    provider.responder = lambda r: (201, {})
    office = notify_office()
    office.set(notify_near_people=0)
    ticket = office.issue()["ticket"]
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    browser = Subscriber(provider.url + "/push/abc")
    state = office.client.get(f"/t/{token}.json").json
    assert "webpush" in state["notify"]["channels"]
    assert state["notify"]["push_key"] == notifiers.push_public_key(office.app)
    r = office.client.post(
        f"/t/{token}/subscribe", json={"webpush": browser.subscription, "consent": True}
    )
    assert r.status_code == 201, r.json
    assert r.json["notify"]["subscribed"] == ["webpush"]
    office.call()
    assert office.worker.drain() == 1
    (request,) = provider.received
    assert request.path == "/push/abc"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    vapid = request.headers["Authorization"]
    assert vapid.startswith("vapid t=") and f"k={notifiers.push_public_key(office.app)}" in vapid
    shown = browser.decrypt(request.body)
    assert shown["body"] == f"Mời số {ticket['code']} đến quầy 1."
    assert shown["url"] == ticket["tracker_url"]


def test_a_gone_push_subscription_is_ended_and_erased(notify_office, provider):
    provider.responder = lambda r: (410, {})
    office = notify_office()
    ticket = office.issue()["ticket"]
    token = ticket["tracker_url"].rsplit("/", 1)[1]
    browser = Subscriber(provider.url + "/push/gone")
    office.client.post(
        f"/t/{token}/subscribe", json={"webpush": browser.subscription, "consent": True}
    )
    assert office.worker.drain() == 1
    (message,) = office.messages()
    assert message["state"] == "failed"
    (sub,) = office.db.query("SELECT address, end_reason FROM subscriptions")
    assert sub == {"address": None, "end_reason": "gone"}


def test_init_makes_the_web_push_key_pair_once(tmp_path):
    db_path = tmp_path / "fresh" / "xephang.db"
    first = CliRunner().invoke(cli, ["init", "--db", str(db_path)])
    assert first.exit_code == 0, first.output
    key = db_path.parent / "vapid_private.pem"
    assert "created" in first.output and key.exists()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    pem = key.read_bytes()
    second = CliRunner().invoke(cli, ["init", "--db", str(db_path)])
    assert "kept" in second.output and key.read_bytes() == pem
