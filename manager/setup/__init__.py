"""Setup pages: offices, services, counters, users, devices, priority, targets, settings.

Admins set up everything; managers set up their own office (not users, not
new offices). Every form carries the CSRF token, every change goes through
an engine function that writes the setup audit in the same transaction, and
a refused change re-renders the form with the reason in Vietnamese.

``forms`` holds the shared form helpers; the pages are split by what they set
up: ``offices`` (the office, services, counters), ``people`` (users, devices)
and ``rules`` (priority, targets, settings). All register on the manager
blueprint, so endpoints stay ``manager.setup_*``.
"""

from . import booking, messages, offices, people, rules  # noqa: F401  (register the views)
