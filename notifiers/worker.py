"""The outbox worker: claims due messages, sends them over their channels, records how
each attempt went, and erases contact details whose time has come.

A round: ``outbox.expand_moves`` writes the "turn near" messages of the lines
that moved since the last round (the calls only noted the move), in a
transaction of its own, so a failing expansion holds back no other message and
stays visible as pending moves (health, metrics, ``xephang notify status``);
``outbox.claim`` takes up to ``NOTIFY_BATCH`` due messages (moving
them to ``sending``, skipping moot ones, failing those past their give-up
time); each is rendered and sent in its own thread, with the channel's
timeout; ``outbox.settle`` records every result in one transaction (sent,
queued again after a backoff, or failed). A worker that dies leaves its
messages ``sending``; after the lease any worker queues them again and they
go out with the same id.

Workers are threads; under ``xephang serve`` gevent has patched threading and
sockets, so they are greenlets and their HTTP and SMTP calls cooperative.
Nothing here logs an address: errors are masked before they are stored or
logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from xephang.clock import utcnow
from xephang.engine import outbox, subscriptions
from xephang.engine.settings import office_settings, parse_zalo_templates
from xephang.storage import connect

from .channels import Channel, SendError
from .texts import render

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifyConfig:
    """The worker's settings, read once from the app config."""

    db_path: str
    public_url: str
    max_attempts: int = 8
    retry_base_s: float = 5.0
    retry_max_s: float = 300.0
    timeout_s: float = 10.0
    poll_s: float = 1.0
    batch: int = 20
    erase_every_s: float = 60.0

    @classmethod
    def from_config(cls, config) -> NotifyConfig:
        return cls(
            db_path=config["DB"],
            public_url=config["PUBLIC_URL"],
            max_attempts=int(config["NOTIFY_MAX_ATTEMPTS"]),
            retry_base_s=float(config["NOTIFY_RETRY_BASE_S"]),
            retry_max_s=float(config["NOTIFY_RETRY_MAX_S"]),
            timeout_s=float(config["NOTIFY_TIMEOUT_S"]),
            poll_s=float(config["NOTIFY_POLL_S"]),
            batch=max(1, int(config["NOTIFY_BATCH"])),
        )

    def backoff(self, attempts: int) -> float:
        """Delay before the next try after ``attempts`` failed ones."""
        return min(self.retry_base_s * 2 ** max(attempts - 1, 0), self.retry_max_s)

    @property
    def lease_s(self) -> float:
        """How long a claimed message may stay ``sending`` before it counts as orphaned:
        longer than any attempt can take (connect and answer each have the timeout)."""
        return self.timeout_s * 3 + 5


def masked(text: str, message: dict) -> str:
    """An error with the message's address (and its digits) blanked out."""
    secret = (message.get("payload_data") or {}).get("otp")
    if secret:  # a one-time code never reaches a log line
        text = text.replace(str(secret), "•••")
    address = message.get("address") or ""
    if not address or message.get("channel") == "webpush":
        return text
    for form in {address, address.lstrip("+"), "0" + address[3:] if address[:3] == "+84" else ""}:
        if form:
            text = text.replace(form, "•••")
    return text


class Notifier:
    """Sends the outbox's due messages, a batch at a time, until stopped."""

    def __init__(
        self,
        config: NotifyConfig,
        channels: dict[str, Channel],
        clock: Callable[[], datetime] = utcnow,
    ):
        self.config = config
        self.channels = channels
        self.clock = clock
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.db = None
        self.last_housekeeping = 0.0
        self.expansion_failed = False
        # Set where another process sends (`xephang serve --workers N`: the background
        # worker): wake() hands the wake-up on to it instead of to a local thread.
        self.forward: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.stopping.clear()
            self.thread = threading.Thread(target=self.run, name="notify", daemon=True)
            self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None
        for channel in self.channels.values():
            channel.close()

    def wake(self) -> None:
        """A commit may have queued messages: look now rather than at the next poll (here,
        or in the process that sends)."""
        if not self.running and self.forward is not None:
            self.forward()
            return
        self.wakeup.set()

    @property
    def running(self) -> bool:
        """Whether this process's worker was started (and not stopped)."""
        return self.thread is not None

    def alive(self) -> bool:
        """Whether the started worker's thread still runs."""
        return self.thread is not None and self.thread.is_alive()

    def connection(self):
        """This worker's own database connection (opened on first use)."""
        if self.db is None:
            self.db = connect(self.config.db_path)
        return self.db

    def run(self) -> None:
        """The loop: send what is due, then sleep until woken or the next message is due."""
        self.connection()
        try:
            while not self.stopping.is_set():
                try:
                    if self.run_once():
                        continue
                    self.wakeup.wait(self.sleep_time())
                    self.wakeup.clear()
                except Exception:  # keep sending later messages whatever one round did
                    log.exception("outbox worker")
                    self.stopping.wait(1.0)
        finally:
            if self.db is not None:
                self.db.close()
                self.db = None

    def sleep_time(self) -> float:
        due = outbox.next_due(self.connection(), moves=not self.expansion_failed)
        if due is None:
            return self.config.poll_s
        wait = (datetime.fromisoformat(due) - self.clock()).total_seconds()
        return min(max(wait, 0.01), self.config.poll_s)

    # -- one round ---------------------------------------------------------------
    def housekeeping(self, force: bool = False) -> None:
        """Take back orphaned messages and erase contacts whose time has come (every
        minute, or every lease when that is shorter)."""
        every = min(self.config.erase_every_s, self.config.lease_s)
        if not force and time.monotonic() - self.last_housekeeping < every:
            return
        self.last_housekeeping = time.monotonic()
        db = self.connection()
        recovered = outbox.recover(db, self.config.lease_s, self.clock())
        if recovered:
            log.warning("queued %s orphaned message(s) again", recovered)
        erased = subscriptions.erase_expired_contacts(db, self.clock())
        if erased:
            log.info("erased the contact details of %s subscription(s)", erased)

    def run_once(self) -> int:
        """Write the "near" messages of the lines that moved, then claim, send and settle
        one batch of due messages; how many were handled."""
        db = self.connection()
        self.housekeeping()
        self.expand()
        messages = outbox.claim(db, self.clock(), self.config.batch)
        if not messages:
            return 0
        results = self.send_all(messages)
        outbox.settle(db, messages, results, self.config.max_attempts, self.clock())
        return len(messages)

    def expand(self) -> int:
        """The "near" messages of the lines that moved (``outbox.expand_moves``); a failure
        is logged and its moves kept for the next round, while other messages go out."""
        try:
            queued = outbox.expand_moves(self.connection(), self.clock())
        except Exception:
            log.exception("outbox worker: writing the 'near' messages of moved lines")
            self.expansion_failed = True  # not due at once again: tried at the next poll
            return 0
        self.expansion_failed = False
        return queued

    def drain(self, timeout: float = 30.0) -> int:
        """Send every due message in the calling thread (tests, benchmarks); how many."""
        end, done = time.monotonic() + timeout, 0
        while time.monotonic() < end:
            handled = self.run_once()
            if not handled:
                break
            done += handled
        return done

    def send_all(self, messages: list[dict]) -> list[outbox.Result]:
        """Send a batch side by side, one thread each; results in the messages' order."""
        settings: dict[int, dict] = {}
        for message in messages:
            office = message["office_id"]
            if office not in settings:
                settings[office] = office_settings(self.connection(), office)
        results: list[outbox.Result | None] = [None] * len(messages)

        def one(i: int) -> None:
            results[i] = self.attempt(messages[i], settings[messages[i]["office_id"]])

        if len(messages) == 1:
            one(0)
        else:
            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(messages))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return [r for r in results if r is not None]

    def attempt(self, message: dict, settings: dict) -> outbox.Result:
        """One try at one message, turned into an ``outbox.Result`` (never raises)."""
        channel = self.channels.get(message["channel"])
        if channel is None:
            return outbox.Result(message["id"], False, f"channel {message['channel']} not set up")
        message = dict(message)
        message["payload_data"] = json.loads(message["payload"] or "{}")
        message["zalo_templates"] = parse_zalo_templates(settings.get("zalo_templates", ""))
        message["ttl_s"] = (
            datetime.fromisoformat(message["give_up_at"]) - self.clock()
        ).total_seconds()
        try:
            content = (
                None
                if message["channel"] == "webhook"
                else render(message, settings, self.config.public_url)
            )
            status = channel.send(message, content)
        except SendError as err:
            error = masked(str(err), message)
            log.warning(
                "message %s (%s, %s) try %s failed: %s",
                message["id"],
                message["channel"],
                message["purpose"],
                message["attempts"],
                error,
            )
            return outbox.Result(
                message["id"],
                False,
                error,
                retry_in=self.config.backoff(message["attempts"]) if err.retry else None,
                gone=err.gone,
                status=err.status,
            )
        except Exception as err:  # a bug in a channel must not stop the outbox
            error = masked(f"{type(err).__name__}: {err}", message)
            # no traceback: its frames would show the address
            log.error("message %s: channel %s raised %s", message["id"], message["channel"], error)
            return outbox.Result(
                message["id"], False, error, retry_in=self.config.backoff(message["attempts"])
            )
        return outbox.Result(message["id"], True, status=status)
