"""The OpenAPI document, built from the registered /api/v1 routes.

Each operation's summary is its view's docstring, its security note the
view's ``allowed`` declaration and its requestBody the JSON Schema of the
models the view validates its body with (``@accepts``, ``bodies.py``), so the
document cannot drift from the code; what operations answer is described here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Flask

from ..engine.states import STATES, TICKET_ACTIONS
from .bodies import COUNTER_ACTION_BODIES, Body

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
        "counters_open": {
            "type": "integer",
            "description": "open counters that serve the ticket's service (0: no estimate)",
        },
        "estimated_wait_s": {
            "type": ["integer", "null"],
            "description": "null when no open counter serves the service",
        },
        "estimate_range_s": {
            "type": ["array", "null"],
            "items": {"type": "integer"},
            "description": "[low, high] when the service's recent data is thin",
        },
        "estimate_shown": {
            "type": "boolean",
            "description": "whether citizen screens show the estimate: the service's 7-day"
            " p90 error is within the office's estimate_max_p90_error_min",
        },
        "past_closing": {
            "type": "boolean",
            "description": "the estimated call falls after the office's hours today",
        },
        "tracker_url": {"type": "string", "format": "uri"},
        "channel": {"type": "string", "enum": ["kiosk", "online", "appointment"]},
        "awaiting_checkin": {
            "type": "boolean",
            "description": "an online number in line but not called until its citizen checks"
            " in (the office's online_checkin; POST /api/v1/checkins)",
        },
        "checked_in_at": {"type": ["string", "null"], "format": "date-time"},
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
        "field": {"type": "string", "description": "bad input: the field at fault"},
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
                    "not_arrived": {
                        "type": "integer",
                        "description": "of those waiting, online numbers not checked in yet",
                    },
                },
            },
        },
        "waiting": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "waiting tickets per service id",
        },
        "not_arrived": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "of those, online numbers that must check in and have not"
            " (online_checkin): in line, not callable yet; services with some only",
        },
        "counters": {"type": "array", "items": COUNTER},
    },
}
APPOINTMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "code": {"type": "string", "example": "HX7K3M", "description": "the booking code"},
        "status": {"type": "string", "enum": ["booked", "checked_in", "cancelled", "missed"]},
        "day": {"type": "string", "format": "date"},
        "slot_start": {"type": "string", "format": "date-time"},
        "slot_end": {"type": "string", "format": "date-time"},
        "service": {"type": "object"},
        "identity": {"type": "string", "description": "the last 3 digits only (•••567)"},
        "ticket_id": {"type": ["integer", "null"]},
        "booking_url": {"type": "string", "format": "uri", "description": "its page (QR)"},
        "ics_url": {"type": "string", "format": "uri"},
    },
}
OTP = {
    "type": "object",
    "description": "a one-time code sent: send otp_id back with the code (otp_code)",
    "properties": {
        "otp_id": {"type": "string"},
        "expires_at": {"type": "string", "format": "date-time", "description": "in 5 minutes"},
        "channel": {"type": "string", "enum": ["sms", "zalo"]},
        "phone": {"type": "string", "description": "masked (•••••••678)"},
    },
}
SLOT = {
    "type": "object",
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "time": {"type": "string", "example": "08:00"},
        "capacity": {"type": "integer"},
        "booked": {"type": "integer"},
        "free": {"type": "integer"},
    },
}
AVAILABILITY = {
    "type": "object",
    "properties": {
        "office": {"type": "object"},
        "day": {"type": "string", "format": "date"},
        "open_now": {"type": "boolean"},
        "online": {
            "type": "object",
            "description": "enabled, open, closes_at, checkin (a number taken now must check"
            " in at the kiosk before it is called: online_checkin)",
        },
        "appointments": {"type": "object", "description": "enabled, days, slot_minutes"},
        "identity": {
            "type": "object",
            "description": "mode (none|phone|cccd), consent line, verified (a phone needs a"
            " one-time code first: POST .../otp)",
        },
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "prefix": {"type": "string"},
                    "waiting": {"type": "integer"},
                    "counters_open": {"type": "integer"},
                    "estimated_wait_s": {"type": ["integer", "null"]},
                    "online_left": {"type": "integer"},
                    "online_open": {"type": "boolean"},
                    "bookable": {"type": "boolean"},
                },
            },
        },
        "slots": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": SLOT},
            "description": "with ?service=: its slots still to come, by day",
        },
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
    ("GET", "/api/v1/offices/{office_id}/availability"): {"availability": AVAILABILITY},
    ("POST", "/api/v1/offices/{office_id}/appointments"): {"appointment": APPOINTMENT},
    ("POST", "/api/v1/offices/{office_id}/otp"): {"otp": OTP},
    ("POST", "/api/v1/checkins"): {
        "kind": {
            "type": "string",
            "enum": ["appointment", "online"],
            "description": "a booking that joined the line, or an online number (taken"
            " under online_checkin) now callable in the place it took",
        },
        "ticket": TICKET,
        "appointment": {
            "anyOf": [APPOINTMENT, {"type": "null"}],
            "description": "null for an online number",
        },
        "on_time": {
            "type": ["boolean", "null"],
            "description": "in line from its slot's start (null for an online number)",
        },
        "late": {
            "type": ["boolean", "null"],
            "description": "checked in past the grace time (null for an online number)",
        },
    },
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
    "/api/v1/counters/{counter_id}/{action}": list(COUNTER_ACTION_BODIES),
}
# Operations that answer 201 Created.
CREATED = {
    ("POST", "/api/v1/tickets"),
    ("POST", "/api/v1/offices/{office_id}/online-tickets"),
    ("POST", "/api/v1/offices/{office_id}/appointments"),
    ("POST", "/api/v1/offices/{office_id}/otp"),
    ("POST", "/api/v1/checkins"),
}
# Both kinds of body the API reads, validated by the same models.
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                # the int converter takes only ids SQLite can store (else: 404)
                "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
                if conv == "int"
                else {"type": "string"},
            }
        )
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def model_schema(model: type[Body]) -> dict:
    """A model's JSON Schema with nested models written in place: pydantic's
    ``#/$defs/...`` references would point into the OpenAPI document's root."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**inline(defs[ref.removeprefix("#/$defs/")]), **rest}
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


def request_body(models: Mapping[str | None, type[Body]]) -> dict:
    """The requestBody of a view declared with ``@accepts``: its model's JSON Schema.

    ``models`` maps an action to its model (``None``: the one model of a view
    without actions); the actions sharing a model are one alternative of an
    ``anyOf``, titled with their names.
    """
    if None in models:
        schema = model_schema(models[None])
    else:
        actions: dict[type[Body], list[str]] = {}
        for action, model in models.items():
            actions.setdefault(model, []).append(str(action))
        schema = {
            "description": "depends on the action",
            "anyOf": [
                {**model_schema(model), "title": ", ".join(names)}
                for model, names in actions.items()
            ],
        }
    return {
        "required": all(m.model_json_schema().get("required") for m in models.values()),
        "content": {
            kind: {"schema": schema if kind == "application/json" else flat(schema)}
            for kind in BODY_TYPES
        },
    }


def _holds_object(node: dict) -> bool:
    options = node.get("anyOf", [node])
    return any(o.get("type") == "object" or "properties" in o for o in options)


def flat(schema: dict) -> dict:
    """A body's schema for form encoding: without its nested objects (``notify``), which
    a form cannot carry (OpenAPI would spread their fields among the body's own)."""
    if "anyOf" in schema and "properties" not in schema:
        return {**schema, "anyOf": [flat(s) for s in schema["anyOf"]]}
    properties = schema.get("properties", {})
    nested = {name for name, prop in properties.items() if _holds_object(prop)}
    if not nested:
        return schema
    shown = {**schema, "properties": {k: v for k, v in properties.items() if k not in nested}}
    if "required" in schema:
        shown["required"] = [k for k in schema["required"] if k not in nested]
    return shown


def _query(view) -> list[dict]:
    """The query parameters a view declared (``bodies.accepts_query``)."""
    return [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.description,
            "schema": p.schema(),
            **({"style": "form", "explode": True} if p.repeat else {}),
        }
        for p in getattr(view, "query_params", ())
    ]


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
                "parameters": params + _query(view),
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
            models = getattr(view, "request_bodies", None)
            if models:
                op["requestBody"] = request_body(models)
            if path == "/api/v1/openapi.json":
                op["responses"]["200"]["content"]["application/json"]["schema"] = {
                    "type": "object",
                    "description": "this document",
                }
            if (method, path) in CREATED:
                op["responses"]["201"] = op["responses"].pop("200")
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "xephang API",
            "version": "1",
            "description": "Queue ticketing for one-stop offices. Errors always have the "
            "shape {ok: false, error, status, code}. Times are ISO 8601 "
            "with the office's UTC offset. Request bodies are JSON objects (form-encoded "
            "fields are read too); ids may be numbers or numeric strings; null counts as "
            "not sent; unknown fields are refused.",
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
