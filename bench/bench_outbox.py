"""Messages out: what "turn near" costs a call, and how fast the worker drains the outbox.

1. A call that makes 500 subscribed trackers "near": its outbox rows are written in the
   call's own transaction. Two database files on the same disk, rounds interleaved: in
   each round both get 500 fresh waiting tickets of one service (counter 1 serves it);
   on one, every ticket's visit has an SMS subscription with no "near" sent yet and the
   office's near limit is wide enough that one call puts all 500 within it. The round's
   call is timed on both (the subscribed one writes 500 rows; the check that it did is
   part of the run). Setup (tickets, subscriptions) is bulk SQL, checkpointed and not
   timed; the previous round's tickets are cancelled and their subscriptions stay
   active (the last thousand), as a big office's finished visits' do until erased.
   Goal: p99 of the subscribed call - p99 of the baseline call <= 2 ms.

2. The worker drains 500 queued SMS to a fake gateway on 127.0.0.1 (HTTP/1.1 keep-alive,
   ``notifiers.testing.FakeHttpService``), claiming ``--batch`` at a time and sending
   each batch side by side. Goal: under 5 s.

    python bench/bench_outbox.py [--trackers 500] [--rounds 100] [--batch 20] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchlib import percentile  # noqa: E402
from notifiers.channels import SmsChannel  # noqa: E402
from notifiers.testing import FakeHttpService  # noqa: E402
from notifiers.worker import Notifier, NotifyConfig  # noqa: E402
from xephang import engine  # noqa: E402
from xephang.clock import iso  # noqa: E402
from xephang.engine import outcome  # noqa: E402
from xephang.storage import connect, migrate, write  # noqa: E402

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội


class Office:
    """One office, service A, counter 1; ``subscribed``: every new visit has an SMS
    subscription and the near limit covers the whole line."""

    def __init__(self, path: str, subscribed: bool, trackers: int):
        self.db = connect(path)
        migrate(self.db)
        self.subscribed, self.trackers = subscribed, trackers
        self.office = engine.create_office(self.db, "Bench")
        self.service = engine.add_service(self.db, self.office, "A", "Hộ tịch")
        self.counter = engine.add_counter(self.db, self.office, 1, [self.service])
        with write(self.db):  # past the form's 0–50 bound on purpose: all 500 at once
            self.db.execute(
                "INSERT INTO settings (office_id, name, value) VALUES (?, 'notify_near_people',"
                " ?), (?, 'notify_near_minutes', '0')",
                [self.office, json.dumps(trackers + 10), self.office],
            )
        self.number, self.times, self.rows = 0, [], []

    def prepare(self) -> None:
        """Cancel the last round's line; add ``trackers`` waiting tickets (and their
        subscriptions), in one untimed transaction."""
        day, at = "2026-03-02", iso(NOW)
        with write(self.db):
            self.db.execute(
                "UPDATE tickets SET status = 'cancelled' WHERE office_id = ? AND status"
                " IN ('waiting', 'called')",
                [self.office],
            )
            self.db.execute("UPDATE counters SET current_ticket_id = NULL")
            self.db.execute(  # a big office's day: about a thousand subscriptions kept
                "UPDATE subscriptions SET ended_at = ?, address = NULL WHERE ended_at IS NULL"
                " AND id <= (SELECT max(id) FROM subscriptions) - 1000",
                [at],
            )
            for _ in range(self.trackers):
                self.number += 1
                visit = self.db.execute(
                    "INSERT INTO visits (office_id, token, created_at) VALUES (?, ?, ?)",
                    [self.office, secrets.token_urlsafe(16), at],
                ).lastrowid
                queue_at = iso(NOW + timedelta(milliseconds=self.number))
                self.db.execute(
                    "INSERT INTO tickets (office_id, service_id, visit_id, day, number, code,"
                    " status, issued_at, queue_at) VALUES (?, ?, ?, ?, ?, ?, 'waiting', ?, ?)",
                    [self.office, self.service, visit, day, self.number, f"A{self.number:03d}"]
                    + [queue_at, queue_at],
                )
                if self.subscribed:
                    self.db.execute(
                        "INSERT INTO subscriptions (office_id, visit_id, channel, address,"
                        " masked, consent_at, created_at, erase_after) VALUES (?, ?, 'sms',"
                        " '+84912345678', '•••', ?, ?, '2026-03-04T00:00:00.000+00:00')",
                        [self.office, visit, at, at],
                    )
        # the bulk setup's pages go into the file now, not in the timed call's commit
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def call(self) -> None:
        before = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        started = time.perf_counter()
        engine.call_next(self.db, self.counter, now=NOW)
        self.times.append((time.perf_counter() - started) * 1000)
        self.rows.append(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0] - before)


def call_cost(folder: str, trackers: int, rounds: int) -> dict:
    base = Office(os.path.join(folder, "base.db"), False, trackers)
    subs = Office(os.path.join(folder, "subs.db"), True, trackers)
    own: list[float] = []  # the outbox rules' own time inside the subscribed calls
    rules = outcome.record_events

    def timed(db, *args):
        started = time.perf_counter()
        rules(db, *args)
        if db is subs.db:
            own.append((time.perf_counter() - started) * 1000)

    outcome.record_events = timed
    for _ in range(rounds):
        for office in (base, subs):
            office.prepare()
            office.call()
    outcome.record_events = rules
    # each subscribed call queues "called" for the called ticket and "near" for the
    # trackers - 1 left waiting
    assert set(subs.rows) == {trackers}, subs.rows[:5]
    assert set(base.rows) == {0}
    return {
        "base_p50": percentile(base.times, 50),
        "base_p99": percentile(base.times, 99),
        "subs_p50": percentile(subs.times, 50),
        "subs_p99": percentile(subs.times, 99),
        "rules_p50": percentile(own, 50),
        "rules_p99": percentile(own, 99),
    }


def drain_time(folder: str, count: int, batch: int) -> tuple[float, int]:
    office = Office(os.path.join(folder, "drain.db"), True, count)
    office.prepare()
    office.call()  # queues count - 1 "near" and one "called", as in part 1
    fake = FakeHttpService()
    try:
        config = NotifyConfig(
            db_path=os.path.join(folder, "drain.db"),
            public_url="https://xephang.example.vn",
            batch=batch,
            timeout_s=10.0,
        )
        worker = Notifier(config, {"sms": SmsChannel(fake.url + "/sms", "", "", True, 10.0)})
        worker.clock = lambda: NOW + timedelta(seconds=1)
        queued = office.db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()
        started = time.perf_counter()
        worker.drain(timeout=120)
        seconds = time.perf_counter() - started
        worker.stop()
        sent = office.db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
        assert sent == queued[0] == len(fake.delivered), (sent, queued, len(fake.delivered))
        return seconds, sent
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--dir", default=None, help="directory for the database files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cost = call_cost(tmp, args.trackers, args.rounds)
        seconds, sent = drain_time(tmp, args.trackers, args.batch)
    extra = cost["subs_p99"] - cost["base_p99"]
    print(
        f"call_next, no subscriptions:      p50 {cost['base_p50']:.2f} ms  p99"
        f" {cost['base_p99']:.2f} ms  ({args.rounds} rounds, {args.trackers} waiting)"
    )
    print(
        f"call_next, {args.trackers} trackers made near: p50 {cost['subs_p50']:.2f} ms  p99"
        f" {cost['subs_p99']:.2f} ms  ({args.trackers} outbox rows in the call's transaction)"
    )
    print(
        f"p99 added by the outbox rows: {extra:+.2f} ms   goal <= 2 ms: "
        f"{'met' if extra <= 2 else 'NOT met'}"
    )
    print(
        f"  of which the outbox rules (record_events): p50 {cost['rules_p50']:.2f} ms"
        f"  p99 {cost['rules_p99']:.2f} ms"
    )
    print(
        f"worker drain: {sent} SMS to a fake gateway on 127.0.0.1 in {seconds:.2f} s"
        f" ({sent / seconds:.0f}/s, batch {args.batch})   goal < 5 s:"
        f" {'met' if seconds < 5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
