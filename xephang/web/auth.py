"""Who may call what: session login for pages, bearer tokens for devices and API clients.

Every view declares its callers with ``@allow(...)``: user roles (officer,
manager, admin, province) and device kinds (kiosk, display, printer,
rating). Roles nest: a manager may do what an officer may, an admin what a
manager may. ``province`` stands apart: it may call only the views that name
it (the read-only pages of the offices it was given), and every write it
sends is refused before any view runs (``refuse_read_only_writes``).

A browser session is a server-side record (``engine.access``): the signed
cookie holds only its random key (``sid``) and the CSRF token, so logging
out or a revocation ends it everywhere at once.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash

from ..engine import access, accounts
from ..engine.accounts import Principal
from ..errors import ForbiddenError, NotAuthenticatedError, NotFoundError, RateLimitError
from ..queries import people
from .context import blocking, client_address, get_db

bp = Blueprint("auth", __name__)

ROLE_RANK = {"officer": 1, "manager": 2, "admin": 3}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Forms that start a session need their CSRF token even when the browser has none yet
# (a forged login or pairing would put the victim's browser in someone else's session).
SESSION_STARTERS = (
    "auth.login",
    "kiosk.pair_confirm",
    "display.pair_confirm",
    "counter.rating_pair_confirm",
)
# What a read-only caller may still send: ending its session, or starting another one.
READ_ONLY_WRITES = ("auth.logout", "auth.login")


def current_principal() -> Principal | None:
    """The caller of this request, resolved once: bearer token, then session."""
    if "principal" in g:
        return g.principal
    principal = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        principal = people.principal_for_token(get_db(), header[7:].strip())
        if principal is not None:
            accounts.note_token_use(get_db(), principal)
    elif session.get("sid"):
        principal = people.principal_for_session(
            get_db(), session["sid"], current_app.permanent_session_lifetime
        )
    g.principal = principal
    return principal


def permits(principal: Principal | None, allowed: tuple[str, ...]) -> bool:
    """Whether a principal is among the allowed roles/device kinds (roles nest)."""
    if principal is None:
        return False
    if principal.kind == "device":
        return principal.role in allowed
    if principal.is_province:  # outside the nesting: only where a view names it
        return "province" in allowed
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
    """Another office answers exactly as a missing one (404): ids cannot be probed."""
    if not principal.may_access_office(office_id):
        raise NotFoundError(f"Không có văn phòng {office_id}", f"No office {office_id}")


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


def refuse_cross_site() -> None:
    """Refuse a public request that creates something when a browser sent it from another
    site (datasette's check): its ``Sec-Fetch-Site``, else its ``Origin`` against this
    host. Public forms and API calls have no session to carry a CSRF token, and a page
    elsewhere must not take numbers or book slots with its visitors' browsers. Clients
    that are not browsers send neither header and pass."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        allowed = site in ("same-origin", "none")
    else:
        origin = request.headers.get("Origin")
        allowed = origin is None or urlsplit(origin).netloc == request.host
    if not allowed:
        raise ForbiddenError(
            "Yêu cầu gửi từ trang web khác bị từ chối", "Cross-site request refused"
        )


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
    if not (session.get("sid") or request.endpoint in SESSION_STARTERS):
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise ForbiddenError(
            "Phiên làm việc hết hạn, vui lòng tải lại trang", "Missing or invalid CSRF token"
        )


def refuse_read_only_writes() -> None:
    """Refuse every state-changing request of a read-only caller (a province user), whatever
    the view: the one place that makes "read-only" hold for the pages and the API alike."""
    if request.method in SAFE_METHODS or request.endpoint in READ_ONLY_WRITES:
        return
    principal = current_principal()
    if principal is not None and principal.read_only:
        raise ForbiddenError(
            "Tài khoản cấp tỉnh chỉ được xem, không được thay đổi", "Province users are read-only"
        )


def _begin_session(user_id: int | None = None, device_id: int | None = None) -> None:
    """A fresh session for this browser (a new key: no fixation), ending the one it had."""
    old = session.get("sid")
    if old:
        access.end_session(get_db(), old)
    session.clear()
    session.permanent = True
    session["sid"] = access.start_session(get_db(), user_id=user_id, device_id=device_id)
    csrf_token()
    g.pop("principal", None)


def pairing_page(token: str, kind: str, action: str):
    """The page a pairing link opens: what is about to be paired, and the button that
    does it (a POST). None when the token is not a live device token of ``kind``: the
    kind is checked before anything is shown or changed."""
    principal = people.principal_for_token(get_db(), token or "")
    if principal is None or principal.kind != "device" or principal.role != kind:
        return None
    from ..engine.lookups import get_office
    from ..queries.office import counter_row

    current = current_principal()
    signed_in = current.name if current is not None and current.kind == "user" else ""
    counter = counter_row(get_db(), principal.counter_id) if principal.counter_id else None
    return render_template(
        "xephang/pair.html",
        kind=kind,
        token=token,
        action=action,
        signed_in=signed_in,
        office=get_office(get_db(), principal.office_id),
        device_name=principal.name,
        counter=counter,
    )


def pair_device_session(token: str, kind: str) -> Principal | None:
    """Pair this browser as a device of ``kind`` with its token; None if invalid.

    The token's kind is checked before anything changes: a display token
    cannot pair a kiosk, and a wrong token leaves a signed-in session alone.
    """
    principal = people.principal_for_token(get_db(), token or "")
    if principal is None or principal.kind != "device" or principal.role != kind:
        return None
    _begin_session(device_id=principal.device_id)
    return principal


def safe_next(raw: str | None) -> str:
    """A same-site path to go to after login, or "" (no scheme, host, control character,
    backslash or ``//`` before or after decoding)."""
    if not raw or not isinstance(raw, str):
        return ""
    for text in (raw, unquote(raw)):
        if any(ord(ch) < 32 or ch in "\\\x7f" for ch in text):
            return ""
        parts = urlsplit(text)
        if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
            return ""
    return raw


def _check_password(stored: str, password: str) -> bool:
    return blocking(check_password_hash, stored, password)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Staff login form (officers, managers, admins); failed logins are throttled."""
    error, status = None, 200
    next_url = safe_next(request.args.get("next"))
    if request.method == "POST":
        db = get_db()
        username = request.form.get("username", "")[:64]
        address = client_address() or ""
        try:
            access.check_login_allowed(db, username, address)
        except RateLimitError as err:
            return render_template("xephang/login.html", error=err.message, next=next_url), 429
        user = people.authenticate(
            db, username, request.form.get("password", ""), check=_check_password
        )
        if user:
            access.clear_login_failures(db, username)
            _begin_session(user_id=user["id"])
            if next_url:
                return redirect(next_url)
            home = {
                "manager": "manager.dashboard",
                "admin": "manager.dashboard",
                "province": "manager.province",
            }.get(user["role"], "counter.index")
            return redirect(url_for(home))
        access.record_login_failure(db, username, address)
        error = "Sai tên đăng nhập hoặc mật khẩu / Wrong username or password"
        status = 401
    return render_template("xephang/login.html", error=error, next=next_url), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """End this browser's session everywhere (a copy of the cookie is refused too)."""
    if session.get("sid"):
        access.end_session(get_db(), session["sid"])
    session.clear()
    return redirect(url_for("auth.login"))


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, its signer built once per secret key: Flask builds
    one (key derivation included) for every request, cookie or not."""

    _signer: tuple | None = None

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._signer
        if cached is None or cached[0] != key:
            cached = self._signer = (key, super().get_signing_serializer(app))
        return cached[1]


def init_app(app: Flask) -> None:
    """Check CSRF before every request; give templates the token and the caller."""
    app.session_interface = SessionCookies()
    app.before_request(check_csrf)
    app.before_request(refuse_read_only_writes)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_principal"] = current_principal
    app.register_blueprint(bp)
