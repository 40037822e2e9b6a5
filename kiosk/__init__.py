"""The kiosk room: the touch screen that issues tickets, and the ticket tracker."""

from . import tracker, views  # noqa: F401  (routes register on the blueprint)
from .blueprint import bp

__all__ = ["bp"]
