"""The kiosk room's blueprint: /kiosk/... for the touch screen, /t/... for trackers."""

from flask import Blueprint

bp = Blueprint(
    "kiosk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/kiosk/static",
)
