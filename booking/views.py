"""Citizens at home: take a number now or book a slot, then the booking's own page.

Server-rendered forms that work without script on a cheap phone; every refusal is
said on the form, Vietnamese first, with what was typed kept (the raw phone or CCCD
number is never echoed back into the page after a success)."""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import Response, current_app, redirect, render_template, request, url_for

import notifiers
from xephang.engine import booking, otp, subscriptions
from xephang.errors import OtpError, QueueError
from xephang.queries import booking as booking_queries
from xephang.web import get_db, publish
from xephang.web.auth import public, refuse_cross_site
from xephang.web.context import booking_url, client_address, identity_key, wake_outbox

from .blueprint import bp
from .ics import appointment_ics

DAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _default_s() -> float:
    return current_app.config["DEFAULT_SERVICE_TIME_S"]


def _availability(office_id: int) -> dict:
    return booking_queries.availability(get_db(), office_id, default_s=_default_s())


def day_label(day: str) -> dict:
    """A day as the pages name it: "Thứ Năm 03/12" and "Thu 03/12"."""
    d = date.fromisoformat(day)
    return {
        "day": day,
        "vi": f"{DAYS_VI[d.weekday()]} {d:%d/%m}",
        "en": f"{DAYS_EN[d.weekday()]} {d:%d/%m}",
    }


def _remote(form) -> dict:
    """The identity fields and consent of a posted form, for the engine."""
    return {
        "key": identity_key(),
        "phone": (form.get("phone") or "").strip() or None,
        "citizen_id": (form.get("citizen_id") or "").strip() or None,
        "consent": form.get("consent") in ("1", "on", "true"),
        "address": client_address(),
        "otp_id": (form.get("otp_id") or "").strip() or None,
        "otp_code": (form.get("otp_code") or "").strip() or None,
    }


def _channels() -> set[str]:
    return notifiers.server_channels(current_app.config)


def _otp_required(office_id: int) -> bool:
    """Whether this office's forms verify the phone by a one-time code first."""
    return otp.required(get_db(), office_id, None, _channels())


def _send_code(office_id: int, form) -> dict:
    """Step 1 where phones are verified: send the code (the form then asks for it)."""
    sent = otp.request_code(
        get_db(),
        office_id,
        (form.get("phone") or "").strip() or None,
        form.get("consent") in ("1", "on", "true"),
        identity_key(),
        _channels(),
    )
    wake_outbox()
    return sent


def _code_still_asked(form, err: QueueError) -> dict | None:
    """After a refused step 2: the code asked again (a wrong try with tries left, or a
    refusal that did not use the code), else None (back to step 1)."""
    if not form.get("otp_id"):
        return None
    if isinstance(err, OtpError) and not (isinstance(err, otp.WrongCode) and err.left > 0):
        return None
    return {"otp_id": form.get("otp_id"), "phone": form.get("otp_phone", "")}


def _submit(office_id: int, form, take) -> tuple:
    """A booking form's POST: the code sent (step 1, where phones are verified), else
    ``take()`` run. Returns (outcome or None, error, status, the code asked for)."""
    if form.get("step") == "send" and _otp_required(office_id):
        try:
            return None, None, 200, _send_code(office_id, form)
        except QueueError as err:
            return None, err, err.status, None
    try:
        return publish(take()), None, 200, None
    except QueueError as err:
        return None, err, err.status, _code_still_asked(form, err)


def _notify(form) -> dict | None:
    """The optional reminder contact of the booking form: a phone or an e-mail, and the
    tick of its own consent line."""
    contact = (form.get("notify_contact") or "").strip()
    if not contact:
        return None
    kind = "email" if "@" in contact else "phone"
    return {kind: contact, "consent": form.get("notify_consent") in ("1", "on", "true")}


def _reminder_channels(office_id: int) -> dict:
    """Whether the booking form can offer a reminder by phone and by e-mail here."""
    channels = subscriptions.office_channels(
        get_db(), office_id, notifiers.server_channels(current_app.config)
    )
    return {
        "phone": any(c in subscriptions.PHONE_CHANNELS for c in channels),
        "email": "email" in channels,
    }


@bp.before_request
def _same_site_posts():
    """Every form here creates or cancels something: only from this site's own pages."""
    if request.method == "POST":
        refuse_cross_site()


@bp.get("/booking/<int:office_id>/")
@public
def index(office_id: int):
    """The office's booking start page: take a number now, or book a slot."""
    return render_template("booking/index.html", a=_availability(office_id))


@bp.route("/booking/<int:office_id>/online", methods=["GET", "POST"])
@public
def online(office_id: int):
    """Take an online number (lấy số trực tuyến): the services open now, the people waiting
    and the honest estimate; a taken number opens its tracker page."""
    error, status, code = None, 200, None
    if request.method == "POST":
        outcome, error, status, code = _submit(
            office_id,
            request.form,
            lambda: booking.take_online_number(
                get_db(),
                office_id,
                request.form.get("service") or None,
                default_service_s=_default_s(),
                message_channels=_channels(),
                **_remote(request.form),
            ),
        )
        if outcome is not None:
            token = outcome.ticket["tracker_token"]
            return redirect(url_for("kiosk.tracker", token=token), 303)
    page = render_template(
        "booking/online.html",
        a=_availability(office_id),
        error=error,
        form=request.form,
        otp_required=_otp_required(office_id),
        otp=code,
    )
    return page, status


@bp.route("/booking/<int:office_id>/appointment", methods=["GET", "POST"])
@public
def appointment(office_id: int):
    """Book an appointment (đặt lịch hẹn): a service, then a day, then a half-hour slot."""
    a = _availability(office_id)
    error, status, code = None, 200, None
    if request.method == "POST":
        outcome, error, status, code = _submit(
            office_id,
            request.form,
            lambda: booking.book_appointment(
                get_db(),
                office_id,
                request.form.get("service") or None,
                request.form.get("slot") or "",
                default_service_s=_default_s(),
                notify=_notify(request.form),
                message_channels=_channels(),
                **_remote(request.form),
            ),
        )
        if outcome is not None:
            token = outcome.extra["appointment"]["token"]
            return redirect(url_for("booking.confirmation", token=token), 303)
        a = _availability(office_id)
    chosen = str(request.values.get("service", ""))
    service = next((s for s in a["services"] if str(s["id"]) == chosen and s["bookable"]), None)
    days = [day_label(d) for d in a["appointments"]["days"]]
    day = request.values.get("day", "")
    if day not in a["appointments"]["days"]:
        day = ""
    slots = []
    if service and day:
        slots = booking_queries.slots(
            get_db(), office_id, service["id"], day, default_s=_default_s()
        )
    page = render_template(
        "booking/appointment.html",
        a=a,
        service=service,
        days=days,
        day=day_label(day) if day else None,
        slots=slots,
        error=error,
        form=request.form,
        reminder=_reminder_channels(office_id),
        otp_required=_otp_required(office_id),
        otp=code,
    )
    return page, status


def _page(token: str) -> dict:
    view = booking.appointment_view(get_db(), booking.appointment_by_token(get_db(), token))
    view["weekday_vi"] = DAYS_VI[date.fromisoformat(view["day"]).weekday()]
    view["weekday_en"] = DAYS_EN[date.fromisoformat(view["day"]).weekday()]
    return view


@bp.get("/booking/b/<token>")
@public
def confirmation(token: str):
    """A booking's own page: its code, its QR for the kiosk, the calendar file, cancelling."""
    appt = _page(token)
    return (
        render_template("booking/confirmation.html", appt=appt, url=booking_url(token)),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.post("/booking/b/<token>/cancel")
@public
def cancel(token: str):
    """Cancel a booking from its page (its slot is free again)."""
    try:
        publish(booking.cancel_appointment(get_db(), token))
    except QueueError as err:
        appt = _page(token)
        page = render_template(
            "booking/confirmation.html", appt=appt, url=booking_url(token), error=err
        )
        return page, err.status
    return redirect(url_for("booking.confirmation", token=token), 303)


@bp.get("/booking/b/<token>/qr.svg")
@public
def booking_qr(token: str):
    """The booking's QR code (its page link: the kiosk's scanner types it to check in)."""
    booking.appointment_by_token(get_db(), token)
    image = qrcode.make(
        booking_url(token), image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10
    )
    out = io.BytesIO()
    image.save(out)
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private"})


@bp.get("/booking/b/<token>/calendar.ics")
@public
def calendar(token: str):
    """The booking as a calendar event, with a reminder an hour before."""
    appt = _page(token)
    url = booking_url(token)
    body = appointment_ics(appt, url, urlsplit(url).hostname or "xephang")
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'attachment; filename="lich-hen-{appt["code"]}.ics"',
            "Cache-Control": "no-store",
        },
    )
