"""Display pages: the waiting-room board (paired TV or public read-only link)."""

from flask import Blueprint, redirect, render_template, request, url_for

from xephang import engine
from xephang.engine.setup import parse_zone
from xephang.errors import ForbiddenError, NotFoundError
from xephang.queries import office as office_queries
from xephang.queries import people
from xephang.web import get_db
from xephang.web.auth import current_principal, pair_device_session, pairing_page, public

bp = Blueprint(
    "display",
    __name__,
    url_prefix="/display",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def _board(office_id: int, mode: str, board_id: str = "", zone: dict | None = None):
    office = engine.get_office(get_db(), office_id)
    return render_template(
        "display/board.html",
        office=office,
        mode=mode,
        board_id=board_id,
        zone=zone or {"services": [], "counters": []},
    )


@bp.get("/")
@public
def index():
    """The board of the office this browser is paired to (or the signed-in staff's office)."""
    principal = current_principal()
    if principal is None or principal.office_id is None or principal.role in ("kiosk", "printer"):
        return render_template("display/unpaired.html"), 401
    zone = people.device_zone(get_db(), principal.device_id) if principal.kind == "device" else None
    return _board(principal.office_id, "session", zone=zone)


BAD_TOKEN = ("Mã ghép màn hình không hợp lệ hoặc đã bị thu hồi", "Invalid or revoked display token")


@bp.get("/pair")
@public
def pair():
    """The pairing link: shows what is about to be paired; nothing changes until confirmed."""
    token = request.args.get("token", "")
    page = pairing_page(token, "display", url_for("display.pair_confirm"))
    if page is None:  # not a display token (a kiosk's included): nothing changes
        raise ForbiddenError(*BAD_TOKEN)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/pair")
@public
def pair_confirm():
    """Pair this browser as the office's display (the confirmed form), then show the board."""
    if pair_device_session(request.form.get("token", ""), "display") is None:
        raise ForbiddenError(*BAD_TOKEN)
    return redirect(url_for("display.index"))


@bp.get("/board/<board_id>")
@public
def board(board_id: str):
    """The public read-only board of an office, opened by its unguessable id; ``?services=A,B``
    and ``?counters=1-5`` limit it to a zone (a floor, a wing)."""
    office_id = office_queries.office_for_board(get_db(), board_id)
    if office_id is None:
        raise NotFoundError("Không có bảng hiển thị này", "No such board")
    zone = parse_zone(
        get_db(), office_id, request.args.get("services", ""), request.args.get("counters", "")
    )
    return _board(office_id, "board", board_id, zone)
