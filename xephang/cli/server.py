"""``xephang init | serve | demo``: the database and the production server."""

from __future__ import annotations

import os

import click

from . import patch_for_gevent
from .base import db_option, open_db

message_queue_option = click.option(
    "--message-queue",
    "message_queue",
    envvar="XEPHANG_MESSAGE_QUEUE",
    default="",
    help="Socket.IO message queue (redis://HOST:PORT/N) shared by several server processes"
    " (env XEPHANG_MESSAGE_QUEUE).",
)


@click.command()
@db_option
def init(db_path):
    """Create (or migrate) the database and the Web Push (VAPID) key pair."""
    from ..app import prepare_instance

    open_db(db_path).close()
    click.echo(f"Cơ sở dữ liệu sẵn sàng / database ready: {db_path}")
    for line in prepare_instance(db_path):
        click.echo(line)


def build_app(db_path: str, host: str, port: int, extra: dict | None = None):
    """The app for this database as a server process runs it, its logging configured."""
    from .. import create_app
    from ..storage.backup import hold_serving_lock
    from ..web.logs import configure_logging

    hold_serving_lock(db_path)  # `xephang restore` refuses while this process lives
    config = {"DB": os.path.abspath(db_path), "ASYNC_MODE": "gevent", **(extra or {})}
    config.setdefault("PUBLIC_URL", os.environ.get("XEPHANG_PUBLIC_URL") or f"http://{host}:{port}")
    app = create_app(config)
    # The process, not the factory, decides how it logs.
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    return app


def run_server(db_path: str, host: str, port: int, extra: dict | None = None) -> None:
    """Build the app for this database and serve it until interrupted."""
    from ..web.extensions import socketio
    from ..web.serving import run_production

    run_production(build_app(db_path, host, port, extra), socketio, host, port)


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web worker processes sharing the port (more than 1 needs the message queue).",
)
@click.option(
    "--worker-ports",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also let web worker i listen alone on port BASE+i (sticky routing in a proxy).",
)
def serve(db_path, host, port, message_queue, workers, worker_ports):
    """Run the server (gevent, WebSockets) on HOST:PORT."""
    if (workers > 1 or worker_ports) and not message_queue:
        # (worker processes, even one, print from a process of their own: its events and
        # wake-ups cross through Redis)
        raise click.UsageError(
            "--workers > 1 cần hàng đợi tin nhắn Redis: đặt XEPHANG_MESSAGE_QUEUE="
            "redis://HOST:6379/0 (hoặc --message-queue). / Several workers need the Redis "
            "message queue: set XEPHANG_MESSAGE_QUEUE=redis://HOST:6379/0 (or --message-queue)."
        )
    open_db(db_path).close()
    if workers == 1 and worker_ports is None:
        patch_for_gevent()
        click.echo(f"xephang serving http://{host}:{port}/  (database {db_path})")
        run_server(db_path, host, port, {"MESSAGE_QUEUE": message_queue} if message_queue else None)
        return
    if message_queue:
        try:
            import redis  # noqa: F401  (Flask-SocketIO's Redis queue needs it)
        except ImportError:
            raise click.UsageError(
                "Cần gói redis: pip install 'xephang[redis]' / the redis package is needed"
            ) from None
    from ..storage.backup import hold_serving_lock
    from ..web.logs import configure_logging
    from ..web.workers import Supervisor

    hold_serving_lock(db_path)
    configure_logging(
        os.environ.get("XEPHANG_LOG_LEVEL", "INFO"), os.environ.get("XEPHANG_LOG_FORMAT", "text")
    )
    click.echo(f"xephang serving http://{host}:{port}/ with {workers} workers (database {db_path})")
    supervisor = Supervisor(
        os.path.abspath(db_path), host, port, workers, message_queue, worker_ports
    )
    raise SystemExit(supervisor.run())


@click.command(name="serve-worker", hidden=True)
@db_option
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--role", type=click.Choice(["web", "background"]), required=True)
@click.option("--slot", type=int, default=0)
@click.option("--fd", type=int, required=True, help="The listening socket, inherited.")
@click.option("--own-port", type=int, default=None)
def serve_worker(db_path, host, port, role, slot, fd, own_port):
    """One process of `xephang serve --workers N` (started by it, not by hand)."""
    import socket

    from ..web import workers
    from ..web.extensions import socketio
    from ..web.serving import run_production

    listener = socket.socket(fileno=fd)
    if role == "background":
        listener.close()  # serves no HTTP
        app = build_app(db_path, host, port, {"BACKGROUND_WORKERS": True})
        workers.run_background(app)
        return
    # No background worker here: the print spooler and the notifiers' outbox worker run
    # in the background process only; wake-ups go there (forward_wakes).
    app = build_app(db_path, host, port, {"BACKGROUND_WORKERS": False, "WORKER_SLOT": slot})
    if app.config.get("MESSAGE_QUEUE"):
        workers.forward_wakes(app)
    run_production(app, socketio, host, port, listener, [own_port] if own_port else [])


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
def demo(db_path, host, port, message_queue):
    """Create a demo office (if needed) and serve it with the virtual printer."""
    from .demo import seed_demo

    patch_for_gevent()
    db = open_db(db_path)
    info = seed_demo(db)
    db.close()
    base = f"http://{host}:{port}"
    click.echo(f"""
xephang demo — {base}/
  Kiosk (lấy số):        {base}/kiosk/pair?token={info["kiosk_token"]}
  Quầy (counter):        {base}/counter/
  Bảng hiển thị (TV):    {base}/display/pair?token={info["display_token"]}
  Bảng công khai:        {base}/display/board/{info["board_id"]}
  Máy đánh giá quầy 1:   {base}/counter/rating/pair?token={info["rating_token"]}
  Quản lý (manager):     {base}/manager/
  Toàn tỉnh (province):  {base}/manager/province
  Đăng nhập / logins (mật khẩu / password: {info["password"]}):
    admin (admin), quanly (manager), canbo1 … canbo6 (officers), tinh (province, read-only)
  Máy in ảo / virtual printer: PNG tickets in {os.path.dirname(os.path.abspath(db_path))}/printed/
""")
    extra = {"MESSAGE_QUEUE": message_queue} if message_queue else {}
    run_server(db_path, host, port, {"PRINTER": "virtual", **extra})


def register(cli: click.Group) -> None:
    """Add these commands to the ``xephang`` group."""
    for command in (init, serve, serve_worker, demo):
        cli.add_command(command)
