"""Socket.IO handlers of the waiting-room display.

A display connects with its paired session (or ``auth={"token": <device
token>}``, or ``{"board": <board id>}`` for the public link), is joined to
``office:<id>`` and fetches its state with ``sync`` (xephang.realtime).
"""

from __future__ import annotations

from xephang.engine import accounts
from xephang.web import get_db
from xephang.web.extensions import socketio
from xephang.web.realtime import message_text, this_client

STATUS_KEYS = ("audio", "voice_pack", "screen")


@socketio.on("display_status")
def display_status(data=None):
    """Sent by a paired display when its audio state changes; recorded for the manager.

    ``{"audio": "on"|"blocked"|"off", "voice_pack": "ok"|"missing", "screen": "1920x1080"}``.
    Acknowledged; nothing is emitted. Public boards are not recorded.
    """
    client = this_client()
    if client is None or client.kind != "device" or client.principal.role != "display":
        return {"ok": False, "status": 403, "error": "paired displays only"}
    data = data if isinstance(data, dict) else {}
    status = {k: message_text(str(data[k])[:40]) or "" for k in STATUS_KEYS if k in data}
    accounts.touch_device(get_db(), client.principal.device_id, status)
    return {"ok": True}
