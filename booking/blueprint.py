"""The booking room's blueprint: /booking/<office>/... for citizens at home."""

from flask import Blueprint

bp = Blueprint(
    "booking",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/booking/static",
)
