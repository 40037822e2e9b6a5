"""The display room."""

from .views import bp

__all__ = ["bp"]
