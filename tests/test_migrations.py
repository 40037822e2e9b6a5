"""The schema's steps applied at start-up: once each, whoever starts at the same time."""

from __future__ import annotations

import threading

from xephang.storage import connect, migrate
from xephang.storage.migrations import migrations


def test_processes_starting_at_once_apply_each_step_once(tmp_path):
    """Servers starting together on a new file failed: turning it into WAL answered
    "database is locked" at once, without the busy timeout, while another connection did
    it (now tried again until the timeout); and each step ran in a deferred transaction
    of its own after a list of pending steps read outside any, so two found step 1
    pending and the second failed ("table offices already exists"). All pending steps
    are now one BEGIN IMMEDIATE transaction: the later ones wait, then find none."""
    for attempt in range(40):  # each race is lost in about one round of eight
        starting_together(str(tmp_path / f"new{attempt}.db"))


def starting_together(path: str) -> None:
    start, errors = threading.Barrier(4), []

    def start_server() -> None:
        try:
            start.wait()
            db = connect(path)  # a new file into WAL: "database is locked" at once
            migrate(db)
            db.close()
        except Exception as err:  # noqa: BLE001 — what each start met is the result
            errors.append(err)

    threads = [threading.Thread(target=start_server) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db = connect(path)
    names = [r[0] for r in db.execute("SELECT name FROM _sqlite_migrations").fetchall()]
    assert sorted(names) == sorted(m.name for m in migrations._migrations)
    assert len(names) == len(set(names))
    db.close()
