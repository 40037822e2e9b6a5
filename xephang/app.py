"""The composition root: ``create_app()`` wires settings, storage, extensions, rooms, workers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import load_settings
from .storage import connect, migrate


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id SQLite can store, else the route does not match
    (404), instead of an OverflowError deep in a query."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def _secret_key(settings: dict, db_folder: Path) -> str:
    """SECRET_KEY, or the key in SECRET_KEY_FILE, or one generated next to the database."""
    if settings["SECRET_KEY"]:
        return settings["SECRET_KEY"]
    path = (
        Path(settings["SECRET_KEY_FILE"])
        if settings["SECRET_KEY_FILE"]
        else (db_folder / "secret_key")
    )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def socket_origins(settings: dict) -> list[str] | str:
    """The origins a browser may open sockets from: SOCKET_ORIGINS, else PUBLIC_URL's."""
    if settings["SOCKET_ORIGINS"].strip() == "*":
        return "*"
    listed = [o.strip().rstrip("/") for o in settings["SOCKET_ORIGINS"].split(",") if o.strip()]
    if listed:
        return listed
    public = urlsplit(settings["PUBLIC_URL"])
    return [f"{public.scheme}://{public.netloc}"]


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, database migrations, rooms and the realtime hub."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = IdConverter
    settings = load_settings(Path(app.instance_path), config)
    db_path = Path(settings["DB"])
    if not db_path.is_absolute():
        db_path = Path.cwd() / db_path
    settings["DB"] = str(db_path)
    app.config.update(settings)
    app.config["SECRET_KEY"] = _secret_key(settings, db_path.parent)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if str(settings["PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.json.ensure_ascii = False

    db = connect(settings["DB"], settings["BUSY_TIMEOUT_MS"])
    try:
        migrate(db)
    finally:
        db.close()

    from .web import (
        api,
        auth,
        context,
        errors,
        logs,
        metrics,
        realtime,
        redis_queue,
        security,
        shared,
    )
    from .web.extensions import socketio
    from .web.hub import Hub

    app.extensions["xephang.hub"] = Hub()
    logs.init_app(app)
    context.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(shared.bp)
    app.register_blueprint(api.bp)
    metrics.init_app(app)
    for room in rooms():
        app.register_blueprint(room.bp)
    socketio.init_app(
        app,
        async_mode=settings.get("ASYNC_MODE") or None,
        cors_allowed_origins=socket_origins(settings),
        **redis_queue.queue_options(settings["MESSAGE_QUEUE"]),
    )
    realtime.init_app(app)
    import printers

    printers.init_app(app)  # the print spooler; its workers start unless TESTING
    import notifiers

    notifiers.init_app(app)  # the outbox worker; starts unless TESTING
    return app


def rooms() -> list:
    """The user-facing rooms, each a package with a blueprint ``bp``."""
    import booking
    import counter
    import display
    import kiosk
    import manager

    return [kiosk, booking, counter, display, manager]


def room_commands() -> list:
    """Command groups that live with their room (``xephang printer``, ``xephang voice``,
    ``xephang notify``, ``xephang webhook``)."""
    from display.cli import voice
    from notifiers.cli import notify, webhook
    from printers.cli import printer

    return [printer, voice, notify, webhook]


def prepare_instance(db_path: str) -> list[str]:
    """What ``xephang init`` makes beyond the schema (the Web Push key pair); the lines
    to print."""
    import notifiers

    return [notifiers.prepare_instance(db_path)]
