"""Group commit: write requests that arrive together share one transaction and one fsync.

With ``synchronous=FULL`` every commit waits for the disk (0.2–3 ms here), and under
gevent a commit made on the event loop stalls every other request meanwhile. A
``GroupCommit`` owns one connection and lets one caller at a time write with it.
Callers hand it a job, ``fn(db, *args)`` (a plain engine operation), and wait. The
writer (the first caller to find nobody writing) takes every job waiting, opens
``BEGIN IMMEDIATE``, runs each in its own savepoint, commits once, and only then
answers each caller with its result or its error:

- a job that raises rolls back its own savepoint only; the others commit;
- nobody is answered before the commit that makes their write durable;
- the commit runs through ``offload``: under gevent a real thread, so requests
  keep arriving (and form the next group) while the disk syncs;
- a caller that finds nobody writing within a moment of a commit that answered
  others (``PAUSE_WITHIN_S``) calls ``pause`` before it writes (``sleep(0)``): those
  callers run first, and the writes they make next join its group. Leading at once,
  it wrote alone while they queued behind it: groups of 1 and n−1 in turn (3.4
  writes a commit from 6 counters' threads, 4.8 with the pause; from 6 greenlets
  3.5 and 6.0: ``bench/bench_group_gevent.py``). A lone write does not pause: it
  would only let other work of the loop (a tracker fan-out) go before it;
- a ``BEGIN`` that finds another process writing tries again after short sleeps
  (``transaction.begin_immediate``), a greenlet's sleep under gevent.

The engine's own ``write()`` inside a job sees the open transaction and becomes a
savepoint of it: engine functions stay plain.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .connection import connect
from .transaction import begin_immediate, commit_observed


class _Job:
    __slots__ = ("fn", "args", "kwargs", "answered", "wakeup", "lead", "result", "error")

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.answered = False
        self.wakeup: threading.Event | None = None  # a caller that waits for a leader
        self.lead = False  # woken to lead the next groups, not with an answer
        self.result = None
        self.error: BaseException | None = None

    def answer(self) -> None:
        self.answered = True
        if self.wakeup is not None:
            self.wakeup.set()


def _direct(fn, *args):
    return fn(*args)


# A commit that answered other callers this long ago or less: a writer that finds nobody
# writing lets them run first (they are woken in the same turn of the loop).
PAUSE_WITHIN_S = 0.001


def _yield() -> None:
    """Let the others run once: the GIL to other threads; under gevent (``time``
    patched), the loop to the greenlets already woken."""
    time.sleep(0)


class GroupCommit:
    """Writers of one database file; ``run(fn, ...)`` returns after the shared commit.

    No thread of its own: the caller that finds nobody writing becomes the leader
    and writes its own job and every job that queued meanwhile, group after group;
    once its own job is answered it hands the lead to the oldest waiting caller. A
    lone writer therefore runs its job at once, in its own thread or greenlet.
    """

    def __init__(
        self,
        path: str | Path,
        busy_timeout_ms: int = 10000,
        max_batch: int = 64,
        offload: Callable = _direct,
        pause: Callable[[], None] | None = _yield,
    ):
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.max_batch = max_batch
        self.offload = offload
        self.pause = pause
        self._others_answered_at = -1.0  # monotonic time of a commit that answered several
        self._local = threading.local()  # .db while this thread leads: a job that runs another
        self._pending: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._leading = False
        self._db = None
        self._pid = os.getpid()
        self.batches = 0
        self.jobs = 0

    def run(self, fn, *args, **kwargs):
        """``fn(db, *args, **kwargs)`` in the group's transaction; its result once committed.

        Its exception, if it raised (after its savepoint was rolled back), is raised here.
        Called from inside a job (a job that runs another), it runs inline.
        """
        inside = getattr(self._local, "db", None)
        if inside is not None:
            return fn(inside, *args, **kwargs)
        job = _Job(fn, args, kwargs)
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's state is not ours
                self._pending, self._leading, self._db = deque(), False, None
                self._pid = os.getpid()
            self._pending.append(job)
            lead = not self._leading
            self._leading = True
            if not lead:
                job.wakeup = threading.Event()
        if not lead:
            job.wakeup.wait()
            if job.lead and not job.answered:  # handed the lead; our job waits in the queue
                lead = True
        if lead:
            if (
                self.pause is not None
                and not job.lead
                and time.monotonic() - self._others_answered_at <= PAUSE_WITHIN_S
            ):
                self.pause()
            self._lead(job)
        if job.error is not None:
            raise job.error
        return job.result

    def _lead(self, mine: _Job) -> None:
        """Write groups until our own job is answered, then hand the lead on."""
        if self._db is None:
            self._db = connect(self.path, self.busy_timeout_ms)
            self._db.conn.execute("PRAGMA busy_timeout=0")  # waiting for the lock: _begin
        db = self._local.db = self._db
        try:
            while True:
                with self._lock:
                    if mine.answered:
                        if self._pending:
                            heir = self._pending[0]
                            heir.lead = True
                            heir.wakeup.set()
                        else:
                            self._leading = False
                        return
                    batch = [
                        self._pending.popleft()
                        for _ in range(min(self.max_batch, len(self._pending)))
                    ]
                self._run_batch(db, batch)
        finally:
            self._local.db = None

    def _run_batch(self, db, batch: list[_Job]) -> None:
        conn = db.conn
        try:
            begin_immediate(conn, self.busy_timeout_ms)
        except BaseException as err:  # the lock never came: every job of the group fails
            self._answer(batch, err)
            return
        alone = len(batch) == 1  # no savepoint needed: the transaction is the job's own
        ran: list[_Job] = []
        for index, job in enumerate(batch):
            savepoint = f"group_job_{index}"
            if not alone:
                conn.execute(f"SAVEPOINT {savepoint}")
            try:
                job.result = job.fn(db, *job.args, **job.kwargs)
                if not alone:
                    conn.execute(f"RELEASE {savepoint}")
            except BaseException as err:
                job.error = err
                if alone:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    job.answer()
                    return
                if conn.in_transaction:
                    try:
                        conn.execute(f"ROLLBACK TO {savepoint}")
                        conn.execute(f"RELEASE {savepoint}")
                    except sqlite3.Error:
                        pass
                if not conn.in_transaction:
                    # The error took the whole transaction with it (SQLite rolls back on
                    # some, e.g. a full disk): the jobs before it lost their writes, so
                    # they go again, in front of the queue, in a new transaction.
                    job.answer()
                    for other in ran:
                        other.result, other.error = None, None
                    with self._lock:
                        self._pending.extendleft(reversed(ran + batch[index + 1 :]))
                    return
            ran.append(job)
        began = time.perf_counter()
        try:
            # Every commit through ``offload``, however fast the disk: under gevent the
            # loop runs while the disk syncs, and the writes that come meanwhile form the
            # next group. Committing on the loop when the sync took a fraction of a
            # millisecond left no moment for them: the leader's next write found nobody
            # waiting and committed alone (one write a commit, 500 lifecycles/s against
            # 780 through the thread; bench/bench_group_gevent.py).
            self.offload(conn.execute, "COMMIT")
        except BaseException as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                if job.error is None:
                    job.error, job.result = err, None
            self._answer(batch, None)
            return
        seconds = time.perf_counter() - began
        self.batches += 1
        self.jobs += len(batch)
        commit_observed(seconds, len(batch))
        if len(batch) > 1:
            self._others_answered_at = time.monotonic()
        self._answer(batch, None)

    @staticmethod
    def _answer(batch: list[_Job], error: BaseException | None) -> None:
        for job in batch:
            if error is not None:
                job.error, job.result = error, None
            job.answer()
