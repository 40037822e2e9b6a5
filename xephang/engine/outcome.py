"""What an engine operation hands back: the ticket it left, and the events it logged."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from .views import event_view, ticket_views


@dataclass
class Outcome:
    """The result of one operation. The caller hands ``events`` to the realtime hub
    after the commit; ``ticket`` is the private view of the ticket it acted on."""

    ticket: dict | None = None
    events: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def outcome_for(
    db: sqlite_utils.Database, office: dict, raw_events: list[dict], ticket_id: int | None
) -> Outcome:
    """Build the Outcome of an operation after its writes (still inside the transaction)."""
    private = None
    public_views: dict[int, dict] = {}
    if ticket_id:
        _, public_views[ticket_id], private = ticket_views(db, ticket_id)
    events = []
    for raw in raw_events:
        other = raw["ticket_id"]
        if other and other not in public_views:
            public_views[other] = ticket_views(db, other)[1]
        events.append(event_view(raw, public_views.get(other), office["timezone"]))
    return Outcome(ticket=private, events=events)
