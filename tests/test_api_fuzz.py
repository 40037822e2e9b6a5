"""Random bodies and ids against the write endpoints: never a 500, always the error shape."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Ctx
from xephang import engine

KEYS = ["service", "priority", "office", "ticket", "reason", "counter", "dossier_code", "outcome"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.sampled_from(
        [
            "A",
            "b",
            "Z",
            "1",
            "0",
            "-1",
            "²",
            "١",
            "99999999999999999999999",
            "elderly",
            "A001",
            "",
            " ",
            "x" * 600,
        ]
    ),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=2),
)
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4),
    st.lists(SCALARS, max_size=2),
    SCALARS,
)
URLS = st.sampled_from(
    [
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket}/recall",
        "/api/v1/tickets/{ticket}/start",
        "/api/v1/tickets/{ticket}/finish",
        "/api/v1/tickets/{ticket}/no-show",
        "/api/v1/tickets/{ticket}/transfer",
        "/api/v1/tickets/{ticket}/return",
        "/api/v1/tickets/{ticket}/cancel",
        "/api/v1/counters/{counter}/call-next",
        "/api/v1/counters/{counter}/call",
        "/api/v1/counters/{counter}/pause",
        "/api/v1/counters/{counter}/resume",
        "/api/v1/counters/{counter}/open",
        "/api/v1/counters/{counter}/close",
        "/api/v1/offices/{office}/close-day",
    ]
)
STATES = st.sampled_from(["waiting", "called", "serving", "done"])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    url=URLS,
    body=BODIES,
    state=STATES,
    role=st.sampled_from(["admin", "manager", "officer", "kiosk"]),
)
def test_random_requests_never_fail_with_a_server_error(
    api_template,
    tmp_path_factory,
    url,
    body,
    state,
    role,
):
    ctx = _ctx(api_template, tmp_path_factory)
    ctx.prepare(state)
    response = ctx.client.post(
        ctx.fill(url), json=body, headers={"Authorization": f"Bearer {ctx.tokens[role]}"}
    )
    assert response.status_code < 500, (url, body, response.get_data(True))
    if response.status_code >= 400:
        data = response.get_json()
        assert data["ok"] is False and data["status"] == response.status_code
    assert engine.verify_log(ctx.db) == []


_CONTEXTS: dict = {}


def _ctx(template, factory) -> Ctx:
    """One app and database for all examples (building one per example is slow)."""
    if "ctx" not in _CONTEXTS:
        _CONTEXTS["ctx"] = Ctx(template, factory.mktemp("fuzz"))
    return _CONTEXTS["ctx"]


def teardown_module():
    ctx = _CONTEXTS.pop("ctx", None)
    if ctx:
        ctx.close()


HUGE = "99999999999999999999999"


def test_ids_beyond_64_bits_are_not_found(ctx):
    """SQLite cannot even compare such ids (OverflowError): they must not be a 500."""
    token = {"Authorization": f"Bearer {ctx.tokens['admin']}"}
    for url in (
        f"/api/v1/tickets/{HUGE}",
        f"/api/v1/tickets/{HUGE}/start",
        f"/api/v1/counters/{HUGE}/call-next",
        f"/api/v1/counters/{HUGE}/pause",
        f"/api/v1/offices/{HUGE}/snapshot",
        f"/api/v1/offices/{HUGE}/close-day",
    ):
        method = ctx.client.get if url.endswith(("snapshot", HUGE)) else ctx.client.post
        response = method(url, headers=token)
        assert response.status_code == 404, (url, response.get_data(True))
    for body in (
        {"service": int(HUGE), "office": ctx.office},
        {"service": HUGE, "office": ctx.office},
        {"service": "²", "office": ctx.office},
    ):
        assert ctx.client.post("/api/v1/tickets", json=body, headers=token).status_code == 404
    for body in ({"service": "A", "office": int(HUGE)},):
        assert ctx.client.post("/api/v1/tickets", json=body, headers=token).status_code == 400
    r = ctx.client.post(
        ctx.fill("/api/v1/counters/{counter}/call"),
        headers=token,
        json={"ticket": int(HUGE), "reason": "x"},
    )
    assert r.status_code == 400
    r = ctx.client.get(ctx.fill("/api/v1/offices/{office}/waiting?service=") + HUGE, headers=token)
    assert r.status_code == 400
