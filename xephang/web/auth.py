"""Who may call what: session login for pages, bearer tokens for devices and API clients.

Every view declares its callers with ``@allow(...)``: user roles (officer,
manager, admin) and device kinds (kiosk, display, printer). Roles nest:
a manager may do what an officer may, an admin what a manager may.
"""

from __future__ import annotations

import functools
import hmac
import secrets

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for

from ..engine.accounts import Principal
from ..errors import ForbiddenError, NotAuthenticatedError
from ..queries import people
from .context import get_db

bp = Blueprint("auth", __name__)

ROLE_RANK = {"officer": 1, "manager": 2, "admin": 3}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def current_principal() -> Principal | None:
    """The caller of this request, resolved once: bearer token, then session."""
    if "principal" in g:
        return g.principal
    principal = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        principal = people.principal_for_token(get_db(), header[7:].strip())
    elif session.get("user_id"):
        principal = people.active_user(get_db(), session["user_id"])
    elif session.get("device_id"):
        principal = people.paired_device(get_db(), session["device_id"])
    g.principal = principal
    return principal


def permits(principal: Principal | None, allowed: tuple[str, ...]) -> bool:
    """Whether a principal is among the allowed roles/device kinds (roles nest)."""
    if principal is None:
        return False
    if principal.kind == "device":
        return principal.role in allowed
    rank = ROLE_RANK[principal.role]
    return any(ROLE_RANK.get(a, 99) <= rank for a in allowed)


def require(*allowed: str) -> Principal:
    """The current principal if it is allowed; raise 401 or 403 otherwise."""
    principal = current_principal()
    if principal is None:
        raise NotAuthenticatedError("Cần đăng nhập", "Login required")
    if not permits(principal, allowed):
        raise ForbiddenError("Không có quyền thực hiện thao tác này", "Not allowed")
    return principal


def require_office(principal: Principal, office_id: int) -> None:
    """Refuse (403) a principal acting on another office."""
    if not principal.may_access_office(office_id):
        raise ForbiddenError("Không có quyền với văn phòng này", "Not allowed for this office")


def allow(*allowed: str, login_page: bool = False):
    """Declare who may call a view. ``login_page`` sends browsers to the login form on 401."""

    def decorator(view):
        view.allowed = allowed

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if login_page and current_principal() is None:
                return redirect(url_for("auth.login", next=request.full_path))
            require(*allowed)
            return view(*args, **kwargs)

        wrapper.allowed = allowed
        return wrapper

    return decorator


def public(view):
    """Declare a view open to anyone (citizens' pages, health checks)."""
    view.allowed = ("public",)
    return view


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Reject state-changing requests made with a session but without its CSRF token."""
    # Only a bearer token authenticates instead of the session (current_principal);
    # any other Authorization header must not switch the CSRF check off.
    if request.method in SAFE_METHODS or request.headers.get("Authorization", "").startswith(
        "Bearer "
    ):
        return
    if not (session.get("user_id") or session.get("device_id") or request.endpoint == "auth.login"):
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise ForbiddenError(
            "Phiên làm việc hết hạn, vui lòng tải lại trang", "Missing or invalid CSRF token"
        )


def pair_device_session(token: str) -> Principal | None:
    """Pair this browser with a device token (kiosk or display); None if invalid."""
    principal = people.principal_for_token(get_db(), token or "")
    if principal is None or principal.kind != "device":
        return None
    session.clear()
    session.permanent = True
    session["device_id"] = principal.device_id
    g.principal = principal
    return principal


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Staff login form (officers, managers, admins)."""
    error = None
    next_url = request.args.get("next") or ""
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = ""
    if request.method == "POST":
        user = people.authenticate(
            get_db(), request.form.get("username", ""), request.form.get("password", "")
        )
        if user:
            session.clear()
            session.permanent = True
            session["user_id"] = user["id"]
            csrf_token()
            if next_url:
                return redirect(next_url)
            home = "manager.dashboard" if user["role"] in ("manager", "admin") else "counter.index"
            return redirect(url_for(home))
        error = "Sai tên đăng nhập hoặc mật khẩu / Wrong username or password"
    status = 401 if error else 200
    return render_template("xephang/login.html", error=error, next=next_url), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """End the staff session."""
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Check CSRF before every request; give templates the token and the caller."""
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_principal"] = current_principal
    app.register_blueprint(bp)
