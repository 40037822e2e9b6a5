"""The virtual printer's output, for managers: the last tickets it "printed", as images."""

from __future__ import annotations

import re

from flask import abort, current_app, render_template, send_from_directory

import printers
from xephang.web.auth import allow

from .views import bp, office_id, page_context

PNG_NAME = re.compile(r"^[A-Za-z0-9_-]+\.png$")


@bp.get("/printed/")
@allow("manager", login_page=True)
def printed():
    """The last tickets the virtual printer saved, newest first."""
    oid = office_id()
    folder = printers.print_dir(current_app.config)
    files = [p.name for p in printers.list_printed(folder, 24, office_id=oid)]
    return render_template(
        "manager/printed.html",
        files=files,
        folder=folder,
        printer=current_app.config.get("PRINTER"),
        **page_context(oid),
    )


@bp.get("/printed/<name>")
@allow("manager")
def printed_file(name: str):
    """One saved ticket image of the office (another office's answers as missing)."""
    if not PNG_NAME.match(name) or not printers.printed_by(name, office_id()):
        abort(404)
    return send_from_directory(
        printers.print_dir(current_app.config), name, mimetype="image/png", max_age=3600
    )
