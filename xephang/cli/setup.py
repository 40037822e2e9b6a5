"""``xephang setup apply | export``: an office declared in a TOML file (engine/declared.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from ..engine import declared
from .base import db_option, open_db, reports_errors


@click.group()
def setup():
    """Offices declared in files under version control (apply, export)."""


@setup.command("apply")
@db_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--prune", is_flag=True, help="Deactivate, revoke or remove what the file omits.")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@reports_errors
def apply_cmd(db_path, file, prune, dry_run):
    """Make the database hold the office FILE declares (idempotent, all or nothing)."""
    try:
        spec = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise click.ClickException(
            f"{file}: không phải TOML hợp lệ / not valid TOML: {err}"
        ) from None
    db = open_db(db_path)
    try:
        result = declared.apply_office(db, spec, prune=prune, dry_run=dry_run)
    finally:
        db.close()
    verb = "sẽ đổi / would change" if dry_run else "đã đổi / changed"
    click.echo(f"office {result.office_id}: {len(result.changes)} {verb}")
    for change in result.changes:
        click.echo(f"  {change}")
    if result.secrets and not dry_run:
        click.echo("Chỉ hiện một lần / shown once:")
        for line in result.secrets:
            click.echo(f"  {line}")


@setup.command("export")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Default: stdout.")
@reports_errors
def export_cmd(db_path, office_id, output):
    """Write an office's declaration (TOML) for `xephang setup apply`."""
    db = open_db(db_path)
    try:
        text = declared.to_toml(declared.export_office(db, office_id))
    finally:
        db.close()
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"OK: {output}")
    else:
        click.echo(text, nl=False)


def register(cli: click.Group) -> None:
    """Add the ``setup`` group to the ``xephang`` command."""
    cli.add_command(setup)
