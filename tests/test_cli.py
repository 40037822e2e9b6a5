"""The ``xephang`` command: init, users, tokens, devices, verify-log, close-day."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest
from click.testing import CliRunner

from tests.helpers import SERVER_START_S, free_port
from xephang import engine
from xephang.cli import cli
from xephang.queries import people
from xephang.storage import connect


@pytest.fixture
def cli_db(tmp_path):
    return str(tmp_path / "cli" / "xephang.db")


def run(*args, env=None, input=None):
    result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    return result


def office_in(path) -> int:
    db = connect(path)
    try:
        return engine.create_office(db, "Văn phòng CLI")
    finally:
        db.close()


def test_init_creates_the_database_with_db_option(cli_db):
    result = run("init", "--db", cli_db)
    assert result.exit_code == 0 and cli_db in result.output
    db = connect(cli_db)
    assert {"tickets", "ticket_events", "offices", "users"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert run("init", "--db", cli_db).exit_code == 0  # idempotent


def test_init_reads_xephang_db_from_the_environment(cli_db):
    result = run("init", env={"XEPHANG_DB": cli_db})
    assert result.exit_code == 0 and os.path.exists(cli_db)


def test_user_add_token_add_and_login(cli_db):
    run("init", "--db", cli_db)
    office = office_in(cli_db)
    result = run(
        "user",
        "add",
        "canbo9",
        "--role",
        "officer",
        "--office",
        str(office),
        "--password",
        "mat-khau-9",
        "--db",
        cli_db,
    )
    assert result.exit_code == 0 and "canbo9" in result.output
    token = run("token", "add", "canbo9", env={"XEPHANG_DB": cli_db}).output.strip()
    assert token.startswith("xu_")
    db = connect(cli_db)
    principal = people.principal_for_token(db, token)
    assert (principal.role, principal.office_id) == ("officer", office)
    assert people.authenticate(db, "canbo9", "mat-khau-9")["role"] == "officer"
    db.close()


def test_user_add_prompts_for_the_password(cli_db):
    run("init", "--db", cli_db)
    result = run(
        "user",
        "add",
        "root",
        "--role",
        "admin",
        "--db",
        cli_db,
        input="mat-khau-admin\nmat-khau-admin\n",
    )
    assert result.exit_code == 0
    db = connect(cli_db)
    assert people.authenticate(db, "root", "mat-khau-admin")
    db.close()


@pytest.mark.parametrize(
    "args",
    [
        ("user", "add", "x", "--role", "officer", "--office", "1", "--password", "long-enough"),
        ("user", "add", "someone", "--role", "officer", "--password", "long-enough"),
        (
            "user",
            "add",
            "someone",
            "--role",
            "officer",
            "--office",
            "999",
            "--password",
            "long-enough",
        ),
        ("user", "add", "someone", "--role", "officer", "--office", "1", "--password", "short"),
        ("token", "add", "nobody"),
        ("device", "add", "--office", "999", "--kind", "kiosk"),
    ],
)
def test_bad_arguments_fail_with_a_message(cli_db, args):
    run("init", "--db", cli_db)
    office_in(cli_db)
    result = CliRunner().invoke(cli, [*args, "--db", cli_db])
    assert result.exit_code != 0 and result.exception is not None
    assert "Traceback" not in result.output


def test_role_must_be_known(cli_db):
    result = CliRunner().invoke(cli, ["user", "add", "bob", "--role", "boss", "--db", cli_db])
    assert result.exit_code == 2


def test_device_add_prints_a_device_token(cli_db):
    run("init", "--db", cli_db)
    office = office_in(cli_db)
    for kind in ("kiosk", "display"):
        token = run(
            "device", "add", "--office", str(office), "--kind", kind, "--db", cli_db
        ).output.strip()
        assert token.startswith("xd_")
        db = connect(cli_db)
        principal = people.principal_for_token(db, token)
        assert (principal.kind, principal.role, principal.office_id) == ("device", kind, office)
        db.close()


def _office_with_events(path) -> int:
    db = connect(path)
    office = engine.create_office(db, "Văn phòng CLI")
    engine.add_service(db, office, "A", "Hộ tịch")
    counter = engine.add_counter(
        db, office, 1, [db.execute("SELECT id FROM services").fetchone()[0]]
    )
    for _ in range(3):
        engine.issue_ticket(db, office, "A", check_hours=False)
    engine.call_next(db, counter)
    db.close()
    return office


def test_verify_log_and_close_day(cli_db):
    run("init", "--db", cli_db)
    office = _office_with_events(cli_db)
    result = run("verify-log", "--db", cli_db)
    assert result.exit_code == 0 and "OK: 4" in result.output
    result = run("close-day", "--db", cli_db)
    assert result.exit_code == 0 and f"office {office}: 2" in result.output
    db = connect(cli_db)
    statuses = sorted(r[0] for r in db.execute("SELECT status FROM tickets"))
    assert statuses == ["called", "expired", "expired"]
    db.close()
    assert run("close-day", "--office", str(office), env={"XEPHANG_DB": cli_db}).exit_code == 0
    assert run("verify-log", "--office", str(office), "--db", cli_db).exit_code == 0


def test_tampered_event_makes_verify_log_exit_non_zero(cli_db):
    """A real process, as an auditor would run it."""
    run("init", "--db", cli_db)
    _office_with_events(cli_db)
    command = [sys.executable, "-c", "from xephang.cli import main; main()", "verify-log"]
    env = {**os.environ, "XEPHANG_DB": cli_db}
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    db = connect(cli_db)
    db.execute("UPDATE ticket_events SET details = '{\"counter_number\": 9}' WHERE seq = 4")
    db.close()
    tampered = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert tampered.returncode != 0
    assert "seq 4" in tampered.stderr and "altered" in tampered.stderr


def test_verify_log_refuses_a_database_that_is_not_there(tmp_path, monkeypatch):
    """No --db, no XEPHANG_DB: the default path holds nothing. No false all-clear, and
    no empty database made there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XEPHANG_DB", raising=False)
    result = CliRunner().invoke(cli, ["verify-log"])
    assert result.exit_code == 1, result.output
    assert "instance/xephang.db" in result.output and "OK" not in result.output
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "elsewhere" / "x.db"
    result = CliRunner().invoke(cli, ["verify-log", "--db", str(missing)])
    assert result.exit_code == 1 and str(missing) in result.output
    assert list(tmp_path.iterdir()) == []


def files_beside(path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


def test_verify_log_of_a_backup_leaves_it_as_it_was(cli_db, tmp_path):
    run("init", "--db", cli_db)
    _office_with_events(cli_db)
    copy = tmp_path / "backups" / "b.db"
    assert run("backup", "--db", cli_db, "--output", str(copy)).exit_code == 0
    before = files_beside(copy)
    result = run("verify-log", "--db", str(copy))
    assert result.exit_code == 0 and "OK: 4" in result.output
    assert files_beside(copy) == before  # the same bytes, no -wal or -shm beside it
    with closing(sqlite3.connect(copy)) as db:
        db.execute("UPDATE ticket_events SET details = '{\"counter_number\": 9}' WHERE seq = 4")
        db.commit()
    before = files_beside(copy)
    tampered = CliRunner().invoke(cli, ["verify-log", "--db", str(copy)])
    assert tampered.exit_code == 1 and "seq 4" in tampered.output
    assert files_beside(copy) == before


def test_verify_log_of_an_older_file_reads_it_as_it_is(cli_db, tmp_path):
    """Verifying migrates nothing: an older schema whose log has what the chain needs is
    verified; one that lacks it is refused with what to do."""
    run("init", "--db", cli_db)
    _office_with_events(cli_db)
    older = tmp_path / "older.db"
    assert run("backup", "--db", cli_db, "--output", str(older)).exit_code == 0
    with closing(sqlite3.connect(older)) as db:  # as the version before 0020 made it
        db.executescript(
            "DROP INDEX outbox_once; ALTER TABLE outbox DROP COLUMN returns;"
            " CREATE UNIQUE INDEX outbox_once ON outbox (ticket_id, purpose, channel)"
            " WHERE webhook_id IS NULL;"
            " DELETE FROM _sqlite_migrations WHERE name = '0020_outbox_returns';"
        )
    before = older.read_bytes()
    result = run("verify-log", "--db", str(older))
    assert result.exit_code == 0 and "OK: 4" in result.output
    assert older.read_bytes() == before  # not migrated
    with closing(sqlite3.connect(older)) as db:
        db.execute("DROP TABLE log_anchors")
        db.commit()
    before = older.read_bytes()
    result = CliRunner().invoke(cli, ["verify-log", "--db", str(older)])
    assert result.exit_code == 1 and "log_anchors" in result.output
    assert "xephang restore" in result.output and "Traceback" not in result.output
    assert older.read_bytes() == before
    older.write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(cli, ["verify-log", "--db", str(older)])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_settings_lists_every_setting():
    from xephang.config import SETTINGS

    output = run("settings").output
    for setting in SETTINGS:
        assert f"XEPHANG_{setting.name} =" in output


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-c", "from xephang.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("init", "serve", "demo", "user", "token", "device", "verify-log", "close-day"):
        assert command in result.stdout


def test_demo_prints_its_urls_and_serves(tmp_path):
    """`xephang demo` seeds the office, prints the pages and logins, and serves them."""
    import time

    import requests

    port = free_port()
    env = {**os.environ, "XEPHANG_PRINT_WORKER": "false", "XEPHANG_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xephang.cli",
            "demo",
            "--db",
            str(tmp_path / "demo.db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # the banner is printed before the server starts
            lines.append(line)
            if "canbo1" in line:
                break
        banner = "".join(lines)
        base = f"http://127.0.0.1:{port}"
        for page in (
            "/kiosk/pair?token=xd_",
            "/counter/",
            "/display/pair?token=xd_",
            "/display/board/",
            "/manager/",
        ):
            assert base + page in banner, page
        assert "xephang-demo" in banner and "quanly" in banner
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                assert requests.get(base + "/api/v1/health", timeout=5).ok
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "demo server did not start"
                time.sleep(0.05)  # not listening yet: the port has no event to wait on
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_entry_point_imports_nothing_before_gevent_can_patch():
    """`xephang serve` patches for gevent before anything imports ssl (gevent warns, and TLS
    clients may recurse, when ssl came first); importing the entry point must not."""
    code = (
        "import sys; from xephang.cli import main; "
        "print(sorted(m for m in ('ssl', 'socket', 'xephang.app') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
