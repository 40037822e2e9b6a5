"""``xephang init | serve | demo``: the database and the production server."""

from __future__ import annotations

import logging
import os

import click

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
    """Create (or migrate) the database."""
    open_db(db_path).close()
    click.echo(f"Cơ sở dữ liệu sẵn sàng / database ready: {db_path}")


def run_server(db_path: str, host: str, port: int, extra: dict | None = None) -> None:
    """Build the app for this database and serve it until interrupted."""
    from .. import create_app
    from ..web.extensions import socketio
    from ..web.serving import run_production

    config = {"DB": os.path.abspath(db_path), "ASYNC_MODE": "gevent", **(extra or {})}
    config.setdefault("PUBLIC_URL", os.environ.get("XEPHANG_PUBLIC_URL") or f"http://{host}:{port}")
    app = create_app(config)
    # The process, not the factory, decides how it logs.
    logging.basicConfig(level=getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO))
    run_production(app, socketio, host, port)


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
def serve(db_path, host, port, message_queue):
    """Run the server (gevent, WebSockets) on HOST:PORT."""
    open_db(db_path).close()
    click.echo(f"xephang serving http://{host}:{port}/  (database {db_path})")
    run_server(db_path, host, port, {"MESSAGE_QUEUE": message_queue} if message_queue else None)


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@message_queue_option
def demo(db_path, host, port, message_queue):
    """Create a demo office (if needed) and serve it with the virtual printer."""
    from .demo import seed_demo

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
    for command in (init, serve, demo):
        cli.add_command(command)
