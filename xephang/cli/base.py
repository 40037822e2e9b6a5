"""What every command shares: the group, the ``--db`` option, opening the database, errors."""

from __future__ import annotations

import functools

import click

from ..errors import QueueError


@click.group()
@click.version_option(package_name="xephang")
def cli():
    """xephang — hệ thống xếp hàng cho Bộ phận Một cửa (queue ticketing)."""


db_option = click.option(
    "--db",
    "db_path",
    envvar="XEPHANG_DB",
    default="instance/xephang.db",
    show_default=True,
    help="SQLite database file (env XEPHANG_DB).",
)


def open_db(path: str):
    """The database at ``path``, migrated to the current schema."""
    from ..storage import connect, migrate

    db = connect(path)
    migrate(db)
    return db


def reports_errors(command):
    """Turn a QueueError into the command's error message (exit status 1)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except QueueError as err:
            raise click.ClickException(err.message) from None

    return wrapper
