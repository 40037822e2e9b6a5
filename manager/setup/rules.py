"""Setup of the calling and measuring rules: priority categories, targets, office settings."""

from __future__ import annotations

import json
import sqlite3

from flask import request

from xephang import engine, setup_views
from xephang.auth import allow
from xephang.db import write
from xephang.errors import BadInputError, QueueError
from xephang.web import get_db

from ..views import bp, office_id
from .forms import audit, checkbox, done, integer, owned, render, text

SETTING_FIELDS = ("priority_streak_max", "rating_scale", "announce_template", "number_reading",
                  "number_dialect", "voice_enabled", "board_message", "retention_days",
                  "comment_retention_days")


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
                audit(oid, "priority.add", values)
                message = "Đã thêm nhóm ưu tiên"
        except QueueError as err:
            return _priority(oid, err, request.form)
        except sqlite3.IntegrityError:  # the unique (office, key) backstop
            return _priority(oid, BadInputError("Mã nhóm ưu tiên đã có", "Key in use"),
                             request.form)
        return done("manager.setup_priority", oid, message)
    return _priority(oid)[0]


def _priority(oid, error=None, form=None):
    db = get_db()
    return render("priority.html", oid, error,
                  categories=setup_views.list_priority_categories(db, oid), form=form,
                  streak=engine.office_setting(db, oid, "priority_streak_max"))


@bp.post("/setup/priority/<int:category_id>")
@allow("manager")
def setup_priority_update(category_id: int):
    """Change one priority category."""
    category = owned("priority_categories", category_id)
    oid = category["office_id"]
    try:
        values = {"name_vi": text("name_vi", "tên nhóm", required=True),
                  "name_en": text("name_en", "tên tiếng Anh"),
                  "rank": integer("rank", "thứ hạng", low=0, high=99) or 0,
                  "active": checkbox("active")}
        engine.update_priority_category(get_db(), category_id, **values)
        audit(oid, "priority.update", {"key": category["key"], **values})
    except QueueError as err:
        return _priority(oid, err)
    return done("manager.setup_priority", oid, "Đã lưu nhóm ưu tiên")


def _target_value(metric: str) -> float:
    """The typed target in stored units: minutes to seconds, percent to a share."""
    raw = (request.form.get("value") or "").strip().replace(",", ".")
    try:
        number = float(raw)
    except ValueError:
        raise BadInputError("Giá trị chỉ tiêu phải là số", "Value must be a number") from None
    if metric == "avg_wait_s":
        if not 0 < number <= 600:
            raise BadInputError("Thời gian chờ chỉ tiêu phải từ 0 đến 600 phút",
                                "Wait target out of range")
        return number * 60
    if metric == "satisfied_share":
        if not 0 <= number <= 100:
            raise BadInputError("Tỷ lệ hài lòng phải từ 0 đến 100%", "Share must be 0-100")
        return number / 100
    raise BadInputError("Chỉ tiêu không hợp lệ", "Unknown metric")


@bp.route("/setup/targets", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_targets():
    """Targets with effective dates: average wait (minutes) and satisfaction share (%)."""
    oid = office_id()
    if request.method == "POST":
        try:
            metric = text("metric", "chỉ tiêu", required=True)
            value = _target_value(metric)
            service = integer("service_id", "dịch vụ", low=1)
            if service is not None:
                owned("services", service)
            since = text("effective_from", "ngày hiệu lực", required=True)
            engine.set_target(get_db(), oid, metric, value, since, service_id=service)
            audit(oid, "target.add", {"metric": metric, "value": value, "from": since,
                                      "service_id": service})
        except QueueError as err:
            return _targets(oid, err, request.form)
        return done("manager.setup_targets", oid, "Đã thêm chỉ tiêu")
    return _targets(oid)[0]


def _targets(oid, error=None, form=None):
    db = get_db()
    return render("targets.html", oid, error, targets=setup_views.list_targets(db, oid),
                  services=setup_views.list_services(db, oid), form=form)


@bp.post("/setup/targets/<int:target_id>/delete")
@allow("manager")
def setup_target_delete(target_id: int):
    """Remove a target entered by mistake."""
    target = owned("targets", target_id)
    oid = target["office_id"]
    try:
        engine.delete_target(get_db(), target_id)
        audit(oid, "target.delete", {"metric": target["metric"], "value": target["value"],
                                     "from": target["effective_from"]})
    except QueueError as err:
        return _targets(oid, err)
    return done("manager.setup_targets", oid, "Đã xóa chỉ tiêu")


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
    """Store several office settings in one transaction and audit them."""
    db = get_db()
    with write(db):
        for name, value in values.items():
            engine.set_office_setting(db, oid, name, value)
    audit(oid, "settings.update", values)


def _settings_values() -> dict:
    """The settings form, validated (Vietnamese errors)."""
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
        "comment_retention_days": integer("comment_retention_days", "số ngày lưu góp ý",
                                          required=True, low=1, high=3650),
    }
    if values["comment_retention_days"] > values["retention_days"]:
        raise BadInputError("Số ngày lưu góp ý không được vượt số ngày lưu nhật ký",
                            "Comments cannot outlive the log")
    return values


@bp.route("/setup/settings", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_settings():
    """Satisfaction scale, voice, board message and data retention of the office."""
    oid = office_id()
    if request.method == "POST":
        try:
            _set_settings(oid, _settings_values())
        except QueueError as err:
            return render("settings.html", oid, err, settings=_settings_form(oid),
                          form=request.form)
        return done("manager.setup_settings", oid, "Đã lưu thiết lập")
    return render("settings.html", oid, settings=_settings_form(oid), form=None)[0]


def _settings_form(oid: int) -> dict:
    values = engine.office_settings(get_db(), oid)
    values["rating_scale_text"] = "\n".join(
        f"{lv['level']} | {lv.get('vi', '')} | {lv.get('en', '')}"
        for lv in values["rating_scale"])
    values["json"] = json.dumps
    return values
