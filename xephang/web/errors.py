"""Errors into responses, in one place: JSON for the API and for JSON clients, a page for
browsers. Expected failures are ``QueueError``s (``xephang.errors``); anything else
is logged and answered as a 500 without its details."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import QueueError, error_body


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def init_app(app: Flask) -> None:
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
        body, status = handle_queue_error(wrapped)
        # Keep what the error says in its headers (``Allow`` on a 405, ...).
        kept = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        return body, status, kept

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
