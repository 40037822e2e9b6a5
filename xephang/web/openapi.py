"""The OpenAPI document, built from the registered /api/v1 routes.

Each operation's summary is its view's docstring and its security note is
the view's ``allowed`` declaration, so the document cannot drift from the
code; request bodies are described here.
"""

from __future__ import annotations

import re

from flask import Flask

from ..engine.states import STATES, TICKET_ACTIONS

TICKET = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "code": {"type": "string", "example": "A023"},
        "number": {"type": "integer"},
        "day": {"type": "string", "format": "date"},
        "service": {"type": "object"},
        "priority": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": list(STATES)},
        "counter": {"type": ["object", "null"]},
        "issued_at": {"type": "string", "format": "date-time"},
        "called_at": {"type": ["string", "null"], "format": "date-time"},
        "people_ahead": {"type": "integer"},
        "estimated_wait_s": {"type": "integer"},
        "tracker_url": {"type": "string", "format": "uri"},
    },
}
ERROR = {
    "type": "object",
    "required": ["ok", "error", "status"],
    "properties": {
        "ok": {"const": False},
        "error": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
    },
}

BODIES = {
    ("POST", "/api/v1/tickets"): {
        "required": ["service"],
        "properties": {
            "service": {"type": ["string", "integer"], "description": "prefix or id"},
            "priority": {"type": "string", "description": "priority category key"},
            "office": {"type": "integer", "description": "admins only"},
        },
    },
    ("POST", "/api/v1/counters/{counter_id}/call"): {
        "required": ["ticket", "reason"],
        "properties": {
            "ticket": {"type": ["integer", "string"], "description": "id or code"},
            "reason": {"type": "string"},
        },
    },
    ("POST", "/api/v1/counters/{counter_id}/{action}"): {
        "properties": {"reason": {"type": "string", "description": "required for pause"}},
    },
    ("POST", "/api/v1/tickets/{ticket_id}/{action}"): {
        "properties": {
            "dossier_code": {"type": "string", "description": "finish: mã hồ sơ"},
            "outcome": {"type": "string", "description": "finish"},
            "service": {"type": ["string", "integer"], "description": "transfer target"},
            "counter": {"type": "integer", "description": "transfer target"},
            "reason": {"type": "string", "description": "transfer, return, cancel"},
        },
    },
}

COUNTER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "integer"},
        "name": {"type": "string"},
        "services": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "service ids in order of preference",
        },
        "state": {"type": "string", "enum": ["closed", "open", "paused"]},
        "pause_reason": {"type": ["string", "null"]},
        "current_ticket": {"anyOf": [TICKET, {"type": "null"}]},
    },
}
SNAPSHOT = {
    "type": "object",
    "properties": {
        "office": {"type": "object"},
        "seq": {"type": "integer", "description": "the office's last event sequence number"},
        "day": {"type": "string", "format": "date"},
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "prefix": {"type": "string"},
                    "name_vi": {"type": "string"},
                    "name_en": {"type": "string"},
                    "waiting": {"type": "integer"},
                },
            },
        },
        "waiting": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "waiting tickets per service id",
        },
        "counters": {"type": "array", "items": COUNTER},
    },
}
# What each operation answers besides {"ok": true}; a ticket by default.
RESULTS = {
    ("GET", "/api/v1/health"): {"version": {"type": "string"}},
    ("GET", "/api/v1/offices"): {"offices": {"type": "array", "items": {"type": "object"}}},
    ("GET", "/api/v1/offices/{office_id}/snapshot"): {"snapshot": SNAPSHOT},
    ("GET", "/api/v1/offices/{office_id}/waiting"): {"tickets": {"type": "array", "items": TICKET}},
    ("POST", "/api/v1/offices/{office_id}/close-day"): {"expired": {"type": "integer"}},
    ("POST", "/api/v1/counters/{counter_id}/{action}"): {"counter": COUNTER},
    ("POST", "/api/v1/counters/{counter_id}/call-next"): {
        "ticket": {"anyOf": [TICKET, {"type": "null"}], "description": "null: nobody waits"}
    },
    ("POST", "/api/v1/tickets/{ticket_id}/{action}"): {
        "ticket": TICKET,
        "from_ticket": {**TICKET, "description": "transfer: the old ticket"},
    },
}

ENUMS = {
    "/api/v1/tickets/{ticket_id}/{action}": list(TICKET_ACTIONS),
    "/api/v1/counters/{counter_id}/{action}": ["open", "close", "pause", "resume"],
}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if conv == "int" else "string"},
            }
        )
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def build_openapi(app: Flask) -> dict:
    """An OpenAPI 3.1 document for every route under /api/v1."""
    paths: dict = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        view = app.view_functions[rule.endpoint]
        path, params = _path(rule.rule)
        for p in params:
            if p["name"] == "action" and path in ENUMS:
                p["schema"]["enum"] = ENUMS[path]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            allowed = getattr(view, "allowed", ("?",))
            op = {
                "operationId": f"{rule.endpoint}_{method.lower()}",
                "summary": (view.__doc__ or "").strip().splitlines()[0],
                "description": "Who may call: "
                + ", ".join(allowed)
                + (
                    " (roles nest: manager and admin include officer)."
                    if "officer" in allowed or "manager" in allowed
                    else "."
                ),
                "parameters": params,
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "ok": {"const": True},
                                        **RESULTS.get((method, path), {"ticket": TICKET}),
                                    },
                                }
                            }
                        },
                    },
                    "4XX": {
                        "description": "error",
                        "content": {"application/json": {"schema": ERROR}},
                    },
                },
            }
            if allowed != ("public",):
                op["security"] = [{"bearer": []}, {"session": []}]
            schema = BODIES.get((method, path))
            if schema:
                op["requestBody"] = {
                    "required": "required" in schema,
                    "content": {"application/json": {"schema": {"type": "object", **schema}}},
                }
            if path == "/api/v1/openapi.json":
                op["responses"]["200"]["content"]["application/json"]["schema"] = {
                    "type": "object",
                    "description": "this document",
                }
            if path == "/api/v1/tickets" and method == "POST":
                op["responses"]["201"] = op["responses"].pop("200")
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "xephang API",
            "version": "1",
            "description": "Queue ticketing for one-stop offices. Errors always have the "
            "shape {ok: false, error, status, code}. Times are ISO 8601 "
            "with the office's UTC offset.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "xephang token add / xephang device add",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "staff login; unsafe methods need X-CSRF-Token",
                },
            }
        },
    }
