"""The counter's rating tablet: a citizen-facing screen paired to one counter.

It shows the counter, the officer's display name and the ticket being
served; when the officer finishes, it asks for the rating (the office's
scale), the optional attributes and a comment, thanks and resets. It follows
its counter over Socket.IO (``tablet:<counter>``: public events only, and the
state its ``sync`` returns, ``queries.ratings.tablet_state``) and rates
through ``POST /counter/rating/api/ratings``: only a ticket its counter
finished in the last ``RATING_TABLET_WINDOW_S``, once per visit whatever the
channel (``engine.rate_ticket``).
"""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, url_for

from xephang import engine
from xephang.engine import accounts
from xephang.errors import BadInputError, ForbiddenError
from xephang.queries import ratings as rating_queries
from xephang.web import get_db, publish
from xephang.web.auth import (
    allow,
    current_principal,
    pair_device_session,
    pairing_page,
    public,
)
from xephang.web.bodies import TabletRatingBody, read
from xephang.web.context import grouped

from .views import bp

KIND = accounts.RATING_DEVICE
BAD_TOKEN = (
    "Mã ghép máy đánh giá không hợp lệ hoặc đã bị thu hồi",
    "Invalid or revoked rating tablet token",
)


def tablet_principal():
    """The paired rating tablet making this request, or None."""
    principal = current_principal()
    if principal is None or principal.kind != "device" or principal.role != KIND:
        return None
    return principal if principal.counter_id else None


def _unpaired():
    return render_template("counter/rating_unpaired.html"), 403


@bp.get("/rating/pair")
@public
def rating_pair():
    """The pairing link: shows the office, tablet and counter; nothing changes until confirmed."""
    page = pairing_page(request.args.get("token", ""), KIND, url_for("counter.rating_pair_confirm"))
    if page is None:  # not a rating tablet's token (a kiosk's included): nothing changes
        raise ForbiddenError(*BAD_TOKEN)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/rating/pair")
@public
def rating_pair_confirm():
    """Pair this browser as the counter's rating tablet (the confirmed form), then open it."""
    if pair_device_session(request.form.get("token", ""), KIND) is None:
        raise ForbiddenError(*BAD_TOKEN)
    return redirect(url_for("counter.rating_tablet"))


def _state(principal) -> dict:
    return rating_queries.tablet_state(
        get_db(), principal.counter_id, current_app.config["RATING_TABLET_WINDOW_S"]
    )


@bp.get("/rating/")
@public
def rating_tablet():
    """The tablet screen of the counter this browser is paired to (others: how to pair)."""
    principal = tablet_principal()
    if principal is None:
        return _unpaired()
    accounts.touch_device(get_db(), principal.device_id)
    config = {
        "state": _state(principal),
        "stateUrl": url_for("counter.rating_state"),
        "rateUrl": url_for("counter.rating_submit"),
        "resetS": int(current_app.config["RATING_TABLET_RESET_S"]),
    }
    return render_template("counter/rating.html", config=config, state=config["state"])


@bp.get("/rating/api/state")
@allow(KIND)
def rating_state():
    """The tablet's state as JSON: polled while its socket is down."""
    principal = tablet_principal()
    if principal is None:
        raise ForbiddenError("Chỉ máy đánh giá tại quầy", "Counter rating tablets only")
    accounts.touch_device(get_db(), principal.device_id)
    return jsonify(ok=True, tablet=_state(principal))


@bp.post("/rating/api/ratings")
@allow(KIND)
def rating_submit():
    """Record the citizen's rating of the ticket this tablet's counter just finished."""
    principal = tablet_principal()
    if principal is None:
        raise ForbiddenError("Chỉ máy đánh giá tại quầy", "Counter rating tablets only")
    try:
        body = read(TabletRatingBody)
    except BadInputError as err:
        if err.extra.get("field") == "level":
            raise BadInputError("Hãy chọn một mức đánh giá", "Choose a rating level") from None
        raise
    ticket = engine.get_ticket(get_db(), body.ticket, visible_to=principal)
    publish(
        grouped(
            engine.rate_ticket,
            ticket["id"],
            body.level,
            body.comment,
            attributes=body.attributes,
            channel="tablet",
            counter_id=principal.counter_id,
            within_s=current_app.config["RATING_TABLET_WINDOW_S"],
        )
    )
    return jsonify(ok=True, tablet=_state(principal)), 201
