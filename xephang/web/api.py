"""The JSON API under /api/v1: translate HTTP into engine calls, nothing more."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .. import engine
from ..engine.lookups import storable_id
from ..engine.states import TICKET_ACTIONS
from ..errors import BadInputError, NotFoundError
from ..queries import office as office_queries
from ..queries import queue as queue_queries
from .auth import allow, current_principal, public, require_office
from .context import get_db, publish, tracker_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STAFF = ("officer",)  # roles nest: managers and admins may too


def body() -> dict:
    """The request's JSON object (empty when there is no body); 400 on anything else."""
    if not request.data and not request.form:
        return {}
    if request.form and not request.is_json:
        return request.form.to_dict()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadInputError(
            "Dữ liệu gửi lên phải là một đối tượng JSON", "Body must be a JSON object"
        )
    return data


def ticket_json(ticket: dict | None) -> dict | None:
    """A ticket for API clients, with its tracker URL."""
    if ticket is None:
        return None
    ticket = dict(ticket)
    token = ticket.pop("tracker_token", None)
    if token:
        ticket["tracker_url"] = tracker_url(token)
    return ticket


def ok(status: int = 200, **payload):
    """A success answer: ``{"ok": true, ...payload}``."""
    return jsonify({"ok": True, **payload}), status


def _office_ticket(principal, ticket_id: int) -> dict:
    ticket = engine.get_ticket(get_db(), ticket_id)
    require_office(principal, ticket["office_id"])
    return ticket


def _office_counter(principal, counter_id: int) -> dict:
    counter = engine.get_counter(get_db(), counter_id)
    require_office(principal, counter["office_id"])
    return counter


def _int(value, label_vi: str, label_en: str) -> int:
    if isinstance(value, (bool, float)):  # int(True) is 1, int(2.7) is 2: both are mistakes
        raise BadInputError(f"{label_vi} phải là số nguyên", f"{label_en} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{label_vi} phải là số", f"{label_en} must be a number") from None
    if not storable_id(number):
        raise BadInputError(f"{label_vi} quá lớn", f"{label_en} out of range")
    return number


@bp.get("/health")
@public
def health():
    """Liveness: the server answers and the database is reachable."""
    get_db().execute("SELECT 1").fetchone()
    return ok(version=current_app.extensions.get("xephang.version", "0.1.0"))


@bp.get("/offices")
@allow("officer", "kiosk", "display")
def list_offices():
    """Offices the caller may see."""
    principal = current_principal()
    rows = [o for o in office_queries.offices(get_db()) if principal.may_access_office(o["id"])]
    return ok(offices=rows)


@bp.get("/offices/<int:office_id>/snapshot")
@allow("officer", "kiosk", "display")
def office_snapshot(office_id: int):
    """Services, counters, waiting counts and the event sequence of an office."""
    require_office(current_principal(), office_id)
    return ok(snapshot=office_queries.snapshot(get_db(), office_id))


@bp.get("/offices/<int:office_id>/waiting")
@allow("officer")
def office_waiting(office_id: int):
    """Waiting tickets in queue order; ?service=ID may repeat."""
    require_office(current_principal(), office_id)
    services = [_int(s, "Dịch vụ", "service") for s in request.args.getlist("service")]
    limit = _int(request.args.get("limit", 50), "Giới hạn", "limit")
    if not 1 <= limit <= 500:  # SQLite reads a negative LIMIT as "no limit"
        raise BadInputError("Giới hạn phải từ 1 đến 500", "limit must be within 1..500")
    return ok(tickets=queue_queries.waiting_list(get_db(), office_id, services or None, limit))


@bp.post("/offices/<int:office_id>/close-day")
@allow("manager")
def office_close_day(office_id: int):
    """Expire every ticket still waiting (end of the working day)."""
    principal = current_principal()
    require_office(principal, office_id)
    outcome = publish(engine.close_day(get_db(), office_id, user_id=principal.user_id))
    return ok(expired=outcome.extra["expired"])


@bp.post("/tickets")
@allow("officer", "kiosk")
def issue():
    """Issue a ticket for a service (by prefix or id), optionally in a priority category."""
    principal = current_principal()
    data = body()
    office_id = data.get("office", principal.office_id)
    if office_id is None:
        raise BadInputError("Cần chọn văn phòng", "Give an office")
    office_id = _int(office_id, "Văn phòng", "office")
    require_office(principal, office_id)
    priority = data.get("priority") or None
    if priority is not None and not isinstance(priority, str):
        raise BadInputError("Nhóm ưu tiên không hợp lệ", "Invalid priority")
    service = data.get("service")
    if not isinstance(service, (str, int)) or isinstance(service, bool):
        raise BadInputError("Thiếu dịch vụ", "Missing service")
    outcome = publish(
        engine.issue_ticket(
            get_db(),
            office_id,
            service,
            priority=priority,
            device_id=principal.device_id,
            user_id=principal.user_id,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
        )
    )
    return ok(201, ticket=ticket_json(outcome.ticket))


@bp.get("/tickets/<int:ticket_id>")
@allow("officer")
def get_ticket(ticket_id: int):
    """One ticket with its event timeline."""
    ticket = _office_ticket(current_principal(), ticket_id)
    db = get_db()
    view = ticket_json(engine.ticket_view(db, ticket, private=True))
    view["events"] = queue_queries.ticket_events(db, ticket_id)
    return ok(ticket=view)


@bp.post("/tickets/<int:ticket_id>/<action>")
@allow("officer")
def ticket_action(ticket_id: int, action: str):
    """recall, start, finish, no-show, transfer, return or cancel a ticket."""
    if action not in TICKET_ACTIONS:
        raise NotFoundError(f"Không có thao tác '{action}'", f"No action '{action}'")
    principal = current_principal()
    _office_ticket(principal, ticket_id)
    data = body()
    db, uid = get_db(), principal.user_id
    if action == "recall":
        outcome = engine.recall(db, ticket_id, user_id=uid)
    elif action == "start":
        outcome = engine.start(db, ticket_id, user_id=uid)
    elif action == "finish":
        outcome = engine.finish(
            db,
            ticket_id,
            user_id=uid,
            dossier_code=data.get("dossier_code"),
            outcome=data.get("outcome"),
        )
    elif action == "no-show":
        outcome = engine.no_show(db, ticket_id, user_id=uid)
    elif action == "transfer":
        counter = data.get("counter")
        if counter not in (None, ""):
            counter = _int(counter, "Quầy", "counter")
        outcome = engine.transfer(
            db,
            ticket_id,
            service=data.get("service"),
            counter_id=counter,
            user_id=uid,
            reason=data.get("reason"),
        )
    elif action == "return":
        outcome = engine.return_to_queue(db, ticket_id, user_id=uid, reason=data.get("reason"))
    else:
        outcome = engine.cancel(db, ticket_id, user_id=uid, reason=data.get("reason"))
    publish(outcome)
    extra = {}
    if "from_ticket" in outcome.extra:
        extra["from_ticket"] = ticket_json(outcome.extra["from_ticket"])
    return ok(ticket=ticket_json(outcome.ticket), **extra)


@bp.post("/counters/<int:counter_id>/call-next")
@allow("officer")
def counter_call_next(counter_id: int):
    """Call the next ticket to this counter; ticket is null when nobody waits."""
    principal = current_principal()
    _office_counter(principal, counter_id)
    outcome = publish(engine.call_next(get_db(), counter_id, user_id=principal.user_id))
    return ok(ticket=ticket_json(outcome.ticket))


@bp.post("/counters/<int:counter_id>/call")
@allow("officer")
def counter_call_ticket(counter_id: int):
    """Call a specific waiting ticket out of order, with a reason."""
    principal = current_principal()
    _office_counter(principal, counter_id)
    data = body()
    ticket_ref = data.get("ticket")
    db = get_db()
    if isinstance(ticket_ref, str) and not ticket_ref.isdigit():
        counter = engine.get_counter(db, counter_id)
        ticket_id = engine.find_waiting_code(db, counter["office_id"], ticket_ref)
    else:
        ticket_id = _int(ticket_ref, "Vé", "ticket")
    _office_ticket(principal, ticket_id)
    outcome = publish(
        engine.call_ticket(db, counter_id, ticket_id, data.get("reason"), user_id=principal.user_id)
    )
    return ok(ticket=ticket_json(outcome.ticket))


@bp.post("/counters/<int:counter_id>/<action>")
@allow("officer")
def counter_action(counter_id: int, action: str):
    """open, close, pause (with a reason) or resume a counter."""
    principal = current_principal()
    _office_counter(principal, counter_id)
    db, uid = get_db(), principal.user_id
    if action == "pause":
        outcome = engine.pause(db, counter_id, body().get("reason"), user_id=uid)
    elif action == "resume":
        outcome = engine.resume(db, counter_id, user_id=uid)
    elif action == "open":
        outcome = engine.open_counter(db, counter_id, user_id=uid)
    elif action == "close":
        outcome = engine.close_counter(db, counter_id, user_id=uid)
    else:
        raise NotFoundError(f"Không có thao tác '{action}'", f"No action '{action}'")
    publish(outcome)
    return ok(counter=office_queries.counter_view(db, counter_id))


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API."""
    from .openapi import build_openapi

    return jsonify(build_openapi(current_app))
