"""``xephang office add | list | settings | set``: offices and their typed settings."""

from __future__ import annotations

import json

import click

from .. import engine
from ..engine.settings import OFFICE_SETTINGS, definition
from ..queries.office import offices
from .base import db_option, open_db, reports_errors


@click.group()
def office():
    """Offices (văn phòng) and their settings."""


@office.command("add")
@db_option
@click.argument("name")
@click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True)
@click.option("--address", default="")
@reports_errors
def office_add(db_path, name, timezone, address):
    """Create an office (with the default targets) and print its id."""
    click.echo(engine.create_office(open_db(db_path), name, address=address, timezone=timezone))


@office.command("list")
@db_option
def office_list(db_path):
    """Every office: id, name, time zone."""
    for row in offices(open_db(db_path)):
        click.echo(f"{row['id']}\t{row['name']}\t{row['timezone']}")


@office.command("settings")
@db_option
@click.argument("office_id", type=int)
@reports_errors
def office_settings(db_path, office_id):
    """List an office's settings: name, value, allowed values, meaning."""
    db = open_db(db_path)
    engine.get_office(db, office_id)
    values = engine.office_settings(db, office_id)
    for s in OFFICE_SETTINGS:
        mark = "" if values[s.name] == s.default else "  (đã đổi / changed)"
        click.echo(f"{s.name} = {json.dumps(values[s.name], ensure_ascii=False)}{mark}")
        click.echo(f"    {s.describe_allowed()}; {s.help}")


@office.command("set")
@db_option
@click.argument("office_id", type=int)
@click.argument("key")
@click.argument("value")
@reports_errors
def office_set(db_path, office_id, key, value):
    """Change one setting of an office, validated like the setup page."""
    definition(key)  # an unknown key is refused before the office is even looked up
    stored = engine.set_office_settings(open_db(db_path), office_id, {key: value})
    click.echo(f"{key} = {json.dumps(stored[key], ensure_ascii=False)}")


def register(cli: click.Group) -> None:
    """Add the ``office`` group to the ``xephang`` group."""
    cli.add_command(office)
