"""The manager room: live dashboard, reports, the wait-time log, satisfaction (QĐ 766) and
comments, the province view, exports and setup."""

from . import (  # noqa: F401  (register handlers and pages)
    estimates,
    events,
    printed,
    province,
    satisfaction,
    setup,
)
from .views import bp

__all__ = ["bp"]
