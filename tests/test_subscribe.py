"""Where citizens subscribe: the kiosk's optional phone step (only with SMS or Zalo), the
kiosk's issue call with ``notify``, the tracker page; and the setup page of messages and
webhooks."""

from __future__ import annotations

import re

import pytest

from tests.helpers import login, pair_kiosk

PHONE = "0987 654 321"


def kiosk(office):
    """A test client paired as the demo kiosk, and its CSRF header."""
    client = office.app.test_client()
    csrf = pair_kiosk(client, office.demo["kiosk_token"])
    return client, {"X-CSRF-Token": csrf, "Accept": "application/json"}


def kiosk_issue(client, headers, **body) -> dict:
    r = client.post("/kiosk/api/tickets", json={"service": "A", **body}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["ticket"]


def test_the_kiosk_offers_the_phone_step_only_with_sms_or_zalo(notify_office, provider):
    plain = notify_office()
    client, _ = kiosk(plain)
    page = client.get("/kiosk/").get_data(as_text=True)
    assert '"phoneStep": false' in page and 'id="phone"' not in page

    office = notify_office(SMS_URL=provider.url + "/sms")
    client, _ = kiosk(office)
    page = client.get("/kiosk/").get_data(as_text=True)
    assert '"phoneStep": true' in page and 'id="phone"' in page and 'id="p-consent"' in page
    office.set(notify_channels="webpush, email")  # the office turned SMS off
    assert '"phoneStep": false' in client.get("/kiosk/").get_data(as_text=True)


def test_the_phone_step_subscribes_the_kiosks_own_new_ticket(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    client, headers = kiosk(office)
    ticket = kiosk_issue(client, headers)
    url = f"/kiosk/api/tickets/{ticket['id']}/notify"
    refused = client.post(url, json={"phone": PHONE}, headers=headers)
    assert refused.status_code == 400 and refused.json["field"] == "consent"
    r = client.post(url, json={"phone": PHONE, "consent": True, "lang": "en"}, headers=headers)
    assert r.status_code == 201, r.json
    (sub,) = office.db.query("SELECT channel, lang, masked FROM subscriptions")
    assert sub == {"channel": "sms", "lang": "en", "masked": "•••••••321"}
    office.worker.drain()
    assert provider.received[0].json()["text"].startswith("Your turn is near, number A001")
    other = office.issue()["ticket"]  # not this kiosk's: answers as missing
    r = client.post(
        f"/kiosk/api/tickets/{other['id']}/notify",
        json={"phone": PHONE, "consent": True},
        headers=headers,
    )
    assert r.status_code == 404


def test_the_kiosk_issue_call_takes_notify_too(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    client, headers = kiosk(office)
    r = client.post(
        "/kiosk/api/tickets", json={"service": "A", "notify": {"phone": PHONE}}, headers=headers
    )
    assert r.status_code == 400 and r.json["field"].endswith("consent")
    assert office.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0
    kiosk_issue(client, headers, notify={"phone": PHONE, "consent": True})
    assert office.db.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 1


def test_a_ticket_cancelled_at_the_kiosk_takes_its_phone_number_with_it(notify_office, provider):
    """ "Hủy số này" right after a ticket: the number given for it is erased at once (not
    at the end of the day), nothing is sent to it, and the log says it ended."""
    office = notify_office(SMS_URL=provider.url + "/sms")
    client, headers = kiosk(office)
    ticket = kiosk_issue(client, headers, notify={"phone": PHONE, "consent": True})
    r = client.post(f"/kiosk/api/tickets/{ticket['id']}/cancel", headers=headers)
    assert r.status_code == 200, r.json
    (sub,) = office.db.query("SELECT address, ended_at, end_reason FROM subscriptions")
    assert sub["address"] is None and sub["ended_at"] and sub["end_reason"] == "cancelled"
    office.worker.drain()
    assert provider.received == []
    types = [r[0] for r in office.db.execute("SELECT type FROM ticket_events ORDER BY seq")]
    assert types[-2:] == ["cancelled", "unsubscribed"]


def test_the_api_refuses_a_channel_the_office_does_not_have(notify_office):
    office = notify_office()  # no SMS, no Zalo, no SMTP: Web Push only
    answer = office.issue(status=400, phone=PHONE, consent=True)
    assert "SMS/Zalo" in answer["error"]
    answer = office.issue(status=400, phone=PHONE, consent=True, channel="fax")
    assert answer["field"] == "notify.channel"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "123"}, "phone"),
        ({"phone": "0212345678"}, "phone"),  # a landline
        ({"phone": PHONE, "email": "a@example.vn"}, None),
        ({"webpush": {"endpoint": "ftp://x", "keys": {"p256dh": "a", "auth": "b"}}}, "webpush"),
    ],
)
def test_the_tracker_refuses_bad_contacts(notify_office, provider, body, field):
    office = notify_office(SMS_URL=provider.url + "/sms", SMTP_HOST="127.0.0.1")
    token = office.issue()["ticket"]["tracker_url"].rsplit("/", 1)[1]
    r = office.client.post(
        f"/t/{token}/subscribe",
        json={**body, "consent": True},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 400, r.json
    if field:
        assert r.json["field"] == field
    assert office.db.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 0


def test_the_tracker_page_offers_what_the_office_has(notify_office, provider):
    office = notify_office(SMS_URL=provider.url + "/sms")
    token = office.issue()["ticket"]["tracker_url"].rsplit("/", 1)[1]
    page = office.client.get(f"/t/{token}").get_data(as_text=True)
    assert 'id="notify"' in page and 'id="push-on"' in page and 'id="contact-form"' in page
    assert "Tôi đồng ý nhận tin nhắn về lượt của mình" in page
    sw = office.client.get("/t/sw.js")
    assert sw.status_code == 200 and "showNotification" in sw.get_data(as_text=True)
    assert sw.mimetype == "text/javascript"
    r = office.client.post(f"/t/{token}/subscribe", json={"phone": PHONE, "consent": True})
    assert r.json["notify"]["subscribed"] == ["sms"]
    again = office.client.post(
        f"/t/{token}/subscribe", json={"phone": "0912000111", "consent": True}
    )
    assert again.status_code == 201  # the new number replaces the old one
    subs = list(office.db.query("SELECT address, end_reason FROM subscriptions ORDER BY id"))
    assert subs == [
        {"address": None, "end_reason": "replaced"},
        {"address": "+84912000111", "end_reason": None},
    ]
    office.client.post(f"/t/{token}/unsubscribe", json={})
    assert office.client.get(f"/t/{token}.json").json["notify"]["subscribed"] == []


def test_the_setup_page_edits_texts_and_admins_add_webhooks(notify_office, provider):
    office = notify_office()
    csrf = login(office.client, "quanly")
    page = office.client.get("/manager/setup/messages")
    assert page.status_code == 200 and "message_near_en" in page.get_data(as_text=True)
    form = {
        f: ""
        for f in re.findall(
            r'name="((?:notify|message|rating|zalo)_\w+)"', page.get_data(as_text=True)
        )
    }
    form.update(
        csrf_token=csrf,
        notify_channels="webpush",
        notify_near_people="5",
        notify_near_minutes="0",
        rating_invite_time="19:30",
        rating_window_days="2",
        message_near="Sắp tới lượt {code}, còn {ahead} người. {link}",
    )
    for name in form:
        if name.startswith("message_") and not form[name]:
            form[name] = "Số {code}"
    bad = office.client.post("/manager/setup/messages", data={**form, "message_near": "{nope}"})
    assert bad.status_code == 400 and "nope" in bad.get_data(as_text=True)
    ok = office.client.post("/manager/setup/messages", data=form)
    assert ok.status_code == 302, ok.get_data(as_text=True)[:500]
    from xephang import engine

    values = engine.office_settings(office.db, office.office)
    assert values["notify_near_people"] == 5 and values["rating_invite_time"] == "19:30"
    assert values["message_near"].startswith("Sắp tới lượt")
    hook = {"csrf_token": csrf, "url": provider.url + "/h", "events": ["called"]}
    assert office.client.post("/manager/setup/webhooks", data=hook).status_code == 403
    admin = office.app.test_client()
    admin_csrf = login(admin, "admin")
    added = admin.post(
        f"/manager/setup/webhooks?office={office.office}", data={**hook, "csrf_token": admin_csrf}
    )
    assert added.status_code == 200 and 'id="webhook-secret"' in added.get_data(as_text=True)
    assert added.headers["Cache-Control"] == "no-store"
    listed = office.client.get("/manager/setup/messages").get_data(as_text=True)
    assert provider.url + "/h" in listed and "whsec_" not in listed
