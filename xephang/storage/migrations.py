"""The database schema, as numbered migration steps.

An applied step is never edited: a change to the schema is a new step at
the end of this file.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils
from sqlite_utils import Migrations

from ..clock import closing_time, iso
from .transaction import write

migrations = Migrations("xephang")


def _run(db: sqlite_utils.Database, script: str) -> None:
    """Run ';'-separated statements one by one (executescript would commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


@migrations(name="0001_core")
def core_tables(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
CREATE TABLE offices (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
    hours TEXT,
    ticket_footer TEXT NOT NULL DEFAULT '',
    board_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    prefix TEXT NOT NULL,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    field TEXT NOT NULL DEFAULT '',
    daily_cap INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (office_id, prefix)
);
CREATE TABLE counters (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    number INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'paused')),
    pause_reason TEXT,
    officer_id INTEGER REFERENCES users(id),
    current_ticket_id INTEGER REFERENCES tickets(id),
    priority_streak INTEGER NOT NULL DEFAULT 0,
    UNIQUE (office_id, number)
);
CREATE TABLE counter_services (
    counter_id INTEGER NOT NULL REFERENCES counters(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (counter_id, service_id)
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('officer', 'manager', 'admin')),
    office_id INTEGER REFERENCES offices(id),
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    kind TEXT NOT NULL CHECK (kind IN ('kiosk', 'display', 'printer')),
    name TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_seen_at TEXT,
    status TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE priority_categories (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    key TEXT NOT NULL,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    rank INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    UNIQUE (office_id, key)
);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    token TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    visit_id INTEGER NOT NULL REFERENCES visits(id),
    from_ticket_id INTEGER REFERENCES tickets(id),
    day TEXT NOT NULL,
    number INTEGER NOT NULL,
    code TEXT NOT NULL,
    priority TEXT,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'called', 'serving', 'done',
        'no_show', 'transferred', 'cancelled', 'expired')),
    target_counter_id INTEGER REFERENCES counters(id),
    counter_id INTEGER REFERENCES counters(id),
    officer_id INTEGER REFERENCES users(id),
    device_id INTEGER REFERENCES devices(id),
    issued_at TEXT NOT NULL,
    queue_at TEXT NOT NULL,
    called_at TEXT,
    last_called_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    recalls INTEGER NOT NULL DEFAULT 0,
    dossier_code TEXT,
    outcome TEXT,
    UNIQUE (office_id, service_id, day, number)
);
CREATE INDEX tickets_waiting ON tickets (office_id, status, service_id, queue_at);
CREATE INDEX tickets_day ON tickets (office_id, day);
CREATE INDEX tickets_visit ON tickets (visit_id);
CREATE INDEX tickets_dossier ON tickets (dossier_code);
CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    seq INTEGER NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id),
    counter_id INTEGER REFERENCES counters(id),
    user_id INTEGER REFERENCES users(id),
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (office_id, seq)
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id);
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    ticket_id INTEGER NOT NULL UNIQUE REFERENCES tickets(id),
    level INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE targets (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    service_id INTEGER REFERENCES services(id),
    metric TEXT NOT NULL CHECK (metric IN ('avg_wait_s', 'satisfied_share')),
    value REAL NOT NULL,
    effective_from TEXT NOT NULL
);
CREATE INDEX targets_office ON targets (office_id, metric, effective_from);
CREATE TABLE settings (
    office_id INTEGER NOT NULL REFERENCES offices(id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (office_id, name)
)
""",
    )


@migrations(name="0004_manager")
def manager_tables(db: sqlite_utils.Database) -> None:
    """Stored report tallies of closed days, log anchors left by purges, setup audit."""
    _run(
        db,
        """
CREATE TABLE report_days (
    office_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    built_at TEXT NOT NULL,
    PRIMARY KEY (office_id, day)
);
CREATE TABLE report_rollup (
    office_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    dim TEXT NOT NULL,
    key INTEGER NOT NULL,
    counts TEXT NOT NULL,
    waits BLOB NOT NULL,
    PRIMARY KEY (office_id, dim, day, key)
);
CREATE INDEX report_rollup_day ON report_rollup (office_id, day);
CREATE TABLE report_state (
    office_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE log_anchors (
    office_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    before_day TEXT NOT NULL,
    purged_at TEXT NOT NULL
);
CREATE TABLE setup_audit (
    id INTEGER PRIMARY KEY,
    office_id INTEGER,
    user_id INTEGER,
    action TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL
);
CREATE INDEX setup_audit_office ON setup_audit (office_id, at);
CREATE INDEX tickets_code ON tickets (office_id, code)
""",
    )


@migrations(name="0002_printing")
def printing_tables(db: sqlite_utils.Database) -> None:
    """The print spooler's jobs, each printer's last known status, kiosk rate-limit index."""
    _run(
        db,
        """
CREATE TABLE print_jobs (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    ticket_id INTEGER REFERENCES tickets(id),
    copy INTEGER NOT NULL DEFAULT 1,
    device_id INTEGER REFERENCES devices(id),
    printer TEXT NOT NULL,
    paper_mm INTEGER NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'sending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    claimed_at TEXT,
    finished_at TEXT,
    last_error TEXT,
    UNIQUE (ticket_id, copy)
);
CREATE INDEX print_jobs_due ON print_jobs (printer, state, next_attempt_at);
CREATE INDEX print_jobs_office ON print_jobs (office_id, created_at);
CREATE TABLE printer_status (
    printer TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('ok', 'warning', 'error')),
    problem TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    checked_at TEXT NOT NULL,
    last_ok_at TEXT,
    last_error_at TEXT
);
CREATE INDEX tickets_device ON tickets (device_id, issued_at)
""",
    )


@migrations(name="0005_recent_service_index")
def recent_service_index(db: sqlite_utils.Database) -> None:
    """The wait estimate reads a service's last finished tickets: 20 index rows, not a day's."""
    db.execute(
        "CREATE INDEX tickets_done_recent ON tickets (service_id, finished_at)"
        " WHERE status = 'done'"
    )


@migrations(name="0006_queue_rank")
def queue_rank(db: sqlite_utils.Database) -> None:
    """A ticket keeps its priority category's rank from issue: its whole queue key is on its row.

    The index holds the waiting tickets of each service in queue-key order
    (engine/order.py), so call-next and people-ahead read it in order.
    """
    _run(
        db,
        """
ALTER TABLE tickets ADD COLUMN priority_rank INTEGER;
UPDATE tickets SET priority_rank = (SELECT p.rank FROM priority_categories p
    WHERE p.office_id = tickets.office_id AND p.key = tickets.priority)
    WHERE priority IS NOT NULL;
CREATE INDEX tickets_queue ON tickets (office_id, service_id, (priority IS NULL),
    coalesce(priority_rank, 0), queue_at, id) WHERE status = 'waiting'
""",
    )


@migrations(name="0007_access")
def access_tables(db: sqlite_utils.Database) -> None:
    """Server-side sessions, the revocations sockets follow, failed logins for the throttle."""
    _run(
        db,
        """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES users(id),
    device_id INTEGER REFERENCES devices(id),
    created_at TEXT NOT NULL,
    ended_at TEXT,
    CHECK ((user_id IS NULL) != (device_id IS NULL))
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_device ON sessions (device_id) WHERE ended_at IS NULL;
CREATE TABLE revocations (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'user', 'token', 'device', 'board')),
    ref INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_address ON login_failures (address, at)
""",
    )


@migrations(name="0008_left_at")
def left_at(db: sqlite_utils.Database) -> None:
    """When a ticket left the line without being called (cancelled while waiting, expired).

    Reports count such a ticket's wait until then. Existing tickets get it
    from the rule in force: a cancellation's time; for an expired ticket the
    end of its day's opening hours, or its expiry if that came earlier.
    """
    db.execute("ALTER TABLE tickets ADD COLUMN left_at TEXT")
    db.execute(
        "UPDATE tickets SET left_at = finished_at WHERE status = 'cancelled'"
        " AND called_at IS NULL AND finished_at IS NOT NULL"
    )
    rows = db.execute(
        "SELECT t.id, t.day, t.finished_at, o.hours, o.timezone FROM tickets t"
        " JOIN offices o ON o.id = t.office_id WHERE t.status = 'expired'"
        " AND t.called_at IS NULL AND t.finished_at IS NOT NULL"
    ).fetchall()
    db.conn.executemany(
        "UPDATE tickets SET left_at = ? WHERE id = ?",
        [
            (iso(min(datetime.fromisoformat(finished), closing_time(hours, tz, day))), tid)
            for tid, day, finished, hours, tz in rows
        ],
    )


@migrations(name="0009_outbox")
def outbox_tables(db: sqlite_utils.Database) -> None:
    """Messages out: citizens' subscriptions (the only personal data), webhooks, the outbox.

    ``subscriptions.address`` holds a phone number, an e-mail address or a Web Push
    subscription, given with consent; it is set to NULL when the subscription ends or
    its ``erase_after`` passes. The outbox holds no address: a message finds it through
    its subscription when it is sent. A message is unique per ticket, purpose and
    channel (``outbox_once``) or per hook and event (``outbox_hook_once``).

    The outbox has no foreign keys and only the indexes its worker needs: a call may
    write 500 rows in its own transaction (BENCHMARKS.md), and retention deletes a
    ticket's messages with the ticket.
    """
    _run(
        db,
        """
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    visit_id INTEGER NOT NULL REFERENCES visits(id),
    channel TEXT NOT NULL CHECK (channel IN ('webpush', 'sms', 'zalo', 'email')),
    address TEXT,
    masked TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT 'vi' CHECK (lang IN ('vi', 'en')),
    consent_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    erase_after TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE UNIQUE INDEX subscriptions_visit ON subscriptions (visit_id, channel)
    WHERE ended_at IS NULL;
CREATE INDEX subscriptions_office ON subscriptions (office_id) WHERE ended_at IS NULL;
CREATE INDEX subscriptions_erase ON subscriptions (erase_after) WHERE address IS NOT NULL;
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '["*"]',
    secret TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_status TEXT,
    last_error TEXT,
    last_success_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_office ON webhooks (office_id) WHERE active;
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('webpush', 'sms', 'zalo', 'email', 'webhook')),
    purpose TEXT NOT NULL,
    ticket_id INTEGER,
    subscription_id INTEGER,
    webhook_id INTEGER,
    event_seq INTEGER,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    give_up_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    claimed_at TEXT,
    finished_at TEXT,
    last_error TEXT
);
CREATE UNIQUE INDEX outbox_once ON outbox (ticket_id, purpose, channel) WHERE webhook_id IS NULL;
CREATE UNIQUE INDEX outbox_hook_once ON outbox (webhook_id, event_seq)
    WHERE webhook_id IS NOT NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_sending ON outbox (claimed_at) WHERE state = 'sending';
CREATE INDEX outbox_finished ON outbox (office_id, finished_at) WHERE finished_at IS NOT NULL
""",
    )


@migrations(name="0010_estimates")
def estimates(db: sqlite_utils.Database) -> None:
    """Each ticket keeps the estimate it was given when it joined the line (and its range
    when the data was thin), so the estimate's error can be measured and reported."""
    _run(
        db,
        """
ALTER TABLE tickets ADD COLUMN estimated_wait_s INTEGER;
ALTER TABLE tickets ADD COLUMN estimate_low_s INTEGER;
ALTER TABLE tickets ADD COLUMN estimate_high_s INTEGER
""",
    )


@migrations(name="0011_queue_counts")
def queue_counts(db: sqlite_utils.Database) -> None:
    """Waiting counts kept per service instead of recounted; indexes for the rest of the
    queue's hot path, so issuing and calling cost the same with 10 or 10,000 waiting.

    The triggers keep ``queue_counts.waiting`` equal to the service's waiting tickets
    whatever writes them (engine, purge, a hand-run UPDATE), in the same transaction.
    ``tickets_waiting_day`` serves the stale-ticket check every issue and call runs;
    ``tickets_targeted`` the tickets transferred to one counter.
    """
    # One statement each: a trigger's body holds ";\n", which _run would split.
    for statement in (
        """CREATE TABLE queue_counts (
    service_id INTEGER PRIMARY KEY REFERENCES services(id),
    office_id INTEGER NOT NULL REFERENCES offices(id),
    waiting INTEGER NOT NULL DEFAULT 0 CHECK (waiting >= 0))""",
        "CREATE INDEX queue_counts_office ON queue_counts (office_id)",
        """INSERT INTO queue_counts (service_id, office_id, waiting)
    SELECT s.id, s.office_id, (SELECT count(*) FROM tickets t
        WHERE t.service_id = s.id AND t.status = 'waiting') FROM services s""",
        """CREATE TRIGGER queue_counts_service AFTER INSERT ON services BEGIN
    INSERT INTO queue_counts (service_id, office_id, waiting) VALUES (new.id, new.office_id, 0);
END""",
        """CREATE TRIGGER queue_counts_service_gone AFTER DELETE ON services BEGIN
    DELETE FROM queue_counts WHERE service_id = old.id;
END""",
        """CREATE TRIGGER queue_counts_insert AFTER INSERT ON tickets
    WHEN new.status = 'waiting' BEGIN
    UPDATE queue_counts SET waiting = waiting + 1 WHERE service_id = new.service_id;
END""",
        """CREATE TRIGGER queue_counts_delete AFTER DELETE ON tickets
    WHEN old.status = 'waiting' BEGIN
    UPDATE queue_counts SET waiting = waiting - 1 WHERE service_id = old.service_id;
END""",
        """CREATE TRIGGER queue_counts_update AFTER UPDATE OF status, service_id ON tickets
    WHEN old.status = 'waiting' OR new.status = 'waiting' BEGIN
    UPDATE queue_counts SET waiting = waiting - 1
        WHERE service_id = old.service_id AND old.status = 'waiting';
    UPDATE queue_counts SET waiting = waiting + 1
        WHERE service_id = new.service_id AND new.status = 'waiting';
END""",
        "CREATE INDEX tickets_waiting_day ON tickets (office_id, day) WHERE status = 'waiting'",
        """CREATE INDEX tickets_targeted ON tickets (target_counter_id, queue_at)
    WHERE status = 'waiting' AND target_counter_id IS NOT NULL""",
    ):
        db.execute(statement)


@migrations(name="0012_screens")
def screens(db: sqlite_utils.Database) -> None:
    """What the screens need: a display's zone (the services and counters its board shows),
    a lĩnh vực's English name (the kiosk's English mode), an office's holidays."""
    _run(
        db,
        """
ALTER TABLE devices ADD COLUMN zone TEXT NOT NULL DEFAULT '{}';
ALTER TABLE services ADD COLUMN field_en TEXT NOT NULL DEFAULT '';
ALTER TABLE offices ADD COLUMN holidays TEXT NOT NULL DEFAULT '[]'
""",
    )


def _widen_check(db: sqlite_utils.Database, table: str, old: str, new: str) -> None:
    """Let a table's CHECK constraint accept more values, in place.

    Rebuilding the table (SQLite's general way to change a constraint) needs
    ``foreign_keys=OFF``, which cannot be switched inside this step's
    transaction, and every table pointing at ``users`` or ``devices`` would
    otherwise have to be rebuilt too. A wider CHECK keeps every stored row
    valid: the case SQLite documents for editing the stored schema
    (https://www.sqlite.org/lang_altertable.html#otheralter), with the schema
    version bumped so every connection re-reads it.
    """
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema=ON")
    try:
        changed = db.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?)"
            " WHERE type = 'table' AND name = ? AND instr(sql, ?) > 0",
            [old, new, table, old],
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"{table}: constraint {old!r} not found in its schema")
        db.execute(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        db.execute("PRAGMA writable_schema=OFF")


@migrations(name="0013_ratings_tablets_province")
def ratings_tablets_province(db: sqlite_utils.Database) -> None:
    """A rating records whom and what it rates; rating tablets paired to a counter; the
    read-only ``province`` role and the offices each province user may read.

    Ratings get the visit, dossier code, officer, counter and service as they
    were when the citizen rated (existing ratings take them from their ticket),
    the channel (the ticket's tracker page or the counter's tablet) and the
    answers to the office's rating attributes (JSON). A tablet finds the
    ticket its counter just finished through ``tickets_counter_done``; the
    satisfaction report reads a period's dossiers through ``tickets_dossier_day``.
    """
    _widen_check(
        db,
        "users",
        "CHECK (role IN ('officer', 'manager', 'admin'))",
        "CHECK (role IN ('officer', 'manager', 'admin', 'province'))",
    )
    _widen_check(
        db,
        "devices",
        "CHECK (kind IN ('kiosk', 'display', 'printer'))",
        "CHECK (kind IN ('kiosk', 'display', 'printer', 'rating'))",
    )
    _run(
        db,
        """
ALTER TABLE devices ADD COLUMN counter_id INTEGER REFERENCES counters(id);
CREATE TABLE user_offices (
    user_id INTEGER NOT NULL REFERENCES users(id),
    office_id INTEGER NOT NULL REFERENCES offices(id),
    PRIMARY KEY (user_id, office_id)
);
ALTER TABLE ratings ADD COLUMN visit_id INTEGER REFERENCES visits(id);
ALTER TABLE ratings ADD COLUMN dossier_code TEXT;
ALTER TABLE ratings ADD COLUMN officer_id INTEGER REFERENCES users(id);
ALTER TABLE ratings ADD COLUMN counter_id INTEGER REFERENCES counters(id);
ALTER TABLE ratings ADD COLUMN service_id INTEGER REFERENCES services(id);
ALTER TABLE ratings ADD COLUMN channel TEXT NOT NULL DEFAULT 'tracker'
    CHECK (channel IN ('tracker', 'tablet'));
ALTER TABLE ratings ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
UPDATE ratings SET
    visit_id = (SELECT t.visit_id FROM tickets t WHERE t.id = ratings.ticket_id),
    officer_id = (SELECT t.officer_id FROM tickets t WHERE t.id = ratings.ticket_id),
    counter_id = (SELECT t.counter_id FROM tickets t WHERE t.id = ratings.ticket_id),
    service_id = (SELECT t.service_id FROM tickets t WHERE t.id = ratings.ticket_id),
    dossier_code = coalesce(
        (SELECT t.dossier_code FROM tickets t WHERE t.id = ratings.ticket_id),
        (SELECT v.dossier_code FROM tickets t JOIN tickets v ON v.visit_id = t.visit_id
         WHERE t.id = ratings.ticket_id AND v.dossier_code IS NOT NULL
         ORDER BY v.id DESC LIMIT 1));
CREATE INDEX ratings_visit ON ratings (visit_id);
CREATE INDEX ratings_office ON ratings (office_id, created_at);
CREATE INDEX tickets_dossier_day ON tickets (office_id, day) WHERE dossier_code IS NOT NULL;
CREATE INDEX tickets_counter_done ON tickets (counter_id, finished_at) WHERE status = 'done'
""",
    )


@migrations(name="0014_booking")
def booking(db: sqlite_utils.Database) -> None:
    """Online numbers and appointments: each ticket records its channel (and an
    appointment's slot start, from which its wait counts); each counter its run of
    appointments called ahead of walk-ins (``booking_streak``); the booking a message is
    about (``outbox.appointment_id``); the manager's slot capacities; appointments (with
    the visit their messages and ticket belong to); and the remote claims the caps count,
    keyed by a keyed hash of the citizen's phone or CCCD number (never the number)."""
    _run(
        db,
        """
ALTER TABLE tickets ADD COLUMN channel TEXT NOT NULL DEFAULT 'kiosk'
    CHECK (channel IN ('kiosk', 'online', 'appointment'));
ALTER TABLE tickets ADD COLUMN slot_at TEXT;
ALTER TABLE counters ADD COLUMN booking_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN appointment_id INTEGER;
CREATE TABLE booking_slots (
    office_id INTEGER NOT NULL REFERENCES offices(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    weekday TEXT NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    start TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    PRIMARY KEY (service_id, weekday, start)
);
CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    service_id INTEGER NOT NULL REFERENCES services(id),
    day TEXT NOT NULL,
    slot_start TEXT NOT NULL,
    slot_end TEXT NOT NULL,
    code TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    identity_kind TEXT CHECK (identity_kind IN ('phone', 'cccd')),
    identity_hash TEXT,
    identity_last3 TEXT,
    status TEXT NOT NULL DEFAULT 'booked'
        CHECK (status IN ('booked', 'checked_in', 'cancelled', 'missed')),
    ticket_id INTEGER REFERENCES tickets(id),
    visit_id INTEGER REFERENCES visits(id),
    consent_at TEXT,
    created_at TEXT NOT NULL,
    checked_in_at TEXT,
    cancelled_at TEXT,
    UNIQUE (office_id, code)
);
CREATE INDEX appointments_slot ON appointments (service_id, slot_start)
    WHERE status != 'cancelled';
CREATE INDEX appointments_day ON appointments (office_id, day, status);
CREATE INDEX appointments_identity ON appointments (office_id, identity_hash, day)
    WHERE identity_hash IS NOT NULL;
CREATE TABLE online_claims (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('online', 'appointment')),
    service_id INTEGER NOT NULL REFERENCES services(id),
    field TEXT NOT NULL DEFAULT '',
    identity_hash TEXT,
    address_hash TEXT,
    ticket_id INTEGER REFERENCES tickets(id),
    appointment_id INTEGER REFERENCES appointments(id),
    created_at TEXT NOT NULL,
    released_at TEXT
);
CREATE INDEX online_claims_identity ON online_claims (office_id, identity_hash, day)
    WHERE identity_hash IS NOT NULL AND released_at IS NULL;
CREATE INDEX online_claims_address ON online_claims (address_hash, created_at)
    WHERE address_hash IS NOT NULL;
CREATE INDEX online_claims_to_forget ON online_claims (office_id, day)
    WHERE identity_hash IS NOT NULL OR address_hash IS NOT NULL;
CREATE INDEX online_claims_day ON online_claims (office_id, service_id, day, kind)
""",
    )


@migrations(name="0015_phone_codes")
def phone_codes(db: sqlite_utils.Database) -> None:
    """One-time codes that verify a phone before an online number or an appointment is
    taken: the phone's keyed identity hash and the code's keyed hash only (the phone
    itself lives in the subscription its message is sent through, erased when the code
    expires), its expiry, its attempts and when it was used."""
    _run(
        db,
        """
CREATE TABLE phone_codes (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    token TEXT NOT NULL UNIQUE,
    identity_hash TEXT NOT NULL,
    identity_last3 TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    subscription_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX phone_codes_identity ON phone_codes (office_id, identity_hash, created_at);
CREATE INDEX phone_codes_created ON phone_codes (created_at)
""",
    )


@migrations(name="0016_outbox_moves")
def outbox_moves(db: sqlite_utils.Database) -> None:
    """Lines that moved and whose "near" messages are not written yet: one row per service
    while pending (a second move of the same line only moves ``last_at``), written in the
    moving operation's transaction and deleted by the outbox worker in the transaction
    that writes the messages (``engine/outbox.expand_moves``). No foreign keys, like the
    outbox: the row is written on the call's hot path and lives for a moment."""
    _run(
        db,
        """
CREATE TABLE outbox_moves (
    service_id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL
)
""",
    )


@migrations(name="0017_online_checkin")
def online_checkin(db: sqlite_utils.Database) -> None:
    """An online number that must check in before it can be called (``online_checkin``).

    ``tickets.awaiting_checkin`` is 1 from the moment such a number is taken until the
    citizen checks in (``checked_in_at``); its queue key never changes. Call-next reads
    the waiting tickets that are *callable* through a partial index of the same order as
    ``tickets_queue`` (0006), so skipping the numbers not yet here costs no index steps,
    however many there are; people ahead still count them (``tickets_queue``). (An office
    that gives priority no precedence calls in arrival order off ``tickets_waiting``,
    stepping over those numbers: a second index for that rare case cost every issue a
    tenth more with 10,000 waiting.) ``queue_counts.not_arrived`` keeps, per service, the
    waiting tickets still awaiting check-in, by triggers like 0011's.
    """
    for statement in (
        "ALTER TABLE tickets ADD COLUMN awaiting_checkin INTEGER NOT NULL DEFAULT 0"
        " CHECK (awaiting_checkin IN (0, 1))",
        "ALTER TABLE tickets ADD COLUMN checked_in_at TEXT",
        """CREATE INDEX tickets_queue_callable ON tickets (office_id, service_id,
    (priority IS NULL), coalesce(priority_rank, 0), queue_at, id)
    WHERE status = 'waiting' AND awaiting_checkin = 0""",
        "ALTER TABLE queue_counts ADD COLUMN not_arrived INTEGER NOT NULL DEFAULT 0"
        " CHECK (not_arrived >= 0)",
        """CREATE TRIGGER queue_counts_not_arrived_insert AFTER INSERT ON tickets
    WHEN new.status = 'waiting' AND new.awaiting_checkin = 1 BEGIN
    UPDATE queue_counts SET not_arrived = not_arrived + 1 WHERE service_id = new.service_id;
END""",
        """CREATE TRIGGER queue_counts_not_arrived_delete AFTER DELETE ON tickets
    WHEN old.status = 'waiting' AND old.awaiting_checkin = 1 BEGIN
    UPDATE queue_counts SET not_arrived = not_arrived - 1 WHERE service_id = old.service_id;
END""",
        """CREATE TRIGGER queue_counts_not_arrived_update
    AFTER UPDATE OF status, service_id, awaiting_checkin ON tickets
    WHEN old.status = 'waiting' AND old.awaiting_checkin = 1
        OR new.status = 'waiting' AND new.awaiting_checkin = 1 BEGIN
    UPDATE queue_counts SET not_arrived = not_arrived - 1
        WHERE service_id = old.service_id AND old.status = 'waiting' AND old.awaiting_checkin = 1;
    UPDATE queue_counts SET not_arrived = not_arrived + 1
        WHERE service_id = new.service_id AND new.status = 'waiting' AND new.awaiting_checkin = 1;
END""",
    ):
        db.execute(statement)


@migrations(name="0018_partial_indexes")
def partial_indexes(db: sqlite_utils.Database) -> None:
    """Index only the rows each index is read for: fewer pages written a commit.

    Every change of a ticket's status moved its entry in ``tickets_waiting``, and
    every ticket had an entry in ``tickets_dossier`` and ``tickets_device`` though
    most have no code yet and none was issued by a device online or at a desk: a
    lifecycle in bench_engine's office wrote 46 pages, 38 now. Each index answers the
    same queries as before (they all ask for a waiting line, a given code, a device).
    """
    for statement in (
        "DROP INDEX tickets_waiting",
        "CREATE INDEX tickets_waiting ON tickets (office_id, status, service_id, queue_at)"
        " WHERE status = 'waiting'",
        "DROP INDEX tickets_dossier",
        "CREATE INDEX tickets_dossier ON tickets (dossier_code) WHERE dossier_code IS NOT NULL",
        "DROP INDEX tickets_device",
        "CREATE INDEX tickets_device ON tickets (device_id, issued_at) WHERE device_id IS NOT NULL",
    ):
        db.execute(statement)


@migrations(name="0019_checkin_failures")
def checkin_failures(db: sqlite_utils.Database) -> None:
    """Wrong check-in digits typed for an online number (``engine.checkin``): the ticket,
    the kiosk, when; nothing about the person. Read per number and per kiosk over the last
    minutes, pruned after two windows."""
    _run(
        db,
        """
CREATE TABLE checkin_failures (
    id INTEGER PRIMARY KEY,
    office_id INTEGER NOT NULL REFERENCES offices(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    device_id INTEGER REFERENCES devices(id),
    at TEXT NOT NULL
);
CREATE INDEX checkin_failures_ticket ON checkin_failures (ticket_id, at);
CREATE INDEX checkin_failures_device ON checkin_failures (device_id, at)
    WHERE device_id IS NOT NULL;
CREATE INDEX checkin_failures_at ON checkin_failures (at)
""",
    )


@migrations(name="0020_outbox_returns")
def outbox_returns(db: sqlite_utils.Database) -> None:
    """A ticket's messages are once per turn in line, not once per ticket: ``returns``, the
    times it had been returned to the line when the message was queued, joins the key, so
    a citizen sent back (to fetch a paper) is told "near" and "called" again."""
    _run(
        db,
        """
ALTER TABLE outbox ADD COLUMN returns INTEGER NOT NULL DEFAULT 0;
DROP INDEX outbox_once;
CREATE UNIQUE INDEX outbox_once ON outbox (ticket_id, purpose, channel, returns)
    WHERE webhook_id IS NULL
""",
    )


def migrate(db: sqlite_utils.Database, stop_before: str | None = None) -> None:
    """Apply every pending migration step (up to ``stop_before``: a test's file as an
    older version made it), all in one ``BEGIN IMMEDIATE`` transaction (sqlite-utils'
    own transaction of each step is then a savepoint of it): processes that start at
    once on one file apply each step once, the later ones finding none pending, and a
    failed step leaves the file as it was."""
    with write(db):
        migrations.apply(db, stop_before=stop_before)
