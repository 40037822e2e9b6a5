"""Pages and files shared by every room: the landing page and the rules the browser reads."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template

from ..engine.states import browser_rules
from .auth import public

bp = Blueprint("xephang", __name__)


@bp.get("/")
@public
def home():
    """Landing page listing the rooms."""
    return render_template("xephang/home.html")


@bp.get("/xephang/rules.js")
@public
def rules_js():
    """The ticket states and transitions as ``window.XephangRules`` (engine/states.py)."""
    body = "window.XephangRules = " + json.dumps(browser_rules(), ensure_ascii=False) + ";\n"
    return Response(
        body, mimetype="text/javascript", headers={"Cache-Control": "public, max-age=300"}
    )
