"""The kiosk touch screen: pairing, the service menu, issuing a ticket and its print status."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, url_for

import notifiers
import printers
from xephang import engine
from xephang.engine import accounts, estimate, subscriptions
from xephang.engine.checkin import check_in
from xephang.engine.estimate import CITIZEN_FIELDS
from xephang.errors import ConflictError, ForbiddenError, QueueError
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.web import get_db, publish, tracker_url
from xephang.web.auth import (
    allow,
    current_principal,
    pair_device_session,
    pairing_page,
    public,
)
from xephang.web.bodies import KioskCheckinBody, KioskIssueBody, NoBody, NotifyBody, read
from xephang.web.context import device_rate_limit, grouped, identity_key

from .blueprint import bp


def kiosk_principal():
    """The paired kiosk making this request, or None (unpaired, revoked, or not a kiosk)."""
    principal = current_principal()
    if principal is None or principal.kind != "device" or principal.role != "kiosk":
        return None
    return principal


def unpaired(reason: str = "unpaired"):
    """The friendly page an unpaired browser sees instead of the kiosk."""
    return render_template("kiosk/unpaired.html", reason=reason), 403


def _token_problem(token: str) -> str | None:
    """Why a token cannot pair a kiosk ("bad_token", "not_kiosk"), or None."""
    found = people.principal_for_token(get_db(), token)
    if found is None or found.kind != "device":
        return "bad_token"
    return None if found.role == "kiosk" else "not_kiosk"


@bp.get("/kiosk/pair")
@public
def pair():
    """The pairing link: shows what is about to be paired; nothing changes until confirmed."""
    token = request.args.get("token", "")
    problem = _token_problem(token)  # checked first: a display token changes nothing here
    if problem:
        return unpaired(problem)
    page = pairing_page(token, "kiosk", url_for("kiosk.pair_confirm"))
    return (page, 200, {"Cache-Control": "no-store"}) if page else unpaired("bad_token")


@bp.post("/kiosk/pair")
@public
def pair_confirm():
    """Pair this browser as a kiosk (the confirmed form), then open the kiosk screen."""
    token = request.form.get("token", "")
    problem = _token_problem(token)
    if problem or pair_device_session(token, "kiosk") is None:
        return unpaired(problem or "bad_token")
    return redirect(url_for("kiosk.index"))


@bp.get("/kiosk/")
@public
def index():
    """The kiosk start screen: services by lĩnh vực, the priority path, the language switch."""
    principal = kiosk_principal()
    if principal is None:
        return unpaired()
    menu = office_queries.kiosk_menu(get_db(), principal.office_id)
    config = {
        "issueUrl": url_for("kiosk.issue"),
        "stateUrl": url_for("kiosk.state"),
        "printUrl": url_for("kiosk.print_status", job_id=0).rsplit("/", 1)[0] + "/",
        "resetS": int(current_app.config["KIOSK_RESET_S"]),
        "cancelS": int(current_app.config["KIOSK_CANCEL_S"]),
        "idleS": int(current_app.config["KIOSK_IDLE_S"]),
        "cancelUrl": url_for("kiosk.cancel", ticket_id=0).rsplit("/0/", 1)[0] + "/",
        "printWaitMs": int(float(current_app.config["KIOSK_PRINT_WAIT_S"]) * 1000),
        "menuVersion": office_queries.menu_version(menu),
        "timezone": menu["office"]["timezone"],
        # the optional phone step after the ticket, only where SMS or Zalo is set up
        "phoneStep": any(c in subscriptions.PHONE_CHANNELS for c in _channels(principal)),
        "notifyUrl": url_for("kiosk.notify", ticket_id=0).rsplit("/", 2)[0] + "/",
    }
    printer = printers.kiosk_printer_state(current_app.config, get_db(), principal.device_id)
    return render_template("kiosk/index.html", menu=menu, config=config, printer=printer)


@bp.get("/kiosk/api/state")
@allow("kiosk")
def state():
    """What an idle kiosk re-checks every half minute: open now, full services, setup version."""
    principal = kiosk_principal()
    accounts.touch_device(get_db(), principal.device_id)  # the manager sees the kiosk alive
    menu = office_queries.kiosk_menu(get_db(), principal.office_id)
    full = [s["id"] for g in menu["fields"] for s in g["services"] if s["full"]]
    printer = printers.kiosk_printer_state(current_app.config, get_db(), principal.device_id)
    return jsonify(
        ok=True,
        open=menu["open"],
        closed=menu["closed"],
        full=full,
        printer=printer,
        menu_version=office_queries.menu_version(menu),
    )


@bp.post("/kiosk/api/tickets")
@allow("kiosk")
def issue():
    """Issue a ticket from the kiosk, queue its receipt, and answer without waiting to print."""
    principal = kiosk_principal()
    if principal is None:
        raise ForbiddenError("Chỉ kiosk mới lấy số ở đây", "Kiosks only")
    choice = read(KioskIssueBody)
    db = get_db()
    app = current_app._get_current_object()

    def queue_receipt(db, outcome):
        """Store the print job in the issuing transaction: no ticket without its receipt job."""
        ticket = outcome.ticket
        return printers.queue_receipt_within(
            app, db, ticket, tracker_url(ticket["tracker_token"]), principal.device_id
        )

    outcome = publish(
        grouped(
            engine.issue_ticket,
            principal.office_id,
            choice.service,
            priority=choice.priority,
            device_id=principal.device_id,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
            within=queue_receipt,
            device_limit=device_rate_limit(),
            notify=choice.notify.request() if choice.notify else None,
            message_channels=notifiers.server_channels(current_app.config),
        )
    )
    job = outcome.extra["within"]
    if job["id"] is not None:
        printers.wake_printer(app, principal.device_id)
    ticket = outcome.ticket
    url = tracker_url(ticket["tracker_token"])
    priority_vi = office_queries.priority_name(db, principal.office_id, ticket["priority"])
    token = ticket["tracker_token"]
    return jsonify(
        ok=True,
        print=job,
        ticket={
            "id": ticket["id"],
            "code": ticket["code"],
            "service": ticket["service"],
            "priority": ticket["priority"],
            "priority_vi": priority_vi,
            **{key: ticket.get(key) for key in CITIZEN_FIELDS},
            "wait": estimate.wait_words(ticket),
            "issued_at": ticket["issued_at"],
            "tracker_url": url,
            "qr_url": url_for("kiosk.tracker_qr", token=token),
        },
    ), 201


@bp.get("/kiosk/checkin")
@public
def checkin_page():
    """The check-in screen: a booking's QR, its code or the citizen's CCCD QR, read by the
    kiosk's scanner (it types like a keyboard, then Enter) or keyed in."""
    principal = kiosk_principal()
    if principal is None:
        return unpaired()
    menu = office_queries.kiosk_menu(get_db(), principal.office_id)
    config = {
        "checkinUrl": url_for("kiosk.checkin"),
        "homeUrl": url_for("kiosk.index"),
        "printUrl": url_for("kiosk.print_status", job_id=0).rsplit("/", 1)[0] + "/",
        "resetS": int(current_app.config["KIOSK_RESET_S"]),
        "printWaitMs": int(float(current_app.config["KIOSK_PRINT_WAIT_S"]) * 1000),
    }
    return render_template("kiosk/checkin.html", menu=menu, config=config)


@bp.post("/kiosk/api/checkins")
@allow("kiosk")
def checkin():
    """Check a booking or an online number in at the kiosk and queue its receipt, in one
    transaction."""
    principal = kiosk_principal()
    if principal is None:
        raise ForbiddenError("Chỉ kiosk mới xác nhận lịch hẹn ở đây", "Kiosks only")
    entry = read(KioskCheckinBody)
    app = current_app._get_current_object()

    def queue_receipt(db, outcome):
        """The receipt's print job, in the check-in's transaction."""
        ticket = outcome.ticket
        return printers.queue_receipt_within(
            app, db, ticket, tracker_url(ticket["tracker_token"]), principal.device_id
        )

    try:
        outcome = publish(
            check_in(
                get_db(),
                principal.office_id,
                entry.text,
                identity_key(),
                device_id=principal.device_id,
                device_limit=device_rate_limit(),
                default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
                within=queue_receipt,
            )
        )
    except QueueError as err:  # said on the screen in both languages
        return jsonify(
            ok=False, status=err.status, code=err.code, vi=err.message_vi, en=err.message_en
        ), err.status
    job = outcome.extra["within"]
    if job["id"] is not None:
        printers.wake_printer(app, principal.device_id)
    ticket = outcome.ticket
    appt = outcome.extra["appointment"]
    return jsonify(
        ok=True,
        print=job,
        kind=outcome.extra["kind"],
        on_time=outcome.extra["on_time"],
        late=outcome.extra["late"],
        appointment={"code": appt["code"], "time": appt["time"]} if appt else None,
        ticket={
            "id": ticket["id"],
            "code": ticket["code"],
            "service": ticket["service"],
            **{key: ticket.get(key) for key in CITIZEN_FIELDS},
            "wait": estimate.wait_words(ticket),
            "qr_url": url_for("kiosk.tracker_qr", token=ticket["tracker_token"]),
        },
    ), 201


def _channels(principal) -> list[str]:
    """The channels this kiosk's office offers citizens."""
    return subscriptions.office_channels(
        get_db(), principal.office_id, notifiers.server_channels(current_app.config)
    )


@bp.post("/kiosk/api/tickets/<int:ticket_id>/notify")
@allow("kiosk")
def notify(ticket_id: int):
    """The optional step after the ticket: the citizen types a phone number and ticks
    consent; the visit gets "turn near", "called" and the rating invitation by SMS/Zalo."""
    principal = kiosk_principal()
    if principal is None:
        raise ForbiddenError("Chỉ kiosk mới lấy số ở đây", "Kiosks only")
    request_body = read(NotifyBody).request()
    publish(
        subscriptions.subscribe_ticket(
            get_db(),
            ticket_id,
            request_body,
            notifiers.server_channels(current_app.config),
            device_id=principal.device_id,
        )
    )
    return jsonify(ok=True), 201


@bp.post("/kiosk/api/tickets/<int:ticket_id>/cancel")
@allow("kiosk")
def cancel(ticket_id: int):
    """ "Hủy số này": the citizen takes back a ticket this kiosk has just issued (a mis-tap),
    within KIOSK_CANCEL_S; its receipt is withdrawn if not printed yet."""
    principal = kiosk_principal()
    if principal is None:
        raise ForbiddenError("Chỉ kiosk mới hủy số ở đây", "Kiosks only")
    read(NoBody)
    if not current_app.config["KIOSK_CANCEL_S"]:
        raise ConflictError("Kiosk này không hủy số; vui lòng báo cán bộ", "Cancelling is off")
    outcome = publish(
        grouped(
            engine.cancel_by_citizen,
            ticket_id,
            principal.device_id,
            # the button shows for KIOSK_CANCEL_S: a press in its last second still counts
            float(current_app.config["KIOSK_CANCEL_S"]) + 2,
            within=lambda db: printers.withdraw(db, ticket_id),
        )
    )
    return jsonify(ok=True, ticket={"id": ticket_id, "code": outcome.ticket["code"]})


@bp.get("/kiosk/api/print/<int:job_id>")
@allow("kiosk")
def print_status(job_id: int):
    """The state of one of this kiosk's print jobs (queued, claimed, sending, done, failed)."""
    principal = kiosk_principal()
    job = printers.get_job(get_db(), job_id)
    if job is None or job["office_id"] != principal.office_id:
        return jsonify(ok=False, error="Không có lệnh in / No such print job", status=404), 404
    return jsonify(ok=True, job=printers.job_view(job))
