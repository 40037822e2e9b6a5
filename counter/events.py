"""Socket.IO handlers of the counter screen.

The counter page connects with its session cookie and ``auth={"counter": id}``
(which joins ``office:<id>`` and ``counter:<id>``); actions go through the
JSON API. These handlers only read.
"""

from __future__ import annotations

from xephang.errors import QueueError
from xephang.queries import queue as queue_queries
from xephang.web import get_db
from xephang.web.extensions import socketio
from xephang.web.realtime import this_client


@socketio.on("counter_sync")
def counter_sync(data=None):
    """Sent by a counter screen with ``{"counter": id}``; the ack is that counter's own state.

    Its services, the next tickets (the one call-next would take first) and
    the officer's figures today. Nothing is emitted to anyone else.
    """
    client = this_client()
    data = data if isinstance(data, dict) else {}
    if client is None or not client.is_staff:
        return {"ok": False, "status": 403, "error": "staff only"}
    try:
        counter_id = int(data.get("counter"))
        state = queue_queries.counter_state(get_db(), counter_id, client.principal.user_id)
    except QueueError as err:
        return {"ok": False, "status": err.status, "error": err.message}
    except (TypeError, ValueError):
        return {"ok": False, "status": 400, "error": "give counter"}
    if not client.principal.may_access_office(state["office_id"]):
        return {"ok": False, "status": 403, "error": "other office"}
    return {"ok": True, "counter": state}
