"""Messages out as people see them: the outbox summary (dashboard, ``xephang notify
status``), webhooks and their last status, and a visit's or ticket's subscriptions
(masked for staff; channels only for the citizen's own tracker)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import iso, resolve_now

CHANNEL_VI = {
    "webpush": "Thông báo trình duyệt",
    "sms": "SMS",
    "zalo": "Zalo",
    "email": "E-mail",
    "webhook": "Webhook",
}
FAILING_AFTER = 3  # failures in the last hour with no success since: the channel is failing
# Work of the outbox worker waiting this long past its time (a message due, a line noted
# as moved whose "near" messages are not written): the worker is down, or keeps failing.
WORKER_LATE_S = 300


def pending_messages(db: sqlite_utils.Database, now: datetime | None = None) -> dict:
    """Messages of every office still to send: how many, and how many have been due for
    longer than ``WORKER_LATE_S``."""
    late_before = iso(resolve_now(now) - timedelta(seconds=WORKER_LATE_S))
    queued, late = db.execute(
        "SELECT count(*), coalesce(sum(next_attempt_at < ?), 0) FROM outbox WHERE state = 'queued'",
        [late_before],
    ).fetchone()
    return {"queued": queued, "late": late}


def pending_moves(
    db: sqlite_utils.Database, office_id: int | None = None, now: datetime | None = None
) -> dict:
    """Lines (of an office, or of all) that moved without their "near" messages written
    yet (``outbox_moves``): how many, since when the oldest has waited, and how many have
    waited longer than ``WORKER_LATE_S``."""
    late_before = iso(resolve_now(now) - timedelta(seconds=WORKER_LATE_S))
    sql = "SELECT count(*), min(first_at), coalesce(sum(first_at < ?), 0) FROM outbox_moves"
    params: list = [late_before]
    if office_id is not None:
        sql += " WHERE office_id = ?"
        params.append(office_id)
    count, oldest, late = db.execute(sql, params).fetchone()
    return {"pending": count, "oldest_at": oldest, "late": late}


def outbox_status(db: sqlite_utils.Database, office_id: int, now: datetime | None = None) -> dict:
    """Queued messages, failures in the last hour, and each channel's health.

    A channel *keeps failing* when it failed at least ``FAILING_AFTER`` times in
    the last hour and sent nothing since its first failure in that hour;
    ``alert`` and the messages say which, and so they say when a line's "near"
    messages have waited too long to be written (``moves``: ``pending_moves``).
    """
    at = resolve_now(now)
    hour_ago = iso(at - timedelta(hours=1))
    rows = db.execute(
        "SELECT channel, sum(state IN ('queued', 'sending')),"
        " sum(state = 'failed' AND finished_at >= ?), sum(state = 'sent' AND finished_at >= ?),"
        " min(CASE WHEN state = 'failed' AND finished_at >= ? THEN finished_at END),"
        " max(CASE WHEN state = 'sent' THEN finished_at END)"
        " FROM outbox WHERE office_id = ? AND (state IN ('queued', 'sending') OR finished_at >= ?)"
        " GROUP BY channel ORDER BY channel",
        [hour_ago, hour_ago, hour_ago, office_id, hour_ago],
    ).fetchall()
    channels, failing = [], []
    for channel, queued, failed, sent, first_failure, last_sent in rows:
        keeps_failing = (failed or 0) >= FAILING_AFTER and (
            last_sent is None or last_sent < first_failure
        )
        channels.append(
            {
                "channel": channel,
                "name_vi": CHANNEL_VI.get(channel, channel),
                "queued": queued or 0,
                "failed_last_hour": failed or 0,
                "sent_last_hour": sent or 0,
                "last_sent_at": last_sent,
                "failing": keeps_failing,
            }
        )
        if keeps_failing:
            failing.append(channel)
    recent = [
        {
            "id": r["id"],
            "channel": r["channel"],
            "purpose": r["purpose"],
            "code": r["code"],
            "attempts": r["attempts"],
            "error": r["last_error"],
            "at": r["finished_at"],
        }
        for r in db.query(
            "SELECT o.id, o.channel, o.purpose, o.attempts, o.last_error, o.finished_at, t.code"
            " FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id WHERE o.office_id = ?"
            " AND o.state = 'failed' AND o.finished_at >= ? ORDER BY o.finished_at DESC LIMIT 20",
            [office_id, hour_ago],
        )
    ]
    hooks = [h for h in webhooks(db, office_id) if h["active"] and h["failures"] >= FAILING_AFTER]
    names = [CHANNEL_VI.get(c, c) for c in failing]
    message_vi = "; ".join(f"Kênh {n} liên tục gửi lỗi" for n in names)
    message_en = "; ".join(f"Channel {c} keeps failing" for c in failing)
    for hook in hooks:
        message_vi += ("; " if message_vi else "") + f"Webhook {hook['url']} lỗi liên tiếp"
        message_en += ("; " if message_en else "") + f"Webhook {hook['url']} keeps failing"
    moves = pending_moves(db, office_id, at)
    if moves["late"]:
        message_vi += ("; " if message_vi else "") + (
            "Tin báo sắp đến lượt chưa được tạo: bộ gửi tin nhắn không chạy?"
        )
        message_en += ("; " if message_en else "") + (
            "'Turn near' messages are not being written: is the outbox worker running?"
        )
    return {
        "alert": bool(failing or hooks or moves["late"]),
        "message_vi": message_vi,
        "message_en": message_en,
        "queued": sum(c["queued"] for c in channels),
        "failed_last_hour": sum(c["failed_last_hour"] for c in channels),
        "channels": channels,
        "failures_last_hour": recent,
        "failing_webhooks": [h["id"] for h in hooks],
        "moves": moves,
    }


def webhooks(db: sqlite_utils.Database, office_id: int | None = None) -> list[dict]:
    """Webhooks (of one office, or all) with their last status; never their secrets."""
    sql = (
        "SELECT id, office_id, url, events, active, created_at, last_attempt_at, last_status,"
        " last_error, last_success_at, failures FROM webhooks"
    )
    params: list = []
    if office_id is not None:
        sql += " WHERE office_id = ?"
        params.append(office_id)
    return [
        {**row, "events": json.loads(row["events"]), "active": bool(row["active"])}
        for row in db.query(sql + " ORDER BY id", params)
    ]


def visit_subscriptions(db: sqlite_utils.Database, token: str) -> list[str]:
    """The channels a visit is subscribed on (what its own tracker page shows)."""
    return [
        r[0]
        for r in db.execute(
            "SELECT s.channel FROM subscriptions s JOIN visits v ON v.id = s.visit_id"
            " WHERE v.token = ? AND s.ended_at IS NULL ORDER BY s.channel",
            [token or ""],
        ).fetchall()
    ]


def ticket_subscriptions(db: sqlite_utils.Database, ticket_id: int) -> list[dict]:
    """A ticket's visit's subscriptions for staff: channel and masked address only, and
    what was sent to it."""
    subs = []
    for row in db.query(
        "SELECT s.id, s.channel, s.masked, s.created_at, s.ended_at, s.end_reason FROM"
        " subscriptions s JOIN tickets t ON t.visit_id = s.visit_id WHERE t.id = ?"
        " ORDER BY s.id",
        [ticket_id],
    ):
        sent = db.execute(
            "SELECT purpose, state FROM outbox WHERE subscription_id = ? ORDER BY id", [row["id"]]
        ).fetchall()
        subs.append(
            {
                "channel": row["channel"],
                "to": row["masked"],
                "active": row["ended_at"] is None,
                "since": row["created_at"],
                "ended": row["end_reason"],
                "messages": [{"purpose": p, "state": s} for p, s in sent],
            }
        )
    return subs
