"""Setup of the calling and measuring rules: priority categories, targets, office settings.

The settings forms are drawn from the typed definitions in
``xephang.engine.settings`` and validated there, not here.
"""

from __future__ import annotations

from flask import request

from xephang import engine
from xephang.engine.settings import ATTRIBUTE_FIELDS, in_section
from xephang.errors import BadInputError, QueueError
from xephang.queries import office as office_queries
from xephang.web import get_db
from xephang.web.auth import allow

from ..views import bp, office_id
from .forms import actor, checkbox, done, integer, owned, render, text

SETTINGS_PAGE_SECTIONS = ("rating", "voice", "estimate", "report", "retention")


def sent_settings(sections) -> dict:
    """What the form sent for the settings of these sections (an unticked box is false)."""
    return {
        s.name: request.form.get(s.name, "") for section in sections for s in in_section(section)
    }


def setting_fields(oid: int, sections, form=None) -> list[dict]:
    """The fields of these sections: each definition with its value (current, or as sent)."""
    values = engine.office_settings(get_db(), oid)
    fields = []
    for section in sections:
        for s in in_section(section):
            value = values[s.name]
            if form is not None:
                value = form.get(s.name, "")
            elif s.type == "scale":
                value = "\n".join(
                    f"{lv['level']} | {lv.get('vi', '')} | {lv.get('en', '')}" for lv in value
                )
            elif s.type == "attributes":
                value = "\n".join(" | ".join(a.get(k, "") for k in ATTRIBUTE_FIELDS) for a in value)
            fields.append({"setting": s, "value": value, "section": section})
    return fields


@bp.route("/setup/priority", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_priority():
    """Priority categories and the interleave rule (at most N priority calls in a row)."""
    oid = office_id()
    if request.method == "POST":
        try:
            if request.form.get("action") == "streak":
                engine.set_office_settings(
                    get_db(), oid, sent_settings(["priority"]), user_id=actor()
                )
                message = "Đã lưu quy tắc xen kẽ"
            else:
                values = {
                    "key": text("key", "mã nhóm", required=True, max_len=32),
                    "name_vi": text("name_vi", "tên nhóm", required=True),
                    "name_en": text("name_en", "tên tiếng Anh"),
                    "rank": integer("rank", "thứ hạng", low=0, high=99) or 0,
                }
                engine.add_priority_category(get_db(), oid, **values, user_id=actor())
                message = "Đã thêm nhóm ưu tiên"
        except QueueError as err:
            return _priority(oid, err, request.form)
        return done("manager.setup_priority", oid, message)
    return _priority(oid)[0]


def _priority(oid, error=None, form=None):
    streak_form = form if form is not None and form.get("action") == "streak" else None
    return render(
        "priority.html",
        oid,
        error,
        categories=office_queries.priority_categories(get_db(), oid),
        form=form,
        fields=setting_fields(oid, ["priority"], streak_form),
    )


@bp.post("/setup/priority/<int:category_id>")
@allow("manager")
def setup_priority_update(category_id: int):
    """Change one priority category."""
    category = owned("priority_categories", category_id)
    oid = category["office_id"]
    try:
        values = {
            "name_vi": text("name_vi", "tên nhóm", required=True),
            "name_en": text("name_en", "tên tiếng Anh"),
            "rank": integer("rank", "thứ hạng", low=0, high=99) or 0,
            "active": checkbox("active"),
        }
        engine.update_priority_category(get_db(), category_id, **values, user_id=actor())
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
            raise BadInputError(
                "Thời gian chờ chỉ tiêu phải từ 0 đến 600 phút", "Wait target out of range"
            )
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
            engine.set_target(
                get_db(), oid, metric, value, since, service_id=service, user_id=actor()
            )
        except QueueError as err:
            return _targets(oid, err, request.form)
        return done("manager.setup_targets", oid, "Đã thêm chỉ tiêu")
    return _targets(oid)[0]


def _targets(oid, error=None, form=None):
    db = get_db()
    return render(
        "targets.html",
        oid,
        error,
        targets=office_queries.targets(db, oid),
        services=office_queries.services(db, oid, active_only=False),
        form=form,
    )


@bp.post("/setup/targets/<int:target_id>/delete")
@allow("manager")
def setup_target_delete(target_id: int):
    """Remove a target entered by mistake."""
    target = owned("targets", target_id)
    oid = target["office_id"]
    try:
        engine.delete_target(get_db(), target_id, user_id=actor())
    except QueueError as err:
        return _targets(oid, err)
    return done("manager.setup_targets", oid, "Đã xóa chỉ tiêu")


@bp.route("/setup/settings", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_settings():
    """Satisfaction scale, voice, board message and data retention of the office."""
    oid = office_id()
    if request.method == "POST":
        try:
            engine.set_office_settings(
                get_db(), oid, sent_settings(SETTINGS_PAGE_SECTIONS), user_id=actor()
            )
        except QueueError as err:
            return render(
                "settings.html",
                oid,
                err,
                fields=setting_fields(oid, SETTINGS_PAGE_SECTIONS, request.form),
                sections=SETTINGS_PAGE_SECTIONS,
            )
        return done("manager.setup_settings", oid, "Đã lưu thiết lập")
    return render(
        "settings.html",
        oid,
        fields=setting_fields(oid, SETTINGS_PAGE_SECTIONS),
        sections=SETTINGS_PAGE_SECTIONS,
    )[0]
