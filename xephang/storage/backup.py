"""Copies of the database that can be trusted: online backups, their checks, rotation,
putting one back, and the lock that says a server is using the file.

- ``backup_to(db_path, target)`` copies with SQLite's online backup API while servers
  keep writing (a consistent snapshot, pages in the WAL included) into one
  self-contained file (rollback journal, no ``-wal``).
- ``integrity_problems(path)``: ``PRAGMA integrity_check`` of a copy.
- ``rotate(target, keep)``: ``FILE`` → ``FILE.1`` → ... → ``FILE.<keep-1>``.
- ``open_read_only(path)``: a file looked at, its bytes never changed (``mode=ro``:
  no migration, its journal mode left as it is; only a file in WAL mode gets the
  ``-wal``/``-shm`` SQLite needs to read it beside it, as a backup's never is).
- ``put_back(backup, db_path)``: a copy of the backup in place of the database, the
  replaced file kept as ``<db>.before-restore-<UTC time>`` (never overwritten); run
  as root, the new file gets the replaced file's owner, group and mode (or the
  folder's owner and group), so the service's user can still write it.
- Every server process holds a shared lock on ``<db>.serving`` for its life
  (``hold_serving_lock``); the kernel drops it when the process ends, even by
  SIGKILL. ``restore`` takes it exclusively, so it refuses while any server runs and
  no server starts while it works.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
from contextlib import closing
from datetime import datetime
from pathlib import Path

import sqlite_utils

from ..clock import utcnow

PAGES_PER_STEP = 256  # the backup copies in steps, letting writers in between them


class ServerRunningError(RuntimeError):
    """A server process holds the database: it must be stopped first."""


def serving_lock_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".serving")


_held: list = []  # the lock files this process holds (kept open for the process's life)


def hold_serving_lock(db_path: str | Path) -> None:
    """Mark this process as a server of ``db_path`` until it ends (a shared lock)."""
    path = serving_lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
    fcntl.flock(handle, fcntl.LOCK_SH)
    _held.append(handle)


class exclusive_use:
    """``with exclusive_use(db_path):`` no server holds the database, and none can start
    until the block ends; ServerRunningError if one holds it now."""

    def __init__(self, db_path: str | Path):
        self.path = serving_lock_path(db_path)
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")  # noqa: SIM115 - closed in __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ServerRunningError(str(self.path)) from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def backup_to(db_path: str | Path, target: str | Path) -> None:
    """A consistent copy of the live database at ``target`` (overwritten), online."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    with closing(sqlite3.connect(str(db_path), timeout=30)) as src:
        with closing(sqlite3.connect(str(target))) as dst:
            src.backup(dst, pages=PAGES_PER_STEP)
    # One self-contained file, no WAL beside it to lose when it is copied. (Opened again:
    # the copy's header says WAL, which the connection that wrote it does not know.)
    with closing(sqlite3.connect(str(target))) as dst:
        dst.execute("PRAGMA journal_mode=DELETE")


def open_read_only(path: str | Path) -> sqlite_utils.Database:
    """A copy opened to be looked at, not changed (its journal mode stays as it is)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    return sqlite_utils.Database(conn, execute_plugins=False)


def integrity_problems(path: str | Path) -> list[str]:
    """What ``PRAGMA integrity_check`` finds wrong with a database file; [] when sound."""
    if not Path(path).exists():
        return [f"{path}: no such file"]
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as err:
        return [f"{path}: {err}"]
    return [] if rows == ["ok"] else rows


def rotate(target: str | Path, keep: int) -> None:
    """Make room for a new ``target``: ``FILE`` → ``FILE.1`` → ... so that, with the new
    one, ``keep`` copies remain; older ones are removed."""
    target = Path(target)
    numbered = [target] + [Path(f"{target}.{i}") for i in range(1, max(keep, 1))]
    for extra in target.parent.glob(target.name + ".*"):
        suffix = extra.name[len(target.name) + 1 :]
        if suffix.isdigit() and int(suffix) >= keep - 1 and keep > 1:
            extra.unlink()
    for newer, older in reversed(list(zip(numbered, numbered[1:], strict=False))):
        if newer.exists():
            os.replace(newer, older)


def kept_path(db_path: str | Path, now: datetime | None = None) -> Path:
    """Where ``put_back`` keeps the database it replaces: ``<db>.before-restore-<UTC
    time>``, with ``-2``, ``-3``, ... when that name is taken (never overwritten)."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    base = f"{db_path}.before-restore-{stamp}"
    kept, n = Path(base), 1
    while kept.exists():
        n += 1
        kept = Path(f"{base}-{n}")
    return kept


def _owned_like(path: Path, db_path: Path) -> None:
    """Run as root, give ``path`` (the file about to become the database) the owner,
    group and permission bits of the database it replaces, or the owner and group of
    the database's folder when there is none: a restore by root must leave a file the
    service's user can still write. The ``<db>.serving`` lock (which ``exclusive_use``
    may just have made, as root) gets the same owner: every server opens it to write."""
    if os.geteuid() != 0:
        return
    if db_path.exists():
        old = db_path.stat()
        uid, gid = old.st_uid, old.st_gid
        os.chmod(path, stat.S_IMODE(old.st_mode))
    else:
        folder = db_path.parent.stat()
        uid, gid = folder.st_uid, folder.st_gid
    os.chown(path, uid, gid)
    lock = serving_lock_path(db_path)
    if lock.exists():
        os.chown(lock, uid, gid)


def put_back(backup: str | Path, db_path: str | Path) -> Path | None:
    """Replace the database file with a copy of ``backup`` (call inside exclusive_use).

    The database it replaces is kept at ``kept_path(db_path)`` (returned), its WAL
    checkpointed into it first. Run as root, the new file is owned like the old one
    (``_owned_like``).
    """
    db_path = Path(db_path)
    staging = Path(f"{db_path}.restoring")
    backup_to(backup, staging)
    _owned_like(staging, db_path)
    kept = None
    if db_path.exists():
        with closing(sqlite3.connect(str(db_path))) as old:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        kept = kept_path(db_path)
        os.replace(db_path, kept)
    for leftover in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(staging, db_path)
    return kept
