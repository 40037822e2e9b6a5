"""The kiosk room."""

from .views import bp

__all__ = ["bp"]
