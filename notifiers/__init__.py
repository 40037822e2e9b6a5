"""Messages out: the outbox worker and its channels (Web Push, SMS, Zalo ZNS, e-mail,
signed webhooks).

The engine writes the outbox (``xephang.engine.outbox``) in the transaction
of the events that cause each message; this package sends them:
``init_app`` builds the channels the settings set up and the worker
(``worker.Notifier``), starts it in the server process unless testing,
``NOTIFY_WORKER`` is off or the process runs no background workers (the web
workers of ``xephang serve --workers N``: there the background worker sends, and
a commit's wake-up reaches it through Redis); ``xephang.web.publish`` wakes it after
each commit that queued messages. ``xephang notify run`` runs the same worker as its
own process. Health (``/api/v1/health``'s ``outbox``) and metrics read the outbox and
this worker.
This package never imports a room people use.
"""

from __future__ import annotations

import logging
import os

from flask import Flask

from xephang.config import message_channels

from . import vapid
from .channels import (
    Channel,
    EmailChannel,
    RecordingChannel,
    SendError,
    SmsChannel,
    WebhookChannel,
    WebPushChannel,
    ZaloChannel,
)
from .worker import Notifier, NotifyConfig

log = logging.getLogger(__name__)

__all__ = [
    "Channel",
    "Notifier",
    "NotifyConfig",
    "RecordingChannel",
    "SendError",
    "get_notifier",
    "init_app",
    "make_channels",
    "prepare_instance",
    "push_public_key",
    "server_channels",
]


def server_channels(config) -> set[str]:
    """The channels to citizens this server has set up (``config.message_channels``)."""
    return message_channels(config)


def make_channels(config) -> dict[str, Channel]:
    """One channel object per way out the settings set up; webhooks always."""
    timeout = float(config["NOTIFY_TIMEOUT_S"])
    channels: dict[str, Channel] = {"webhook": WebhookChannel(timeout)}
    if config.get("SMS_URL"):
        channels["sms"] = SmsChannel(
            config["SMS_URL"],
            config.get("SMS_TOKEN", ""),
            config.get("SMS_SENDER", ""),
            bool(config.get("SMS_ASCII", True)),
            timeout,
        )
    if config.get("ZALO_ACCESS_TOKEN"):
        channels["zalo"] = ZaloChannel(config["ZALO_URL"], config["ZALO_ACCESS_TOKEN"], timeout)
    if config.get("SMTP_HOST"):
        channels["email"] = EmailChannel(
            config["SMTP_HOST"],
            int(config["SMTP_PORT"]),
            config["SMTP_SECURITY"],
            config.get("SMTP_USER", ""),
            config.get("SMTP_PASSWORD", ""),
            config["MAIL_FROM"],
            timeout,
        )
    if config.get("NOTIFY_WEBPUSH"):
        path = vapid.key_path(config)
        if path.exists():
            channels["webpush"] = WebPushChannel(
                vapid.load_key(path), config["VAPID_SUBJECT"], timeout
            )
    return channels


def prepare_instance(db_path: str) -> str:
    """What ``xephang init`` adds for this room: the Web Push key pair. A line to print."""
    path = vapid.key_path(
        {"DB": db_path, "VAPID_PRIVATE_KEY_FILE": os.environ.get("XEPHANG_VAPID_PRIVATE_KEY_FILE")}
    )
    made = vapid.ensure_key(path)
    verb = "đã tạo / created" if made else "đã có / kept"
    return f"Khóa Web Push (VAPID) {verb}: {path}"


def init_app(app: Flask) -> Notifier:
    """Make the VAPID key if missing, build the channels and the worker; start it unless
    testing, NOTIFY_WORKER is off or this process runs no background workers
    (BACKGROUND_WORKERS: `xephang serve --workers N` sends from one process only)."""
    if app.config.get("NOTIFY_WEBPUSH"):
        vapid.ensure_key(vapid.key_path(app.config))
    notifier = Notifier(NotifyConfig.from_config(app.config), make_channels(app.config))
    app.extensions["xephang.notifier"] = notifier
    background = app.config.get("BACKGROUND_WORKERS", True)
    if app.config.get("NOTIFY_WORKER") and background and not app.testing:
        notifier.start()
    return notifier


def get_notifier(app: Flask) -> Notifier:
    return app.extensions["xephang.notifier"]


def push_public_key(app: Flask) -> str | None:
    """The applicationServerKey the tracker page subscribes with, or None (no Web Push)."""
    channel = get_notifier(app).channels.get("webpush")
    if channel is None:
        return None
    cached = app.extensions.get("xephang.vapid_public")
    if cached is None:
        cached = app.extensions["xephang.vapid_public"] = vapid.public_key(channel.vapid_key)
    return cached
