"""The booking room: online numbers and appointments, mobile-first public pages."""

from . import views  # noqa: F401  (routes register on the blueprint)
from .blueprint import bp

__all__ = ["bp"]
