"""``xephang user | token | device``: staff accounts, API tokens and paired devices."""

from __future__ import annotations

import click

from ..engine import accounts
from ..queries import people
from .base import db_option, open_db, reports_errors


@click.group()
def user():
    """Manage staff users."""


@user.command("add")
@db_option
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--office", "office_id", type=int, default=None)
@click.option("--password", default=None, help="Prompted for when omitted.")
@click.option("--display-name", default="")
@click.option(
    "--offices", default="", help="A province user's offices, as ids separated by commas."
)
@reports_errors
def user_add(db_path, name, role, office_id, password, display_name, offices):
    """Add a user with a role, in an office (a province user: in none, reading --offices)."""
    if password is None:
        password = click.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)
    user_id = accounts.add_user(
        open_db(db_path),
        name,
        role,
        office_id,
        password,
        display_name,
        offices=_office_ids(offices),
    )
    click.echo(f"user {name} ({role}) id={user_id}")


def _office_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter("office ids separated by commas, e.g. 1,2,3") from None


@user.command("offices")
@db_option
@click.argument("name")
@click.argument("office_ids", nargs=-1, type=int)
@reports_errors
def user_offices(db_path, name, office_ids):
    """Give province user NAME the offices it may read (replacing those it had)."""
    db = open_db(db_path)
    found = people.find_user(db, name)
    if found is None:
        raise click.ClickException(f"Không có người dùng '{name}' / No user '{name}'")
    given = accounts.set_user_offices(db, found["id"], list(office_ids))
    click.echo(f"user {name} reads offices {', '.join(map(str, given)) or '(none)'}")


@click.group()
def token():
    """Manage API tokens."""


@token.command("add")
@db_option
@click.argument("name")
@reports_errors
def token_add(db_path, name):
    """Print a new bearer token for user NAME."""
    click.echo(accounts.add_user_token(open_db(db_path), name))


@token.command("list")
@db_option
@click.argument("name")
@reports_errors
def token_list(db_path, name):
    """List user NAME's API tokens: id, name, created, last used, revoked."""
    db = open_db(db_path)
    found = people.find_user(db, name)
    if found is None:
        raise click.ClickException(f"Không có người dùng '{name}' / No user '{name}'")
    for t in people.user_tokens(db, found["id"]):
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        click.echo(
            f"{t['id']}\t{t['name'] or '-'}\tcreated {t['created_at']}\t"
            f"last used {t['last_used_at'] or '-'}\t{state}"
        )


@token.command("revoke")
@db_option
@click.argument("token_id", type=int)
@reports_errors
def token_revoke(db_path, token_id):
    """Revoke API token TOKEN_ID: refused from its next request, its sockets disconnected."""
    accounts.revoke_user_token(open_db(db_path), token_id)
    click.echo(f"token {token_id} revoked / đã thu hồi")


@click.group()
def device():
    """Manage paired devices."""


@device.command("add")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--kind", type=click.Choice(accounts.DEVICE_KINDS), required=True)
@click.option("--name", default="")
@click.option(
    "--counter", "counter_id", type=int, default=None, help="A rating tablet's counter id."
)
@reports_errors
def device_add(db_path, office_id, kind, name, counter_id):
    """Pair a device to an office and print its token (a rating tablet: to a counter)."""
    _, tok = accounts.add_device(open_db(db_path), office_id, kind, name, counter_id=counter_id)
    click.echo(tok)


def register(cli: click.Group) -> None:
    """Add these groups to the ``xephang`` group."""
    for group in (user, token, device):
        cli.add_command(group)
