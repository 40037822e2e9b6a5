"""Setup of the office itself, its services and its counters; the setup menu."""

from __future__ import annotations

import json
import re

from flask import current_app, flash, redirect, request, url_for

from xephang import engine
from xephang.engine.hours import DAYS, DAYS_EN, DAYS_VI, holidays
from xephang.engine.setup import parse_zone
from xephang.errors import BadInputError, NotFoundError, QueueError
from xephang.queries import office as office_queries
from xephang.web import get_db
from xephang.web.auth import allow, current_principal

from ..views import bp, office_id
from .forms import actor, checkbox, done, integer, owned, render, service_list, text


@bp.get("/setup/")
@allow("manager", login_page=True)
def setup_index():
    """The setup menu and the latest setup changes of the office."""
    oid = office_id()
    return render("index.html", oid, changes=office_queries.setup_audit(get_db(), oid, 20))[0]


SPANS = ((1, "Sáng", "Morning"), (2, "Chiều", "Afternoon"))  # the gap is the lunch break
NEW_HOLIDAY_ROWS = 3
HOLIDAY_DAY = re.compile(r"holiday_day_(\d+)")


def _hours_from_form() -> dict | None:
    """Opening hours from the time fields: per day a morning and an afternoon span (either
    may be empty); "always open" gives None."""
    if checkbox("always_open"):
        return None
    hours = {}
    for i, day in enumerate(DAYS):
        spans = []
        for n, part_vi, _ in SPANS:
            start = (request.form.get(f"hours_{day}_{n}_from") or "").strip()
            end = (request.form.get(f"hours_{day}_{n}_to") or "").strip()
            if not start and not end:
                continue
            if not start or not end:
                raise BadInputError(
                    f"{DAYS_VI[i]}, buổi {part_vi.lower()}: cần cả giờ mở và giờ đóng",
                    f"{day}: give both times",
                )
            spans.append([start, end])
        if spans:
            hours[day] = spans
    if not hours:
        raise BadInputError(
            "Chưa có giờ làm việc nào: nhập giờ cho ít nhất một ngày, hoặc chọn Luôn mở",
            "No opening hours at all",
        )
    return hours


def _holidays_from_form() -> list[dict]:
    """Holidays from the calendar rows (a date and a name each; ticked rows are removed)."""
    days = []
    for key in request.form:
        match = HOLIDAY_DAY.fullmatch(key)
        if not match or checkbox(f"holiday_drop_{match[1]}"):
            continue
        day = (request.form.get(key) or "").strip()
        if day:
            name = text(f"holiday_name_{match[1]}", "tên ngày nghỉ", max_len=80)
            days.append({"day": day, "name": name})
    return days


def _office_form_values() -> dict:
    return {
        "name": text("name", "tên văn phòng", required=True),
        "address": text("address", "địa chỉ", max_len=300),
        "timezone": text("timezone", "múi giờ", required=True, max_len=64),
        "hours": _hours_from_form(),
        "holidays": _holidays_from_form(),
        "ticket_footer": text("ticket_footer", "chân phiếu", max_len=300),
    }


def hours_model(office: dict | None, form=None) -> dict:
    """What the hours fields show: the stored hours and holidays, or what was just sent."""
    days = []
    stored = json.loads(office["hours"]) if office and office.get("hours") else None
    for i, day in enumerate(DAYS):
        if form is not None:
            spans = [
                (form.get(f"hours_{day}_{n}_from", ""), form.get(f"hours_{day}_{n}_to", ""))
                for n, _, _ in SPANS
            ]
        else:
            spans = [tuple(span) for span in (stored or {}).get(day, [])][: len(SPANS)]
            spans += [("", "")] * (len(SPANS) - len(spans))
        days.append({"key": day, "vi": DAYS_VI[i], "en": DAYS_EN[i], "spans": spans})
    if form is not None:
        always = form.get("always_open") in ("1", "on")
        rows = [
            {"day": form.get(k), "name": form.get(k.replace("_day_", "_name_"), "")}
            for k in form
            if HOLIDAY_DAY.fullmatch(k) and form.get(k)
        ]
    else:
        always = office is not None and stored is None
        rows = holidays(office) if office else []
    return {
        "always_open": always,
        "days": days,
        "holidays": rows,
        "spans": SPANS,
        "blank": NEW_HOLIDAY_ROWS,
    }


@bp.route("/setup/office", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_office():
    """The office: name, address, time zone, opening hours, ticket footer, public board link."""
    oid = office_id()
    if request.method == "POST":
        try:
            engine.update_office(get_db(), oid, **_office_form_values(), user_id=actor())
        except QueueError as err:
            return render(
                "office.html",
                oid,
                err,
                form=request.form,
                hours=hours_model(None, request.form),
                new_hours=hours_model(None),
                **_zone_link(oid),
            )
        return done("manager.setup_office", oid, "Đã lưu thông tin văn phòng")
    office = engine.get_office(get_db(), oid)
    shown = {"form": None, "hours": hours_model(office), "new_hours": hours_model(None)}
    try:
        return render("office.html", oid, **shown, **_zone_link(oid))[0]
    except QueueError as err:
        return render("office.html", oid, err, **shown, zone_form=request.args, zone_link=None)


def _zone_link(oid: int) -> dict:
    """The public board link limited to a zone, from ``?zone_services=&zone_counters=``."""
    services = (request.args.get("zone_services") or "").strip()
    counters = (request.args.get("zone_counters") or "").strip()
    form = {"services": services, "counters": counters}
    if not services and not counters:
        return {"zone_form": form, "zone_link": None}
    parse_zone(get_db(), oid, services, counters)  # refused here, not on the TV
    office = engine.get_office(get_db(), oid)
    query = {k: v for k, v in (("services", services), ("counters", counters)) if v}
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    link = base + url_for("display.board", board_id=office["board_id"], **query)
    return {"zone_form": form, "zone_link": link}


@bp.post("/setup/office/board-link")
@allow("manager")
def setup_board_link():
    """Give the public board link a new address; screens on the old one are disconnected."""
    oid = office_id()
    engine.rotate_board_link(get_db(), oid, user_id=actor())
    return done(
        "manager.setup_office",
        oid,
        "Đã đổi liên kết bảng hiển thị; hãy mở liên kết mới trên các màn hình",
    )


@bp.post("/setup/offices")
@allow("admin")
def setup_office_create():
    """Create a new office (admins with no office of their own)."""
    oid = office_id()
    if not current_principal().is_global_admin:
        raise NotFoundError("Không tìm thấy", "Not found")
    try:
        new_id = engine.create_office(get_db(), **_office_form_values(), user_id=actor())
    except QueueError as err:
        office = engine.get_office(get_db(), oid)
        return render(
            "office.html",
            oid,
            err,
            form=None,
            new_form=request.form,
            hours=hours_model(office),
            new_hours=hours_model(None, request.form),
        )
    flash("Đã tạo văn phòng mới", "ok")
    return redirect(url_for("manager.setup_office", office=new_id))


@bp.route("/setup/services", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_services():
    """Services: prefix, names vi/en, lĩnh vực, daily cap, active, order."""
    oid = office_id()
    if request.method == "POST":
        try:
            values = {
                "prefix": text("prefix", "ký hiệu", required=True, max_len=2),
                "name_vi": text("name_vi", "tên dịch vụ", required=True),
                "name_en": text("name_en", "tên tiếng Anh"),
                "field": text("field", "lĩnh vực"),
                "field_en": text("field_en", "lĩnh vực tiếng Anh"),
                "daily_cap": integer("daily_cap", "giới hạn số mỗi ngày", low=1, high=9999),
                "sort_order": integer("sort_order", "thứ tự", low=0, high=999) or 0,
            }
            engine.add_service(get_db(), oid, **values, user_id=actor())
        except QueueError as err:
            return _services(oid, err, request.form)
        return done("manager.setup_services", oid, "Đã thêm dịch vụ")
    return _services(oid)[0]


def _services(oid, error=None, form=None):
    return render(
        "services.html",
        oid,
        error,
        services=office_queries.services(get_db(), oid, active_only=False),
        form=form,
    )


@bp.post("/setup/services/<int:service_id>")
@allow("manager")
def setup_service_update(service_id: int):
    """Change one service."""
    service = owned("services", service_id)
    oid = service["office_id"]
    try:
        values = {
            "name_vi": text("name_vi", "tên dịch vụ", required=True),
            "name_en": text("name_en", "tên tiếng Anh"),
            "field": text("field", "lĩnh vực"),
            "field_en": text("field_en", "lĩnh vực tiếng Anh"),
            "daily_cap": integer("daily_cap", "giới hạn số mỗi ngày", low=1, high=9999),
            "active": checkbox("active"),
            "sort_order": integer("sort_order", "thứ tự", low=0, high=999) or 0,
        }
        engine.update_service(get_db(), service_id, **values, user_id=actor())
    except QueueError as err:
        return _services(oid, err)
    return done("manager.setup_services", oid, f"Đã lưu dịch vụ {service['prefix']}")


@bp.route("/setup/counters", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_counters():
    """Counters: number, name, services served in order of preference."""
    oid = office_id()
    if request.method == "POST":
        try:
            number = integer("number", "số quầy", required=True, low=1, high=999)
            services = service_list(oid)
            name = text("name", "tên quầy")
            engine.add_counter(get_db(), oid, number, services, name, user_id=actor())
        except QueueError as err:
            return _counters(oid, err, request.form)
        return done("manager.setup_counters", oid, "Đã thêm quầy")
    return _counters(oid)[0]


def _counters(oid, error=None, form=None):
    db = get_db()
    services = office_queries.services(db, oid, active_only=False)
    prefix = {s["id"]: s["prefix"] for s in services}
    counters = office_queries.counters(db, oid, active_only=False)
    for c in counters:
        c["prefixes"] = ", ".join(prefix[sid] for sid in c["services"])
    return render("counters.html", oid, error, counters=counters, services=services, form=form)


@bp.post("/setup/counters/<int:counter_id>")
@allow("manager")
def setup_counter_update(counter_id: int):
    """Change one counter: name, active, services in order."""
    counter = owned("counters", counter_id)
    oid = counter["office_id"]
    try:
        engine.update_counter(
            get_db(),
            counter_id,
            text("name", "tên quầy"),
            checkbox("active"),
            service_list(oid),
            user_id=actor(),
        )
    except QueueError as err:
        return _counters(oid, err)
    return done("manager.setup_counters", oid, f"Đã lưu quầy {counter['number']}")
