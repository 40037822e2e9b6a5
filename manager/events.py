"""Socket.IO handlers of the manager's live dashboard.

The dashboard page connects with its session cookie and ``auth={"office": id}``
(the realtime hub joins staff to ``office:<id>``), receives every
``queue_event`` of the office there, and asks for fresh figures with
``dashboard_sync``. These handlers only read.
"""

from __future__ import annotations

from xephang.errors import QueueError
from xephang.reports import live
from xephang.web import get_db
from xephang.web.auth import permits
from xephang.web.extensions import socketio
from xephang.web.realtime import this_client

READERS = ("manager", "province")  # a province user reads the dashboards of its offices


@socketio.on("dashboard_sync")
def dashboard_sync(data=None):
    """Sent by a manager's dashboard with ``{"office": id}``; the ack is the dashboard's data.

    Managers of the office, admins and province users given the office only; nothing is
    emitted to anyone.
    """
    client = this_client()
    data = data if isinstance(data, dict) else {}
    if client is None or not client.is_staff or not permits(client.principal, READERS):
        return {"ok": False, "status": 403, "error": "managers only"}
    try:
        office_id = int(data.get("office") or client.office_id)
    except (TypeError, ValueError):
        return {"ok": False, "status": 400, "error": "give office"}
    if not client.principal.may_access_office(office_id):
        return {"ok": False, "status": 403, "error": "other office"}
    try:
        dashboard = live.dashboard(get_db(), office_id)
    except QueueError as err:
        return {"ok": False, "status": err.status, "error": err.message}
    return {"ok": True, "seq": dashboard["seq"], "dashboard": dashboard}
