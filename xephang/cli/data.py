"""``xephang verify-log | close-day | report | purge | settings``: the log, the day, figures."""

from __future__ import annotations

import json
import sys

import click

from .. import engine, reports
from ..queries.office import offices
from ..reports import exports
from .base import db_option, open_db, reports_errors
from .ops import verify_file


def _office_ids(db, office_id: int | None) -> list[int]:
    return [office_id] if office_id else [o["id"] for o in offices(db)]


@click.command("verify-log")
@db_option
@click.option("--office", "office_id", type=int, default=None)
def verify_log_cmd(db_path, office_id):
    """Check the tamper-evident hash chain of the event log (the file is only read: not
    migrated, and no database is made where there is none)."""
    problems, events = verify_file(db_path, office_id)
    if problems:
        for p in problems:
            click.echo(p, err=True)
        raise SystemExit(1)
    click.echo(f"OK: {events} sự kiện, chuỗi băm hợp lệ / events, hash chain intact")


@click.command("close-day")
@db_option
@click.option("--office", "office_id", type=int, default=None, help="All offices if omitted.")
@reports_errors
def close_day_cmd(db_path, office_id):
    """Expire tickets still waiting (run after closing time)."""
    db = open_db(db_path)
    for oid in _office_ids(db, office_id):
        outcome = engine.close_day(db, oid)
        click.echo(f"office {oid}: {outcome.extra['expired']} vé hết hạn / tickets expired")


@click.command("settings")
def settings_cmd():
    """List every server setting with its default and meaning."""
    from ..config import SETTINGS

    for s in SETTINGS:
        click.echo(f"XEPHANG_{s.name} = {json.dumps(s.default)}\n    {s.help}")


@click.command("report")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--from", "first", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--group", default="service", show_default=True, type=click.Choice(reports.GROUPINGS))
@click.option(
    "--format",
    "fmt",
    default="json",
    show_default=True,
    type=click.Choice(["json", "csv", "vi.csv", "xlsx"]),
    help="csv: machine names and ISO times; vi.csv: Vietnamese headers and numbers, ';'.",
)
@click.option("--output", "output", default=None, help="File to write (default: stdout).")
@reports_errors
def report_cmd(db_path, office_id, first, last, group, fmt, output):
    """Wait-time report of an office over a period (the same figures as the manager page)."""
    if fmt == "xlsx" and output is None:
        raise click.ClickException("XLSX cần --output FILE / XLSX needs --output FILE")
    data = reports.wait_report(open_db(db_path), office_id, first, last, group)
    if fmt == "json":
        payload = json.dumps(
            {
                "rows": data["rows"],
                "total": data["total"],
                "office": data["office"],
                "from": data["from"],
                "to": data["to"],
                "group": group,
            },
            ensure_ascii=False,
            indent=2,
        ).encode()
    elif fmt == "csv":
        payload = exports.report_csv(data).encode()
    elif fmt == "vi.csv":
        payload = exports.report_csv_vi(data).encode()
    else:
        payload = exports.report_xlsx(data)
    if output:
        with open(output, "wb") as fh:
            fh.write(payload)
        click.echo(f"{output}: {len(data['rows'])} dòng / rows", err=True)
    else:
        sys.stdout.buffer.write(payload + b"\n")


@click.command("purge")
@db_option
@click.option("--office", "office_id", type=int, default=None, help="All offices if omitted.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@reports_errors
def purge_cmd(db_path, office_id, dry_run):
    """Remove ticket logs and blank rating comments older than each office's retention."""
    db = open_db(db_path)
    for oid in _office_ids(db, office_id):
        done = reports.purge(db, oid, dry_run=dry_run)
        verb = "sẽ xóa / would remove" if dry_run else "đã xóa / removed"
        click.echo(
            f"office {oid}: {verb} {done['tickets']} vé / tickets, {done['events']} sự"
            f" kiện / events trước / before {done['before_day']};"
            f" {done['comments_blanked']} góp ý / comments blanked"
        )


def register(cli: click.Group) -> None:
    """Add these commands to the ``xephang`` group."""
    for command in (verify_log_cmd, close_day_cmd, settings_cmd, report_cmd, purge_cmd):
        cli.add_command(command)
