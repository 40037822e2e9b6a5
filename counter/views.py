"""Counter pages: the officer's screen, and reprinting a citizen's ticket from it."""

from flask import Blueprint, abort, current_app, jsonify, render_template

import printers
from xephang import engine
from xephang.web import get_db, tracker_url
from xephang.web.auth import allow, current_principal
from xephang.web.bodies import ReprintBody, read

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


@bp.post("/api/tickets/<int:ticket_id>/print")
@allow("officer")
def reprint(ticket_id: int):
    """Print the citizen's ticket again (a lost ticket, a new one after a transfer) on the
    counter's printer, else the kiosk's, through the print spooler."""
    principal = current_principal()
    body = read(ReprintBody)
    db = get_db()
    ticket = engine.get_ticket(db, ticket_id, visible_to=principal)
    if body.counter is not None:
        engine.get_counter(db, body.counter, visible_to=principal)
    token = engine.ticket_view(db, ticket, private=True)["tracker_token"]
    job = printers.reprint_ticket(
        current_app._get_current_object(), db, ticket_id, tracker_url(token), body.counter
    )
    return jsonify(ok=True, print=job, code=ticket["code"]), 201
