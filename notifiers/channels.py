"""One small class per way out: Web Push, SMS over HTTP, Zalo ZNS, e-mail, webhooks,
and a recording channel for tests.

A channel's ``send(message, content)`` either returns what the far end
answered (a short status) or raises ``SendError``: ``retry`` says whether a
later try may succeed (a refused or hung connection, 408, 425, 429, 5xx),
``gone`` that the address no longer exists (an expired push subscription).
Every network call has the worker's timeout. Channels never log and never
put an address into an error: the worker masks what they raise anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import threading
import time
from abc import ABC, abstractmethod
from email.message import EmailMessage
from email.utils import formatdate

import requests

from .texts import Content, sms_text

RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
SIGNATURE_HEADER = "X-Xephang-Signature"


class SendError(Exception):
    """An attempt that did not deliver: ``retry`` (try again later) or not; ``gone``."""

    def __init__(self, reason: str, retry: bool = True, gone: bool = False, status=None):
        super().__init__(reason)
        self.retry = retry
        self.gone = gone
        self.status = status


def message_id(message: dict) -> str:
    """The id a provider sees, the same on every retry of one message."""
    return f"xephang-{message['id']}"


def _http_answer(response: requests.Response) -> str:
    """A 2xx is delivered; anything else raises the right SendError."""
    if 200 <= response.status_code < 300:
        return str(response.status_code)
    retry = response.status_code in RETRY_STATUSES
    raise SendError(f"HTTP {response.status_code}", retry=retry, status=str(response.status_code))


class Channel(ABC):
    """A way out. ``name`` is the outbox's channel column."""

    name = ""

    @abstractmethod
    def send(self, message: dict, content: Content) -> str:
        """Deliver one message; the provider's answer, or raise ``SendError``."""

    def close(self) -> None:  # noqa: B027 (a hook: most channels hold nothing to let go of)
        """Let go of pooled connections."""


class HttpChannel(Channel):
    """A channel that POSTs JSON, over one pooled session."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, url: str, body: bytes, headers: dict) -> requests.Response:
        try:
            return self.session.post(
                url, data=body, headers=headers, timeout=(self.timeout, self.timeout)
            )
        except requests.Timeout:
            raise SendError("no answer in time") from None
        except requests.RequestException as err:
            raise SendError(f"cannot reach the provider ({type(err).__name__})") from None

    def close(self) -> None:
        self.session.close()


class SmsChannel(HttpChannel):
    """SMS through a generic HTTP provider: POST {id, to, text[, sender]} (any 2xx is
    accepted; the same id is sent on a retry so the provider can drop a repeat)."""

    name = "sms"

    def __init__(self, url: str, token: str, sender: str, ascii_only: bool, timeout: float):
        super().__init__(timeout)
        self.url, self.token, self.sender, self.ascii_only = url, token, sender, ascii_only

    def send(self, message: dict, content: Content) -> str:
        body = {"id": message_id(message), "to": message["address"]}
        body["text"] = sms_text(content, self.ascii_only)
        if self.sender:
            body["sender"] = self.sender
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return _http_answer(self.post(self.url, data, headers))


class ZaloChannel(HttpChannel):
    """Zalo ZNS: the office's approved template for the purpose, filled with the message's
    fields, sent with the Official Account's access token."""

    name = "zalo"

    def __init__(self, url: str, access_token: str, timeout: float):
        super().__init__(timeout)
        self.url, self.access_token = url, access_token

    def send(self, message: dict, content: Content) -> str:
        template = (message.get("zalo_templates") or {}).get(message["purpose"])
        if not template:
            raise SendError(f"no Zalo template for '{message['purpose']}'", retry=False)
        body = {
            "phone": message["address"].lstrip("+"),
            "template_id": template,
            "template_data": {k: str(v) for k, v in content.fields.items()},
            "tracking_id": message_id(message),
        }
        headers = {"Content-Type": "application/json", "access_token": self.access_token}
        response = self.post(self.url, json.dumps(body, ensure_ascii=False).encode(), headers)
        _http_answer(response)
        try:
            answer = response.json()
        except ValueError:
            raise SendError("Zalo answered something other than JSON") from None
        code = answer.get("error") if isinstance(answer, dict) else None
        if code != 0:
            raise SendError(f"Zalo error {code}: {str(answer.get('message'))[:100]}", retry=False)
        return "0"


class WebhookChannel(HttpChannel):
    """A signed POST of the queue event: ``X-Xephang-Signature: sha256=<hex>``, the
    HMAC-SHA256 of the exact body with the hook's secret (docs/webhooks.md)."""

    name = "webhook"

    def send(self, message: dict, content: Content | None = None) -> str:
        timestamp = int(time.time())
        event_id = f"{message['office_id']}-{json.loads(message['payload'])['seq']}"
        body = signed_body(message["payload"], event_id, timestamp)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "xephang-webhook/1",
            "X-Xephang-Event": json.loads(message["payload"])["type"],
            "X-Xephang-Event-Id": event_id,
            "X-Xephang-Delivery": str(message["id"]),
            "X-Xephang-Timestamp": str(timestamp),
            SIGNATURE_HEADER: "sha256=" + sign(message["secret"], body),
        }
        return _http_answer(self.post(message["url"], body, headers))


def signed_body(payload: str, event_id: str, timestamp: int) -> bytes:
    """The body of a delivery: the queue event with its id and the send time added, so
    the signature covers both (a replayed old body shows an old ``sent_at``)."""
    event = json.loads(payload)
    event["event_id"] = event_id
    event["sent_at"] = timestamp
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of a body with a hook's secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class EmailChannel(Channel):
    """E-mail over SMTP (``smtplib``): STARTTLS, SSL or plain, an optional login."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        user: str,
        password: str,
        sender: str,
        timeout: float,
    ):
        self.host, self.port, self.security = host, int(port), (security or "starttls").lower()
        self.user, self.password, self.sender, self.timeout = user, password, sender, timeout

    def send(self, message: dict, content: Content) -> str:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message["address"]
        mail["Subject"] = content.subject
        mail["Date"] = formatdate(localtime=False)
        # The same Message-ID on a retry: a mail client shows a repeat once.
        mail["Message-ID"] = f"<{message_id(message)}@{self.sender.partition('@')[2] or 'xephang'}>"
        mail.set_content(content.text)
        try:
            smtp_class = smtplib.SMTP_SSL if self.security == "ssl" else smtplib.SMTP
            with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise SendError("the SMTP server refused the address", retry=False) from None
        except smtplib.SMTPResponseException as err:
            raise SendError(f"SMTP {err.smtp_code}", retry=err.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as err:
            raise SendError(f"SMTP connection failed ({type(err).__name__})") from None
        return "250"


class WebPushChannel(Channel):
    """Web Push (RFC 8030 with VAPID, ``pywebpush``): a small JSON notification the
    tracker page's service worker shows; 404/410 mean the subscription is gone."""

    name = "webpush"

    def __init__(self, vapid_key, subject: str, timeout: float):
        self.vapid_key = vapid_key
        self.subject = subject
        self.timeout = timeout
        self.session = requests.Session()

    def send(self, message: dict, content: Content) -> str:
        from pywebpush import WebPushException, webpush

        data = json.dumps(
            {
                "title": content.fields.get("office") or "xephang",
                "body": content.text,
                "url": content.link,
                "tag": f"{message['purpose']}-{message['ticket_id']}",
            },
            ensure_ascii=False,
        )
        ttl = max(60, int(message.get("ttl_s") or 900))
        try:
            response = webpush(
                json.loads(message["address"]),
                data=data,
                vapid_private_key=self.vapid_key,
                vapid_claims={"sub": self.subject},
                timeout=self.timeout,
                ttl=ttl,
                headers={"Urgency": "high", "Topic": f"{message['purpose'][:8]}{message['id']}"},
                requests_session=self.session,
            )
        except WebPushException as err:
            status = err.status_code
            if status in (404, 410):
                raise SendError(
                    f"HTTP {status}", retry=False, gone=True, status=str(status)
                ) from None
            raise SendError(
                f"HTTP {status}" if status else "push service error",
                retry=status is None or status in RETRY_STATUSES,
                status=str(status) if status else None,
            ) from None
        except requests.Timeout:
            raise SendError("no answer in time") from None
        except requests.RequestException as err:
            raise SendError(f"cannot reach the push service ({type(err).__name__})") from None
        return str(getattr(response, "status_code", "201"))

    def close(self) -> None:
        self.session.close()


class RecordingChannel(Channel):
    """Keeps what it is given (tests): ``sent`` holds (message, content) pairs; ``fail``
    makes the next attempts raise the given SendErrors, in order."""

    def __init__(self, name: str):
        self.name = name
        self.sent: list[tuple[dict, Content]] = []
        self.fail: list[SendError] = []
        self.changed = threading.Condition()

    def send(self, message: dict, content: Content) -> str:
        with self.changed:
            if self.fail:
                raise self.fail.pop(0)
            self.sent.append((message, content))
            self.changed.notify_all()
        return "recorded"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[tuple[dict, Content]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.sent) >= count, timeout)
            return list(self.sent)
