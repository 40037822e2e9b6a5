"""The counter room: the officer's screen and the counter's rating tablet."""

from . import events, rating  # noqa: F401  (register the Socket.IO handlers and the tablet)
from .views import bp

__all__ = ["bp"]
