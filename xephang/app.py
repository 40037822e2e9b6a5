"""The composition root: ``create_app()`` wires settings, storage, extensions, rooms, workers."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from .config import load_settings
from .storage import connect, migrate


def _secret_key(instance_path: Path) -> str:
    """A persistent random key for this installation when none is configured."""
    path = instance_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, database migrations, rooms and the realtime hub."""
    app = Flask(__name__, instance_relative_config=True)
    settings = load_settings(Path(app.instance_path), config)
    db_path = Path(settings["DB"])
    if not db_path.is_absolute():
        db_path = Path.cwd() / db_path
    settings["DB"] = str(db_path)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"] or _secret_key(db_path.parent)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.json.ensure_ascii = False

    db = connect(settings["DB"], settings["BUSY_TIMEOUT_MS"])
    try:
        migrate(db)
    finally:
        db.close()

    from .web import api, auth, context, errors, realtime, shared
    from .web.extensions import socketio
    from .web.hub import Hub

    app.extensions["xephang.hub"] = Hub()
    context.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(shared.bp)
    app.register_blueprint(api.bp)
    for room in rooms():
        app.register_blueprint(room.bp)
    socketio.init_app(
        app,
        async_mode=settings.get("ASYNC_MODE") or None,
        message_queue=settings["MESSAGE_QUEUE"] or None,
        cors_allowed_origins=[],
    )
    realtime.init_app(app)
    import printers

    printers.init_app(app)  # the print spooler; its workers start unless TESTING
    return app


def rooms() -> list:
    """The user-facing rooms, each a package with a blueprint ``bp``."""
    import counter
    import display
    import kiosk
    import manager

    return [kiosk, counter, display, manager]


def room_commands() -> list:
    """Command groups that live with their room (``xephang printer``, ``xephang voice``)."""
    from display.cli import voice
    from printers.cli import printer

    return [printer, voice]
