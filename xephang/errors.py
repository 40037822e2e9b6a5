"""One error vocabulary for the whole application.

Every expected failure is a ``QueueError`` subclass carrying an HTTP status
and a message in Vietnamese (first) and English. ``register_error_handlers``
turns them into a response in one place: JSON for the API, a page for
browsers.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class QueueError(Exception):
    """An expected failure that changes nothing and is reported to the caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message_vi: str, message_en: str = "", **extra):
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.message_en = message_en
        self.extra = extra

    @property
    def message(self) -> str:
        if self.message_en:
            return f"{self.message_vi} / {self.message_en}"
        return self.message_vi


class BadInputError(QueueError):
    status = 400
    code = "bad_input"


class NotAuthenticatedError(QueueError):
    status = 401
    code = "not_authenticated"


class ForbiddenError(QueueError):
    status = 403
    code = "forbidden"


class NotFoundError(QueueError):
    status = 404
    code = "not_found"


class ConflictError(QueueError):
    """The request is well formed but the queue's state does not allow it."""

    status = 409
    code = "conflict"


class IllegalTransitionError(ConflictError):
    code = "illegal_transition"


class DailyCapError(ConflictError):
    code = "daily_cap"


class OfficeClosedError(ConflictError):
    code = "office_closed"


class RateLimitError(QueueError):
    status = 429
    code = "rate_limited"


def error_body(status: int, message: str, code: str, **extra) -> dict:
    """The one JSON error shape of the API."""
    return {"ok": False, "error": message, "status": status, "code": code, **extra}


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def register_error_handlers(app: Flask) -> None:
    """Turn QueueError and HTTP errors into JSON or an HTML page."""

    @app.errorhandler(QueueError)
    def handle_queue_error(err: QueueError):
        if _wants_json():
            body = error_body(err.status, err.message, err.code, **err.extra)
            return jsonify(body), err.status
        page = render_template("xephang/error.html", status=err.status, error=err)
        return page, err.status

    @app.errorhandler(HTTPException)
    def handle_http_error(err: HTTPException):
        vi = _HTTP_VI.get(err.code or 500, "Có lỗi xảy ra")
        wrapped = QueueError(vi, err.name)
        wrapped.status = err.code or 500
        wrapped.code = (err.name or "error").lower().replace(" ", "_")
        return handle_queue_error(wrapped)

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception):
        app.logger.exception("unexpected error")
        wrapped = QueueError("Lỗi hệ thống, vui lòng thử lại", "Internal error")
        wrapped.status = 500
        wrapped.code = "internal"
        return handle_queue_error(wrapped)


_HTTP_VI = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được phép",
    413: "Dữ liệu quá lớn",
    415: "Kiểu dữ liệu không được hỗ trợ",
    429: "Quá nhiều yêu cầu",
    500: "Lỗi hệ thống",
}
