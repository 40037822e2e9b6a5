"""Transactions and row helpers: every write opens with BEGIN IMMEDIATE."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator

import sqlite_utils

# Who wants to know how long each durable commit took (the metrics endpoint): fn(seconds,
# writes), writes being how many jobs shared the commit (1 outside a group commit).
_commit_observers: list[Callable[[float, int], None]] = []


def observe_commits(fn: Callable[[float, int], None]) -> None:
    """Call ``fn(seconds, writes)`` after every commit this process makes."""
    if fn not in _commit_observers:
        _commit_observers.append(fn)


def commit_observed(seconds: float, writes: int = 1) -> None:
    """Tell the observers about one commit (an observer's failure never fails a write)."""
    for fn in _commit_observers:
        try:
            fn(seconds, writes)
        except Exception:  # noqa: S110 - metrics are best effort
            pass


# Waiting for another connection's write lock (another worker of `xephang serve --workers
# N`, or the spooler's connection): BEGIN IMMEDIATE again after each pause, the last one
# repeated until the busy timeout. ``time.sleep`` is a greenlet's sleep under gevent, so
# the process serves meanwhile, and the lock is taken within a millisecond of its release.
# SQLite's own busy handler sleeps 1, 2, 5, 10, 15… ms inside C, holding the whole gevent
# loop: a writer that missed the lock twice slept 3 ms while the other process took it
# again and again (two workers issued fewer tickets than one, p99 89 ms).
LOCK_PAUSES_S = (0.0001, 0.0002, 0.0005, 0.001)


def begin_immediate(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE on a connection whose own busy timeout is 0: at once when the lock
    is free, else again after a short pause (``LOCK_PAUSES_S``) until ``busy_timeout_ms``,
    then SQLite's "database is locked" error."""
    deadline, attempt = None, 0
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + busy_timeout_ms / 1000
            elif now >= deadline:
                raise
        time.sleep(LOCK_PAUSES_S[min(attempt, len(LOCK_PAUSES_S) - 1)])
        attempt += 1


def _cooperative() -> bool:
    """Whether this process runs on gevent's loop (``time.sleep`` patched): a wait inside
    SQLite's busy handler would then hold every request of the process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("time")


def _begin(db: sqlite_utils.Database) -> None:
    conn = db.conn
    busy_ms = getattr(db, "_xephang_busy_ms", None)
    if busy_ms is None or not _cooperative():
        conn.execute("BEGIN IMMEDIATE")  # threads: SQLite's busy handler releases the GIL
        return
    conn.execute("PRAGMA busy_timeout=0")
    try:
        begin_immediate(conn, busy_ms)
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")


# One name for every nested write: SQLite's RELEASE and ROLLBACK TO take the innermost
# savepoint of that name, and a fixed text stays in the connection's statement cache
# (sqlite-utils' ``atomic`` draws a random name each time: a fresh statement to prepare,
# twice a write, and a urandom call).
SAVEPOINT = "xephang_write"


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute(f"SAVEPOINT {SAVEPOINT}")
    try:
        yield
    except BaseException:
        # An error such as a full disk may have rolled the whole transaction back,
        # savepoints included: cleaning up would then mask it with "no such savepoint".
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO {SAVEPOINT}")
            conn.execute(f"RELEASE {SAVEPOINT}")
        raise
    else:
        conn.execute(f"RELEASE {SAVEPOINT}")


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, opened with BEGIN IMMEDIATE.

    Taking the write lock up front means two writers queue on the busy
    timeout instead of one failing with "database is locked" after both read.
    Under gevent a writer that finds the lock taken waits in greenlet sleeps
    (``begin_immediate``), not in SQLite's busy handler. Inside a write
    transaction already (a step run ``within`` an engine operation), it is a
    savepoint of that transaction and commits with it.
    """
    if db.conn.in_transaction:
        with _savepoint(db.conn):
            yield db
        return
    _begin(db)
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        began = time.perf_counter()
        db.conn.execute("COMMIT")
        if _commit_observers:
            commit_observed(time.perf_counter() - began)


@contextlib.contextmanager
def read(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Several queries seeing one state of the database (a deferred read transaction).

    Inside a transaction already, the caller's transaction gives that view.
    """
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.conn.execute("COMMIT")


# Column names by the description SQLite gave a query: the same description (compared
# whole, so a migration that changes a table is seen) reuses the names, None marks
# duplicate names (sqlite-utils dedupes those). Bounded: a query with its own literals
# each time would otherwise fill it.
_NAMES: dict[str, tuple[tuple, tuple[str, ...] | None]] = {}
_NAMES_MAX = 1024


def _names(sql: str, description: tuple) -> tuple[str, ...] | None:
    known = _NAMES.get(sql)
    if known is not None and known[0] == description:
        return known[1]
    names = tuple(column[0] for column in description)
    if len(set(names)) != len(names):
        names = None
    if len(_NAMES) >= _NAMES_MAX:
        _NAMES.clear()
    _NAMES[sql] = (description, names)
    return names


def one(db: sqlite_utils.Database, sql: str, params=()) -> dict | None:
    """The first row of a query as a dict, or None."""
    # Straight on the sqlite3 cursor: db.query's per-row key handling costs more
    # than the query itself on the engine's hot path.
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    names = _names(sql, cursor.description)
    if names is None:  # duplicate names: let sqlite-utils dedupe them
        return next(iter(db.query(sql, params)), None)
    return dict(zip(names, row, strict=True))


def rows(db: sqlite_utils.Database, sql: str, params=()) -> list[dict]:
    """Every row of a query as a dict (straight on the cursor, as ``one``: ``db.query``
    wraps each query in a savepoint and parses its first keyword)."""
    cursor = db.conn.execute(sql, params)
    found = cursor.fetchall()
    names = _names(sql, cursor.description or ())
    if names is None:  # duplicate names: let sqlite-utils dedupe them
        return list(db.query(sql, params))
    return [dict(zip(names, row, strict=True)) for row in found]


def file_of(db: sqlite_utils.Database) -> str:
    """The database file a connection has open (a cache key per database), asked of
    SQLite once per connection."""
    path = getattr(db, "_xephang_file", None)
    if path is None:
        path = db._xephang_file = db.execute("PRAGMA database_list").fetchone()[2]
    return path


def scalar(db: sqlite_utils.Database, sql: str, params=()):
    """The first column of the first row of a query, or None."""
    row = db.execute(sql, params).fetchone()
    return row[0] if row else None
