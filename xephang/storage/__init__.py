"""Storage: connections to the SQLite file, transactions and the schema's migrations.

The only package that knows how the database is opened and migrated. SQL
itself lives in ``engine`` (writes), ``queries`` and ``reports`` (reads),
so a move to another database touches only those four.
"""

from . import backup
from .connection import ConnectionPool, connect
from .group import GroupCommit
from .migrations import migrate
from .transaction import file_of, observe_commits, one, read, rows, scalar, write

__all__ = [
    "backup",
    "ConnectionPool",
    "GroupCommit",
    "connect",
    "file_of",
    "migrate",
    "observe_commits",
    "one",
    "read",
    "rows",
    "scalar",
    "write",
]
