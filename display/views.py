"""Display pages: the waiting-room board."""

from flask import Blueprint, render_template

from xephang.auth import public

bp = Blueprint("display", __name__, url_prefix="/display", template_folder="templates",
               static_folder="static", static_url_path="/static")


@bp.get("/")
@public
def index():
    """The board of the paired office."""
    return render_template("display/index.html")
