"""The ticket tracker a ticket's QR code opens: live status, place in queue, rating.

The visit token in the URL is the only key: it is unguessable and names no
one, so the page, its JSON and the rating need no login. The rating POST is
protected by that token (a forged cross-site request would have to know it).
"""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
import qrcode.image.svg
from flask import Response, current_app, jsonify, render_template, send_from_directory, url_for

import notifiers
from xephang import engine
from xephang.engine import checkin, estimate, subscriptions
from xephang.engine.estimate import CITIZEN_FIELDS
from xephang.errors import BadInputError, NotFoundError
from xephang.queries import messages as message_queries
from xephang.queries import queue as queue_queries
from xephang.queries import ratings as rating_queries
from xephang.web import get_db, publish, tracker_url
from xephang.web.auth import public
from xephang.web.bodies import NotifyBody, RatingBody, UnsubscribeBody, read
from xephang.web.context import grouped

from .blueprint import bp

SOCKET_CLIENT = "xephang/vendor/socket.io.min.js"


def status_text(ticket: dict) -> tuple[str, str]:
    """The tracker's headline for a ticket state, Vietnamese and English."""
    counter = (ticket.get("counter") or {}).get("number")
    status = ticket["status"]
    if status == "waiting" and ticket.get("awaiting_checkin"):
        return "Đang chờ — chưa xác nhận có mặt", "Waiting — not checked in yet"
    if status == "waiting":
        return "Đang chờ", "Waiting"
    if status == "called":
        return f"Mời đến quầy {counter}", f"Please go to counter {counter}"
    if status == "serving":
        return f"Đang được phục vụ tại quầy {counter}", f"Being served at counter {counter}"
    if status == "done":
        return "Đã phục vụ xong", "Service finished"
    if status == "no_show":
        return "Đã gọi nhưng vắng mặt — vui lòng liên hệ quầy", "Missed call — ask at a counter"
    if status == "cancelled":
        return "Số đã bị hủy", "Ticket cancelled"
    if status == "expired":
        return "Số đã hết hạn (hết ngày làm việc)", "Ticket expired (office closed)"
    return engine.STATUS_VI.get(status, status), status


_NO_WAIT = {"kind": "none", "vi": "", "en": ""}


def tracker_state(token: str) -> dict:
    """The visit's latest ticket with its status, queue place and rating state."""
    db = get_db()
    state = queue_queries.tracker_state(db, token, current_app.config["DEFAULT_SERVICE_TIME_S"])
    if state is None:
        raise NotFoundError("Không tìm thấy số thứ tự này", "No such ticket")
    view = state["ticket"]
    message_vi, message_en = status_text(view)
    rating = rating_queries.visit_rating(db, view["visit_id"])  # one rating per visit
    office = engine.get_office(db, view["office_id"])
    return {
        "ok": True,
        "office": {"id": office["id"], "name": office["name"]},
        "ticket": view,
        **{key: state[key] for key in CITIZEN_FIELDS},
        "wait": estimate.wait_words(state) if state["people_ahead"] is not None else _NO_WAIT,
        "queue_key": state["queue_key"],
        "message_vi": message_vi,
        "message_en": message_en,
        "visit": [{"code": t["code"], "status": t["status"]} for t in state["tickets"]],
        "seq": state["seq"],
        "rating": {
            "allowed": view["status"] == "done" and rating is None,
            "level": rating["level"] if rating else None,
            "scale": engine.office_setting(db, view["office_id"], "rating_scale"),
            "attributes": engine.office_setting(db, view["office_id"], "rating_attributes"),
        },
        "notify": notify_state(token, view["office_id"]),
    }


def notify_state(token: str, office_id: int) -> dict:
    """What the tracker offers about messages: the channels the office has, which this
    visit is subscribed on (never the number itself), and the Web Push key."""
    channels = subscriptions.office_channels(
        get_db(), office_id, notifiers.server_channels(current_app.config)
    )
    app = current_app._get_current_object()
    return {
        "channels": channels,
        "subscribed": message_queries.visit_subscriptions(get_db(), token),
        "push_key": notifiers.push_public_key(app) if "webpush" in channels else None,
    }


@bp.get("/t/<token>")
@public
def tracker(token: str):
    """The citizen's tracker page (opened from the ticket's QR code)."""
    state = tracker_state(token)
    socket_js = None
    if (Path(current_app.static_folder) / SOCKET_CLIENT).exists():
        socket_js = url_for("static", filename=SOCKET_CLIENT)
    ticket = state["ticket"]
    code = checkin.checkin_code(ticket["code"], token) if ticket.get("awaiting_checkin") else None
    return render_template(
        "kiosk/tracker.html", state=state, token=token, socket_js=socket_js, checkin_code=code
    )


@bp.get("/t/<token>.json")
@public
def tracker_json(token: str):
    """The tracker's state as JSON (polled every few seconds, and after each live event)."""
    return jsonify(tracker_state(token))


@bp.get("/t/<token>/qr.svg")
@public
def tracker_qr(token: str):
    """The QR code of the tracker URL, as SVG (shown on the kiosk screen)."""
    if not queue_queries.visit_tickets(get_db(), token):
        raise NotFoundError("Không tìm thấy số thứ tự này", "No such ticket")
    image = qrcode.make(
        tracker_url(token), image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10
    )
    out = io.BytesIO()
    image.save(out)
    return Response(
        out.getvalue(),
        mimetype="image/svg+xml",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@bp.get("/t/sw.js")
@public
def service_worker():
    """The tracker's service worker (shows Web Push notifications); served under /t/ so
    that its scope covers every tracker page."""
    response = send_from_directory(
        Path(bp.static_folder) / "kiosk", "sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/t/<token>/subscribe")
@public
def subscribe(token: str):
    """Subscribe this visit to messages: a push subscription from this browser, or a phone
    number or e-mail address with the consent box ticked."""
    request_body = read(NotifyBody).request()
    publish(
        subscriptions.subscribe_visit(
            get_db(), token, request_body, notifiers.server_channels(current_app.config)
        )
    )
    return jsonify(tracker_state(token)), 201


@bp.post("/t/<token>/unsubscribe")
@public
def unsubscribe(token: str):
    """Stop this visit's messages (one channel, or all): the contact is erased at once."""
    body = read(UnsubscribeBody)
    publish(subscriptions.unsubscribe_visit(get_db(), token, body.channel))
    return jsonify(tracker_state(token))


@bp.post("/t/<token>/rating")
@public
def rate(token: str):
    """Record the citizen's one satisfaction rating of the visit's finished ticket."""
    rows = queue_queries.visit_tickets(get_db(), token)
    if not rows:
        raise NotFoundError("Không tìm thấy số thứ tự này", "No such ticket")
    try:
        rating = read(RatingBody)
    except BadInputError as err:
        if err.extra.get("field") == "level":
            raise BadInputError("Hãy chọn một mức đánh giá", "Choose a rating level") from None
        raise
    publish(
        grouped(
            engine.rate_ticket,
            rows[-1]["id"],
            rating.level,
            rating.comment,
            attributes=rating.attributes,
        )
    )
    return jsonify(tracker_state(token)), 201
