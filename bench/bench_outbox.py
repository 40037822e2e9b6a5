"""Messages out: what "turn near" costs a call, and how fast the worker gets the messages out.

1. A call that makes 500 subscribed trackers "near". Four database files on the same
   disk, rounds interleaved (each office first in turn): in each round each gets 500
   fresh waiting tickets of one service (counter 1 serves it) and the round's call is
   timed on each.
   - ``no subscriptions``: the baseline;
   - ``subscribed, 'near' off``: every ticket's visit has an SMS subscription but the
     office sends no "near": the call writes the called ticket's ``called`` only;
   - ``noted``: the same subscriptions, no "near" sent yet, and the office's near limit
     covers the whole line: the call notes the line's move (one ``outbox_moves`` row)
     and writes its ``called``; the worker's expansion of the note into 499 ``near``
     (``outbox.expand_moves``, its own transaction) is timed apart, after the call;
   - ``inline``: as ``noted``, but the expansion runs inside the call's transaction, as
     the rule did before the notes: the call writes the 499 rows.
   Setup (tickets, subscriptions) is bulk SQL, checkpointed and not timed; the previous
   round's tickets are cancelled and their subscriptions stay active (the last
   thousand), as a big office's finished visits' do until erased. The outbox rules' own
   time in the call (``record_events``) and the call's COMMIT (the disk's sync:
   storage's commit observer) are shown apart.
   Goal: p99 of the ``noted`` call - p99 of the baseline call <= 2 ms.

2. The worker, running in its own thread as in the server, is woken after a call that
   makes 500 trackers near (as the hub wakes it after every commit): it expands the move
   and sends the 499 ``near`` and the ``called`` to a fake gateway on 127.0.0.1
   (HTTP/1.1 keep-alive, ``notifiers.testing.FakeHttpService``), ``--batch`` at a time,
   each batch side by side. Timed from the call's start to the first and to the last
   message accepted by the gateway. Goal: under 5 s.

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
from xephang.engine import outbox, outcome  # noqa: E402
from xephang.storage import connect, migrate, observe_commits, write  # noqa: E402

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội


# The COMMITs (the disk's sync) of the call being timed: storage's commit observer adds
# each one's seconds to the list on top.
COMMITS: list[list[float]] = []
observe_commits(lambda seconds, writes: COMMITS[-1].append(seconds) if COMMITS else None)


class Office:
    """One office, service A, counter 1; ``subscribed``: every new visit has an SMS
    subscription; ``near``: the near limit covers the whole line (else "near" is off)."""

    def __init__(self, path: str, subscribed: bool, trackers: int, near: bool = True):
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
                [self.office, json.dumps(trackers + 10 if near else 0), self.office],
            )
        self.number, self.times, self.rows, self.notes = 0, [], [], []
        self.commits: list[float] = []
        self.expansions: list[float] = []
        self.expanded: list[int] = []

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

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608

    def call(self) -> None:
        """Time one call (and its COMMIT apart); record the outbox rows and move notes it
        wrote."""
        before, notes = self.count("outbox"), self.count("outbox_moves")
        commits: list[float] = []
        COMMITS.append(commits)
        started = time.perf_counter()
        try:
            engine.call_next(self.db, self.counter, now=NOW)
        finally:
            COMMITS.remove(commits)
        self.times.append((time.perf_counter() - started) * 1000)
        self.commits.append(sum(commits) * 1000)
        self.rows.append(self.count("outbox") - before)
        self.notes.append(self.count("outbox_moves") - notes)

    def expand(self) -> None:
        """Time the worker's expansion of the call's note (its own transaction)."""
        before = self.count("outbox")
        started = time.perf_counter()
        outbox.expand_moves(self.db, NOW + timedelta(seconds=1))
        self.expansions.append((time.perf_counter() - started) * 1000)
        self.expanded.append(self.count("outbox") - before)


def call_cost(folder: str, trackers: int, rounds: int) -> dict:
    base = Office(os.path.join(folder, "base.db"), False, trackers)
    called = Office(os.path.join(folder, "called.db"), True, trackers, near=False)
    noted = Office(os.path.join(folder, "noted.db"), True, trackers)
    inline = Office(os.path.join(folder, "inline.db"), True, trackers)
    offices = {"base": base, "called": called, "noted": noted, "inline": inline}
    own: dict[object, list[float]] = {o.db: [] for o in offices.values()}  # the rules' time
    rules = outcome.record_events

    def timed(db, *args):
        started = time.perf_counter()
        rules(db, *args)
        if db is inline.db:  # the rule as it ran before the notes: in the call
            outbox.expand_moves(db, NOW)
        own[db].append((time.perf_counter() - started) * 1000)

    outcome.record_events = timed
    try:
        order = list(offices.values())
        for round_no in range(rounds):
            # Each office goes first in turn: none always follows the same one's writes.
            turn = round_no % len(order)
            for office in order[turn:] + order[:turn]:
                office.prepare()
                office.call()
                if office is noted:
                    office.expand()
    finally:
        outcome.record_events = rules
    # The subscribed calls write "called" for the called ticket; "noted" one note too,
    # which the worker expands into "near" for the trackers - 1 left waiting; "inline"
    # writes those in the call.
    assert set(noted.rows) == {1} and set(noted.notes) == {1}, (noted.rows[:5], noted.notes[:5])
    assert set(noted.expanded) == {trackers - 1}, noted.expanded[:5]
    assert set(inline.rows) == {trackers} and set(inline.notes) == {0}, inline.rows[:5]
    assert set(called.rows) == {1} and set(called.notes) == {0}, called.rows[:5]
    assert set(base.rows) == {0} and set(base.notes) == {0}
    figures = {"expand": p50_p99(noted.expansions)}
    for name, office in offices.items():
        figures[name] = p50_p99(office.times)
        figures[name + "_rules"] = p50_p99(own[office.db])
        figures[name + "_commit"] = p50_p99(office.commits)
    return figures


def p50_p99(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 99)


def drain_time(folder: str, count: int, batch: int) -> dict:
    """From the start of a call that makes ``count`` trackers near to the gateway's
    acceptance of the first and the last message, with the worker in its own thread."""
    office = Office(os.path.join(folder, "drain.db"), True, count)
    office.prepare()
    fake = FakeHttpService()
    path = os.path.join(folder, "drain.db")
    config = NotifyConfig(
        db_path=path, public_url="https://xephang.example.vn", batch=batch, timeout_s=10.0
    )
    worker = Notifier(config, {"sms": SmsChannel(fake.url + "/sms", "", "", True, 10.0)})
    worker.clock = lambda: NOW + timedelta(seconds=1)
    expansions: list[float] = []
    expand = outbox.expand_moves

    def timed(db, now=None):
        started = time.perf_counter()
        try:
            return expand(db, now)
        finally:
            expansions.append(time.perf_counter() - started)

    outbox.expand_moves = timed
    try:
        worker.start()
        started = time.perf_counter()
        engine.call_next(office.db, office.counter, now=NOW)
        worker.wake()  # what the hub does after every commit
        fake.wait_for(lambda f: len(f.delivered) >= 1, 120)
        first = time.perf_counter() - started
        fake.wait_for(lambda f: len(f.delivered) >= count, 120)
        seconds = time.perf_counter() - started
        worker.stop()
    finally:
        outbox.expand_moves = expand
        fake.stop()
    sent = office.count("outbox WHERE state = 'sent'")
    assert sent == count == len(fake.delivered), (sent, count, len(fake.delivered))
    return {"first": first, "seconds": seconds, "sent": sent, "expand": max(expansions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--dir", default=None, help="directory for the database files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cost = call_cost(tmp, args.trackers, args.rounds)
        drain = drain_time(tmp, args.trackers, args.batch)
    n = args.trackers

    print(
        f"call_next ({args.rounds} rounds, {n} waiting)      p50 / p99 ms: the call"
        "        its outbox rules  its COMMIT"
    )
    for key, label in (
        ("base", "no subscriptions"),
        ("called", "subscribed, 'near' off"),
        ("noted", f"{n} made near, noted"),
        ("inline", f"{n} made near, inline"),
    ):
        (c50, c99), (r50, r99), (k50, k99) = (
            cost[key],
            cost[key + "_rules"],
            cost[key + "_commit"],
        )
        print(
            f"  {label:<30} {c50:6.2f} / {c99:6.2f}    {r50:5.2f} / {r99:5.2f}"
            f"    {k50:5.2f} / {k99:5.2f}"
        )
    extra = cost["noted"][1] - cost["base"][1]
    print(
        f"p99 added by 'near' (noted - no subscriptions): {extra:+.2f} ms"
        f"   goal <= 2 ms: {'met' if extra <= 2 else 'NOT met'}"
    )
    print(
        f"  the same for inline {cost['inline'][1] - cost['base'][1]:+.2f} ms; noted - 'near'"
        f" off {cost['noted'][1] - cost['called'][1]:+.2f} ms"
    )
    e50, e99 = cost["expand"]
    print(
        f"worker's expansion of the note ({n - 1} near, own transaction): p50 {e50:.2f} ms"
        f"  p99 {e99:.2f} ms"
    )
    met = "met" if drain["seconds"] < 5 else "NOT met"
    print(
        f"worker: call -> first message at the gateway {drain['first'] * 1000:.0f} ms,"
        f" -> all {drain['sent']} in {drain['seconds']:.2f} s"
        f" ({drain['sent'] / drain['seconds']:.0f}/s, batch {args.batch}, expansion"
        f" {drain['expand'] * 1000:.0f} ms)   goal < 5 s: {met}"
    )


if __name__ == "__main__":
    main()
