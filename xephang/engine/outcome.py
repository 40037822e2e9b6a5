"""What an engine operation hands back: the ticket it left, and the events it logged."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from .lookups import get_office
from .outbox import record_events
from .views import event_view, ticket_views


@dataclass
class Outcome:
    """The result of one operation. The caller hands ``events`` to the realtime hub
    after the commit; ``ticket`` is the private view of the ticket it acted on;
    ``messages``: it wrote work for the outbox worker (wake it after the commit)."""

    ticket: dict | None = None
    events: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    messages: bool = False


def outcome_for(
    db: sqlite_utils.Database, office: dict | int, raw_events: list[dict], ticket_id: int | None
) -> Outcome:
    """Build the Outcome of an operation after its writes (still inside the transaction),
    and queue the messages its events cause (``outbox.record_events``) in that same
    transaction: a committed event always has its messages, a rolled-back one none.

    ``office`` is the office's row, or its id when the caller has not read the row: the
    events need only its id and zone, which the ticket's view query brings."""
    private = None
    public_views: dict[int, dict] = {}
    if ticket_id:
        row, public_views[ticket_id], private = ticket_views(db, ticket_id)
    if not isinstance(office, dict):
        office = (
            {"id": office, "timezone": row["v_timezone"]} if ticket_id else get_office(db, office)
        )
    events = []
    for raw in raw_events:
        other = raw["ticket_id"]
        if other and other not in public_views:
            public_views[other] = ticket_views(db, other)[1]
        events.append(event_view(raw, public_views.get(other), office["timezone"]))
    messages = record_events(db, office, raw_events, events)
    return Outcome(ticket=private, events=events, messages=messages)
