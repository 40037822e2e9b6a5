"""The OpenAPI document at /api/v1/openapi.json describes every /api/v1 route."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate


@pytest.fixture
def spec(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_is_a_valid_openapi_document(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_lists_every_route_and_method_and_nothing_else(app, spec):
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert documented == api_routes(app)


def test_operations_are_described(spec):
    ids = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["summary"], (method, path)
            assert op["description"].startswith("Who may call:")
            params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert params == set(re.findall(r"\{(\w+)\}", path)), path
            error = op["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert set(error["required"]) >= {"ok", "error", "status"}
            if "public" in op["description"]:
                assert "security" not in op
            else:
                assert op["security"]
    assert len(ids) == len(set(ids))


def test_actions_are_enumerated_as_the_api_accepts_them(spec):
    from xephang.engine.states import TICKET_ACTIONS

    ops = spec["paths"]["/api/v1/tickets/{ticket_id}/{action}"]["post"]
    action = next(p for p in ops["parameters"] if p["name"] == "action")
    assert set(action["schema"]["enum"]) == set(TICKET_ACTIONS)


def test_issue_documents_its_body_and_201(spec):
    op = spec["paths"]["/api/v1/tickets"]["post"]
    assert "201" in op["responses"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["service"] and "priority" in body["properties"]


def test_responses_describe_what_each_operation_returns(spec):
    def result(path, method, code="200"):
        return spec["paths"][path][method]["responses"][code]["content"]["application/json"][
            "schema"
        ]["properties"]

    assert (
        "counters"
        in result("/api/v1/offices/{office_id}/snapshot", "get")["snapshot"]["properties"]
    )
    assert "ticket" in result("/api/v1/tickets", "post", "201")
    assert "expired" in result("/api/v1/offices/{office_id}/close-day", "post")
    assert "counter" in result("/api/v1/counters/{counter_id}/{action}", "post")
