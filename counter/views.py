"""Counter pages: the officer's screen."""

from flask import Blueprint, abort, render_template

from xephang.web.auth import allow, current_principal

bp = Blueprint(
    "counter",
    __name__,
    url_prefix="/counter",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.get("/")
@allow("officer", login_page=True)
def index():
    """The counter screen: choose a counter once (remembered on this machine), then drive it."""
    principal = current_principal()
    if principal.kind != "user":
        abort(403)
    return render_template("counter/index.html", principal=principal, office_id=principal.office_id)
