"""The hand-off from committed engine events to whoever broadcasts them.

The engine never emits. Views call ``xephang.web.publish(outcome)`` after a commit;
the hub passes the events to its subscribers in order. The realtime module
subscribes to emit them to Socket.IO rooms; tests can subscribe to watch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Hub:
    """Fan-out of committed events to subscribers; a failing subscriber never fails a request."""

    def __init__(self) -> None:
        self.subscribers: list[Callable[[list[dict]], None]] = []

    def subscribe(self, fn: Callable[[list[dict]], None]) -> None:
        """Call ``fn(events)`` with every batch of committed events."""
        self.subscribers.append(fn)

    def publish(self, events: list[dict]) -> None:
        """Hand committed events to every subscriber, in order."""
        for fn in self.subscribers:
            try:
                fn(events)
            except Exception:  # the events are committed; broadcasting is best effort
                log.exception("hub subscriber %r failed", fn)
