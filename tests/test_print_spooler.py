"""The print spooler against a fake network printer on 127.0.0.1 that misbehaves on demand.

Tickets are issued through the kiosk endpoint; the spooler's worker runs in
the test thread (``run_once``) where the order of attempts matters, and as
real threads where concurrency does. Every printed job is decoded and its
QR code read, to prove which ticket it was and that none printed twice.

Timeouts are generous (the fake printer answers at once unless told to
misbehave) so that a busy machine changes nothing; the one test about a
printer that never answers sets its own short timeout.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter

import pytest
import zxingcpp

import printers
from printers import jobs
from printers.backends import PrintError, make_backend
from printers.spooler import PrintWorker
from printers.testing import FakeNetworkPrinter
from tests.helpers import decode_gs_v0, pair_kiosk
from xephang import create_app, engine
from xephang.storage import connect

WAIT_S = 120  # a guard against a hang, never expected to run out


@pytest.fixture
def fake_printer():
    printer = FakeNetworkPrinter()
    yield printer
    printer.stop()


def spool_app(tmp_path, spec, **settings):
    return create_app(
        {
            "DB": str(tmp_path / "xephang.db"),
            "TESTING": True,
            "SECRET_KEY": "test",
            "PUBLIC_URL": "http://xephang.test",
            "PRINTER": spec,
            "PRINT_DIR": str(tmp_path / "printed"),
            "PRINT_RETRY_BASE_S": 0.0,
            "PRINT_RETRY_MAX_S": 0.0,
            "PRINT_IO_TIMEOUT_S": 30.0,
            "PRINT_JOB_TIMEOUT_S": 60.0,
            "PRINT_MAX_ATTEMPTS": 5,
            **settings,
        }
    )


class Office:
    """The demo office behind an app, with a paired kiosk client and its events."""

    def __init__(self, app, demo_template):
        self.app = app
        self.db = connect(app.config["DB"])
        self.demo = demo_template.restore_into(self.db)
        self.client = app.test_client()
        self.csrf = pair_kiosk(self.client, self.demo["kiosk_token"])
        self.events: list[dict] = []
        self.changed = threading.Condition()
        app.extensions["xephang.hub"].subscribe(self._record)
        self.spooler = printers.get_spooler(app)

    def _record(self, events):
        with self.changed:
            self.events.extend(events)
            self.changed.notify_all()

    def issue(self, service="A") -> dict:
        r = self.client.post(
            "/kiosk/api/tickets",
            json={"service": service},
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
        )
        assert r.status_code == 201, r.json
        return r.json

    def worker(self) -> PrintWorker:
        (worker,) = self.spooler.workers.values()
        return worker

    def job(self, job_id: int) -> dict:
        return self.client.get(f"/kiosk/api/print/{job_id}").json["job"]

    def print_events(self, ticket_id: int) -> list[str]:
        return [
            e["type"]
            for e in self.db.query(
                "SELECT type FROM ticket_events WHERE ticket_id = ? AND type LIKE 'print%'"
                " ORDER BY seq",
                [ticket_id],
            )
        ]

    def wait_for_events(self, kind: str, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(
                lambda: sum(e["type"] == kind for e in self.events) >= count, WAIT_S
            )


@pytest.fixture
def office(tmp_path, fake_printer, demo_template):
    office = Office(spool_app(tmp_path, fake_printer.spec), demo_template)
    yield office
    office.spooler.stop()
    office.db.close()


def printed_urls(fake_printer, count: int) -> list[str]:
    """The tracker URL read from the QR code of every complete job the printer received,
    once at least ``count`` have (the printer records a job when its connection closes,
    which may come just after the worker is done with it)."""
    urls = []
    for job in fake_printer.wait_for_jobs(count, timeout=WAIT_S):
        results = zxingcpp.read_barcodes(decode_gs_v0(bytes(job.data)))
        urls += [r.text for r in results]
    return urls


def received(fake_printer, count: int) -> list:
    """Every job the printer received, complete or not, once at least ``count`` have."""
    with fake_printer.changed:
        assert fake_printer.changed.wait_for(lambda: len(fake_printer.jobs) >= count, WAIT_S)
        return list(fake_printer.jobs)


def drain(worker: PrintWorker, limit: int = 50) -> int:
    done = 0
    while done < limit and worker.run_once():
        done += 1
    return done


def test_a_ticket_prints_once_with_its_tracker_url(office, fake_printer):
    issued = office.issue()
    assert issued["print"]["state"] == "queued"
    assert drain(office.worker()) == 1
    assert printed_urls(fake_printer, 1) == [issued["ticket"]["tracker_url"]]
    assert office.job(issued["print"]["id"])["state"] == "done"
    assert office.print_events(issued["ticket"]["id"]) == ["printed"]
    (job,) = fake_printer.complete_jobs()
    assert job.status_queries == 6  # DLE EOT 1, 2, 4 before and after


def test_refused_connections_are_retried_and_each_ticket_prints_once_when_back(
    office, fake_printer
):
    fake_printer.set_mode("refuse")
    tickets = [office.issue(s) for s in "ABA"]
    assert [t["ticket"]["code"] for t in tickets] == ["A001", "B001", "A002"]
    worker = office.worker()
    for _ in range(2 * len(tickets)):  # two failed tries each; nothing left the spooler
        assert worker.run_once()
    assert fake_printer.jobs == [] and fake_printer.connections == 0
    assert {office.job(t["print"]["id"])["state"] for t in tickets} == {"queued"}
    status = printers.status(office.db, office.demo["office_id"])
    assert status["alert"] and status["printers"][0]["problem"] == "unreachable"
    fake_printer.set_mode("ok")
    assert drain(worker) == 3
    urls = printed_urls(fake_printer, 3)
    assert Counter(urls) == Counter(t["ticket"]["tracker_url"] for t in tickets)
    for t in tickets:
        assert office.job(t["print"]["id"])["attempts"] == 3
        assert office.print_events(t["ticket"]["id"]) == ["printed"]
    assert not printers.status(office.db, office.demo["office_id"])["alert"]


def test_a_hanging_printer_times_out_before_sending_and_prints_once_later(office, fake_printer):
    worker = office.worker()
    generous = worker.config
    worker.config = dataclasses.replace(generous, io_timeout_s=0.3)  # it will run out
    fake_printer.set_mode("hang")
    issued = office.issue()
    assert worker.run_once()
    job = jobs.get_job(office.db, issued["print"]["id"])
    assert job["state"] == "queued" and "did not answer" in job["last_error"]
    assert fake_printer.complete_jobs() == []
    worker.config = generous
    fake_printer.set_mode("ok")
    assert drain(worker) == 1
    assert printed_urls(fake_printer, 1) == [issued["ticket"]["tracker_url"]]


@pytest.mark.parametrize(
    "mode, problem", [("paper_out", "paper_out"), ("cover_open", "cover_open")]
)
def test_a_printer_reporting_a_problem_gets_nothing_until_it_is_fixed(
    office, fake_printer, mode, problem
):
    fake_printer.set_mode(mode)
    issued = office.issue()
    assert office.worker().run_once()
    assert fake_printer.jobs == []  # only status queries went out
    status = printers.status(office.db, office.demo["office_id"])
    assert status["alert"] and status["printers"][0]["problem"] == problem
    assert status["message_vi"]
    fake_printer.set_mode("ok")
    assert drain(office.worker()) == 1
    assert printed_urls(fake_printer, 1) == [issued["ticket"]["tracker_url"]]
    assert printers.status(office.db, office.demo["office_id"])["printers"][0]["state"] == "ok"


def test_after_n_tries_the_job_fails_the_kiosk_knows_and_the_manager_is_alerted(
    tmp_path, fake_printer, demo_template
):
    office = Office(spool_app(tmp_path, fake_printer.spec, PRINT_MAX_ATTEMPTS=3), demo_template)
    try:
        fake_printer.set_mode("refuse")
        issued = office.issue()
        assert drain(office.worker()) == 3
        job = office.job(issued["print"]["id"])
        assert job["state"] == "failed" and job["attempts"] == 3 and job["error"]
        assert office.print_events(issued["ticket"]["id"]) == ["print_failed"]
        assert [e["type"] for e in office.events if e["type"].startswith("print")] == [
            "print_failed"
        ]
        status = printers.status(office.db, office.demo["office_id"])
        assert status["alert"]
        assert status["failures_last_hour"][0]["code"] == issued["ticket"]["code"]
        device = office.db.execute("SELECT status FROM devices WHERE kind = 'kiosk'").fetchone()
        assert json.loads(device[0])["printer_state"] == "error"
        fake_printer.set_mode("ok")  # the failed ticket is not printed late
        assert drain(office.worker()) == 0
        assert fake_printer.jobs == []
    finally:
        office.spooler.stop()
        office.db.close()


@pytest.mark.parametrize("mode", ["drop", "paper_out_after"])
def test_a_failure_after_bytes_left_is_final_so_nothing_prints_twice(office, fake_printer, mode):
    fake_printer.drop_after = 2000
    fake_printer.set_mode(mode)
    issued = office.issue()
    assert office.worker().run_once()
    job = office.job(issued["print"]["id"])
    assert job["state"] == "failed" and job["attempts"] == 1
    assert office.print_events(issued["ticket"]["id"]) == ["print_failed"]
    fake_printer.set_mode("ok")
    assert drain(office.worker()) == 0
    assert len(received(fake_printer, 1)) == 1  # the one (partial or stopped) print, never a second


def test_a_ticket_too_old_to_hand_over_is_not_printed(tmp_path, fake_printer, demo_template):
    office = Office(spool_app(tmp_path, fake_printer.spec, PRINT_MAX_AGE_S=-1), demo_template)
    try:
        issued = office.issue()
        assert office.worker().run_once()
        assert office.job(issued["print"]["id"])["state"] == "failed"
        assert fake_printer.connections == 0
    finally:
        office.spooler.stop()
        office.db.close()


def test_jobs_of_a_dead_worker_are_recovered_unsent_ones_printed_sending_ones_not(
    tmp_path, fake_printer, demo_template
):
    office = Office(spool_app(tmp_path, fake_printer.spec), demo_template)
    try:
        unsent, sending = office.issue(), office.issue()
        db = office.db
        first = jobs.claim_next(db, fake_printer.spec)  # a worker claimed this one, then died
        second = jobs.claim_next(db, fake_printer.spec)  # this one died mid-send
        assert jobs.mark_sending(db, second["id"])
        worker = office.worker()
        worker.recover(lease_s=-1)
        assert office.job(first["id"])["state"] == "queued"
        assert office.job(second["id"])["state"] == "failed"
        assert drain(worker) == 1
        assert printed_urls(fake_printer, 1) == [unsent["ticket"]["tracker_url"]]
        assert office.print_events(sending["ticket"]["id"]) == ["print_failed"]
    finally:
        office.spooler.stop()
        office.db.close()


def test_enqueue_is_idempotent_per_ticket(office):
    issued = office.issue()
    ticket = engine.get_ticket(office.db, issued["ticket"]["id"])
    receipt = printers.Receipt.from_dict(
        json.loads(office.db.execute("SELECT payload FROM print_jobs").fetchone()[0])
    )
    again = jobs.enqueue(office.db, ticket["office_id"], receipt, "x", 80, ticket_id=ticket["id"])
    assert again == issued["print"]["id"]


class Outage:
    """The fake printer refuses connections (its port closed) until ``end()``.

    Each worker is refused once, then waits for the end before its next try:
    how many tries the outage costs a job does not depend on how fast the
    machine runs the workers (with no backoff they would otherwise spend all
    their tries while the test issues tickets). Installed as the workers'
    backend factory (``PrintWorker.make``), called before every attempt.
    """

    def __init__(self, printer: FakeNetworkPrinter):
        self.printer = printer
        self.over = False
        self.refused: Counter = Counter()  # worker thread -> refused attempts
        self.changed = threading.Condition()
        printer.set_mode("refuse")

    def make(self, spec, **kwargs):
        me = threading.get_ident()
        with self.changed:
            assert self.changed.wait_for(lambda: self.over or not self.refused[me], WAIT_S)
        backend = make_backend(spec, **kwargs)
        connect = backend.open

        def open_counting_refusals(deadline):
            try:
                connect(deadline)
            except PrintError:
                with self.changed:
                    self.refused[me] += 1
                    self.changed.notify_all()
                raise

        backend.open = open_counting_refusals
        return backend

    def wait_until_refused(self, workers: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.refused) >= workers, WAIT_S)

    def end(self) -> None:
        self.printer.set_mode("ok")
        with self.changed:
            self.over = True
            self.changed.notify_all()


def test_worker_threads_print_every_ticket_exactly_once_while_the_printer_flaps(
    office, fake_printer
):
    """Two worker threads on one printer (as two server processes would run) and an outage
    that each of them runs into before it ends."""
    outage = Outage(fake_printer)
    office.worker().make = outage.make
    extra = PrintWorker(
        fake_printer.spec,
        office.spooler.config,
        office.app.extensions["xephang.spooler"].workers[fake_printer.spec].publish,
        make=outage.make,
    )
    office.spooler.start()
    extra.start()
    try:
        tickets = [office.issue(s) for s in "ABCDEABCDE"]
        for t in tickets:  # shown to the citizen whatever the printer does
            assert t["ticket"]["code"] and t["ticket"]["qr_url"]
        extra.wake()
        outage.wait_until_refused(workers=2)
        outage.end()
        office.spooler.wake(fake_printer.spec)
        more = [office.issue(s) for s in "AB"]
        office.wait_for_events("printed", len(tickets) + len(more))
        urls = printed_urls(fake_printer, len(tickets) + len(more))
        expected = [t["ticket"]["tracker_url"] for t in tickets + more]
        assert sorted(urls) == sorted(expected) and len(set(urls)) == len(urls)
        done = [office.job(t["print"]["id"]) for t in tickets + more]
        assert {job["state"] for job in done} == {"done"}
        assert max(job["attempts"] for job in done) >= 2  # some were refused, then printed
        for t in tickets + more:  # refusals before any byte are retried, never logged
            assert office.print_events(t["ticket"]["id"]) == ["printed"]
    finally:
        extra.stop()


def test_a_job_made_final_by_another_worker_is_not_logged_twice(office, fake_printer):
    issued = office.issue()
    job = jobs.claim_next(office.db, fake_printer.spec)
    assert jobs.mark_sending(office.db, job["id"])
    worker = office.worker()
    worker.recover(lease_s=-1)  # another process gave up on it: failed, logged once
    worker.succeed(job, 100, None, "")  # the slow original attempt finishes after all
    assert office.job(job["id"])["state"] == "failed"
    assert office.print_events(issued["ticket"]["id"]) == ["print_failed"]


def test_the_spooler_starts_with_the_server_but_not_in_tests(tmp_path, fake_printer):
    app = spool_app(tmp_path, fake_printer.spec)
    assert not printers.get_spooler(app).started
    live = spool_app(tmp_path / "live", fake_printer.spec, TESTING=False)
    spool = printers.get_spooler(live)
    try:
        assert spool.started and all(w.thread.is_alive() for w in spool.workers.values())
    finally:
        spool.stop()
    assert not any(w.thread.is_alive() for w in spool.workers.values())


def test_xephang_printer_run_prints_jobs_queued_by_another_process(
    tmp_path, fake_printer, demo_template
):
    import os
    import subprocess
    import sys

    office = Office(spool_app(tmp_path, fake_printer.spec), demo_template)
    try:
        issued = office.issue()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from xephang.cli import main; main()",
                "printer",
                "run",
                "--db",
                office.app.config["DB"],
            ],
            env={
                **os.environ,
                "XEPHANG_PRINTER": fake_printer.spec,
                "XEPHANG_PUBLIC_URL": "http://xephang.test",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert len(fake_printer.wait_for_jobs(1, timeout=WAIT_S)) == 1
        finally:
            proc.terminate()
            output = proc.communicate(timeout=WAIT_S)[0].decode()
        assert proc.returncode == 0, output
        assert printed_urls(fake_printer, 1) == [issued["ticket"]["tracker_url"]]
        assert office.print_events(issued["ticket"]["id"]) == ["printed"]
    finally:
        office.db.close()


def test_an_idle_printer_is_probed_so_the_alert_comes_before_a_citizen_and_clears_after(
    office, fake_printer
):
    worker = office.worker()
    office_id = office.demo["office_id"]
    office.issue()
    assert worker.run_once()  # printed: the printer is known to the office
    assert not printers.status(office.db, office_id)["alert"]
    fake_printer.set_mode("paper_out")
    assert worker.probe_due() is False  # it just printed
    worker.probe()
    status = printers.status(office.db, office_id)
    assert status["alert"] and status["printers"][0]["problem"] == "paper_out"
    assert len(received(fake_printer, 1)) == 1  # probing printed nothing
    fake_printer.set_mode("ok")
    worker.probe()
    assert not printers.status(office.db, office_id)["alert"]


def test_a_manager_reprint_is_a_new_copy_printed_once(office, fake_printer):
    fake_printer.set_mode("drop")
    issued = office.issue()
    assert office.worker().run_once()
    assert office.job(issued["print"]["id"])["state"] == "failed"
    fake_printer.set_mode("ok")
    again = printers.reprint(office.db, issued["print"]["id"])
    assert again != issued["print"]["id"]
    assert drain(office.worker()) == 1
    assert len(received(fake_printer, 2)) == 2  # the broken attempt, then the one copy
    assert printed_urls(fake_printer, 1)[-1] == issued["ticket"]["tracker_url"]
    assert office.print_events(issued["ticket"]["id"]) == ["print_failed", "printed"]
    with pytest.raises(Exception, match="Không có lệnh in 999"):
        printers.reprint(office.db, 999)


def test_xephang_printer_run_stops_cleanly_on_a_sigterm_sent_as_the_spooler_starts(
    tmp_path, monkeypatch
):
    """A job can print the moment the spooler starts; a SIGTERM sent then (a supervisor
    stopping it) must stop the command cleanly, so the handler is in place before."""
    import signal

    from click.testing import CliRunner

    from printers.spooler import Spooler
    from xephang.cli import cli

    handlers = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.__setitem__(sig, handler))

    def start(self):
        assert signal.SIGTERM in handlers, "SIGTERM would kill the spooler mid-job"
        handlers[signal.SIGTERM](signal.SIGTERM, None)

    monkeypatch.setattr(Spooler, "start", start)
    monkeypatch.setattr(Spooler, "stop", lambda self: None)
    result = CliRunner().invoke(cli, ["printer", "run", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 0, result.output
