"""Every ``xephang`` command on one click group: the core's groups, then the rooms'."""

from __future__ import annotations

from . import data, office, ops, people, server, setup
from .base import cli


def _add_commands() -> None:
    for module in (server, people, office, data, ops, setup):
        module.register(cli)
    from ..app import room_commands

    for group in room_commands():
        cli.add_command(group)


_add_commands()

__all__ = ["cli"]
