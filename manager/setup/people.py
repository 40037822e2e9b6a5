"""Setup of users (admins) and devices (pairing tokens, rename, revoke)."""

from __future__ import annotations

from flask import request, session

from xephang.engine import accounts
from xephang.errors import BadInputError, QueueError
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.web import get_db
from xephang.web.auth import allow, current_principal

from ..views import bp, office_id
from .forms import actor, checkbox, done, integer, owned, render, text

NEW_TOKEN = "manager_paired_token"  # session key: a new device's token, until shown once


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
                raise BadInputError("Mật khẩu tối thiểu 8 ký tự", "Password must be 8+ characters")
            accounts.add_user(
                get_db(),
                username,
                role,
                office,
                password,
                text("display_name", "tên hiển thị"),
                actor_id=actor(),
            )
        except QueueError as err:
            return _users(oid, err, request.form)
        return done("manager.setup_users", oid, "Đã thêm người dùng")
    return _users(oid)[0]


def _users(oid, error=None, form=None):
    db = get_db()
    return render(
        "users.html",
        oid,
        error,
        users=people.list_users(db),
        all_offices=sorted(office_queries.offices(db), key=lambda o: o["name"]),
        form=form,
        roles=accounts.ROLES,
    )


@bp.post("/setup/users/<int:user_id>")
@allow("admin")
def setup_user_update(user_id: int):
    """Change a user's role, office, name, active; optionally set a new password."""
    oid = office_id()
    try:
        role = text("role", "vai trò", required=True)
        office = integer("office_id", "văn phòng", low=1)
        if user_id == current_principal().user_id and (role != "admin" or not checkbox("active")):
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
            actor_id=actor(),
        )
        password = request.form.get("password") or ""
        if password:
            accounts.set_password(get_db(), user_id, password, actor_id=actor())
    except QueueError as err:
        return _users(oid, err)
    return done("manager.setup_users", oid, "Đã lưu người dùng")


@bp.route("/setup/devices", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_devices():
    """Devices: pair (post/redirect/get; the token is shown on the next page only), rename,
    revoke."""
    oid = office_id()
    if request.method == "POST":
        try:
            kind = text("kind", "loại thiết bị", required=True)
            name = text("name", "tên thiết bị", required=True, max_len=80)
            _device_id, token = accounts.add_device(get_db(), oid, kind, name, actor_id=actor())
        except QueueError as err:
            return _devices(oid, err)
        session[NEW_TOKEN] = {"office": oid, "token": token}
        return done("manager.setup_devices", oid, f"Đã ghép nối thiết bị {name}")
    new = session.pop(NEW_TOKEN, None)
    token = new["token"] if new and new.get("office") == oid else None
    page, status = _devices(oid, token=token)
    # A page carrying a token must not come back from the browser's cache.
    return page, status, ({"Cache-Control": "no-store"} if token else {})


def _devices(oid, error=None, token=None):
    return render(
        "devices.html",
        oid,
        error,
        devices=people.list_devices(get_db(), oid),
        token=token,
        kinds=accounts.DEVICE_KINDS,
    )


@bp.post("/setup/devices/<int:device_id>")
@allow("manager")
def setup_device_update(device_id: int):
    """Rename or revoke a device."""
    device = owned("devices", device_id)
    oid = device["office_id"]
    try:
        if request.form.get("action") == "revoke":
            accounts.revoke_device(get_db(), device_id, actor_id=actor())
            message = f"Đã thu hồi thiết bị {device['name']}"
        else:
            name = text("name", "tên thiết bị", required=True, max_len=80)
            accounts.rename_device(get_db(), device_id, name, actor_id=actor())
            message = "Đã đổi tên thiết bị"
    except QueueError as err:
        return _devices(oid, err)
    return done("manager.setup_devices", oid, message)
