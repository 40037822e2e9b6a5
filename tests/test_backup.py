"""`xephang backup` and `xephang restore`: online copies that are checked, rotated, put back
only while no server runs, and migrated forward."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import closing
from datetime import UTC, datetime

import pytest
import requests
from click.testing import CliRunner

from xephang import engine
from xephang.cli import cli
from xephang.queries import queue as queue_queries
from xephang.storage import connect
from xephang.storage.backup import exclusive_use, hold_serving_lock, kept_path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_backup_is_checked_and_rotated(tmp_path, demo_file):
    path, info = demo_file
    db = connect(path)
    engine.issue_ticket(db, info["office_id"], "A")
    out = tmp_path / "backups" / "xephang.db"
    for _ in range(4):
        engine.issue_ticket(db, info["office_id"], "B")
        result = run("backup", "--db", path, "--output", out, "--keep", 3)
        assert result.exit_code == 0, result.output
        assert "integrity_check ok" in result.output
    db.close()
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "xephang.db",
        "xephang.db.1",
        "xephang.db.2",
    ]
    with closing(sqlite3.connect(out)) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM tickets").fetchone()[0] == 5
    with closing(sqlite3.connect(f"{out}.2")) as oldest:
        assert oldest.execute("SELECT count(*) FROM tickets").fetchone()[0] == 3


def test_a_copy_whose_log_does_not_verify_is_not_kept(tmp_path, demo_file):
    path, info = demo_file
    db = connect(path)
    engine.issue_ticket(db, info["office_id"], "A")
    db.execute('UPDATE ticket_events SET details = \'{"priority": "x"}\' WHERE seq = 1')
    db.close()
    out = tmp_path / "b.db"
    result = CliRunner().invoke(cli, ["backup", "--db", str(path), "--output", str(out)])
    assert result.exit_code == 1 and "altered" in result.output
    assert not out.exists() and not (tmp_path / "b.db.new").exists()


def test_backup_while_the_server_issues_tickets(tmp_path, start_demo_server):
    """The online backup API copies a consistent state while writes go on."""
    server = start_demo_server()
    officer = server.officer  # (a kiosk token would meet its rate limit)
    stop, issued = threading.Event(), []

    def issue():
        with requests.Session() as session:
            while not stop.is_set() and len(issued) < 400:
                r = session.post(
                    server.url + "/api/v1/tickets", json={"service": "A"}, headers=officer
                )
                assert r.status_code == 201
                issued.append(r.json()["ticket"]["id"])

    writer = threading.Thread(target=issue)
    writer.start()
    try:
        while len(issued) < 20:
            threading.Event().wait(0.01)  # let the writer get going
        out = tmp_path / "live.db"
        result = run("backup", "--db", server.db_path, "--output", out)
        assert result.exit_code == 0, result.output
    finally:
        stop.set()
        writer.join(60)
    copy = connect(out)
    assert engine.verify_log(copy) == []
    assert copy.execute("SELECT count(*) FROM tickets").fetchone()[0] >= 20


def test_restore_refuses_while_a_server_holds_the_database(tmp_path, demo_file, live_servers):
    path, info = demo_file
    out = tmp_path / "b.db"
    assert run("backup", "--db", path, "--output", out).exit_code == 0
    server = live_servers(path)
    result = CliRunner().invoke(cli, ["restore", "--db", str(path), str(out)])
    assert result.exit_code == 1 and "stop it first" in result.output
    server.kill()  # SIGKILL: the kernel drops the lock with the process
    result = run("restore", "--db", path, out)
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("server.db.before-restore-*"))) == 1


def test_no_server_starts_while_a_restore_runs(tmp_path):
    path = tmp_path / "x.db"
    with exclusive_use(path):
        probe = tmp_path / "probe.py"
        probe.write_text(
            "import fcntl, sys\n"
            f"f = open({str(path) + '.serving'!r}, 'a+')\n"
            "try:\n    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)\nexcept OSError:\n"
            "    sys.exit(3)\n"
        )
        import subprocess
        import sys

        assert subprocess.run([sys.executable, str(probe)]).returncode == 3
    hold_serving_lock(path)  # and once it is done, a server may take the lock


def make_older(path) -> None:
    """Turn a database into what a backup made before migration 0011 looks like."""
    db = connect(path)
    for trigger in [
        r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    ]:
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DROP TABLE queue_counts")
    db.execute("DROP INDEX tickets_waiting_day")
    db.execute("DROP INDEX tickets_targeted")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '0011_queue_counts'")
    db.close()


def test_an_older_backup_is_migrated_forward(tmp_path, demo_file):
    path, info = demo_file
    db = connect(path)
    for service in "AAB":
        engine.issue_ticket(db, info["office_id"], service)
    db.close()
    old = tmp_path / "old.db"
    assert run("backup", "--db", path, "--output", old).exit_code == 0
    make_older(old)
    target = tmp_path / "fresh" / "xephang.db"
    result = run("restore", "--db", target, old)
    assert result.exit_code == 0, result.output
    assert "0011_queue_counts" in result.output
    restored = connect(target)
    counts = queue_queries.waiting_counts(restored, info["office_id"])
    assert sorted(counts.values()) == [1, 2]  # the kept counts built from the tickets
    assert engine.verify_log(restored) == []


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_backup_is_refused(tmp_path, demo_file, damage):
    path, _ = demo_file
    out = tmp_path / "b.db"
    assert run("backup", "--db", path, "--output", out).exit_code == 0
    data = out.read_bytes()
    out.write_bytes(b"not a database" * 100 if damage == "garbage" else data[: len(data) // 2])
    result = CliRunner().invoke(cli, ["restore", "--db", str(tmp_path / "t.db"), str(out)])
    assert result.exit_code == 1
    assert not (tmp_path / "t.db").exists()


def tickets_in(path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT count(*) FROM tickets").fetchone()[0]


def test_every_restore_keeps_the_database_it_replaces_under_a_new_name(tmp_path, demo_file):
    path, info = demo_file
    out = tmp_path / "b.db"
    assert run("backup", "--db", path, "--output", out).exit_code == 0
    db = connect(path)
    for _ in range(3):
        engine.issue_ticket(db, info["office_id"], "A")
    db.close()
    issued = tickets_in(path)
    first = run("restore", "--db", path, out)
    assert first.exit_code == 0, first.output
    second = run("restore", "--db", path, out)
    assert second.exit_code == 0, second.output
    kept = sorted(tmp_path.glob("server.db.before-restore*"))  # the UTC time, then -2
    assert len(kept) == 2  # the second restore did not overwrite the first one's
    assert str(kept[0]) in first.output and str(kept[1]) in second.output
    assert tickets_in(kept[0]) == issued  # the tickets issued after the backup are kept
    assert tickets_in(kept[1]) == tickets_in(out) == issued - 3


def test_a_kept_name_is_the_utc_time_and_a_counter_when_taken(tmp_path):
    db = tmp_path / "x.db"
    now = datetime(2026, 3, 5, 1, 2, 3, tzinfo=UTC)
    first = kept_path(db, now)
    assert first.name == "x.db.before-restore-20260305T010203Z"
    first.touch()
    second = kept_path(db, now)
    assert second.name == "x.db.before-restore-20260305T010203Z-2"
    second.touch()
    assert kept_path(db, now).name == "x.db.before-restore-20260305T010203Z-3"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives files to other users")
def test_a_restore_by_root_leaves_the_files_owned_as_they_were(tmp_path, demo_file):
    path, _ = demo_file
    out = tmp_path / "b.db"
    assert run("backup", "--db", path, "--output", out).exit_code == 0
    hold = tmp_path / "server.db.serving"
    hold.touch()
    for owned in (path, hold):
        os.chown(owned, 12345, 12346)  # the service's user and group
    os.chmod(path, 0o640)
    result = run("restore", "--db", path, out)
    assert result.exit_code == 0, result.output
    restored = os.stat(path)
    assert (restored.st_uid, restored.st_gid) == (12345, 12346)
    assert stat.S_IMODE(restored.st_mode) == 0o640
    assert (os.stat(hold).st_uid, os.stat(hold).st_gid) == (12345, 12346)
    assert not any(p.exists() for p in (tmp_path / "server.db-wal", tmp_path / "server.db-shm"))

    folder = tmp_path / "new"  # no database there yet: it takes the folder's owner
    folder.mkdir()
    os.chown(folder, 12345, 12346)
    result = run("restore", "--db", folder / "xephang.db", out)
    assert result.exit_code == 0, result.output
    for made in ("xephang.db", "xephang.db.serving"):
        owner = os.stat(folder / made)
        assert (owner.st_uid, owner.st_gid) == (12345, 12346), made
    assert sorted(p.name for p in folder.iterdir()) == ["xephang.db", "xephang.db.serving"]
