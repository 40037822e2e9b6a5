"""The manager room: live dashboard, reports, the wait-time log, exports and setup."""

from . import events, setup  # noqa: F401  (register the Socket.IO handlers and setup views)
from .views import bp

__all__ = ["bp"]
