"""The counter room."""

from . import events  # noqa: F401  (registers the Socket.IO handlers)
from .views import bp

__all__ = ["bp"]
