"""The ``xephang`` command: parse arguments, call the library, report.

Every command reads the database path from ``--db PATH`` or ``XEPHANG_DB``
(default ``instance/xephang.db``).
"""

from __future__ import annotations

import json
import os
import sys

import click

SERVING_COMMANDS = {"serve", "demo"}


def _open_db(path: str):
    from .db import connect
    from .schema import migrate

    db = connect(path)
    migrate(db)
    return db


def _fail(err) -> None:
    raise click.ClickException(getattr(err, "message", str(err)))


db_option = click.option(
    "--db", "db_path", envvar="XEPHANG_DB", default="instance/xephang.db", show_default=True,
    help="SQLite database file (env XEPHANG_DB).",
)


@click.group()
@click.version_option(package_name="xephang")
def cli():
    """xephang — hệ thống xếp hàng cho Bộ phận Một cửa (queue ticketing)."""


@cli.command()
@db_option
def init(db_path):
    """Create (or migrate) the database."""
    _open_db(db_path).close()
    click.echo(f"Cơ sở dữ liệu sẵn sàng / database ready: {db_path}")


message_queue_option = click.option(
    "--message-queue", "message_queue", envvar="XEPHANG_MESSAGE_QUEUE", default="",
    help="Socket.IO message queue (redis://HOST:PORT/N) shared by several server processes"
         " (env XEPHANG_MESSAGE_QUEUE).",
)


def _run_server(db_path: str, host: str, port: int, extra: dict | None = None) -> None:
    from . import create_app
    from .extensions import socketio

    config = {"DB": os.path.abspath(db_path), "ASYNC_MODE": "gevent", **(extra or {})}
    config.setdefault("PUBLIC_URL", os.environ.get("XEPHANG_PUBLIC_URL")
                      or f"http://{host}:{port}")
    app = create_app(config)
    from .serving import run_production

    run_production(app, socketio, host, port)


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
def serve(db_path, host, port, message_queue):
    """Run the server (gevent, WebSockets) on HOST:PORT."""
    _open_db(db_path).close()
    click.echo(f"xephang serving http://{host}:{port}/  (database {db_path})")
    _run_server(db_path, host, port, {"MESSAGE_QUEUE": message_queue} if message_queue else None)


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
def demo(db_path, host, port, message_queue):
    """Create a demo office (if needed) and serve it with the virtual printer."""
    from .demo import seed_demo

    db = _open_db(db_path)
    info = seed_demo(db)
    db.close()
    base = f"http://{host}:{port}"
    click.echo(f"""
xephang demo — {base}/
  Kiosk (lấy số):        {base}/kiosk/pair?token={info['kiosk_token']}
  Quầy (counter):        {base}/counter/
  Bảng hiển thị (TV):    {base}/display/pair?token={info['display_token']}
  Bảng công khai:        {base}/display/board/{info['board_id']}
  Quản lý (manager):     {base}/manager/
  Đăng nhập / logins (mật khẩu / password: {info['password']}):
    admin (admin), quanly (manager), canbo1 … canbo6 (officers)
  Máy in ảo / virtual printer: PNG tickets in {os.path.dirname(os.path.abspath(db_path))}/printed/
""")
    extra = {"MESSAGE_QUEUE": message_queue} if message_queue else {}
    _run_server(db_path, host, port, {"PRINTER": "virtual", **extra})


@cli.group()
def user():
    """Manage staff users."""


@user.command("add")
@db_option
@click.argument("name")
@click.option("--role", type=click.Choice(["officer", "manager", "admin"]), required=True)
@click.option("--office", "office_id", type=int, default=None)
@click.option("--password", default=None, help="Prompted for when omitted.")
@click.option("--display-name", default="")
def user_add(db_path, name, role, office_id, password, display_name):
    """Add a user with a role, in an office."""
    from .accounts import add_user
    from .errors import QueueError

    if password is None:
        password = click.prompt("Mật khẩu / password", hide_input=True,
                                confirmation_prompt=True)
    try:
        user_id = add_user(_open_db(db_path), name, role, office_id, password, display_name)
    except QueueError as err:
        _fail(err)
    click.echo(f"user {name} ({role}) id={user_id}")


@cli.group()
def token():
    """Manage API tokens."""


@token.command("add")
@db_option
@click.argument("name")
def token_add(db_path, name):
    """Print a new bearer token for user NAME."""
    from .accounts import add_user_token
    from .errors import QueueError

    try:
        click.echo(add_user_token(_open_db(db_path), name))
    except QueueError as err:
        _fail(err)


@cli.group()
def device():
    """Manage paired devices."""


@device.command("add")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--kind", type=click.Choice(["kiosk", "display", "printer"]), required=True)
@click.option("--name", default="")
def device_add(db_path, office_id, kind, name):
    """Pair a device to an office and print its token."""
    from .accounts import add_device
    from .errors import QueueError

    try:
        _, tok = add_device(_open_db(db_path), office_id, kind, name)
    except QueueError as err:
        _fail(err)
    click.echo(tok)


@cli.command("verify-log")
@db_option
@click.option("--office", "office_id", type=int, default=None)
def verify_log_cmd(db_path, office_id):
    """Check the tamper-evident hash chain of the event log."""
    from .engine import verify_log

    db = _open_db(db_path)
    problems = verify_log(db, office_id)
    count = db.execute("SELECT count(*) FROM ticket_events").fetchone()[0]
    if problems:
        for p in problems:
            click.echo(p, err=True)
        raise SystemExit(1)
    click.echo(f"OK: {count} sự kiện, chuỗi băm hợp lệ / events, hash chain intact")


@cli.command("close-day")
@db_option
@click.option("--office", "office_id", type=int, default=None, help="All offices if omitted.")
def close_day_cmd(db_path, office_id):
    """Expire tickets still waiting (run after closing time)."""
    from .engine import close_day

    db = _open_db(db_path)
    ids = [office_id] if office_id else [r[0] for r in db.execute("SELECT id FROM offices")]
    for oid in ids:
        outcome = close_day(db, oid)
        click.echo(f"office {oid}: {outcome.extra['expired']} vé hết hạn / tickets expired")


@cli.command("settings")
def settings_cmd():
    """List every setting with its default and meaning."""
    from .config import SETTINGS

    for s in SETTINGS:
        click.echo(f"XEPHANG_{s.name} = {json.dumps(s.default)}\n    {s.help}")


@cli.command("report")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--from", "first", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--group", default="service", show_default=True,
              type=click.Choice(["office", "service", "counter", "officer", "day", "hour",
                                 "weekday"]))
@click.option("--format", "fmt", default="json", show_default=True,
              type=click.Choice(["json", "csv", "xlsx"]))
@click.option("--output", "output", default=None, help="File to write (default: stdout).")
def report_cmd(db_path, office_id, first, last, group, fmt, output):
    """Wait-time report of an office over a period (the same figures as the manager page)."""
    from . import exports, reports
    from .errors import QueueError

    try:
        data = reports.wait_report(_open_db(db_path), office_id, first, last, group)
    except QueueError as err:
        _fail(err)
    if fmt == "json":
        payload = json.dumps({"rows": data["rows"], "total": data["total"],
                              "office": data["office"], "from": data["from"],
                              "to": data["to"], "group": group}, ensure_ascii=False,
                             indent=2).encode()
    elif fmt == "csv":
        payload = exports.report_csv(data).encode()
    else:
        payload = exports.report_xlsx(data)
        if output is None:
            raise click.ClickException("XLSX cần --output FILE / XLSX needs --output FILE")
    if output:
        with open(output, "wb") as fh:
            fh.write(payload)
        click.echo(f"{output}: {len(data['rows'])} dòng / rows", err=True)
    else:
        sys.stdout.buffer.write(payload + b"\n")


@cli.command("purge")
@db_option
@click.option("--office", "office_id", type=int, default=None, help="All offices if omitted.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
def purge_cmd(db_path, office_id, dry_run):
    """Remove ticket logs and blank rating comments older than each office's retention."""
    from .retention import purge

    db = _open_db(db_path)
    ids = [office_id] if office_id else [r[0] for r in db.execute("SELECT id FROM offices")]
    for oid in ids:
        done = purge(db, oid, dry_run=dry_run)
        verb = "sẽ xóa / would remove" if dry_run else "đã xóa / removed"
        click.echo(f"office {oid}: {verb} {done['tickets']} vé / tickets, {done['events']} sự"
                   f" kiện / events trước / before {done['before_day']};"
                   f" {done['comments_blanked']} góp ý / comments blanked")


def _add_room_commands() -> None:
    """Command groups that live with their room (``xephang printer ...``)."""
    from printers.cli import printer

    cli.add_command(printer)


_add_room_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point; patches for gevent first when the command serves."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SERVING_COMMANDS:
        from gevent import monkey

        monkey.patch_all()
    cli.main(args=args, prog_name="xephang")


if __name__ == "__main__":
    main()
