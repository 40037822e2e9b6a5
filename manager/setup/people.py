"""Setup of users and their API tokens, and of devices (pair, rename, revoke).

Scoped to the caller's office on read and on write: an admin or manager
bound to an office sees and changes that office's people only (the engine
refuses the rest, and another office's user answers as missing); a manager
manages officers only; only an admin with no office places users in other
offices or makes admins of no office.
"""

from __future__ import annotations

import io
import json
import secrets

import qrcode
import qrcode.image.svg
from flask import current_app, request, session, url_for

from xephang.engine import accounts
from xephang.engine.setup import parse_zone, zone_text
from xephang.errors import BadInputError, QueueError
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.reports.live import device_status_vi
from xephang.web import get_db
from xephang.web.auth import allow, current_principal

from ..views import bp, office_id
from .forms import checkbox, done, integer, owned, render, text

PAIR_NONCE = "manager_pair_nonce"  # session key: the pairing form's one-use nonce (no secret)
PAIR_PATHS = {"kiosk": "/kiosk/pair", "display": "/display/pair", "rating": "/counter/rating/pair"}


def _scope_office() -> int | None:
    """The office whose people the caller manages (None: every office)."""
    principal = current_principal()
    return None if principal.is_global_admin else principal.office_id


def _roles() -> tuple[str, ...]:
    principal = current_principal()
    if principal.role == "manager":
        return ("officer",)
    if not principal.is_global_admin:  # province users belong to no office
        return tuple(r for r in accounts.ROLES if r != accounts.PROVINCE)
    return accounts.ROLES


@bp.route("/setup/users", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_users():
    """Users and roles of the office (an admin of every office: of all offices)."""
    oid = office_id()
    if request.method == "POST":
        try:
            username = text("username", "tên đăng nhập", required=True, max_len=64)
            role = text("role", "vai trò", required=True)
            office = integer("office_id", "văn phòng", low=1)
            accounts.add_user(
                get_db(),
                username,
                role,
                None if role == accounts.PROVINCE else office,
                request.form.get("password") or "",
                text("display_name", "tên hiển thị"),
                actor=current_principal(),
                offices=_chosen_offices() if role == accounts.PROVINCE else None,
            )
        except QueueError as err:
            return _users(oid, err, request.form)
        return done("manager.setup_users", oid, "Đã thêm người dùng")
    return _users(oid)[0]


def _users(oid, error=None, form=None, new_token=None):
    db = get_db()
    scope = _scope_office()
    users = people.list_users(db, scope)
    offices = sorted(office_queries.offices(db), key=lambda o: o["name"])
    if scope is not None:
        offices = [o for o in offices if o["id"] == scope]
    tokens = {u["id"]: people.user_tokens(db, u["id"]) for u in users}
    return render(
        "users.html",
        oid,
        error,
        users=users,
        tokens=tokens,
        all_offices=offices,
        may_place_anywhere=scope is None,
        form=form,
        roles=_roles(),
        new_token=new_token,
    )


@bp.post("/setup/users/<int:user_id>")
@allow("manager")
def setup_user_update(user_id: int):
    """Change a user's role, office, name, active; optionally set a new password."""
    oid = office_id()
    try:
        role = text("role", "vai trò", required=True)
        office = integer("office_id", "văn phòng", low=1)
        if role == accounts.PROVINCE:
            office = None
        principal = current_principal()
        if user_id == principal.user_id and (role != principal.role or not checkbox("active")):
            raise BadInputError(
                "Không thể tự hạ quyền hoặc khóa tài khoản của chính mình",
                "You cannot demote or deactivate yourself",
            )
        accounts.update_user(
            get_db(),
            user_id,
            role,
            office,
            text("display_name", "tên hiển thị"),
            checkbox("active"),
            actor=principal,
        )
        password = request.form.get("password") or ""
        if password:
            accounts.set_password(get_db(), user_id, password, actor=principal)
    except QueueError as err:
        return _users(oid, err)
    return done("manager.setup_users", oid, "Đã lưu người dùng")


def _chosen_offices() -> list[int]:
    try:
        return [int(v) for v in request.form.getlist("offices") if v]
    except ValueError:
        raise BadInputError("Văn phòng không hợp lệ", "Invalid office") from None


@bp.post("/setup/users/<int:user_id>/offices")
@allow("admin")
def setup_user_offices(user_id: int):
    """The offices a province user may read (admins of every office only)."""
    oid = office_id()
    try:
        accounts.set_user_offices(get_db(), user_id, _chosen_offices(), actor=current_principal())
    except QueueError as err:
        return _users(oid, err)
    return done("manager.setup_users", oid, "Đã lưu các văn phòng được xem")


@bp.post("/setup/users/<int:user_id>/tokens")
@allow("admin")
def setup_user_token_add(user_id: int):
    """Make an API token for a user (shown once, on this page, never stored in clear)."""
    oid = office_id()
    db = get_db()
    user = next((u for u in people.list_users(db, _scope_office()) if u["id"] == user_id), None)
    try:
        if user is None:
            raise BadInputError("Không có người dùng này", "No such user")
        token = accounts.add_user_token(
            db, user["username"], text("name", "tên mã", max_len=80), actor=current_principal()
        )
    except QueueError as err:
        return _users(oid, err)
    page, status = _users(oid, new_token={"token": token, "username": user["username"]})
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/setup/tokens/<int:token_id>/revoke")
@allow("manager")
def setup_token_revoke(token_id: int):
    """Revoke one API token (refused from its next request; its sockets end)."""
    oid = office_id()
    try:
        accounts.revoke_user_token(get_db(), token_id, actor=current_principal())
    except QueueError as err:
        return _users(oid, err)
    return done("manager.setup_users", oid, "Đã thu hồi mã truy cập")


@bp.route("/setup/devices", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_devices():
    """Devices: pair (the token is shown on the answer to the form only, with its link and a
    QR code to open on the device; the form works once), rename, revoke."""
    oid = office_id()
    if request.method == "POST":
        if request.form.get("nonce") != session.pop(PAIR_NONCE, None):
            # A resent or stale form: it already paired a device, or was never this page's.
            return _devices(
                oid,
                BadInputError(
                    "Biểu mẫu này đã được gửi; thiết bị đã được ghép. Hãy tạo mã mới nếu cần",
                    "This form was already sent",
                ),
            )
        try:
            kind = text("kind", "loại thiết bị", required=True)
            name = text("name", "tên thiết bị", required=True, max_len=80)
            counter = integer("counter_id", "quầy", low=1) if kind == "rating" else None
            _device_id, token = accounts.add_device(
                get_db(), oid, kind, name, actor=current_principal(), counter_id=counter
            )
        except QueueError as err:
            return _devices(oid, err)
        page, status = _devices(oid, token=token, kind=kind)
        return page, status, {"Cache-Control": "no-store"}
    return _devices(oid)[0]


def _pair_link(kind: str, token: str) -> str | None:
    path = PAIR_PATHS.get(kind)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path + "?token=" + token if path else None


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=8)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    return svg[svg.index("<svg") :]  # inline: no XML declaration


def _devices(oid, error=None, token=None, kind=None):
    session[PAIR_NONCE] = nonce = secrets.token_urlsafe(16)
    link = _pair_link(kind, token) if token else None
    counters = office_queries.counters(get_db(), oid)
    return render(
        "devices.html",
        oid,
        error,
        devices=[
            {
                **d,
                "status_vi": device_status_vi(d["status"]),
                "zone_text": zone_text(get_db(), oid, json.loads(d["zone"] or "{}")),
            }
            for d in people.list_devices(get_db(), oid)
        ],
        token=token,
        pair_link=link,
        pair_qr=_qr_svg(link) if link else None,
        nonce=nonce,
        kinds=accounts.DEVICE_KINDS,
        counters=counters,
        counter_numbers={c["id"]: c["number"] for c in counters},
        pair_url=url_for("manager.setup_devices", office=oid if _scope_office() is None else None),
    )


@bp.post("/setup/devices/<int:device_id>")
@allow("manager")
def setup_device_update(device_id: int):
    """Rename or revoke a device, set a display's zone (the services and counters its
    board shows), or move a rating tablet to another counter."""
    device = owned("devices", device_id)
    oid = device["office_id"]
    try:
        if request.form.get("action") == "revoke":
            accounts.revoke_device(get_db(), device_id, actor=current_principal())
            message = f"Đã thu hồi thiết bị {device['name']}"
        elif request.form.get("action") == "zone":
            zone = parse_zone(
                get_db(),
                oid,
                text("zone_services", "dịch vụ của khu vực", max_len=300),
                text("zone_counters", "quầy của khu vực", max_len=300),
            )
            accounts.set_device_zone(get_db(), device_id, zone, actor=current_principal())
            message = f"Đã lưu khu vực của {device['name']}; màn hình cập nhật trong vòng một phút"
        else:
            name = text("name", "tên thiết bị", required=True, max_len=80)
            counter = integer("counter_id", "quầy", low=1)
            accounts.rename_device(
                get_db(), device_id, name, actor=current_principal(), counter_id=counter
            )
            message = "Đã lưu thiết bị"
    except QueueError as err:
        return _devices(oid, err)
    return done("manager.setup_devices", oid, message)
