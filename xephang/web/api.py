"""The JSON API under /api/v1: translate HTTP into engine calls, nothing more."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .. import engine
from ..config import message_channels
from ..engine import booking, otp
from ..engine.checkin import check_in
from ..engine.states import TICKET_ACTIONS
from ..errors import ForbiddenError, NotFoundError
from ..queries import booking as booking_queries
from ..queries import messages as message_queries
from ..queries import office as office_queries
from ..queries import queue as queue_queries
from .auth import allow, current_principal, public, refuse_cross_site, require_office
from .bodies import (
    COUNTER_ACTION_BODIES,
    TICKET_ACTION_BODIES,
    AppointmentBody,
    CallBody,
    CheckinBody,
    DossierBody,
    IssueBody,
    NoBody,
    OnlineTicketBody,
    OtpRequestBody,
    QueryDay,
    QueryNumber,
    accepts,
    accepts_query,
    read_body,
    read_query,
)
from .context import (
    booking_url,
    client_address,
    device_rate_limit,
    get_db,
    grouped,
    identity_key,
    publish,
    tracker_url,
    wake_outbox,
)
from .health import report as health_report

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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
    """The ticket, if it is of the caller's office; another office's answers as missing."""
    return engine.get_ticket(get_db(), ticket_id, visible_to=principal)


def _office_counter(principal, counter_id: int) -> dict:
    """The counter, if it is of the caller's office; another office's answers as missing."""
    return engine.get_counter(get_db(), counter_id, visible_to=principal)


@bp.get("/health")
@public
def health():
    """Whether the database, print spooler, outbox and message queue are well (503 if not)."""
    well, checks = health_report()
    body = {"ok": well, "version": current_app.extensions.get("xephang.version", "0.1.0")}
    return jsonify({**body, "checks": checks}), 200 if well else 503


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
@accepts_query(
    QueryNumber("service", "dịch vụ", "a service id; repeat for several", repeat=True),
    # SQLite reads a negative LIMIT as "no limit": bounded here.
    QueryNumber("limit", "giới hạn", "at most this many tickets", low=1, high=500, default=50),
)
def office_waiting(office_id: int):
    """Waiting tickets in queue order; ?service=ID may repeat."""
    require_office(current_principal(), office_id)
    query = read_query()
    return ok(
        tickets=queue_queries.waiting_list(
            get_db(), office_id, query["service"] or None, query["limit"]
        )
    )


@bp.post("/offices/<int:office_id>/close-day")
@allow("manager")
@accepts(NoBody)
def office_close_day(office_id: int):
    """Expire every ticket still waiting (end of the working day)."""
    principal = current_principal()
    require_office(principal, office_id)
    read_body()
    outcome = publish(grouped(engine.close_day, office_id, user_id=principal.user_id))
    return ok(expired=outcome.extra["expired"])


@bp.post("/tickets")
@allow("officer", "kiosk")
@accepts(IssueBody)
def issue():
    """Issue a ticket for a service (by prefix or id), optionally in a priority category;
    ``notify`` (with ``"consent": true``) subscribes the visit to messages."""
    principal = current_principal()
    body: IssueBody = read_body()
    office_id = principal.office_id if body.office is None else body.office
    if office_id is None:
        # An admin of every office belongs to none: it must say which (403, not 400, as the
        # same body is valid from anyone who has an office).
        raise ForbiddenError("Cần chọn văn phòng (trường office)", "Give an office")
    require_office(principal, office_id)
    outcome = publish(
        grouped(
            engine.issue_ticket,
            office_id,
            body.service,
            priority=body.priority,
            device_id=principal.device_id,
            user_id=principal.user_id,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
            device_limit=device_rate_limit(),
            notify=body.notify.request() if body.notify else None,
            message_channels=message_channels(current_app.config),
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
    view["subscriptions"] = message_queries.ticket_subscriptions(db, ticket_id)  # masked
    return ok(ticket=view)


@bp.post("/tickets/<int:ticket_id>/dossier-code")
@allow("officer")
@accepts(DossierBody)
def ticket_dossier_code(ticket_id: int):
    """Record or correct the dossier code of a ticket being served or done (logged)."""
    principal = current_principal()
    _office_ticket(principal, ticket_id)
    body: DossierBody = read_body()
    outcome = publish(
        grouped(engine.set_dossier_code, ticket_id, body.dossier_code, user_id=principal.user_id)
    )
    return ok(ticket=ticket_json(outcome.ticket))


@bp.post("/tickets/<int:ticket_id>/<action>")
@allow("officer")
@accepts(TICKET_ACTION_BODIES, per="action")
def ticket_action(ticket_id: int, action: str):
    """recall, start, finish, no-show, transfer, return, cancel or undo a ticket."""
    if action not in TICKET_ACTIONS:
        raise NotFoundError(f"Không có thao tác '{action}'", f"No action '{action}'")
    principal = current_principal()
    _office_ticket(principal, ticket_id)
    body = read_body()
    uid = principal.user_id
    if action == "recall":
        outcome = grouped(engine.recall, ticket_id, user_id=uid)
    elif action == "start":
        outcome = grouped(engine.start, ticket_id, user_id=uid)
    elif action == "finish":
        outcome = grouped(
            engine.finish,
            ticket_id,
            user_id=uid,
            dossier_code=body.dossier_code,
            outcome=body.outcome,
        )
    elif action == "no-show":
        outcome = grouped(engine.no_show, ticket_id, user_id=uid)
    elif action == "transfer":
        outcome = grouped(
            engine.transfer,
            ticket_id,
            service=body.service,
            counter_id=body.counter,
            user_id=uid,
            reason=body.reason,
        )
    elif action == "return":
        outcome = grouped(engine.return_to_queue, ticket_id, user_id=uid, reason=body.reason)
    elif action == "undo":
        outcome = grouped(engine.undo, ticket_id, user_id=uid)
    else:
        outcome = grouped(engine.cancel, ticket_id, user_id=uid, reason=body.reason)
    publish(outcome)
    extra = {}
    if "from_ticket" in outcome.extra:
        extra["from_ticket"] = ticket_json(outcome.extra["from_ticket"])
    return ok(ticket=ticket_json(outcome.ticket), **extra)


@bp.post("/counters/<int:counter_id>/call-next")
@allow("officer")
@accepts(NoBody)
def counter_call_next(counter_id: int):
    """Call the next ticket to this counter; ticket is null when nobody waits."""
    principal = current_principal()
    _office_counter(principal, counter_id)
    read_body()
    outcome = publish(grouped(engine.call_next, counter_id, user_id=principal.user_id))
    return ok(ticket=ticket_json(outcome.ticket))


@bp.post("/counters/<int:counter_id>/call")
@allow("officer")
@accepts(CallBody)
def counter_call_ticket(counter_id: int):
    """Call a specific waiting ticket out of order, or today's no-show again, with a reason."""
    principal = current_principal()
    counter = _office_counter(principal, counter_id)
    body: CallBody = read_body()
    db = get_db()
    ticket_id = body.ticket
    if isinstance(ticket_id, str):  # a code: the latest waiting ticket, or today's no-show
        ticket_id = engine.find_code_to_call(db, counter["office_id"], ticket_id)
    _office_ticket(principal, ticket_id)
    outcome = publish(
        grouped(engine.call_ticket, counter_id, ticket_id, body.reason, user_id=principal.user_id)
    )
    return ok(ticket=ticket_json(outcome.ticket))


@bp.post("/counters/<int:counter_id>/<action>")
@allow("officer")
@accepts(COUNTER_ACTION_BODIES, per="action")
def counter_action(counter_id: int, action: str):
    """open (``takeover`` for a counter another officer holds), close, pause (with a
    reason) or resume a counter."""
    principal = current_principal()
    _office_counter(principal, counter_id)
    if action not in COUNTER_ACTION_BODIES:
        raise NotFoundError(f"Không có thao tác '{action}'", f"No action '{action}'")
    body = read_body()
    db, uid = get_db(), principal.user_id
    if action == "pause":
        outcome = grouped(engine.pause, counter_id, body.reason, user_id=uid)
    elif action == "resume":
        outcome = grouped(engine.resume, counter_id, user_id=uid)
    elif action == "open":
        outcome = grouped(engine.open_counter, counter_id, user_id=uid, takeover=body.takeover)
    else:
        outcome = grouped(engine.close_counter, counter_id, user_id=uid)
    publish(outcome)
    return ok(counter=office_queries.counter_view(db, counter_id))


@bp.get("/offices/<int:office_id>/availability")
@public
@accepts_query(
    QueryNumber("service", "dịch vụ", "a service id: add its appointment slots by day"),
    QueryDay("day", "ngày", "with service: that day's slots only"),
)
def office_availability(office_id: int):
    """What citizens can take from home now and ahead (public): services, waits, slots.

    Services open now with the people waiting, the honest estimate and the online numbers
    left today; the days that take appointments; with ``service``, its slots by day."""
    db, default_s = get_db(), current_app.config["DEFAULT_SERVICE_TIME_S"]
    found = dict(booking_queries.availability(db, office_id, default_s=default_s))
    found["identity"] = {  # a phone verified by a one-time code first (POST .../otp)?
        **found["identity"],
        "verified": otp.required(db, office_id, None, message_channels(current_app.config)),
    }
    query = read_query()
    if query["service"] is not None:
        days = found["appointments"]["days"]
        if query["day"] is not None:
            days = [d for d in days if d == query["day"]]
        found["slots"] = booking_queries.slots_by_day(
            db, office_id, query["service"], days, default_s=default_s
        )
    return ok(availability=found)


def remote_fields(body) -> dict:
    """The identity, consent and address a citizen's remote request carries, for the engine."""
    return {
        "key": identity_key(),
        "phone": body.phone,
        "citizen_id": body.citizen_id,
        "consent": body.consent is True,
        "address": client_address(),
        "otp_id": body.otp_id,
        "otp_code": body.otp_code,
    }


@bp.post("/offices/<int:office_id>/otp")
@public
@accepts(OtpRequestBody)
def request_otp(office_id: int):
    """Send a one-time code to a phone (where the office verifies phones); answers its
    ``otp_id``, to send back with the code when taking a number or booking."""
    refuse_cross_site()
    body: OtpRequestBody = read_body()
    engine.get_office(get_db(), office_id)
    sent = otp.request_code(
        get_db(),
        office_id,
        body.phone,
        body.consent is True,
        identity_key(),
        message_channels(current_app.config),
        lang=body.lang or "vi",
    )
    wake_outbox()
    return ok(201, otp=sent)


@bp.post("/offices/<int:office_id>/online-tickets")
@public
@accepts(OnlineTicketBody)
def online_ticket(office_id: int):
    """Take an online number, in line at once; answers the ticket and its tracker URL."""
    refuse_cross_site()
    body: OnlineTicketBody = read_body()
    engine.get_office(get_db(), office_id)
    outcome = publish(
        booking.take_online_number(
            get_db(),
            office_id,
            body.service,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
            notify=body.notify.request() if body.notify else None,
            message_channels=message_channels(current_app.config),
            **remote_fields(body),
        )
    )
    return ok(201, ticket=ticket_json(outcome.ticket))


def appointment_json(appointment: dict) -> dict:
    """An appointment for its citizen, with its page and calendar links."""
    found = dict(appointment)
    token = found.pop("token", None)
    if token:
        found["booking_url"] = booking_url(token)
        found["ics_url"] = booking_url(token) + "/calendar.ics"
    return found


@bp.post("/offices/<int:office_id>/appointments")
@public
@accepts(AppointmentBody)
def book_appointment(office_id: int):
    """Book a half-hour slot of a service; answers the booking, its code and its page URL."""
    refuse_cross_site()
    body: AppointmentBody = read_body()
    engine.get_office(get_db(), office_id)
    outcome = publish(
        booking.book_appointment(
            get_db(),
            office_id,
            body.service,
            body.slot,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
            notify=body.notify.request() if body.notify else None,
            message_channels=message_channels(current_app.config),
            **remote_fields(body),
        )
    )
    return ok(201, appointment=appointment_json(outcome.extra["appointment"]))


@bp.post("/checkins")
@allow("officer", "kiosk")
@accepts(CheckinBody)
def checkin():
    """Check a citizen in by a booking's code or QR, an online number's code or QR, or the
    citizen's CCCD QR: a booking joins the line, an online number becomes callable."""
    principal = current_principal()
    body: CheckinBody = read_body()
    office_id = principal.office_id if body.office is None else body.office
    if office_id is None:
        raise ForbiddenError("Cần chọn văn phòng (trường office)", "Give an office")
    require_office(principal, office_id)
    outcome = publish(
        check_in(
            get_db(),
            office_id,
            body.text,
            identity_key(),
            device_id=principal.device_id,
            device_limit=device_rate_limit() if principal.device_id else None,
            user_id=principal.user_id,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
        )
    )
    return ok(
        201,
        kind=outcome.extra["kind"],
        ticket=ticket_json(outcome.ticket),
        appointment=outcome.extra["appointment"],
        on_time=outcome.extra["on_time"],
        late=outcome.extra["late"],
    )


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 description of this API."""
    from .openapi import build_openapi

    return jsonify(build_openapi(current_app))
