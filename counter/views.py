"""Counter pages: the officer's screen."""

from flask import Blueprint, render_template

from xephang.auth import allow

bp = Blueprint("counter", __name__, url_prefix="/counter", template_folder="templates",
               static_folder="static", static_url_path="/static")


@bp.get("/")
@allow("officer", login_page=True)
def index():
    """Choose a counter, then drive it."""
    return render_template("counter/index.html")
