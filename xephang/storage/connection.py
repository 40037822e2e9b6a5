"""SQLite connections: one file, WAL, durable commits, and a pool of open connections."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import sqlite_utils


def connect(path: str | Path, busy_timeout_ms: int = 10000) -> sqlite_utils.Database:
    """Open the database file with the pragmas every connection needs.

    ``synchronous=FULL`` makes a commit durable before it returns: a ticket
    acknowledged to a citizen survives a power cut. ``secure_delete`` overwrites
    what is deleted or erased (a citizen's phone number once its time is up)
    instead of leaving it in free space of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    _into_wal(conn, busy_timeout_ms)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db._xephang_busy_ms = int(busy_timeout_ms)  # storage.write's own wait for the lock
    return db


def _into_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``journal_mode=WAL``. Turning a new file (or a restored one) into WAL needs it to
    itself, and SQLite answers "database is locked" at once, without the busy timeout,
    while another connection holds it: processes starting together on a new file then
    failed. Tried again until the busy timeout; a file in WAL already answers at once."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)  # under gevent, a greenlet's sleep


class ConnectionPool:
    """Open connections to one database file, handed to requests and taken back.

    Without it every request pays for opening a connection (its pragmas) and,
    worse, closing the last connection to a WAL database checkpoints the WAL
    (an fsync) — a few milliseconds per request on a quiet server.
    """

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10000, size: int = 8):
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.size = size
        self._idle: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._forsaken: list[sqlite_utils.Database] = []

    def acquire(self) -> sqlite_utils.Database:
        """An idle connection, or a new one."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked worker must neither use nor close its parent's connections
                # (SQLite forbids carrying them across fork): keep them referenced, unused.
                self._forsaken, self._idle, self._pid = self._idle, [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return connect(self.path, self.busy_timeout_ms)

    def release(self, db: sqlite_utils.Database) -> None:
        """Take a connection back (rolled back if a transaction was left open)."""
        try:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
        except sqlite3.Error:
            db.close()
            return
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
