"""Random operation sequences against the engine: its invariants hold after every step.

Each rule predicts from the current state whether the operation is legal; a
legal one must succeed, an illegal one must raise a QueueError and change
nothing (the tables are compared before and after). After every step:
no ticket is held by two counters, counters and tickets agree, the event log
replays to the ticket table, the hash chain verifies and numbers have no gaps.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.helpers import MONDAY_9AM, make_office, temp_root
from xephang import engine
from xephang.errors import QueueError
from xephang.queries import office as office_queries
from xephang.storage import connect, migrate, write

COUNTERS = {1: "AB", 2: "BA", 3: "C", 4: "CA"}
PRIORITIES = st.sampled_from([None, None, None, "elderly", "child"])
PICK = st.integers(min_value=0, max_value=10**6)


def dump(db) -> dict:
    return {
        table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        for table in ("tickets", "ticket_events", "counters", "visits")
    }


class QueueMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="xephang-sm-", dir=temp_root()))
        self.db = connect(self.tmp / "sm.db")
        migrate(self.db)
        self.q = make_office(self.db, counters=COUNTERS)
        self.counter_ids = list(self.q.counters.values())
        self.now = datetime.fromisoformat(MONDAY_9AM)

    def teardown(self):
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ---

    def ticket_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM tickets ORDER BY id")]

    def pick_ticket(self, n: int, live: bool = True) -> dict:
        """A ticket by index; ``live`` prefers those not yet in a final state."""
        ids = self.ticket_ids()
        if live:
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT id FROM tickets WHERE status IN ('waiting', 'called', 'serving')"
                    " ORDER BY id"
                )
            ] or ids
        return engine.get_ticket(self.db, ids[n % len(ids)])

    def pick_counter(self, n: int) -> dict:
        return engine.get_counter(self.db, self.counter_ids[n % len(self.counter_ids)])

    def attempt(self, legal: bool, operation):
        """Run an operation; legal ones must succeed, others fail and change nothing."""
        before = dump(self.db)
        try:
            result = operation()
        except QueueError as err:
            assert not legal, f"legal operation refused: {err.message}"
            assert dump(self.db) == before, "a refused operation changed the database"
            return None
        assert legal, "illegal operation was accepted"
        return result

    def holds_called(self, counter: dict) -> bool:
        if not counter["current_ticket_id"]:
            return False
        return engine.get_ticket(self.db, counter["current_ticket_id"])["status"] == "called"

    def holds_any(self, counter: dict) -> bool:
        return bool(counter["current_ticket_id"])

    # --- rules ---

    @rule(minutes=st.integers(min_value=0, max_value=240))
    def advance_clock(self, minutes):
        self.now += timedelta(minutes=minutes, seconds=7)

    @rule(service=st.sampled_from("ABC"), priority=PRIORITIES)
    def issue(self, service, priority):
        outcome = self.attempt(
            True,
            lambda: engine.issue_ticket(
                self.db, self.q.office, service, priority=priority, now=self.now
            ),
        )
        assert outcome.ticket["status"] == "waiting" and outcome.ticket["people_ahead"] >= 0

    def expected_next(self, counter: dict) -> int | None:
        """The call-next rule, written out plainly: which ticket should come next."""
        services = [
            r[0]
            for r in self.db.execute(
                "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
                [counter["id"]],
            )
        ]
        ranks = dict(self.db.execute("SELECT key, rank FROM priority_categories"))
        streak_max = engine.office_setting(self.db, self.q.office, "priority_streak_max")
        priority_first = counter["priority_streak"] < streak_max

        def key(t):
            targeted = t["target_counter_id"] == counter["id"]
            position = services.index(t["service_id"]) if t["service_id"] in services else -1
            arrival = (not targeted, position, t["queue_at"], t["id"])
            if streak_max <= 0:  # priority has no precedence at all
                return arrival
            is_priority = t["priority"] is not None
            return (is_priority != priority_first, ranks.get(t["priority"], 0), *arrival)

        today = self.now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
        waiting = self.db.query(
            "SELECT * FROM tickets WHERE status = 'waiting' AND day = ?", [today]
        )  # earlier days' tickets expire before any call
        eligible = [
            t
            for t in waiting
            if t["target_counter_id"] == counter["id"]
            or (t["target_counter_id"] is None and t["service_id"] in services)
        ]
        return min(eligible, key=key)["id"] if eligible else None

    @rule(n=PICK)
    def call_next(self, n):
        counter = self.pick_counter(n)
        legal = counter["state"] != "paused" and not self.holds_called(counter)
        expected = self.expected_next(counter) if legal else None
        outcome = self.attempt(
            legal, lambda: engine.call_next(self.db, counter["id"], now=self.now)
        )
        if outcome:
            assert (outcome.ticket["id"] if outcome.ticket else None) == expected
        if outcome and outcome.ticket:
            assert outcome.ticket["status"] == "called"
            assert outcome.ticket["counter"]["id"] == counter["id"]

    def today(self) -> str:
        return self.now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()

    def todays_no_show(self, ticket: dict) -> bool:
        return ticket["status"] == "no_show" and ticket["day"] == self.today()

    @precondition(lambda self: self.ticket_ids())
    @rule(n=PICK, t=PICK, live=st.booleans())
    def call_specific(self, n, t, live):
        counter, ticket = self.pick_counter(n), self.pick_ticket(t, live)
        legal = (
            counter["state"] != "paused"
            and not self.holds_any(counter)
            and (ticket["status"] == "waiting" or self.todays_no_show(ticket))
        )
        self.attempt(
            legal,
            lambda: engine.call_ticket(
                self.db, counter["id"], ticket["id"], "Gọi theo yêu cầu", now=self.now
            ),
        )

    @precondition(lambda self: self.ticket_ids())
    @rule(
        t=PICK,
        live=st.booleans(),
        op=st.sampled_from(["recall", "start", "finish", "no_show", "return", "cancel"]),
        reason=st.sampled_from([None, "Công dân quay lại"]),
    )
    def ticket_operation(self, t, live, op, reason):
        ticket = self.pick_ticket(t, live)
        allowed = {
            "recall": ("called",),
            "start": ("called",),
            "finish": ("serving",),
            "no_show": ("called",),
            "return": ("called", "serving"),
            "cancel": ("waiting", "called"),
        }[op]
        legal = ticket["status"] in allowed
        if op == "return" and self.todays_no_show(ticket):
            legal = reason is not None  # a no-show comes back the same day, with a reason
        call = {
            "recall": lambda: engine.recall(self.db, ticket["id"], now=self.now),
            "start": lambda: engine.start(self.db, ticket["id"], now=self.now),
            "finish": lambda: engine.finish(
                self.db, ticket["id"], dossier_code="HS-1", now=self.now
            ),
            "no_show": lambda: engine.no_show(self.db, ticket["id"], now=self.now),
            "return": lambda: engine.return_to_queue(
                self.db, ticket["id"], reason=reason, now=self.now
            ),
            "cancel": lambda: engine.cancel(self.db, ticket["id"], now=self.now),
        }[op]
        if op == "return" and ticket["status"] == "no_show":
            before_key = (ticket["queue_at"], ticket["priority_rank"])
        outcome = self.attempt(legal, call)
        if outcome and op == "return" and ticket["status"] == "no_show":
            back = engine.get_ticket(self.db, ticket["id"])
            assert (back["queue_at"], back["priority_rank"]) == before_key  # its old place
        if outcome:
            expected = {
                "recall": "called",
                "start": "serving",
                "finish": "done",
                "no_show": "no_show",
                "return": "waiting",
                "cancel": "cancelled",
            }[op]
            assert outcome.ticket["status"] == expected

    @precondition(lambda self: self.ticket_ids())
    @rule(
        t=PICK,
        service=st.sampled_from([None, "A", "B", "C"]),
        counter=st.one_of(st.none(), PICK),
        live=st.booleans(),
    )
    def transfer(self, t, service, counter, live):
        ticket = self.pick_ticket(t, live)
        target = self.pick_counter(counter) if counter is not None else None
        if service is None and target is None:
            service = "C"
        if service is not None:
            service_id = self.q.services[service]
        else:
            service_id = self.db.execute(
                "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
                [target["id"]],
            ).fetchone()[0]
        same_place = (
            target is not None
            and target["id"] == ticket["counter_id"]
            and service_id == ticket["service_id"]
        )
        legal = ticket["status"] in ("called", "serving") and not same_place
        outcome = self.attempt(
            legal,
            lambda: engine.transfer(
                self.db,
                ticket["id"],
                service=service,
                counter_id=target and target["id"],
                now=self.now,
            ),
        )
        if outcome:
            assert outcome.ticket["visit_id"] == ticket["visit_id"]
            assert outcome.ticket["service"]["id"] == service_id
            assert outcome.extra["from_ticket"]["status"] == "transferred"

    @rule(streak_max=st.integers(min_value=0, max_value=3))
    def set_priority_streak_max(self, streak_max):
        with write(self.db):
            engine.set_office_settings(self.db, self.q.office, {"priority_streak_max": streak_max})

    def undoable(self, ticket: dict) -> bool:
        """The undo rule, written out plainly from the event log."""
        if ticket["status"] not in ("no_show", "done", "transferred"):
            return False
        events = list(
            self.db.query(
                "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [ticket["id"]]
            )
        )
        last = events[-1]
        if last["type"] not in ("no_show", "finished", "transferred"):
            return False
        if (self.now - datetime.fromisoformat(last["at"])).total_seconds() > 30:
            return False
        counter = engine.get_counter(self.db, last["counter_id"])
        watched, since = {ticket["id"]}, last["seq"]
        if last["type"] == "transferred":
            made = self.db.execute(
                "SELECT id, status FROM tickets WHERE from_ticket_id = ? ORDER BY id DESC",
                [ticket["id"]],
            ).fetchone()
            if made[1] != "waiting":
                return False
            watched.add(made[0])
            since += 1  # the new ticket's "issued"
        for e in self.db.query("SELECT * FROM ticket_events WHERE seq > ?", [since]):
            if e["counter_id"] == counter["id"] or e["ticket_id"] in watched:
                return False
        return not counter["current_ticket_id"]

    @precondition(lambda self: self.ticket_ids())
    @rule(t=PICK)
    def undo(self, t):
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM tickets WHERE status IN ('no_show', 'done', 'transferred')"
                " ORDER BY id"
            )
        ] or self.ticket_ids()
        ticket = engine.get_ticket(self.db, ids[t % len(ids)])
        before = ticket["status"]
        outcome = self.attempt(
            self.undoable(ticket), lambda: engine.undo(self.db, ticket["id"], now=self.now)
        )
        if outcome:
            expected = {"no_show": ("called",), "done": ("serving",)}.get(
                before, ("called", "serving")
            )
            assert outcome.ticket["status"] in expected

    @rule(n=PICK, reason=st.sampled_from(["Nghỉ trưa", "Họp", ""]))
    def pause(self, n, reason):
        counter = self.pick_counter(n)
        # like closing: refused while the counter holds a citizen
        legal = counter["state"] != "paused" and reason != "" and not self.holds_any(counter)
        self.attempt(legal, lambda: engine.pause(self.db, counter["id"], reason, now=self.now))

    @rule(n=PICK)
    def resume(self, n):
        counter = self.pick_counter(n)
        self.attempt(
            counter["state"] == "paused",
            lambda: engine.resume(self.db, counter["id"], now=self.now),
        )

    @rule(n=PICK, close=st.booleans())
    def open_or_close_counter(self, n, close):
        counter = self.pick_counter(n)
        if close:
            outcome = self.attempt(
                not self.holds_any(counter),
                lambda: engine.close_counter(self.db, counter["id"], now=self.now),
            )
            if outcome:
                assert engine.get_counter(self.db, counter["id"])["state"] == "closed"
        else:
            self.attempt(True, lambda: engine.open_counter(self.db, counter["id"], now=self.now))
            expected = "paused" if counter["state"] == "paused" else "open"
            assert engine.get_counter(self.db, counter["id"])["state"] == expected

    @rule(chance=st.integers(min_value=0, max_value=7))
    def close_day(self, chance):
        if chance:  # closing is rare in a day: most draws of this rule do nothing
            return
        waiting = self.db.execute(
            "SELECT count(*) FROM tickets WHERE status = 'waiting'"
        ).fetchone()[0]
        outcome = self.attempt(True, lambda: engine.close_day(self.db, self.q.office, now=self.now))
        assert outcome.extra["expired"] == waiting

    # --- invariants ---

    @invariant()
    def counters_and_tickets_agree(self):
        held = [
            r
            for r in self.db.execute(
                "SELECT id, current_ticket_id FROM counters WHERE current_ticket_id IS NOT NULL"
            )
        ]
        held_ids = [ticket_id for _, ticket_id in held]
        assert len(held_ids) == len(set(held_ids)), "a ticket is held by two counters"
        for counter_id, ticket_id in held:
            ticket = engine.get_ticket(self.db, ticket_id)
            assert ticket["status"] in ("called", "serving"), (counter_id, ticket)
            assert ticket["counter_id"] == counter_id
        active = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT id, counter_id FROM tickets WHERE status IN ('called', 'serving')"
            )
        }
        assert set(active) == set(held_ids), "an active ticket is not at its counter"

    @invariant()
    def events_replay_to_the_ticket_table(self):
        table = dict(self.db.execute("SELECT id, status FROM tickets").fetchall())
        assert engine.replay_states(self.db, self.q.office) == table

    @invariant()
    def hash_chain_verifies(self):
        assert engine.verify_log(self.db) == []

    @invariant()
    def numbers_have_no_gaps(self):
        for service_id, day, count, top in self.db.execute(
            "SELECT service_id, day, count(*), max(number) FROM tickets GROUP BY service_id, day"
        ):
            assert count == top, (service_id, day)

    @invariant()
    def people_ahead_matches_a_plain_count(self):
        """People ahead = waiting tickets of the service that the written rule puts first:
        priority by category rank before walk-ins, then arrival (arrival only when priority
        has no precedence); the trackers' queue keys sort the line the same way."""
        from xephang.engine.order import people_ahead, queue_key

        ranks = dict(self.db.execute("SELECT key, rank FROM priority_categories"))
        streak_max = engine.office_setting(self.db, self.q.office, "priority_streak_max")

        def place(o):
            arrival = (o["queue_at"], o["id"])
            if streak_max <= 0:
                return arrival
            return (o["priority"] is None, ranks.get(o["priority"], 0), *arrival)

        waiting = list(self.db.query("SELECT * FROM tickets WHERE status = 'waiting'"))
        for t in waiting:
            line = [o for o in waiting if o["service_id"] == t["service_id"]]
            expected = sum(place(o) < place(t) for o in line)
            assert people_ahead(self.db, t) == expected, t
            by_key = sorted(line, key=lambda o: queue_key(o, streak_max > 0))
            assert [o["id"] for o in by_key] == [o["id"] for o in sorted(line, key=place)]

    @invariant()
    def snapshot_matches(self):
        snap = office_queries.snapshot(self.db, self.q.office, now=self.now)
        waiting = self.db.execute(
            "SELECT count(*) FROM tickets WHERE status = 'waiting'"
        ).fetchone()[0]
        assert snap["waiting_total"] == waiting
        assert snap["seq"] == engine.last_seq(self.db, self.q.office)


QueueMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_queue_state_machine = QueueMachine.TestCase
