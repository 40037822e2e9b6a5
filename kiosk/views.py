"""The kiosk touch screen: pairing, the service menu, issuing a ticket and its print status."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, url_for

import printers
from xephang import engine
from xephang.engine import accounts
from xephang.errors import BadInputError, ForbiddenError, RateLimitError
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.web import get_db, publish, tracker_url
from xephang.web.auth import allow, current_principal, pair_device_session, public

from .blueprint import bp


def kiosk_principal():
    """The paired kiosk making this request, or None (unpaired, revoked, or not a kiosk)."""
    principal = current_principal()
    if principal is None or principal.kind != "device" or principal.role != "kiosk":
        return None
    return principal


def rate_limit() -> tuple[int, float]:
    """KIOSK_RATE_LIMIT as (tickets, seconds); a malformed value falls back to 20/60."""
    try:
        count, seconds = str(current_app.config["KIOSK_RATE_LIMIT"]).split("/")
        return max(int(count), 1), max(float(seconds), 1.0)
    except (TypeError, ValueError):
        return 20, 60.0


def unpaired(reason: str = "unpaired"):
    """The friendly page an unpaired browser sees instead of the kiosk."""
    return render_template("kiosk/unpaired.html", reason=reason), 403


@bp.get("/kiosk/pair")
@public
def pair():
    """Pair this browser as a kiosk with a device token, then open the kiosk screen."""
    token = request.args.get("token", "")
    found = people.principal_for_token(get_db(), token)
    if found is None or found.kind != "device":
        return unpaired("bad_token")
    if found.role != "kiosk":  # checked first: a display token must not pair this browser
        return unpaired("not_kiosk")
    if pair_device_session(token) is None:
        return unpaired("bad_token")
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
        "printWaitMs": int(float(current_app.config["KIOSK_PRINT_WAIT_S"]) * 1000),
        "menuVersion": office_queries.menu_version(menu),
        "timezone": menu["office"]["timezone"],
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
        full=full,
        printer=printer,
        menu_version=office_queries.menu_version(menu),
    )


def _choice(data: dict) -> tuple[int | str, str | None]:
    service = data.get("service")
    if isinstance(service, bool) or not isinstance(service, (int, str)) or service == "":
        raise BadInputError("Thiếu dịch vụ", "Missing service")
    priority = data.get("priority") or None
    if priority is not None and not isinstance(priority, str):
        raise BadInputError("Nhóm ưu tiên không hợp lệ", "Invalid priority group")
    return service, priority


@bp.post("/kiosk/api/tickets")
@allow("kiosk")
def issue():
    """Issue a ticket from the kiosk, queue its receipt, and answer without waiting to print."""
    principal = kiosk_principal()
    if principal is None:
        raise ForbiddenError("Chỉ kiosk mới lấy số ở đây", "Kiosks only")
    service, priority = _choice(request.get_json(silent=True) or {})
    db = get_db()
    limit, window = rate_limit()
    if office_queries.issued_by_device_since(db, principal.device_id, window) >= limit:
        raise RateLimitError(
            "Kiosk đang quá tải, vui lòng đợi một lát rồi thử lại",
            "Too many tickets from this kiosk, please wait a moment",
        )
    app = current_app._get_current_object()

    def queue_receipt(db, outcome):
        """Store the print job in the issuing transaction: no ticket without its receipt job."""
        ticket = outcome.ticket
        return printers.queue_receipt_within(
            app, db, ticket, tracker_url(ticket["tracker_token"]), principal.device_id
        )

    outcome = publish(
        engine.issue_ticket(
            db,
            principal.office_id,
            service,
            priority=priority,
            device_id=principal.device_id,
            default_service_s=current_app.config["DEFAULT_SERVICE_TIME_S"],
            within=queue_receipt,
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
            "people_ahead": ticket.get("people_ahead"),
            "estimated_wait_s": ticket.get("estimated_wait_s"),
            "issued_at": ticket["issued_at"],
            "tracker_url": url,
            "qr_url": url_for("kiosk.tracker_qr", token=token),
        },
    ), 201


@bp.get("/kiosk/api/print/<int:job_id>")
@allow("kiosk")
def print_status(job_id: int):
    """The state of one of this kiosk's print jobs (queued, claimed, sending, done, failed)."""
    principal = kiosk_principal()
    job = printers.get_job(get_db(), job_id)
    if job is None or job["office_id"] != principal.office_id:
        return jsonify(ok=False, error="Không có lệnh in / No such print job", status=404), 404
    return jsonify(ok=True, job=printers.job_view(job))
