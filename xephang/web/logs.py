"""Logs a machine can read: one JSON object a line (``LOG_FORMAT=json``), each request
with an id.

Every request gets an id: the ``X-Request-Id`` it came with (a proxy's, e.g. nginx's
``$request_id``) when that is a short token, else a new one. It is sent back in the
answer's ``X-Request-Id``, is on every log line written while the request runs, and
on the access line written when it ends (``xephang.access``: method, path, status,
milliseconds, the client's address: ``context.client_address``). The process that
serves configures logging (``configure_logging``), never the app factory.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

from .context import client_address

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
access_log = logging.getLogger("xephang.access")
STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def current_request_id() -> str | None:
    """This request's id (None outside a request)."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Puts the request id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request id, the
    record's extra fields, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Set up the process's root logger: text (the default) or JSON lines on stderr."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if str(fmt).lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))


def _begin() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_began = time.perf_counter()


def _end(response):
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if access_log.isEnabledFor(logging.INFO) and request.path != "/metrics":
        began = g.get("request_began")
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - began) * 1000, 2) if began else None,
                "client": client_address(),
            },
        )
    return response


def init_app(app: Flask) -> None:
    """Give each request an id, send it back, and log each request once it is answered."""
    app.before_request(_begin)
    app.after_request(_end)
