"""The ``xephang`` command: parse arguments, call the library, report.

Like sqlite-utils' ``cli.py``: commands only parse and print; the work is
done by ``engine``, ``queries`` and ``reports``. Every command reads the
database path from ``--db PATH`` or ``XEPHANG_DB`` (default
``instance/xephang.db``). Groups: ``server`` (init, serve, demo), ``people``
(user, token, device), ``office`` (office add / settings / set), ``data``
(verify-log, close-day, report, purge, settings); rooms add their own
(``printer``, ``voice``) through the composition root (``commands``).

Importing this package imports nothing else: a serving command patches the
standard library for gevent before the app (and with it ``ssl``, through
the notifiers' HTTP clients) is imported; gevent warns, and TLS clients may
recurse, when ``ssl`` was imported first.
"""

from __future__ import annotations

import sys

SERVING_COMMANDS = {"serve", "demo"}


def main(argv: list[str] | None = None) -> None:
    """Console entry point; patches for gevent first when the command serves."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SERVING_COMMANDS:
        from gevent import monkey

        monkey.patch_all()
    from .commands import cli

    cli.main(args=args, prog_name="xephang")


def __getattr__(name: str):
    if name == "cli":  # ``from xephang.cli import cli`` (tests, CliRunner)
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "main"]
