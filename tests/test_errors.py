"""One error vocabulary, turned into one JSON shape for the API and a page for browsers."""

from __future__ import annotations

import pytest

from xephang.errors import (
    BadInputError,
    ConflictError,
    DailyCapError,
    ForbiddenError,
    IllegalTransitionError,
    NotAuthenticatedError,
    NotFoundError,
    OfficeClosedError,
    QueueError,
    RateLimitError,
    error_body,
)


@pytest.mark.parametrize(
    "cls, status",
    [
        (BadInputError, 400),
        (NotAuthenticatedError, 401),
        (ForbiddenError, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (IllegalTransitionError, 409),
        (DailyCapError, 409),
        (OfficeClosedError, 409),
        (RateLimitError, 429),
    ],
)
def test_statuses(cls, status):
    err = cls("Tiếng Việt", "English")
    assert isinstance(err, QueueError) and err.status == status
    assert err.message == "Tiếng Việt / English"  # Vietnamese first


def test_error_body_shape():
    assert error_body(409, "msg", "conflict", ticket_id=3) == {
        "ok": False,
        "error": "msg",
        "status": 409,
        "code": "conflict",
        "ticket_id": 3,
    }


@pytest.fixture
def failing_app(app):
    """The app with two extra API views that fail on purpose."""

    def boom():
        """Fails with an unexpected error."""
        raise RuntimeError("secret internal detail")

    def refuse():
        """Fails with a queue error carrying extra fields."""
        raise ConflictError("Quầy bận", "Counter busy", ticket_id=7)

    def page():
        """A browser page that fails with a queue error."""
        raise NotFoundError("Không có trang này", "No such page")

    for view in (boom, refuse, page):
        view.allowed = ("public",)
    app.add_url_rule("/api/v1/_test/boom", view_func=boom)
    app.add_url_rule("/api/v1/_test/refuse", view_func=refuse)
    app.add_url_rule("/_test/page", view_func=page)
    return app


def assert_shape(response, status):
    assert response.status_code == status and response.is_json
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status and body["error"]
    return body


def test_unexpected_error_is_a_500_without_internals(failing_app):
    response = failing_app.test_client().get("/api/v1/_test/boom")
    body = assert_shape(response, 500)
    assert "secret internal detail" not in response.get_data(True)
    assert "Traceback" not in response.get_data(True) and body["code"] == "internal"


def test_queue_error_extra_fields_reach_the_client(failing_app):
    body = assert_shape(failing_app.test_client().get("/api/v1/_test/refuse"), 409)
    assert body["ticket_id"] == 7 and body["code"] == "conflict"
    assert body["error"] == "Quầy bận / Counter busy"


def test_http_errors_on_the_api_use_the_shape(app):
    client = app.test_client()
    assert_shape(client.get("/api/v1/no-such-thing"), 404)
    assert_shape(client.put("/api/v1/tickets"), 405)


def test_browsers_get_an_html_page(failing_app):
    client = failing_app.test_client()
    for url in ("/_test/page", "/no-such-page"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "Không" in response.get_data(True)


def test_json_clients_get_json_off_the_api(failing_app):
    response = failing_app.test_client().get("/_test/page", headers={"Accept": "application/json"})
    assert_shape(response, 404)
