"""Setup pages: offices, services, counters, users, devices, priority, targets, settings.

Admins set up everything; managers set up their own office (not users, not
new offices). Every form carries the CSRF token, every change goes through
an engine or accounts function, is written to the setup audit, and a
refused change re-renders the form with the reason in Vietnamese.
"""

from __future__ import annotations

import json
import sqlite3

from flask import flash, redirect, render_template, request, url_for

from xephang import accounts, engine
from xephang.auth import allow, current_principal, require_office
from xephang.db import one, write
from xephang.errors import BadInputError, NotFoundError, QueueError
from xephang.web import get_db

from .views import bp, office_id, page_context

SETTING_FIELDS = ("priority_streak_max", "rating_scale", "announce_template", "number_reading",
                  "number_dialect", "voice_enabled", "board_message", "retention_days",
                  "comment_retention_days")


# --------------------------------------------------------------------------- form parsing

def text(name: str, label: str, required: bool = False, max_len: int = 200) -> str:
    """A trimmed text field; Vietnamese error when missing or too long."""
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise BadInputError(f"Thiếu {label}", f"Missing {name}")
    if len(value) > max_len:
        raise BadInputError(f"{label} tối đa {max_len} ký tự", f"{name} too long")
    return value


def integer(name: str, label: str, required: bool = False, low: int | None = None,
            high: int | None = None) -> int | None:
    """An integer field within [low, high]; None when empty and optional."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise BadInputError(f"Thiếu {label}", f"Missing {name}")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadInputError(f"{label} phải là số nguyên", f"{name} must be an integer") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"từ {low}" + (f" đến {high}" if high is not None else " trở lên")
        raise BadInputError(f"{label} phải {bounds}", f"{name} out of range")
    return value


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true")


def service_list(oid: int, name: str = "services") -> list[int]:
    """Service ids from prefixes typed in order of preference ("A, B")."""
    raw = (request.form.get(name) or "").replace(";", ",").replace(" ", ",")
    prefixes = [p.strip().upper() for p in raw.split(",") if p.strip()]
    known = {r["prefix"]: r["id"] for r in get_db().query(
        "SELECT id, prefix FROM services WHERE office_id = ?", [oid])}
    missing = [p for p in prefixes if p not in known]
    if missing:
        raise BadInputError(f"Không có dịch vụ ký hiệu {', '.join(missing)}",
                            f"No service {', '.join(missing)}")
    if len(set(prefixes)) != len(prefixes):
        raise BadInputError("Một dịch vụ bị nhập hai lần", "Duplicate service")
    return [known[p] for p in prefixes]


def _audit(oid, action: str, details: dict) -> None:
    engine.record_setup_change(get_db(), oid, current_principal().user_id, action, details)


def _owned(table: str, row_id: int) -> dict:
    """A row of the office-scoped table, checked against the caller's offices."""
    row = one(get_db(), f"SELECT * FROM {table} WHERE id = ?", [row_id])
    if row is None:
        raise NotFoundError("Không tìm thấy", "Not found")
    require_office(current_principal(), row["office_id"])
    return row


def _render(template: str, oid: int, error: QueueError | None = None, **extra):
    context = page_context(oid)
    context.update(extra)
    status = error.status if error else 200
    return render_template(f"manager/setup/{template}", error=error, **context), status


def _done(endpoint: str, oid: int, message: str):
    flash(message, "ok")
    return redirect(url_for(endpoint, office=oid if current_principal().office_id is None
                            else None))


# --------------------------------------------------------------------------- pages

@bp.get("/setup/")
@allow("manager", login_page=True)
def setup_index():
    """The setup menu and the latest setup changes of the office."""
    oid = office_id()
    changes = list(get_db().query(
        "SELECT a.at, a.action, a.details, coalesce(u.display_name, u.username) AS who FROM"
        " setup_audit a LEFT JOIN users u ON u.id = a.user_id WHERE a.office_id = ? OR"
        " a.office_id IS NULL ORDER BY a.id DESC LIMIT 20", [oid]))
    return _render("index.html", oid, changes=changes)[0]


def _office_form_values() -> dict:
    hours = (request.form.get("hours") or "").strip()
    return {"name": text("name", "tên văn phòng", required=True),
            "address": text("address", "địa chỉ", max_len=300),
            "timezone": text("timezone", "múi giờ", required=True, max_len=64),
            "hours": hours or None,
            "ticket_footer": text("ticket_footer", "chân phiếu", max_len=300)}


@bp.route("/setup/office", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_office():
    """The office: name, address, time zone, opening hours, ticket footer, public board link."""
    oid = office_id()
    if request.method == "POST":
        try:
            values = _office_form_values()
            engine.update_office(get_db(), oid, **values)
            _audit(oid, "office.update", values)
        except QueueError as err:
            return _render("office.html", oid, err, form=request.form)
        return _done("manager.setup_office", oid, "Đã lưu thông tin văn phòng")
    return _render("office.html", oid, form=None)[0]


@bp.post("/setup/offices")
@allow("admin")
def setup_office_create():
    """Create a new office (admins)."""
    oid = office_id()
    try:
        values = _office_form_values()
        new_id = engine.create_office(get_db(), **values)
        _audit(new_id, "office.create", values)
    except QueueError as err:
        return _render("office.html", oid, err, form=None, new_form=request.form)
    flash("Đã tạo văn phòng mới", "ok")
    return redirect(url_for("manager.setup_office", office=new_id))


@bp.route("/setup/services", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_services():
    """Services: prefix, names vi/en, lĩnh vực, daily cap, active, order."""
    oid = office_id()
    if request.method == "POST":
        try:
            values = {"prefix": text("prefix", "ký hiệu", required=True, max_len=2),
                      "name_vi": text("name_vi", "tên dịch vụ", required=True),
                      "name_en": text("name_en", "tên tiếng Anh"),
                      "field": text("field", "lĩnh vực"),
                      "daily_cap": integer("daily_cap", "giới hạn số mỗi ngày", low=1,
                                           high=9999),
                      "sort_order": integer("sort_order", "thứ tự", low=0, high=999) or 0}
            engine.add_service(get_db(), oid, **values)
            _audit(oid, "service.add", values)
        except QueueError as err:
            return _services(oid, err, request.form)
        return _done("manager.setup_services", oid, "Đã thêm dịch vụ")
    return _services(oid)[0]


def _services(oid, error=None, form=None):
    services = list(get_db().query("SELECT * FROM services WHERE office_id = ? ORDER BY"
                                   " sort_order, prefix", [oid]))
    return _render("services.html", oid, error, services=services, form=form)


@bp.post("/setup/services/<int:service_id>")
@allow("manager")
def setup_service_update(service_id: int):
    """Change one service."""
    service = _owned("services", service_id)
    oid = service["office_id"]
    try:
        values = {"name_vi": text("name_vi", "tên dịch vụ", required=True),
                  "name_en": text("name_en", "tên tiếng Anh"),
                  "field": text("field", "lĩnh vực"),
                  "daily_cap": integer("daily_cap", "giới hạn số mỗi ngày", low=1, high=9999),
                  "active": checkbox("active"),
                  "sort_order": integer("sort_order", "thứ tự", low=0, high=999) or 0}
        engine.update_service(get_db(), service_id, **values)
        _audit(oid, "service.update", {"id": service_id, **values})
    except QueueError as err:
        return _services(oid, err)
    return _done("manager.setup_services", oid, f"Đã lưu dịch vụ {service['prefix']}")


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
            engine.add_counter(get_db(), oid, number, services, name)
            _audit(oid, "counter.add", {"number": number, "services": services})
        except QueueError as err:
            return _counters(oid, err, request.form)
        return _done("manager.setup_counters", oid, "Đã thêm quầy")
    return _counters(oid)[0]


def _counters(oid, error=None, form=None):
    db = get_db()
    counters = list(db.query("SELECT * FROM counters WHERE office_id = ? ORDER BY number",
                             [oid]))
    for c in counters:
        c["services"] = [r[0] for r in db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [c["id"]]).fetchall()]
    services = list(db.query("SELECT id, prefix, name_vi FROM services WHERE office_id = ?"
                             " ORDER BY sort_order, prefix", [oid]))
    prefix = {s["id"]: s["prefix"] for s in services}
    for c in counters:
        c["prefixes"] = ", ".join(prefix[sid] for sid in c["services"])
    return _render("counters.html", oid, error, counters=counters, services=services,
                   form=form)


@bp.post("/setup/counters/<int:counter_id>")
@allow("manager")
def setup_counter_update(counter_id: int):
    """Change one counter: name, active, services in order."""
    counter = _owned("counters", counter_id)
    oid = counter["office_id"]
    try:
        services = service_list(oid)
        engine.update_counter(get_db(), counter_id, text("name", "tên quầy"),
                              checkbox("active"), services)
        _audit(oid, "counter.update", {"number": counter["number"], "services": services,
                                       "active": checkbox("active")})
    except QueueError as err:
        return _counters(oid, err)
    return _done("manager.setup_counters", oid, f"Đã lưu quầy {counter['number']}")


@bp.route("/setup/users", methods=["GET", "POST"])
@allow("admin", login_page=True)
def setup_users():
    """Users and roles (admins)."""
    oid = office_id()
    if request.method == "POST":
        try:
            username = text("username", "tên đăng nhập", required=True, max_len=64)
            role = text("role", "vai trò", required=True)
            office = integer("office_id", "văn phòng", low=1)
            password = request.form.get("password") or ""
            if len(password) < 8:
                raise BadInputError("Mật khẩu tối thiểu 8 ký tự",
                                    "Password must be 8+ characters")
            accounts.add_user(get_db(), username, role, office, password,
                              text("display_name", "tên hiển thị"))
            _audit(office, "user.add", {"username": username, "role": role})
        except QueueError as err:
            return _users(oid, err, request.form)
        return _done("manager.setup_users", oid, "Đã thêm người dùng")
    return _users(oid)[0]


def _users(oid, error=None, form=None):
    db = get_db()
    users = list(db.query("SELECT u.*, o.name AS office_name FROM users u LEFT JOIN offices o"
                          " ON o.id = u.office_id ORDER BY u.office_id, u.role, u.username"))
    offices = list(db.query("SELECT id, name FROM offices ORDER BY name"))
    return _render("users.html", oid, error, users=users, all_offices=offices, form=form,
                   roles=accounts.ROLES)


@bp.post("/setup/users/<int:user_id>")
@allow("admin")
def setup_user_update(user_id: int):
    """Change a user's role, office, name, active; optionally set a new password."""
    oid = office_id()
    try:
        role = text("role", "vai trò", required=True)
        office = integer("office_id", "văn phòng", low=1)
        if user_id == current_principal().user_id and (role != "admin"
                                                       or not checkbox("active")):
            raise BadInputError("Không thể tự hạ quyền hoặc khóa tài khoản của chính mình",
                                "You cannot demote or deactivate yourself")
        accounts.update_user(get_db(), user_id, role, office, text("display_name",
                                                                   "tên hiển thị"),
                             checkbox("active"))
        password = request.form.get("password") or ""
        if password:
            accounts.set_password(get_db(), user_id, password)
        _audit(office, "user.update", {"id": user_id, "role": role,
                                       "active": checkbox("active"),
                                       "password_changed": bool(password)})
    except QueueError as err:
        return _users(oid, err)
    return _done("manager.setup_users", oid, "Đã lưu người dùng")


@bp.route("/setup/devices", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_devices():
    """Devices: pair (the token is shown once), rename, revoke."""
    oid = office_id()
    token = None
    if request.method == "POST":
        try:
            kind = text("kind", "loại thiết bị", required=True)
            name = text("name", "tên thiết bị", required=True, max_len=80)
            _device_id, token = accounts.add_device(get_db(), oid, kind, name)
            _audit(oid, "device.pair", {"kind": kind, "name": name})
        except QueueError as err:
            return _devices(oid, err)
    return _devices(oid, token=token)[0]


def _devices(oid, error=None, token=None):
    devices = list(get_db().query("SELECT * FROM devices WHERE office_id = ? ORDER BY"
                                  " revoked_at IS NOT NULL, kind, name", [oid]))
    return _render("devices.html", oid, error, devices=devices, token=token,
                   kinds=accounts.DEVICE_KINDS)


@bp.post("/setup/devices/<int:device_id>")
@allow("manager")
def setup_device_update(device_id: int):
    """Rename or revoke a device."""
    device = _owned("devices", device_id)
    oid = device["office_id"]
    try:
        if request.form.get("action") == "revoke":
            accounts.revoke_device(get_db(), device_id)
            _audit(oid, "device.revoke", {"id": device_id, "name": device["name"]})
            message = f"Đã thu hồi thiết bị {device['name']}"
        else:
            name = text("name", "tên thiết bị", required=True, max_len=80)
            accounts.rename_device(get_db(), device_id, name)
            _audit(oid, "device.rename", {"id": device_id, "name": name})
            message = "Đã đổi tên thiết bị"
    except QueueError as err:
        return _devices(oid, err)
    return _done("manager.setup_devices", oid, message)


@bp.route("/setup/priority", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_priority():
    """Priority categories and the interleave rule (at most N priority calls in a row)."""
    oid = office_id()
    if request.method == "POST":
        try:
            if request.form.get("action") == "streak":
                value = integer("priority_streak_max", "số lượt ưu tiên liên tiếp",
                                required=True, low=0, high=20)
                _set_settings(oid, {"priority_streak_max": value})
                message = "Đã lưu quy tắc xen kẽ"
            else:
                values = {"key": text("key", "mã nhóm", required=True, max_len=32),
                          "name_vi": text("name_vi", "tên nhóm", required=True),
                          "name_en": text("name_en", "tên tiếng Anh"),
                          "rank": integer("rank", "thứ hạng", low=0, high=99) or 0}
                engine.add_priority_category(get_db(), oid, **values)
                _audit(oid, "priority.add", values)
                message = "Đã thêm nhóm ưu tiên"
        except QueueError as err:
            return _priority(oid, err, request.form)
        except sqlite3.IntegrityError:  # the unique (office, key) backstop
            return _priority(oid, BadInputError("Mã nhóm ưu tiên đã có", "Key in use"),
                             request.form)
        return _done("manager.setup_priority", oid, message)
    return _priority(oid)[0]


def _priority(oid, error=None, form=None):
    categories = list(get_db().query("SELECT * FROM priority_categories WHERE office_id = ?"
                                     " ORDER BY rank, key", [oid]))
    return _render("priority.html", oid, error, categories=categories, form=form,
                   streak=engine.office_setting(get_db(), oid, "priority_streak_max"))


@bp.post("/setup/priority/<int:category_id>")
@allow("manager")
def setup_priority_update(category_id: int):
    """Change one priority category."""
    category = _owned("priority_categories", category_id)
    oid = category["office_id"]
    try:
        values = {"name_vi": text("name_vi", "tên nhóm", required=True),
                  "name_en": text("name_en", "tên tiếng Anh"),
                  "rank": integer("rank", "thứ hạng", low=0, high=99) or 0,
                  "active": checkbox("active")}
        engine.update_priority_category(get_db(), category_id, **values)
        _audit(oid, "priority.update", {"key": category["key"], **values})
    except QueueError as err:
        return _priority(oid, err)
    return _done("manager.setup_priority", oid, "Đã lưu nhóm ưu tiên")


@bp.route("/setup/targets", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_targets():
    """Targets with effective dates: average wait (minutes) and satisfaction share (%)."""
    oid = office_id()
    if request.method == "POST":
        try:
            metric = text("metric", "chỉ tiêu", required=True)
            raw = (request.form.get("value") or "").strip().replace(",", ".")
            try:
                number = float(raw)
            except ValueError:
                raise BadInputError("Giá trị chỉ tiêu phải là số", "Value must be a number"
                                    ) from None
            if metric == "avg_wait_s":
                if not 0 < number <= 600:
                    raise BadInputError("Thời gian chờ chỉ tiêu phải từ 0 đến 600 phút",
                                        "Wait target out of range")
                value = number * 60
            elif metric == "satisfied_share":
                if not 0 <= number <= 100:
                    raise BadInputError("Tỷ lệ hài lòng phải từ 0 đến 100%",
                                        "Share must be 0-100")
                value = number / 100
            else:
                raise BadInputError("Chỉ tiêu không hợp lệ", "Unknown metric")
            service = integer("service_id", "dịch vụ", low=1)
            if service is not None:
                _owned("services", service)
            since = text("effective_from", "ngày hiệu lực", required=True)
            engine.set_target(get_db(), oid, metric, value, since, service_id=service)
            _audit(oid, "target.add", {"metric": metric, "value": value, "from": since,
                                       "service_id": service})
        except QueueError as err:
            return _targets(oid, err, request.form)
        return _done("manager.setup_targets", oid, "Đã thêm chỉ tiêu")
    return _targets(oid)[0]


def _targets(oid, error=None, form=None):
    db = get_db()
    targets = list(db.query(
        "SELECT t.*, s.prefix, s.name_vi FROM targets t LEFT JOIN services s ON"
        " s.id = t.service_id WHERE t.office_id = ? ORDER BY t.metric, t.service_id IS NOT NULL,"
        " s.prefix, t.effective_from", [oid]))
    services = list(db.query("SELECT id, prefix, name_vi FROM services WHERE office_id = ?"
                             " ORDER BY sort_order, prefix", [oid]))
    return _render("targets.html", oid, error, targets=targets, services=services, form=form)


@bp.post("/setup/targets/<int:target_id>/delete")
@allow("manager")
def setup_target_delete(target_id: int):
    """Remove a target entered by mistake."""
    target = _owned("targets", target_id)
    oid = target["office_id"]
    try:
        engine.delete_target(get_db(), target_id)
        _audit(oid, "target.delete", {"metric": target["metric"], "value": target["value"],
                                      "from": target["effective_from"]})
    except QueueError as err:
        return _targets(oid, err)
    return _done("manager.setup_targets", oid, "Đã xóa chỉ tiêu")


def parse_rating_scale(raw: str) -> list[dict]:
    """Lines "level | tiếng Việt | English", best first; the last line counts as not satisfied."""
    scale, seen = [], set()
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or not parts[1]:
            raise BadInputError(f"Dòng {number} của thang đánh giá cần 'mức | tên tiếng Việt"
                                " | tên tiếng Anh'", "Rating scale line malformed")
        try:
            level = int(parts[0])
        except ValueError:
            raise BadInputError(f"Dòng {number}: mức đánh giá phải là số nguyên",
                                "Level must be an integer") from None
        if level in seen:
            raise BadInputError(f"Mức {level} bị lặp", "Duplicate level")
        seen.add(level)
        scale.append({"level": level, "vi": parts[1], "en": parts[2] if len(parts) > 2 else ""})
    if not 2 <= len(scale) <= 7:
        raise BadInputError("Thang đánh giá cần từ 2 đến 7 mức", "Scale needs 2-7 levels")
    return scale


def _set_settings(oid: int, values: dict) -> None:
    db = get_db()
    with write(db):
        for name, value in values.items():
            engine.set_office_setting(db, oid, name, value)
    _audit(oid, "settings.update", values)


@bp.route("/setup/settings", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_settings():
    """Satisfaction scale, voice, board message and data retention of the office."""
    oid = office_id()
    if request.method == "POST":
        try:
            template = text("announce_template", "câu gọi số", required=True, max_len=200)
            if "{code}" not in template or "{counter}" not in template:
                raise BadInputError("Câu gọi số phải có {code} và {counter}",
                                    "Template needs {code} and {counter}")
            reading = text("number_reading", "cách đọc số", required=True)
            if reading not in ("digits", "number"):
                raise BadInputError("Cách đọc số không hợp lệ", "Invalid number reading")
            dialect = text("number_dialect", "giọng đọc", required=True)
            if dialect not in ("north", "south"):
                raise BadInputError("Giọng đọc không hợp lệ", "Invalid dialect")
            values = {
                "rating_scale": parse_rating_scale(request.form.get("rating_scale", "")),
                "announce_template": template, "number_reading": reading,
                "number_dialect": dialect, "voice_enabled": checkbox("voice_enabled"),
                "board_message": text("board_message", "thông báo trên bảng", max_len=500),
                "retention_days": integer("retention_days", "số ngày lưu nhật ký",
                                          required=True, low=30, high=3650),
                "comment_retention_days": integer("comment_retention_days",
                                                  "số ngày lưu góp ý", required=True, low=1,
                                                  high=3650),
            }
            if values["comment_retention_days"] > values["retention_days"]:
                raise BadInputError("Số ngày lưu góp ý không được vượt số ngày lưu nhật ký",
                                    "Comments cannot outlive the log")
            _set_settings(oid, values)
        except QueueError as err:
            return _render("settings.html", oid, err, settings=_settings_form(oid),
                           form=request.form)
        return _done("manager.setup_settings", oid, "Đã lưu thiết lập")
    return _render("settings.html", oid, settings=_settings_form(oid), form=None)[0]


def _settings_form(oid: int) -> dict:
    values = engine.office_settings(get_db(), oid)
    values["rating_scale_text"] = "\n".join(
        f"{lv['level']} | {lv.get('vi', '')} | {lv.get('en', '')}"
        for lv in values["rating_scale"])
    values["json"] = json.dumps
    return values
