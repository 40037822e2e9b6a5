"""The application factory."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from .config import load_settings
from .db import connect
from .errors import register_error_handlers
from .extensions import socketio
from .hub import Hub
from .schema import migrate


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
    instance = Path(app.instance_path)
    settings = load_settings(instance, config)
    db_path = Path(settings["DB"])
    if not db_path.is_absolute():
        db_path = Path.cwd() / db_path
    settings["DB"] = str(db_path)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"] or _secret_key(db_path.parent)
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(days=30))
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    logging.basicConfig(level=getattr(logging, str(settings["LOG_LEVEL"]).upper(), logging.INFO))

    db = connect(settings["DB"], settings["BUSY_TIMEOUT_MS"])
    try:
        migrate(db)
    finally:
        db.close()

    from . import api, auth, web

    app.teardown_appcontext(web.close_db)
    app.extensions["xephang.hub"] = Hub()
    register_error_handlers(app)
    auth.init_auth(app)
    app.register_blueprint(api.bp)

    from counter import bp as counter_bp
    from display import bp as display_bp
    from kiosk import bp as kiosk_bp
    from manager import bp as manager_bp

    for bp in (kiosk_bp, counter_bp, display_bp, manager_bp):
        app.register_blueprint(bp)

    socketio.init_app(
        app,
        async_mode=settings.get("ASYNC_MODE") or None,
        message_queue=settings["MESSAGE_QUEUE"] or None,
        cors_allowed_origins=[],
    )
    from . import realtime

    realtime.init_realtime(app)
    import printers

    printers.init_app(app)  # the print spooler; its workers start unless TESTING

    @app.route("/")
    def home():
        """Landing page listing the rooms."""
        from flask import render_template

        return render_template("xephang/home.html")

    home.allowed = ("public",)
    return app
