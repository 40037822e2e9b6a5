"""Setup of messages out: when and by which channels citizens are told, the texts of each
purpose, and the office's signed webhooks (admins add and remove those: the server will
POST to the address given).

The settings fields are drawn from the typed definitions in
``xephang.engine.settings`` (sections ``notify`` and ``messages``) and validated there.
"""

from __future__ import annotations

from flask import request

from xephang import engine
from xephang.engine import outbox
from xephang.errors import QueueError
from xephang.queries import messages as message_queries
from xephang.web import get_db
from xephang.web.auth import allow

from ..views import bp, office_id
from .forms import actor, done, owned, render, text
from .rules import sent_settings, setting_fields

SECTIONS = ("notify", "messages")


def _page(oid: int, error=None, form=None, secret=None):
    return render(
        "messages.html",
        oid,
        error,
        fields=setting_fields(oid, SECTIONS, form),
        hooks=message_queries.webhooks(get_db(), oid),
        event_types=outbox.EVENT_TYPES,
        secret=secret,
        form=form,
    )


@bp.route("/setup/messages", methods=["GET", "POST"])
@allow("manager", login_page=True)
def setup_messages():
    """When and how citizens are told about their turn, and the texts they get."""
    oid = office_id()
    if request.method == "POST":
        try:
            engine.set_office_settings(get_db(), oid, sent_settings(SECTIONS), user_id=actor())
        except QueueError as err:
            return _page(oid, err, request.form)
        return done("manager.setup_messages", oid, "Đã lưu thiết lập tin nhắn")
    return _page(oid)[0]


@bp.post("/setup/webhooks")
@allow("admin")
def setup_webhook_add():
    """Register a webhook of the office; its secret is shown once, on this answer."""
    oid = office_id()
    try:
        events = request.form.getlist("events") or ["*"]
        url = text("url", "địa chỉ webhook", required=True, max_len=2000)
        _, secret = outbox.add_webhook(get_db(), oid, url, events, user_id=actor())
    except QueueError as err:
        return _page(oid, err, request.form)
    page, status = _page(oid, secret=secret)
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/setup/webhooks/<int:hook_id>/remove")
@allow("admin")
def setup_webhook_remove(hook_id: int):
    """Stop a webhook (what is still queued for it is not sent)."""
    hook = owned("webhooks", hook_id)
    outbox.remove_webhook(get_db(), hook_id, user_id=actor())
    return done("manager.setup_messages", hook["office_id"], "Đã gỡ webhook")
