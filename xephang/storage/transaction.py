"""Transactions and row helpers: every write opens with BEGIN IMMEDIATE."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlite_utils


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, opened with BEGIN IMMEDIATE.

    Taking the write lock up front means two writers queue on the busy
    timeout instead of one failing with "database is locked" after both read.
    Inside a write transaction already (a step run ``within`` an engine
    operation), it is a savepoint of that transaction and commits with it.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


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


def one(db: sqlite_utils.Database, sql: str, params=()) -> dict | None:
    """The first row of a query as a dict, or None."""
    # Straight on the sqlite3 cursor: db.query's per-row key handling costs more
    # than the query itself on the engine's hot path.
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column[0] for column in cursor.description]
    if len(set(names)) != len(names):  # duplicate names: let sqlite-utils dedupe them
        return next(iter(db.query(sql, params)), None)
    return dict(zip(names, row, strict=True))


def scalar(db: sqlite_utils.Database, sql: str, params=()):
    """The first column of the first row of a query, or None."""
    row = db.execute(sql, params).fetchone()
    return row[0] if row else None
