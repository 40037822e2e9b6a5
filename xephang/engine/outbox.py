"""Messages out: citizens' subscriptions, webhooks and the outbox, with their rules.

The outbox holds one row per message. Rows are written by ``record_events``
inside the transaction of the events that cause them (``outcome_for`` calls
it for every engine operation), so a committed call always has its messages
and a rolled-back one has none. "Turn near" is the one exception: the call
notes which lines moved (``outbox_moves``, a row per service, in its
transaction too) and the worker writes the ``near`` messages from the line as
it then is (``expand_moves``), so a call that moves 500 trackers writes one
row. A message is unique per ticket, purpose, channel and turn in line (the
times the ticket had been returned to the line: ``returns``; or per webhook and
event: two unique indexes), so it goes out at most once per purpose and turn
whatever retries, restarts or second workers do, and again to a citizen sent
back to the line.

States::

    queued --claim--> sending --2xx--> sent
      ^                  |
      +--retry (backoff)-+--refused for good, tries used up, too late--> failed
    queued --the ticket moved on, unsubscribed, contact erased--> skipped

A claimed message whose worker died (``sending`` past the lease) is queued
again and sent with the same id (the SMS contract lets a provider drop the
repeat). A message past its give-up time is never sent: "your turn is near"
an hour late is worse than nothing.

Personal data: a phone number, e-mail address or Web Push subscription is
taken only with consent (``contact_from``), lives only in
``subscriptions.address`` (never in the event log, which records
``subscribed`` with the channel only, nor in the outbox), is masked for staff
and erased at the end of the visit's day plus ``rating_window_days``
(``erase_expired_contacts``) or when the citizen unsubscribes.

Purposes (``PURPOSES``): ``near`` (N people or M minutes ahead, once a turn),
``checkin_window`` (the same moment for an online number still to check in: come and
check in, once a turn),
``called``, ``recalled``, ``rating`` (after finishing, or at the office's
evening time), the booking ones for online numbers, ``otp`` (a phone's
one-time code, ``engine/otp.py``: one row per request, tied to no ticket so
never deduplicated, given up when the code expires; its payload, the code, is
blanked once the row is sent, failed or skipped) and ``event`` (a webhook).
The channels themselves (how a message is sent) live in ``notifiers/``.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlite_utils

from ..clock import iso, local_day, parse_iso, resolve_now
from ..errors import BadInputError, NotFoundError
from ..storage import one, scalar, write
from . import audit, order
from .estimate import open_counters, recent_service_time
from .lookups import counter_services, get_office
from .settings import office_settings
from .states import CALLED, DONE, NO_SHOW, WAITING
from .views import staff_event

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
# A finished row of a one-time code keeps no code.
BLANK_SECRET = "payload = CASE WHEN purpose = 'otp' THEN '{}' ELSE payload END"
STATES = (QUEUED, SENDING, SENT, FAILED, SKIPPED)
# Events a webhook may ask for (docs/realtime.md), and "*" for every one.
EVENT_TYPES = (
    "issued",
    "printed",
    "print_failed",
    "called",
    "recalled",
    "started",
    "finished",
    "dossier_set",
    "no_show",
    "transferred",
    "returned",
    "cancelled",
    "expired",
    "rated",
    "undone",
    "counter_opened",
    "counter_closed",
    "paused",
    "resumed",
    "day_closed",
    "subscribed",
    "unsubscribed",
    "checked_in",
)
# Events after which someone's place or estimate may have changed: "near" is re-checked.
# (An online number checking in moves nobody: its place and everyone's count stay.)
NEAR_TRIGGERS = frozenset(EVENT_TYPES) - {
    "printed",
    "print_failed",
    "rated",
    "dossier_set",
    "unsubscribed",
    "checked_in",
}


@dataclass(frozen=True)
class Purpose:
    """Why a message is sent: how long it stays worth sending, and the ticket states in
    which it still makes sense (None: any)."""

    name: str
    max_age_s: int | None
    statuses: tuple[str, ...] | None = None


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose("near", 30 * 60, (WAITING,)),
        Purpose("called", 15 * 60, (CALLED,)),
        Purpose("recalled", 15 * 60, (CALLED,)),
        Purpose("rating", None, (DONE,)),  # until the contact is erased; skipped once rated
        Purpose("booking_confirmed", 24 * 3600),
        Purpose("booking_reminder", 6 * 3600),
        # An online number still to check in, near the front: come and check in.
        Purpose("checkin_window", 30 * 60, (WAITING,)),
        Purpose("otp", 5 * 60),  # a phone's one-time code (engine/otp.py): never deduplicated
        Purpose("event", 24 * 3600),  # a webhook delivery
    )
}
CITIZEN_PURPOSES = tuple(p for p in PURPOSES if p != "event")


# --- the rules: which messages an operation's events cause --------------------------------


def record_events(
    db: sqlite_utils.Database, office: dict, raw_events: list[dict], views: list[dict]
) -> bool:
    """Queue the messages these just-logged events cause (caller's transaction); whether
    it wrote anything for the outbox worker (messages, or a line's move noted).

    Webhooks get each event they asked for; a ticket's subscribers get
    ``called``/``recalled`` (a ticket called again after a no-show gets
    ``recalled``: it was called once already) and, after ``finished``, the
    rating invitation, withdrawn if not sent when the finish is undone; after
    anything that may move a line, the lines that moved are noted
    (``note_moves``: a row per service, however many people wait) and the
    worker queues ``near`` for the waiting subscribers now near their front
    (``expand_moves``), each once per ticket and turn in line (again after a return to
    the line: ``RETURNS_SQL``).
    """
    if not raw_events:
        return False
    changes = db.conn.total_changes
    at = parse_iso(raw_events[-1]["at"])
    hooks, subscribed = _listeners(db, office["id"])
    if hooks:
        _queue_webhooks(db, office, hooks, views, at)
    if not subscribed:
        # nobody of this office subscribed: the usual case costs one statement
        return db.conn.total_changes != changes
    settings = office_settings(db, office["id"])
    for raw in raw_events:
        if raw["ticket_id"] is None:
            continue
        if raw["type"] in ("called", "recalled"):
            counter = json.loads(raw["details"]).get("counter_number")
            purpose = raw["type"]
            if purpose == "called" and _called_before(db, raw):
                purpose = "recalled"  # a no-show called back, or returned and called again
            _queue_for_ticket(db, office, raw["ticket_id"], purpose, at, {"counter": counter})
        elif raw["type"] == "finished":
            _queue_rating(db, office, raw["ticket_id"], at, settings["rating_invite_time"])
        elif raw["type"] == "undone" and json.loads(raw["details"]).get("undid") == "finished":
            # Being served again: the invitation goes out after the next finish instead.
            db.execute(
                "DELETE FROM outbox WHERE ticket_id = ? AND purpose = 'rating'"
                " AND webhook_id IS NULL AND state IN ('queued', 'skipped')",
                [raw["ticket_id"]],
            )
    services = moved_services(db, views)
    if services and near_wanted(settings):
        note_moves(db, office["id"], services, at)
    return db.conn.total_changes != changes


def _called_before(db, raw: dict) -> bool:
    """Whether a ``called`` event's ticket had been called before (its first call time,
    which a wait keeps, is earlier than this call)."""
    if raw.get("from_status") == NO_SHOW:
        return True
    first = scalar(db, "SELECT called_at FROM tickets WHERE id = ?", [raw["ticket_id"]])
    return first is not None and first < raw["at"]


def moved_services(db, views: list[dict]) -> list[int]:
    """The services whose lines or estimates these events may have changed: the services
    of their tickets, and those their counters serve (opening a counter shortens the
    estimate of every service it serves)."""
    found: dict[int, None] = {}
    for view in views:
        if view["type"] not in NEAR_TRIGGERS:
            continue
        if view.get("ticket"):
            found[view["ticket"]["service"]["id"]] = None
        if view.get("counter_id"):
            found.update(dict.fromkeys(counter_services(db, view["counter_id"])))
    return list(found)


# A ticket's times back in line so far: its messages are once per turn in line (the
# unique index ``outbox_once`` includes it), so one sent back is told again.
RETURNS_SQL = (
    "(SELECT count(*) FROM ticket_events e WHERE e.ticket_id = {} AND e.type = 'returned')"
)


def _queue_for_ticket(db, office: dict, ticket_id: int, purpose: str, at, payload: dict) -> None:
    """One message of ``purpose`` per active subscription of the ticket's visit, once per
    turn in line."""
    give_up = iso(at + timedelta(seconds=PURPOSES[purpose].max_age_s))
    db.execute(
        "INSERT OR IGNORE INTO outbox (office_id, channel, purpose, ticket_id, subscription_id,"
        " payload, state, next_attempt_at, give_up_at, created_at, returns)"
        " SELECT s.office_id, s.channel, ?, t.id, s.id, ?, 'queued', ?, ?, ?,"
        f" {RETURNS_SQL.format('t.id')} FROM tickets t"
        " JOIN subscriptions s ON s.visit_id = t.visit_id AND s.ended_at IS NULL WHERE t.id = ?",
        [purpose, json.dumps(payload), iso(at), give_up, iso(at), ticket_id],
    )


REMINDER_BEFORE = timedelta(hours=1)  # "booking_reminder" goes out this long before the slot


def queue_booking_messages(
    db: sqlite_utils.Database, office: dict, appointment: dict, subscription_id: int, at
) -> None:
    """A booking's confirmation now and its reminder an hour before the slot (or none when
    the slot is nearer than that), for the subscription given with it (caller's
    transaction). What they say is read when they are sent: a cancelled booking's
    reminder is skipped."""
    start = parse_iso(appointment["slot_start"])
    local = start.astimezone(ZoneInfo(office["timezone"]))
    payload = json.dumps({"time": local.strftime("%H:%M %d/%m/%Y")})
    rows = [
        ("booking_confirmed", at, at + timedelta(seconds=PURPOSES["booking_confirmed"].max_age_s))
    ]
    remind = start - REMINDER_BEFORE
    if remind > at:
        rows.append(("booking_reminder", remind, start))
    for purpose, due, give_up in rows:
        db.execute(
            "INSERT INTO outbox (office_id, channel, purpose, appointment_id, subscription_id,"
            " payload, state, next_attempt_at, give_up_at, created_at) SELECT office_id,"
            " channel, ?, ?, id, ?, 'queued', ?, ?, ? FROM subscriptions WHERE id = ?",
            [purpose, appointment["id"], payload, iso(due), iso(min(give_up, start)), iso(at),
             subscription_id],
        )  # fmt: skip


def invite_time(office: dict, at: datetime, clock_text: str) -> datetime:
    """When a visit finished at ``at`` is invited to rate: the office's evening time that
    day, or at once (no time set, or already past it)."""
    if not clock_text:
        return at
    hour, minute = (int(p) for p in clock_text.split(":"))
    zone = ZoneInfo(office["timezone"])
    local = at.astimezone(zone)
    evening = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return max(at, evening)


def _queue_rating(db, office: dict, ticket_id: int, at: datetime, clock_text: str) -> None:
    due = iso(invite_time(office, at, clock_text))
    db.execute(
        "INSERT OR IGNORE INTO outbox (office_id, channel, purpose, ticket_id, subscription_id,"
        " payload, state, next_attempt_at, give_up_at, created_at)"
        " SELECT s.office_id, s.channel, 'rating', t.id, s.id, '{}', 'queued', ?, s.erase_after,"
        " ? FROM tickets t JOIN subscriptions s"
        " ON s.visit_id = t.visit_id AND s.ended_at IS NULL WHERE t.id = ? AND ? < s.erase_after",
        [due, iso(at), ticket_id, due],
    )


def near_wanted(settings: dict) -> bool:
    """Whether the office sends "turn near" at all (by count, or by the estimate)."""
    return settings["notify_near_people"] > 0 or settings["notify_near_minutes"] > 0


# "Turn near" is decided by the worker, not in the call. A call that moves a line notes
# the move (one row per service, kept until expanded, a second move of the same line only
# moves its time); the worker's transaction reads the line as it is then and writes the
# messages, and deletes the note in that same transaction. A call that makes 500
# trackers near so writes one row, not 500 (BENCHMARKS.md, "Messages out"); a crash
# between the call's commit and the expansion loses nothing (the note is durable); two
# workers expanding one note write each message once (the ``outbox_once`` index). The
# usual case, a few trackers at the front of one line, is deferred too: measured, the
# note costs the call less than the rule did inline even then (0.07 against 0.19 ms for
# 5), the first message still reaches the gateway 10-40 ms after the call, and the rule
# has one caller.


def note_moves(db: sqlite_utils.Database, office_id: int, services: list[int], at) -> None:
    """Note that these services' lines moved at ``at`` (caller's transaction): the outbox
    worker turns the note into ``near`` messages (``expand_moves``)."""
    stamp = iso(at)
    db.conn.executemany(
        "INSERT INTO outbox_moves (service_id, office_id, first_at, last_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (service_id) DO UPDATE SET last_at = max(last_at, excluded.last_at)",
        [(service_id, office_id, stamp, stamp) for service_id in services],
    )


def expand_moves(db: sqlite_utils.Database, now: datetime | None = None) -> int:
    """Queue the ``near`` messages of every line noted as moved, and forget the notes, in
    one transaction (the outbox worker's). Each line is read as it is now; its messages
    are dated from its latest move and given up ``PURPOSES["near"].max_age_s`` after it
    (a move older than that queues nothing). How many messages were queued."""
    at = resolve_now(now)
    queued = 0
    if scalar(db, "SELECT EXISTS (SELECT 1 FROM outbox_moves)") == 0:
        return 0  # the usual round: no write lock taken (a request may be writing)
    with write(db):
        moves = db.execute(
            "SELECT service_id, office_id, last_at FROM outbox_moves ORDER BY office_id"
        ).fetchall()
        if not moves:
            return 0
        db.conn.executemany(  # the notes read, and only those
            "DELETE FROM outbox_moves WHERE service_id = ? AND last_at = ?",
            [(service_id, last_at) for service_id, _, last_at in moves],
        )
        max_age = timedelta(seconds=PURPOSES["near"].max_age_s)
        office: dict | None = None
        for service_id, office_id, last_at in moves:
            if office is None or office["id"] != office_id:
                office = one(db, "SELECT * FROM offices WHERE id = ?", [office_id])
                settings = office_settings(db, office_id) if office else {}
            moved = parse_iso(last_at)
            if office is None or moved + max_age <= at:
                continue
            queued += queue_near(db, office, moved, settings, [service_id])
    return queued


def queue_near(
    db: sqlite_utils.Database, office: dict, at: datetime, settings: dict, services: list[int]
) -> int:
    """Queue ``near`` for every subscribed waiting ticket of these services now within the
    office's limits (``notify_near_people`` ahead, or an estimate of
    ``notify_near_minutes``), once per ticket, channel and turn in line (``RETURNS_SQL``):
    one read of the front of each
    line (as far as the limits reach) and one insert, whatever the number of trackers.
    ``at`` dates the messages (the line's move). The worker's transaction
    (``expand_moves``)."""
    if not near_wanted(settings):
        return 0
    people, minutes = settings["notify_near_people"], settings["notify_near_minutes"]
    day = local_day(at, office["timezone"]).isoformat()
    priority = order.priority_first(db, office["id"])
    near = []  # [ticket id, visit id, payload] of each ticket now within the limits
    for service_id in services:
        per = None  # seconds per person ahead, where measured today and served
        if minutes > 0:
            counters = open_counters(db, service_id)
            measured = recent_service_time(db, service_id, day, 0) if counters else 0
            per = measured / counters if measured else None
        reach = max(people, int(minutes * 60 // per) if minutes > 0 and per else 0)
        if people <= 0 and not (minutes > 0 and per):
            continue
        # The line in queue order, read from its index (a window function over it costs
        # three times as much): the position in it is the number of people ahead.
        for ahead, (ticket_id, visit_id, awaiting) in enumerate(
            order.line(db, office["id"], service_id, priority, reach + 1)
        ):
            wait = "null" if per is None else str(round(ahead * per))
            # An online number still to check in is told to come and check in instead.
            purpose = "checkin_window" if awaiting else "near"
            near.append([ticket_id, visit_id, f'{{"ahead":{ahead},"wait_s":{wait}}}', purpose])
    if not near:
        return 0
    give_up = iso(at + timedelta(seconds=PURPOSES["near"].max_age_s))
    # Tickets already told in this turn in line are left out by the unique index (OR
    # IGNORE): at most the front of the line, a few rows, in the usual case.
    return db.execute(
        "INSERT OR IGNORE INTO outbox (office_id, channel, purpose, ticket_id, subscription_id,"
        " payload, state, next_attempt_at, give_up_at, created_at, returns)"
        " SELECT s.office_id, s.channel, j.value ->> 3, j.value ->> 0, s.id, j.value ->> 2,"
        f" 'queued', ?, ?, ?, {RETURNS_SQL.format('j.value ->> 0')}"
        " FROM json_each(?) j CROSS JOIN subscriptions s"
        " ON s.visit_id = j.value ->> 1 AND s.ended_at IS NULL",
        [iso(at), give_up, iso(at), json.dumps(near)],
    ).rowcount


# --- subscriptions ending ----------------------------------------------------------------


def end_subscriptions(db, where: str, params: list, at: datetime, reason: str) -> list[str]:
    """End the active subscriptions matching ``where`` (caller's transaction): erase the
    address, skip their queued messages. Returns the channels ended."""
    rows = db.execute(
        f"SELECT id, channel FROM subscriptions WHERE ended_at IS NULL AND {where}", params
    ).fetchall()
    for sub_id, _ in rows:
        db.execute(
            "UPDATE subscriptions SET address = NULL, ended_at = ?, end_reason = ? WHERE id = ?",
            [iso(at), reason, sub_id],
        )
        db.execute(
            f"UPDATE outbox SET state = 'skipped', finished_at = ?, last_error = ?, {BLANK_SECRET}"
            " WHERE subscription_id = ? AND state = 'queued'",
            [iso(at), reason, sub_id],
        )
    return [channel for _, channel in rows]


# --- webhooks --------------------------------------------------------------------------


def _listeners(db, office_id: int) -> tuple[list[tuple[int, list[str]]], bool]:
    """The office's active webhooks (id, event types) and whether any citizen of it is
    subscribed, in one statement: every operation asks (a row of NULLs says "subscribed")."""
    hooks, subscribed = [], False
    for hook_id, events in db.execute(
        "SELECT id, events FROM webhooks WHERE office_id = ? AND active UNION ALL"
        " SELECT NULL, NULL WHERE EXISTS (SELECT 1 FROM subscriptions WHERE office_id = ?"
        " AND ended_at IS NULL)",
        [office_id, office_id],
    ).fetchall():
        if hook_id is None:
            subscribed = True
        else:
            hooks.append((hook_id, json.loads(events)))
    return hooks, subscribed


def _queue_webhooks(db, office: dict, hooks, views: list[dict], at: datetime) -> None:
    """One delivery per hook and event it asked for: the staff shape of the event
    (``docs/realtime.md``; the dossier code only as ``has_dossier_code``) and the waiting
    counts after it."""
    waiting = {str(k): v for k, v in order.waiting_counts(db, office["id"]).items()}
    give_up = iso(at + timedelta(seconds=PURPOSES["event"].max_age_s))
    rows = []
    for view in views:
        wanting = [h for h, types in hooks if "*" in types or view["type"] in types]
        if not wanting:
            continue
        payload = staff_event(view)
        payload.pop("from_status", None)
        payload["waiting"] = waiting
        payload["waiting_total"] = sum(waiting.values())
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        for hook_id in wanting:
            rows.append(
                [
                    office["id"],
                    view["ticket_id"],
                    hook_id,
                    view["seq"],
                    body,
                    iso(at),
                    give_up,
                    iso(at),
                ]
            )
    db.conn.executemany(
        "INSERT OR IGNORE INTO outbox (office_id, channel, purpose, ticket_id, webhook_id,"
        " event_seq, payload, state, next_attempt_at, give_up_at, created_at)"
        " VALUES (?, 'webhook', 'event', ?, ?, ?, ?, 'queued', ?, ?, ?)",
        rows,
    )


def check_webhook_url(url: str) -> str:
    """An http(s) address with a host; anything else is refused."""
    value = (url or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
        raise BadInputError(
            "Địa chỉ webhook phải bắt đầu bằng http:// hoặc https://",
            "A webhook URL must be http(s)://host/...",
            field="url",
        )
    return value


def check_event_types(events: Iterable[str] | str | None) -> list[str]:
    """The event types a hook wants (``*``: all), refused when one is unknown."""
    if events is None or events == "":
        return ["*"]
    if isinstance(events, str):
        events = events.split(",")
    chosen = [e.strip() for e in events if e.strip()]
    unknown = [e for e in chosen if e != "*" and e not in EVENT_TYPES]
    if unknown or not chosen:
        raise BadInputError(
            f"Loại sự kiện không hợp lệ: {', '.join(unknown) or '(trống)'}",
            f"Unknown event types: {', '.join(unknown)}",
            field="events",
            known=list(EVENT_TYPES),
        )
    return ["*"] if "*" in chosen else chosen


def add_webhook(
    db: sqlite_utils.Database,
    office_id: int,
    url: str,
    events: Iterable[str] | str | None = None,
    user_id: int | None = None,
    now: datetime | None = None,
) -> tuple[int, str]:
    """Register a webhook of an office; returns its id and its signing secret (shown once
    here; kept in the database, which signs with it)."""
    at = resolve_now(now)
    url = check_webhook_url(url)
    types = check_event_types(events)
    secret = "whsec_" + secrets.token_urlsafe(24)
    with write(db):
        get_office(db, office_id)
        hook_id = db.execute(
            "INSERT INTO webhooks (office_id, url, events, secret, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [office_id, url, json.dumps(types), secret, iso(at)],
        ).lastrowid
        audit.record(db, office_id, user_id, "webhook.add", {"id": hook_id, "url": url}, at)
    return hook_id, secret


def remove_webhook(
    db: sqlite_utils.Database, hook_id: int, user_id: int | None = None, now=None
) -> dict:
    """Stop a webhook: nothing more is queued for it, and what is queued is skipped."""
    at = resolve_now(now)
    with write(db):
        hook = one(db, "SELECT * FROM webhooks WHERE id = ?", [hook_id])
        if hook is None:
            raise NotFoundError(f"Không có webhook {hook_id}", f"No webhook {hook_id}")
        db.execute("UPDATE webhooks SET active = 0 WHERE id = ?", [hook_id])
        db.execute(
            "UPDATE outbox SET state = 'skipped', finished_at = ?, last_error = 'webhook removed'"
            " WHERE webhook_id = ? AND state = 'queued'",
            [iso(at), hook_id],
        )
        audit.record(db, hook["office_id"], user_id, "webhook.remove", {"id": hook_id}, at)
    return hook


# --- delivery: what the workers in notifiers/ call ----------------------------------------

CLAIM_SQL = (
    "SELECT o.*, s.address, s.lang, s.ended_at AS sub_ended_at,"
    " coalesce(t.code, a.code) AS code, t.status AS ticket_status, t.awaiting_checkin,"
    " coalesce(t.day, a.day) AS"
    " day, v.token, sv.name_vi AS service_vi, sv.name_en AS service_en,"
    " a.token AS booking_token, a.status AS booking_status, a.slot_start,"
    " w.url, w.secret, w.active AS hook_active, f.name AS office_name, f.timezone,"
    # one rating per visit: rated on any of its tickets (tracker or counter tablet) is rated
    " EXISTS (SELECT 1 FROM ratings r WHERE r.ticket_id = o.ticket_id"
    " OR r.visit_id = t.visit_id) AS rated"
    " FROM outbox o JOIN offices f ON f.id = o.office_id"
    " LEFT JOIN subscriptions s ON s.id = o.subscription_id"
    " LEFT JOIN tickets t ON t.id = o.ticket_id LEFT JOIN visits v ON v.id = t.visit_id"
    " LEFT JOIN appointments a ON a.id = o.appointment_id"
    " LEFT JOIN services sv ON sv.id = coalesce(t.service_id, a.service_id)"
    " LEFT JOIN webhooks w ON w.id = o.webhook_id"
)


def _moot(message: dict) -> str | None:
    """Why a due message is no longer worth sending, or None."""
    if message["channel"] == "webhook":
        return None if message["hook_active"] else "webhook removed"
    if message["address"] is None:
        return "contact erased" if message["sub_ended_at"] else "no contact"
    purpose = PURPOSES.get(message["purpose"])
    if purpose and purpose.statuses and message["ticket_status"] not in purpose.statuses:
        return f"ticket is {message['ticket_status']}"
    if message["purpose"] == "rating" and message["rated"]:
        return "already rated"
    if message["purpose"] == "checkin_window" and not message["awaiting_checkin"]:
        return "already checked in"
    if message["appointment_id"] and message["booking_status"] != "booked":
        return f"booking is {message['booking_status']}"  # cancelled, or already here
    return None


def claim(
    db: sqlite_utils.Database,
    now: datetime | None = None,
    limit: int = 20,
    channels: Collection[str] | None = None,
) -> list[dict]:
    """Take up to ``limit`` due messages for this worker (``sending``, one more attempt).

    Due messages past their give-up time fail and moot ones are skipped on the
    way, in the same transaction. Each returned message carries what sending
    it needs: the address, the ticket's code and tracker token, the hook's URL
    and secret. Two workers never get the same message: the claim is a
    conditional update under the write lock.
    """
    at = iso(resolve_now(now))
    where = "o.state = 'queued' AND o.next_attempt_at <= ?"
    params: list = [at]
    if channels is not None:
        where += f" AND o.channel IN ({','.join('?' * len(channels))})"
        params += list(channels)
    sql = f"{CLAIM_SQL} WHERE {where}"
    claimed = []
    if scalar(db, f"SELECT EXISTS (SELECT 1 FROM outbox o WHERE {where})", params) == 0:
        return claimed  # the usual round: nothing due, no write lock taken
    with write(db):
        due = list(db.query(f"{sql} ORDER BY o.next_attempt_at, o.id LIMIT ?", [*params, limit]))
        for message in due:
            if at > message["give_up_at"]:
                _close(db, message["id"], FAILED, "gave up: too late to be useful", at)
                continue
            reason = _moot(message)
            if reason:
                _close(db, message["id"], SKIPPED, reason, at)
                continue
            if (
                db.execute(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_at = ?"
                    " WHERE id = ? AND state = 'queued'",
                    [at, message["id"]],
                ).rowcount
                == 1
            ):
                message.update(state=SENDING, attempts=message["attempts"] + 1, claimed_at=at)
                claimed.append(message)
    return claimed


def _close(db, message_id: int, state: str, error: str | None, at: str) -> None:
    db.execute(
        f"UPDATE outbox SET state = ?, finished_at = ?, last_error = ?, {BLANK_SECRET}"
        " WHERE id = ?",
        [state, at, error, message_id],
    )


@dataclass(frozen=True)
class Result:
    """What one attempt came to: sent, or an error to retry after ``retry_in`` seconds
    (None: refused for good); ``gone``: the address no longer exists (an expired push
    subscription) and is ended; ``status``: what the far end answered (for webhooks)."""

    message_id: int
    ok: bool
    error: str | None = None
    retry_in: float | None = None
    gone: bool = False
    status: str | None = None


def settle(
    db: sqlite_utils.Database,
    messages: list[dict],
    results: list[Result],
    max_attempts: int,
    now: datetime | None = None,
) -> dict[str, int]:
    """Record the attempts of claimed messages in one transaction: sent, queued again
    after a backoff, or failed (refused, out of tries, or the next try would be too
    late). Webhooks keep their last status and run of failures."""
    moment = resolve_now(now)
    at = iso(moment)
    by_id = {m["id"]: m for m in messages}
    counts = dict.fromkeys((SENT, QUEUED, FAILED), 0)
    with write(db):
        for result in results:
            message = by_id[result.message_id]
            error = (result.error or "")[:500] or None
            retry_at = (
                iso(moment + timedelta(seconds=result.retry_in))
                if result.retry_in is not None
                else None
            )
            if result.ok:
                state = SENT
            elif (
                retry_at is not None
                and message["attempts"] < max_attempts
                and retry_at <= message["give_up_at"]
            ):
                state = QUEUED
            else:
                state = FAILED
            if state == QUEUED:
                changed = db.execute(
                    "UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = ?"
                    " WHERE id = ? AND state = 'sending'",
                    [retry_at, error, message["id"]],
                ).rowcount
            else:
                changed = db.execute(
                    f"UPDATE outbox SET state = ?, finished_at = ?, last_error = ?, {BLANK_SECRET}"
                    " WHERE id = ? AND state = 'sending'",
                    [state, at, error, message["id"]],
                ).rowcount
            if changed:
                counts[state] += 1
            if result.gone and message["subscription_id"]:
                end_subscriptions(db, "id = ?", [message["subscription_id"]], moment, "gone")
            if message["webhook_id"]:
                db.execute(
                    "UPDATE webhooks SET last_attempt_at = ?, last_status = ?, last_error = ?,"
                    " last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,"
                    " failures = CASE WHEN ? THEN 0 ELSE failures + 1 END WHERE id = ?",
                    [
                        at,
                        result.status or ("ok" if result.ok else "error"),
                        None if result.ok else error,
                        result.ok,
                        at,
                        result.ok,
                        message["webhook_id"],
                    ],
                )
    return counts


def recover(db: sqlite_utils.Database, lease_s: float, now: datetime | None = None) -> int:
    """Queue again the messages claimed longer ago than the lease (their worker died or
    hung): they are sent again with the same id."""
    at = resolve_now(now)
    with write(db):
        return db.execute(
            "UPDATE outbox SET state = 'queued', last_error = 'worker stopped while sending'"
            " WHERE state = 'sending' AND claimed_at < ?",
            [iso(at - timedelta(seconds=lease_s))],
        ).rowcount


def next_due(db: sqlite_utils.Database, moves: bool = True) -> str | None:
    """When the next queued message becomes due (ISO UTC), if any; with ``moves``, a line
    noted as moved is due at once (its ``near`` messages are to be written)."""
    sql = "SELECT min(next_attempt_at) AS due FROM outbox WHERE state = 'queued'"
    if moves:
        sql = f"SELECT min(due) FROM ({sql} UNION ALL SELECT min(first_at) FROM outbox_moves)"
    return scalar(db, sql)


def wait_minutes(wait_s: int | None) -> int | None:
    """An estimate in whole minutes as a message says it (at least 1)."""
    return None if wait_s is None else max(1, math.ceil(wait_s / 60))
