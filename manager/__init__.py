"""The manager room: live dashboard, reports, the wait-time log, exports and setup."""

from . import estimates, events, printed, setup  # noqa: F401  (register handlers and pages)
from .views import bp

__all__ = ["bp"]
