"""Socket.IO handlers of the counter screen.

The counter page connects with its session cookie and ``auth={"counter": id}``
(which joins ``office:<id>`` and ``counter:<id>``); actions go through the
JSON API. These handlers only read.
"""

from __future__ import annotations

from xephang import livestate
from xephang.errors import QueueError
from xephang.extensions import socketio
from xephang.realtime import this_client
from xephang.web import get_db


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
        db = get_db()
        state = livestate.counter_state(db, counter_id, client.principal.user_id)
        office_id = db.execute("SELECT office_id FROM counters WHERE id = ?",
                               [counter_id]).fetchone()[0]
    except QueueError as err:
        return {"ok": False, "status": err.status, "error": err.message}
    except (TypeError, ValueError):
        return {"ok": False, "status": 400, "error": "give counter"}
    if not client.principal.may_access_office(office_id):
        return {"ok": False, "status": 403, "error": "other office"}
    return {"ok": True, "counter": state}
