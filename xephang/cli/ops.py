"""``xephang backup | restore``: copies of the database that are checked before they count.

``backup`` copies the live database with SQLite's online backup API (servers keep
running), checks the copy (``PRAGMA integrity_check`` and the event log's hash
chain) and only then puts it in place, keeping ``--keep`` rotated copies.
``restore`` refuses while a server holds the database, checks the backup the same
way, puts it in place (the replaced file is kept as
``<db>.before-restore-<UTC time>``, a new name each time, printed; run as root, the
new file is owned like the one it replaces) and migrates it to this version's schema.
``verify_file`` checks a database file's hash chain (``xephang verify-log``) without
changing it: read-only, not migrated, and never a new file where none was.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click

from .. import engine
from ..engine.log import count_events
from ..storage import backup as backups
from ..storage import connect, migrate
from .base import db_option


def check_copy(path: Path) -> list[str]:
    """What is wrong with a database copy: its pages, then its event log's chain."""
    problems = backups.integrity_problems(path)
    if problems:
        return problems
    db = backups.open_read_only(path)
    try:
        if "ticket_events" not in db.table_names():
            return []
        return engine.verify_log(db)
    finally:
        db.close()


def verify_file(db_path: str | Path, office_id: int | None = None) -> tuple[list[str], int]:
    """The hash chain's problems in the database file at ``db_path`` and its number of
    events (of one office, or all), the file only read: opened read-only, not migrated,
    its journal mode left as it is. A ClickException, and no file made, when there is no
    database there or its log cannot be verified as it is."""
    path = Path(db_path)
    if not path.is_file():
        raise click.ClickException(
            f"Không có cơ sở dữ liệu / no database: {path} (chọn tệp bằng --db hoặc"
            " XEPHANG_DB / give it with --db or XEPHANG_DB)"
        )
    try:
        db = backups.open_read_only(path)
    except sqlite3.DatabaseError as err:
        raise click.ClickException(f"Không đọc được / cannot read {path}: {err}") from None
    try:
        return engine.verify_log(db, office_id), count_events(db, office_id)
    except sqlite3.OperationalError as err:  # (no such table / column: not this schema)
        raise click.ClickException(
            f"{path}: lược đồ cũ hoặc không phải cơ sở dữ liệu xephang / an older schema or"
            f" not a xephang database ({err}). Khôi phục vào tệp mới rồi kiểm tra tệp đó /"
            f" restore it into a new file and verify that one (xephang restore --db NEW.db"
            f" {path})"
        ) from None
    except sqlite3.DatabaseError as err:
        raise click.ClickException(f"Không đọc được / cannot read {path}: {err}") from None
    finally:
        db.close()


def _events(path: Path) -> int:
    db = backups.open_read_only(path)
    try:
        return count_events(db) if "ticket_events" in db.table_names() else 0
    finally:
        db.close()


@click.command()
@db_option
@click.option(
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Backup file; earlier copies move to FILE.1, FILE.2, ...",
)
@click.option("--keep", default=7, show_default=True, type=click.IntRange(1, 1000))
def backup(db_path, output, keep):
    """Copy the database while it is in use, check the copy, keep N rotated copies."""
    if not Path(db_path).exists():
        raise click.ClickException(f"Không có cơ sở dữ liệu / no database: {db_path}")
    target = Path(output)
    fresh = Path(f"{target}.new")
    backups.backup_to(db_path, fresh)
    problems = check_copy(fresh)
    if problems:
        fresh.unlink(missing_ok=True)
        for problem in problems[:20]:
            click.echo(problem, err=True)
        raise click.ClickException(
            "Bản sao lỗi, không lưu / the copy failed its checks and was not kept"
        )
    backups.rotate(target, keep)
    os.replace(fresh, target)
    size = target.stat().st_size
    click.echo(
        f"OK: {target} ({size:,} byte, {_events(target)} sự kiện / events; integrity_check ok,"
        f" chuỗi băm hợp lệ / hash chain intact; giữ / keeping {keep})"
    )


@click.command()
@db_option
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
def restore(db_path, backup_file):
    """Put a backup in place of the database (servers stopped), migrated to this version."""
    source = Path(backup_file)
    problems = check_copy(source)
    if problems:
        for problem in problems[:20]:
            click.echo(problem, err=True)
        raise click.ClickException("Bản sao lỗi, không khôi phục / the backup failed its checks")
    try:
        with backups.exclusive_use(db_path):
            kept = backups.put_back(source, db_path)
            db = connect(db_path)
            try:
                before = {m["name"] for m in db.query("SELECT name FROM _sqlite_migrations")}
                migrate(db)
                after = {m["name"] for m in db.query("SELECT name FROM _sqlite_migrations")}
                problems = engine.verify_log(db)
            finally:
                db.close()
    except backups.ServerRunningError:
        raise click.ClickException(
            "Máy chủ xephang đang dùng cơ sở dữ liệu này: hãy dừng nó trước (systemctl stop"
            " xephang) / a xephang server is using this database: stop it first"
        ) from None
    if problems:
        for problem in problems[:20]:
            click.echo(problem, err=True)
        raise click.ClickException("Sau khi khôi phục, chuỗi băm lỗi / hash chain broken")
    migrated = sorted(after - before)
    click.echo(f"OK: {db_path} ← {source}")
    if migrated:
        click.echo("  đã nâng cấp lược đồ / migrated: " + ", ".join(migrated))
    if kept:
        click.echo(f"  bản cũ giữ tại / previous database kept as {kept}")


def static_folders(app) -> list[tuple[str, Path]]:
    """(URL prefix, folder) of every static route of the app: the core's and each room's."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.endswith("static"):
            continue
        blueprint = rule.endpoint.rpartition(".")[0]
        folder = app.blueprints[blueprint].static_folder if blueprint else app.static_folder
        if folder and Path(folder).is_dir():
            found.append((rule.rule.split("<", 1)[0], Path(folder)))
    return found


@click.command("static-files")
@click.argument("folder", type=click.Path(file_okay=False))
def static_files(folder):
    """Copy every static file (scripts, styles, fonts, voice clips) into FOLDER with the
    paths of their URLs, for a web server (nginx) to serve straight from disk: readable
    by every user (0644, folders 0755), whatever the umask (the unit's is 0027) or the
    installed files' modes, since nginx runs as a user of its own."""
    import shutil
    import tempfile

    from .. import create_app

    with tempfile.TemporaryDirectory() as scratch:  # the app wants a database: a throw-away
        app = create_app({"DB": f"{scratch}/x.db", "TESTING": True, "SECRET_KEY": "static-files"})
    target = Path(folder)
    copied = 0
    for prefix, source in static_folders(app):
        destination = target / prefix.strip("/")
        if destination.exists():
            shutil.rmtree(destination)  # files gone from the new version go from disk too
        shutil.copytree(source, destination)
    for part in [target, *target.rglob("*")]:  # (the folders between too: kiosk/ of kiosk/static)
        os.chmod(part, 0o755 if part.is_dir() else 0o644)
        copied += part.is_file()
    click.echo(f"OK: {copied} tệp / files in {target}")


def register(cli: click.Group) -> None:
    """Add these commands to the ``xephang`` group."""
    for command in (backup, restore, static_files):
        cli.add_command(command)
