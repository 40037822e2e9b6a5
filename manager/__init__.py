"""The manager room: live dashboard, reports, the wait-time log, satisfaction (QĐ 766) and
comments, the province view, exports and setup."""

from . import events, printed, province, satisfaction, setup  # noqa: F401  (register pages)
from .views import bp

__all__ = ["bp"]
