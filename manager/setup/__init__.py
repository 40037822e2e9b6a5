"""Setup pages: offices, services, counters, users, devices, priority, targets, settings.

Admins set up everything; managers set up their own office (not users, not
new offices). Every form carries the CSRF token, every change goes through
an engine or accounts function, is written to the setup audit, and a
refused change re-renders the form with the reason in Vietnamese.

``forms`` holds the shared form helpers; the pages are split by what they set
up: ``offices`` (the office, services, counters), ``people`` (users, devices)
and ``rules`` (priority, targets, settings). All register on the manager
blueprint, so endpoints stay ``manager.setup_*``.
"""

from . import offices, people, rules  # noqa: F401  (register the setup views)
from .rules import SETTING_FIELDS, parse_rating_scale

__all__ = ["SETTING_FIELDS", "parse_rating_scale"]
