"""The ``xephang`` command: parse arguments, call the library, report.

Like sqlite-utils' ``cli.py``: commands only parse and print; the work is
done by ``engine``, ``queries`` and ``reports``. Every command reads the
database path from ``--db PATH`` or ``XEPHANG_DB`` (default
``instance/xephang.db``). Groups: ``server`` (init, serve, demo), ``people``
(user, token, device), ``office`` (office add / settings / set), ``data``
(verify-log, close-day, report, purge, settings), ``ops`` (backup, restore),
``setup`` (apply, export); rooms add their own (``printer``, ``voice``)
through the composition root (``commands``).

Importing this package imports nothing else: a command that serves in this
process patches the standard library for gevent before the app (and with it
``ssl``, through the notifiers' HTTP clients) is imported; gevent warns, and
TLS clients may recurse, when ``ssl`` was imported first.
"""

from __future__ import annotations

import os
import sys

# demo and serve-worker always serve in this process; serve does unless it supervises
# worker processes (--workers N > 1 or --worker-ports), which stays unpatched.
ALWAYS_SERVING = {"demo", "serve-worker"}


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def serves_here(args: list[str]) -> bool:
    """Whether this command line serves HTTP in this process (so gevent must patch first)."""
    if not args:
        return False
    if args[0] in ALWAYS_SERVING:
        return True
    if args[0] != "serve":
        return False
    return _option(args, "--workers") in (None, "1") and _option(args, "--worker-ports") is None


def patch_for_gevent() -> None:
    """Make this process a gevent server: the standard library patched (once), and
    greenlets that do not record where they were spawned (``spawning_stack``: ~20 objects
    a greenlet, two greenlets a socket; 7% of a socket's memory and more for every full
    garbage collection to walk) unless ``GEVENT_TRACK_GREENLET_TREE`` says otherwise."""
    from gevent import config, monkey

    if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
        config.track_greenlet_tree = False
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


def main(argv: list[str] | None = None) -> None:
    """Console entry point; patches for gevent first when the command serves here."""
    args = sys.argv[1:] if argv is None else argv
    if serves_here(args):
        patch_for_gevent()
    from .commands import cli

    cli.main(args=args, prog_name="xephang")


def __getattr__(name: str):
    if name == "cli":  # ``from xephang.cli import cli`` (tests, CliRunner)
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "main", "patch_for_gevent"]
