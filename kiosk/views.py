"""Kiosk pages: the touch screen that issues tickets, and the ticket tracker."""

from flask import Blueprint, render_template

from xephang.auth import public

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates",
               static_folder="static", static_url_path="/static")


@bp.get("/")
@public
def index():
    """The kiosk start screen."""
    return render_template("kiosk/index.html")
