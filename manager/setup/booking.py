"""Setup of online numbers and appointments: the office's booking settings (typed, in
``xephang.engine.settings``) and the slot capacities per service, weekday and start."""

from __future__ import annotations

from flask import request

from xephang import engine
from xephang.engine import booking
from xephang.errors import BadInputError, QueueError
from xephang.queries import booking as booking_queries
from xephang.queries import office as office_queries
from xephang.web import get_db
from xephang.web.auth import allow

from ..views import bp, office_id
from .forms import actor, done, integer, render, text
from .rules import sent_settings, setting_fields

WEEKDAYS = (
    ("mon", "Thứ Hai"),
    ("tue", "Thứ Ba"),
    ("wed", "Thứ Tư"),
    ("thu", "Thứ Năm"),
    ("fri", "Thứ Sáu"),
    ("sat", "Thứ Bảy"),
    ("sun", "Chủ nhật"),
)


def _page(oid: int, error=None, form=None):
    return render(
        "booking.html",
        oid,
        error,
        fields=setting_fields(oid, ["booking"], form),
        slots=booking_queries.slot_capacities(get_db(), oid),
        services=office_queries.services(get_db(), oid),
        weekdays=WEEKDAYS,
    )


@bp.route("/setup/booking", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_booking():
    """Online numbers and appointments: who may take them, caps, share, horizon, grace,
    and the places of each half-hour slot."""
    oid = office_id()
    if request.method == "POST":
        try:
            if request.form.get("action") == "slot":
                service = integer("service", "dịch vụ", required=True, low=1)
                weekdays = request.form.getlist("weekday")
                if not weekdays:
                    raise BadInputError("Chọn ít nhất một thứ", "Choose a weekday")
                starts = text("starts", "giờ bắt đầu", required=True, max_len=400)
                places = integer("capacity", "số chỗ", low=0, high=1000)
                for weekday in weekdays:
                    for start in starts.replace(";", ",").replace(" ", ",").split(","):
                        if start:
                            booking.set_slot_capacity(
                                get_db(), oid, service, weekday, start, places, user_id=actor()
                            )
                message = "Đã lưu số chỗ của khung giờ"
            else:
                engine.set_office_settings(
                    get_db(), oid, sent_settings(["booking"]), user_id=actor()
                )
                message = "Đã lưu thiết lập lấy số trực tuyến và đặt lịch"
        except QueueError as err:
            return _page(oid, err, request.form if request.form.get("action") != "slot" else None)
        return done("manager.setup_booking", oid, message)
    return _page(oid)[0]
