"""The ``xephang`` command: parse arguments, call the library, report.

Like sqlite-utils' ``cli.py``: commands only parse and print; the work is
done by ``engine``, ``queries`` and ``reports``. Every command reads the
database path from ``--db PATH`` or ``XEPHANG_DB`` (default
``instance/xephang.db``). Groups: ``server`` (init, serve, demo), ``people``
(user, token, device), ``office`` (office add / settings / set), ``data``
(verify-log, close-day, report, purge, settings), ``ops`` (backup, restore),
``setup`` (apply, export); rooms add their own
(``printer``, ``voice``) through the composition root.
"""

from __future__ import annotations

import sys

from . import data, office, ops, people, server, setup
from .base import cli

# Patched for gevent before anything else runs; `serve` patches itself when it serves in
# this process (with --workers N it supervises worker processes and stays unpatched).
SERVING_COMMANDS = {"demo", "serve-worker"}


def _add_commands() -> None:
    for module in (server, people, office, data, ops, setup):
        module.register(cli)
    from ..app import room_commands

    for group in room_commands():
        cli.add_command(group)


_add_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point; patches for gevent first when the command serves."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SERVING_COMMANDS:
        from gevent import monkey

        monkey.patch_all()
    cli.main(args=args, prog_name="xephang")


__all__ = ["cli", "main"]
