"""``xephang notify run|status`` and ``xephang webhook add|list|remove``."""

from __future__ import annotations

import json
import os
import signal
import threading

import click

from xephang.errors import QueueError

db_option = click.option(
    "--db",
    "db_path",
    envvar="XEPHANG_DB",
    default="instance/xephang.db",
    show_default=True,
    help="SQLite database file (env XEPHANG_DB).",
)


def _open(db_path: str):
    from xephang.storage import connect, migrate

    db = connect(db_path)
    migrate(db)
    return db


@click.group()
def notify():
    """Messages to citizens and webhooks (tin nhắn đi)."""


@notify.command("run")
@db_option
def notify_run(db_path):
    """Run only the outbox worker (for servers started with XEPHANG_NOTIFY_WORKER=0)."""
    from xephang import create_app

    from . import get_notifier

    app = create_app({"DB": os.path.abspath(db_path), "NOTIFY_WORKER": False})
    notifier = get_notifier(app)
    notifier.start()
    names = ", ".join(sorted(notifier.channels))
    click.echo(f"Đang gửi tin nhắn / outbox worker running, channels: {names} (Ctrl+C to stop)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    notifier.stop()


@notify.command("status")
@db_option
@click.option("--office", "office_id", type=int, required=True)
def notify_status(db_path, office_id):
    """The office's outbox as the dashboard shows it (queued, failed in the last hour, by
    channel, channels that keep failing), as JSON."""
    from xephang.queries.messages import outbox_status

    click.echo(json.dumps(outbox_status(_open(db_path), office_id), ensure_ascii=False, indent=2))


@click.group()
def webhook():
    """Signed webhooks of an office (docs/webhooks.md)."""


@webhook.command("add")
@db_option
@click.option("--office", "office_id", type=int, required=True)
@click.option("--url", required=True, help="http(s) address that receives each event.")
@click.option(
    "--events",
    default="*",
    show_default=True,
    help="Event types, comma-separated (called,finished,...); * for all.",
)
def webhook_add(db_path, office_id, url, events):
    """Register a webhook; print its id and its signing secret (shown only here)."""
    from xephang.engine.outbox import add_webhook

    try:
        hook_id, secret = add_webhook(_open(db_path), office_id, url, events)
    except QueueError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"id: {hook_id}")
    click.echo(f"secret: {secret}")


@webhook.command("list")
@db_option
@click.option("--office", "office_id", type=int, default=None, help="All offices if omitted.")
def webhook_list(db_path, office_id):
    """Every webhook: id, office, URL, events, last status, consecutive failures."""
    from xephang.queries.messages import webhooks

    for h in webhooks(_open(db_path), office_id):
        state = "active" if h["active"] else "removed"
        last = h["last_status"] or "-"
        click.echo(
            f"{h['id']}\toffice {h['office_id']}\t{h['url']}\t{','.join(h['events'])}\t{state}"
            f"\tlast {last} at {h['last_attempt_at'] or '-'}\tfailures {h['failures']}"
            + (f"\t{h['last_error']}" if h["last_error"] else "")
        )


@webhook.command("remove")
@db_option
@click.argument("hook_id", type=int)
def webhook_remove(db_path, hook_id):
    """Stop a webhook (what is still queued for it is not sent)."""
    from xephang.engine.outbox import remove_webhook

    try:
        remove_webhook(_open(db_path), hook_id)
    except QueueError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"webhook {hook_id} removed / đã gỡ")
