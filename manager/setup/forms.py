"""Form helpers shared by the setup pages: field parsing, ownership checks, render, redirect."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from xephang.errors import BadInputError, NotFoundError, QueueError
from xephang.queries import office as office_queries
from xephang.web import get_db
from xephang.web.auth import current_principal

from ..views import page_context


def text(name: str, label: str, required: bool = False, max_len: int = 200) -> str:
    """A trimmed text field; Vietnamese error when missing or too long."""
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise BadInputError(f"Thiếu {label}", f"Missing {name}")
    if len(value) > max_len:
        raise BadInputError(f"{label} tối đa {max_len} ký tự", f"{name} too long")
    return value


def integer(
    name: str, label: str, required: bool = False, low: int | None = None, high: int | None = None
) -> int | None:
    """An integer field within [low, high]; None when empty and optional."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise BadInputError(f"Thiếu {label}", f"Missing {name}")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadInputError(f"{label} phải là số nguyên", f"{name} must be an integer") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"từ {low}" + (f" đến {high}" if high is not None else " trở lên")
        raise BadInputError(f"{label} phải {bounds}", f"{name} out of range")
    return value


def checkbox(name: str) -> bool:
    """Whether a checkbox field is ticked."""
    return request.form.get(name) in ("1", "on", "true")


def service_list(oid: int, name: str = "services") -> list[int]:
    """Service ids from prefixes typed in order of preference ("A, B")."""
    raw = (request.form.get(name) or "").replace(";", ",").replace(" ", ",")
    prefixes = [p.strip().upper() for p in raw.split(",") if p.strip()]
    known = office_queries.service_ids_by_prefix(get_db(), oid)
    missing = [p for p in prefixes if p not in known]
    if missing:
        raise BadInputError(
            f"Không có dịch vụ ký hiệu {', '.join(missing)}", f"No service {', '.join(missing)}"
        )
    if len(set(prefixes)) != len(prefixes):
        raise BadInputError("Một dịch vụ bị nhập hai lần", "Duplicate service")
    return [known[p] for p in prefixes]


def actor() -> int | None:
    """The user making this change (the setup audit records who)."""
    return current_principal().user_id


def owned(table: str, row_id: int) -> dict:
    """A row of the office-scoped table, checked against the caller's offices."""
    row = office_queries.owned_row(get_db(), table, row_id)
    if row is None or not current_principal().may_access_office(row["office_id"]):
        raise NotFoundError("Không tìm thấy", "Not found")  # another office's row: the same
    return row


def render(template: str, oid: int, error: QueueError | None = None, **extra):
    """A setup page with the manager header; the error's status when a change was refused."""
    context = page_context(oid)
    context.update(extra)
    status = error.status if error else 200
    return render_template(f"manager/setup/{template}", error=error, **context), status


def done(endpoint: str, oid: int, message: str):
    """Flash a success message and redirect to the page (keeping an admin's office)."""
    flash(message, "ok")
    return redirect(
        url_for(endpoint, office=oid if current_principal().office_id is None else None)
    )
