"""The print spooler: a worker per printer that turns queued jobs into printed tickets.

An attempt: render the receipt, open the printer, check its status (DLE
EOT), mark the job ``sending``, send every byte, check the status again.

Never twice: once the job is ``sending`` its bytes may be on paper, so a
failure after the first byte left is final (``failed``, no retry) and the
kiosk tells the citizen to photograph the QR code; the manager sees the
alert and may reprint on purpose. Failures before any byte left are
retried with backoff up to ``PRINT_MAX_ATTEMPTS``; a job older than
``PRINT_MAX_AGE_S`` is dropped, since the next citizen would take it.
Never lost: the job is in SQLite before the kiosk shows the ticket, and a
worker that dies leaves a ``claimed`` job another worker takes back.

Workers are threads; under ``xephang serve`` gevent has patched threading,
so they are greenlets and transports that block the process (USB, serial,
device files) run in gevent's thread pool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from xephang.clock import utcnow
from xephang.engine import Outcome, accounts, get_office, record_print
from xephang.storage import connect, write

from . import jobs
from .backends import Backend, PrintError, make_backend, printed_label
from .escpos_bytes import PrinterStatus, encode_receipt
from .jobs import get_job, job_view, status  # noqa: F401  (re-exported for callers)
from .layout import Receipt, render_receipt

log = logging.getLogger(__name__)
STATUS_REFRESH_S = 30.0


@dataclass(frozen=True)
class SpoolConfig:
    """The spooler's settings, read once from the app config."""

    db_path: str
    print_dir: str
    paper_mm: int = 80
    max_attempts: int = 5
    retry_base_s: float = 2.0
    retry_max_s: float = 30.0
    job_timeout_s: float = 15.0
    io_timeout_s: float = 3.0
    max_age_s: float = 120.0
    status_check: bool = True
    probe_s: float = 60.0
    poll_s: float = 2.0

    @classmethod
    def from_config(cls, config) -> SpoolConfig:
        return cls(
            db_path=config["DB"],
            print_dir=print_dir(config),
            paper_mm=int(config["PAPER_WIDTH_MM"]),
            max_attempts=int(config["PRINT_MAX_ATTEMPTS"]),
            retry_base_s=float(config["PRINT_RETRY_BASE_S"]),
            retry_max_s=float(config["PRINT_RETRY_MAX_S"]),
            job_timeout_s=float(config["PRINT_JOB_TIMEOUT_S"]),
            io_timeout_s=float(config["PRINT_IO_TIMEOUT_S"]),
            max_age_s=float(config["PRINT_MAX_AGE_S"]),
            status_check=bool(config["PRINT_STATUS_CHECK"]),
            probe_s=float(config["PRINT_PROBE_S"]),
        )

    def backoff(self, attempts: int) -> float:
        """Delay before the next try after ``attempts`` failed ones."""
        return min(self.retry_base_s * 2 ** max(attempts - 1, 0), self.retry_max_s)


def print_dir(config) -> str:
    """Where the virtual printer writes: PRINT_DIR, or printed/ beside the database."""
    return config.get("PRINT_DIR") or str(Path(config["DB"]).resolve().parent / "printed")


def run_blocking(fn: Callable, *args):
    """Call ``fn`` in a real OS thread when gevent patched threading, so it cannot stall."""
    try:
        from gevent import get_hub, monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn(*args)
    if monkey.is_module_patched("threading"):
        return get_hub().threadpool.apply(fn, args)
    return fn(*args)


class AlreadyFinalError(Exception):
    """The job was made final by someone else (rolls back the log entry)."""


class PrintWorker:
    """Prints the jobs of one printer, one at a time, until stopped."""

    def __init__(
        self,
        printer: str,
        config: SpoolConfig,
        publish: Callable[[Outcome], None] | None = None,
        make: Callable[..., Backend] = make_backend,
    ):
        self.printer = printer
        self.config = config
        self.publish = publish or (lambda outcome: None)
        self.make = make
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.db = None
        self.last_status: tuple[tuple[str, str] | None, float] = (None, 0.0)
        self.last_probe = time.monotonic()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name=f"print:{self.printer}", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def wake(self) -> None:
        self.wakeup.set()

    def connection(self):
        """This worker's own database connection (opened on first use)."""
        if self.db is None:
            self.db = connect(self.config.db_path)
        return self.db

    def run(self) -> None:
        """The worker loop: recover stale jobs, print what is due, sleep until woken."""
        self.connection()
        last_recovery = 0.0
        self.last_probe = time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    if time.monotonic() - last_recovery > self.config.job_timeout_s:
                        self.recover()
                        last_recovery = time.monotonic()
                    if self.run_once():
                        self.last_probe = time.monotonic()  # a print is a status check
                        continue
                    if self.probe_due():
                        self.probe()
                    self.wakeup.wait(self.sleep_time())
                    self.wakeup.clear()
                except Exception:  # keep printing later jobs whatever one job did
                    log.exception("print worker %s", self.printer)
                    self.stopping.wait(1.0)
        finally:
            self.db.close()
            self.db = None

    def probe_due(self) -> bool:
        """Idle long enough to ask the printer how it is (sooner while it is in error)."""
        interval = self.config.probe_s
        if self.last_status[0] and self.last_status[0][0] == "error":
            interval = min(interval, 10.0)
        return interval > 0 and time.monotonic() - self.last_probe >= interval

    def probe(self) -> None:
        """Ask an idle printer its status, so the manager learns of paper out before a
        citizen does, and an alert clears once the printer is fixed."""
        self.last_probe = time.monotonic()
        backend = self.make(
            self.printer, print_dir=self.config.print_dir, io_timeout=self.config.io_timeout_s
        )
        if not (self.config.status_check and backend.reads_status):
            return
        io = run_blocking if backend.blocking_io else (lambda fn, *a: fn(*a))
        try:
            io(backend.open, time.monotonic() + self.config.job_timeout_s)
            found = io(backend.status)
        except PrintError as err:
            self.note_printer("error", "unreachable", str(err), {})
            return
        finally:
            io(backend.close)
        state = "error" if not found.ok else ("warning" if found.problem else "ok")
        self.note_printer(state, found.problem, "status check while idle", {})

    def sleep_time(self) -> float:
        due = jobs.next_due(self.db, self.printer)
        if due is None:
            return self.config.poll_s
        wait = (datetime.fromisoformat(due) - utcnow()).total_seconds()
        return min(max(wait, 0.01), self.config.poll_s)

    # -- one job -----------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and print the next due job; False when none is due."""
        job = jobs.claim_next(self.connection(), self.printer)
        if job is None:
            return False
        self.process(job)
        return True

    def process(self, job: dict) -> None:
        age = (utcnow() - datetime.fromisoformat(job["created_at"])).total_seconds()
        if age > self.config.max_age_s:
            self.fail(job, "too_late", f"not printed within {self.config.max_age_s:.0f}s")
            return
        receipt = Receipt.from_dict(json.loads(job["payload"]))
        data = encode_receipt(render_receipt(receipt, job["paper_mm"]))
        backend = self.make(
            self.printer,
            print_dir=self.config.print_dir,
            io_timeout=self.config.io_timeout_s,
            timezone=get_office(self.db, job["office_id"])["timezone"],  # file names
        )
        check = self.config.status_check and backend.reads_status
        io = run_blocking if backend.blocking_io else (lambda fn, *a: fn(*a))
        deadline = time.monotonic() + self.config.job_timeout_s
        after: PrinterStatus | None = None
        warning = ""
        try:
            io(backend.open, deadline)
            if check:
                before = io(backend.status)
                if not before.ok:
                    raise PrintError(before.problem, status=before)
            if not jobs.mark_sending(self.db, job["id"]):
                return  # another worker recovered it meanwhile
            io(backend.send, data, printed_label(job["office_id"], receipt.code))
            if check:
                try:
                    after = io(backend.status)
                except PrintError as err:
                    if err.lost_connection:  # the bytes may not all have arrived
                        err.sent = len(data)
                        raise
                    warning = f"no status after printing: {err}"
        except PrintError as err:
            self.attempt_failed(job, backend, err)
            return
        finally:
            io(backend.close)
        if after is not None and not after.ok:
            # Every byte left but the printer stopped (paper ran out mid-ticket...).
            # Its buffer may still print when fixed, so never resend: fail and alert.
            self.fail(
                job,
                after.problem,
                f"printer reports {after.problem} after printing",
                sent=len(data),
            )
            return
        self.succeed(job, len(data), after, warning)

    def attempt_failed(self, job: dict, backend: Backend, err: PrintError) -> None:
        problem = err.status.problem if err.status else "unreachable"
        if err.sent:
            self.fail(job, "partial", f"{err} after {err.sent} of the job's bytes", sent=err.sent)
            return
        if job["attempts"] >= self.config.max_attempts:
            self.fail(job, problem, f"{err} (try {job['attempts']})")
            return
        jobs.requeue(self.db, job["id"], str(err), self.config.backoff(job["attempts"]))
        self.note_printer("error", problem, str(err), job)
        log.warning("print job %s try %s failed: %s", job["id"], job["attempts"], err)

    def succeed(self, job: dict, sent: int, after: PrinterStatus | None, warning: str) -> None:
        details = {
            "job_id": job["id"],
            "printer": self.printer,
            "attempts": job["attempts"],
            "bytes": sent,
        }
        self.finish(job, True, None, details)
        problem = after.problem if after is not None else ""
        self.note_printer("warning" if problem or warning else "ok", problem, warning, job)

    def fail(self, job: dict, problem: str, message: str, sent: int = 0) -> None:
        details = {
            "job_id": job["id"],
            "printer": self.printer,
            "attempts": job["attempts"],
            "problem": problem,
            "error": message[:300],
            "bytes_sent": sent,
        }
        self.finish(job, False, f"{problem}: {message}"[:500], details)
        self.note_printer("error", problem, message, job)
        log.error("print job %s failed for good: %s", job["id"], message)

    def finish(self, job: dict, ok: bool, error: str | None, details: dict) -> None:
        """Mark the job final and log printed / print_failed in one transaction."""
        if job["ticket_id"] is None:  # a test print: no ticket, no log entry
            with write(self.db):
                jobs.finish_job(self.db, job["id"], ok, error)
            return

        def mark_final(db) -> None:
            if not jobs.finish_job(db, job["id"], ok, error):
                raise AlreadyFinalError(job["id"])

        try:
            outcome = record_print(self.db, job["ticket_id"], ok, details, within=mark_final)
        except AlreadyFinalError:  # recovered meanwhile by another worker: it logged it
            log.warning("print job %s was already final; not logged twice", job["id"])
            return
        self.publish(outcome)

    def note_printer(self, state: str, problem: str, detail: str, job: dict) -> None:
        """Keep the printer's status row (and its kiosk's device status) current.

        An unchanged state is rewritten at most every STATUS_REFRESH_S: one
        durable write less per ticket while all is well.
        """
        key = (state, problem)
        if (
            key == self.last_status[0]
            and time.monotonic() - self.last_status[1] < STATUS_REFRESH_S
            and state == "ok"
        ):
            return
        previous = jobs.set_printer_status(self.db, self.printer, state, problem, detail)
        self.last_status = (key, time.monotonic())
        if previous != state and job.get("device_id"):
            accounts.touch_device(
                self.db,
                job["device_id"],
                {
                    "printer": self.printer,
                    "printer_state": state,
                    "printer_problem": problem,
                },
            )
        if previous != state:
            log.log(
                logging.ERROR if state == "error" else logging.INFO,
                "printer %s is now %s %s",
                self.printer,
                state,
                problem,
            )

    def recover(self, lease_s: float | None = None) -> None:
        """Take back jobs a dead worker held: unsent ones are requeued, sending ones failed."""
        lease = self.config.job_timeout_s * 2 if lease_s is None else lease_s
        for job in jobs.stale_jobs(self.connection(), self.printer, lease):
            if job["state"] == jobs.CLAIMED:
                jobs.requeue(self.db, job["id"], "worker stopped before printing", 0)
            else:
                self.fail(job, "partial", "worker stopped while sending; not resent")


class Spooler:
    """The process's print workers, one per configured printer."""

    def __init__(
        self,
        config: SpoolConfig,
        printers: list[str],
        publish: Callable[[Outcome], None] | None = None,
        make: Callable[..., Backend] = make_backend,
    ):
        self.config = config
        self.workers = {p: PrintWorker(p, config, publish, make) for p in printers}
        self.started = False
        # Set where another process prints (`xephang serve --workers N`): wake() hands the
        # printer's name on to it instead of to a local worker.
        self.forward: Callable[[str], None] | None = None

    def start(self) -> None:
        if not self.started:
            for worker in self.workers.values():
                worker.start()
            self.started = True

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.started = False

    def wake(self, printer: str) -> None:
        """A job for ``printer`` is waiting: tell its worker, here or in the printing process."""
        if not self.started and self.forward is not None:
            self.forward(printer)
            return
        worker = self.workers.get(printer)
        if worker is not None:
            worker.wake()

    def alive(self) -> bool:
        """Whether every started worker's thread still runs."""
        return self.started and all(
            w.thread is not None and w.thread.is_alive() for w in self.workers.values()
        )

    def drain(self, timeout: float = 10.0) -> None:
        """Print every due job in the calling thread (tests, CLI); stops at ``timeout``."""
        end = time.monotonic() + timeout
        for worker in self.workers.values():
            while time.monotonic() < end and worker.run_once():
                pass
