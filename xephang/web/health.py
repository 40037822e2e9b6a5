"""``GET /api/v1/health``: whether this server can do its work, for a load balancer.

Checks, each ``{"ok": bool, ...}``:

- ``database``: a query answers (and how long it took);
- ``spooler``: the print workers run, in this process or, with `xephang serve
  --workers N`, in the background worker (its heartbeat in Redis); ``off`` when this
  install prints nowhere (PRINT_WORKER off, or no printer);
- ``outbox``: the notifiers' outbox worker, in this process or, with `xephang serve
  --workers N`, in the background worker (its heartbeat); ``off`` here when
  NOTIFY_WORKER is off (`xephang notify run` sends instead). Wherever it runs, not
  well when a message has waited past its due time by more than five minutes
  (``queries.messages.WORKER_LATE_S``)
  (no worker is working), or when a line's move has waited as long for its "near"
  messages to be written (``outbox_moves``); ``queued`` and ``late`` count the
  messages, ``moves`` and ``moves_late`` the lines;
- ``message_queue``: Redis answers a PING, when one is configured.

A part may replace a check with its own (``register_check(app, name, fn)``).
The answer is 200 when every check is ok, else 503; the body is the same either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app

from ..queries.messages import pending_messages, pending_moves
from .context import get_db

CHECKS = ("database", "spooler", "outbox", "message_queue")


def register_check(app: Flask, name: str, check: Callable[[], dict]) -> None:
    """Let a part of the app report on itself: ``check()`` returns ``{"ok": bool, ...}``."""
    app.extensions.setdefault("xephang.health_checks", {})[name] = check


def _database() -> dict:
    began = time.perf_counter()
    get_db().execute("SELECT count(*) FROM offices").fetchone()
    return {"ok": True, "ms": round((time.perf_counter() - began) * 1000, 2)}


def _spooler() -> dict:
    app = current_app
    spooler = app.extensions.get("xephang.spooler")
    if spooler is None or not spooler.workers or not app.config.get("PRINT_WORKER"):
        return {"ok": True, "state": "off"}
    if spooler.started:
        return {
            "ok": spooler.alive(),
            "state": "running" if spooler.alive() else "stopped",
            "in": "this process",
            "printers": len(spooler.workers),
        }
    if not app.config.get("BACKGROUND_WORKERS", True) and app.config.get("MESSAGE_QUEUE"):
        from .workers import background_state

        return background_state(app)
    if app.testing:
        return {"ok": True, "state": "not started (testing)"}
    return {"ok": False, "state": "not running"}


def _outbox() -> dict:
    app, db = current_app, get_db()
    messages = pending_messages(db)
    queued, late = messages["queued"], messages["late"]
    moves = pending_moves(db)
    notifier = app.extensions.get("xephang.notifier")
    if notifier is not None and notifier.running:
        alive = notifier.alive()
        worker = {"ok": alive, "state": "running" if alive else "stopped", "in": "this process"}
    elif not app.config.get("BACKGROUND_WORKERS", True) and app.config.get("MESSAGE_QUEUE"):
        from .workers import background_state

        worker = background_state(app, "outbox")
    elif app.testing:
        worker = {"ok": True, "state": "not started (testing)"}
    else:
        worker = {"ok": True, "state": "off here (NOTIFY_WORKER)"}
    return {
        **worker,
        "ok": worker["ok"] and late == 0 and moves["late"] == 0,
        "queued": queued,
        "late": late,
        "moves": moves["pending"],
        "moves_late": moves["late"],
    }


def _message_queue() -> dict:
    url = current_app.config.get("MESSAGE_QUEUE")
    if not url:
        return {"ok": True, "state": "not used"}
    from .workers import redis_client

    began = time.perf_counter()
    redis_client(url).ping()
    return {"ok": True, "ms": round((time.perf_counter() - began) * 1000, 2)}


def report() -> tuple[bool, dict]:
    """(all well, each check's answer)."""
    registered = current_app.extensions.get("xephang.health_checks", {})
    builtin = {
        "database": _database,
        "spooler": _spooler,
        "outbox": _outbox,
        "message_queue": _message_queue,
    }
    answers = {}
    for name in CHECKS:
        check = registered.get(name) or builtin[name]
        try:
            answers[name] = check()
        except Exception as err:  # a failing check is an answer, not a 500
            answers[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:200]}
    for name, check in registered.items():
        if name not in answers:
            try:
                answers[name] = check()
            except Exception as err:
                answers[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:200]}
    return all(a.get("ok") for a in answers.values()), answers
