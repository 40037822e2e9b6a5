"""Manager pages: dashboard, reports, setup."""

from flask import Blueprint, render_template

from xephang.auth import allow

bp = Blueprint("manager", __name__, url_prefix="/manager", template_folder="templates",
               static_folder="static", static_url_path="/static")


@bp.get("/")
@allow("manager", login_page=True)
def dashboard():
    """The live dashboard."""
    return render_template("manager/dashboard.html")
