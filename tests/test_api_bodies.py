"""The /api/v1 request bodies: declared once (xephang/web/bodies.py), validated by that
declaration and documented from it.

Every refusal here must be a 400 in the one error shape and leave the tickets, their
events and the counters exactly as they were.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

import xephang
from tests.helpers import add_booking_of_now, seed_demo_any_hour
from xephang import engine
from xephang.engine import accounts
from xephang.engine.states import TICKET_ACTIONS
from xephang.storage import connect, migrate
from xephang.web import bodies, openapi

NOT_AN_OBJECT = "Dữ liệu gửi lên phải là một đối tượng JSON"
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The demo office, seeded once for this module (password hashing is slow)."""
    path = tmp_path_factory.mktemp("bodies-template") / "template.db"
    db = connect(path)
    migrate(db)
    info = seed_demo_any_hour(db)
    tokens = {
        "officer": accounts.add_user_token(db, "canbo1"),
        "manager": accounts.add_user_token(db, "quanly"),
        "kiosk": info["kiosk_token"],
    }
    db.close()
    return SimpleNamespace(path=path, info=info, tokens=tokens)


class Api:
    """One test's app on a fresh copy of the template, and tickets in the states asked for."""

    def __init__(self, template, tmp_path):
        path = tmp_path / "x.db"
        shutil.copy(template.path, path)
        self.app = xephang.create_app(
            {
                "DB": str(path),
                "TESTING": True,
                "SECRET_KEY": "t",
                "PRINTER": "none",
                "PRINT_WORKER": False,
            }
        )
        self.client = self.app.test_client()
        self.db = connect(path)
        self.tokens = template.tokens
        self.password = template.info["password"]
        self.office = template.info["office_id"]
        add_booking_of_now(self.db, self.office, "CHECK7", "bodies-test-token-0001")
        self.counter = self.db.execute(
            "SELECT id FROM counters WHERE office_id = ? AND number = 1", [self.office]
        ).fetchone()[0]
        self.values = {"office": self.office, "counter": self.counter}

    def ticket(self, state: str) -> int:
        """A new service-A ticket in ``state`` (called at counter 1 if at all)."""
        ticket_id = engine.issue_ticket(self.db, self.office, "A").ticket["id"]
        if state in ("called", "serving", "no_show"):
            engine.call_ticket(self.db, self.counter, ticket_id, "test")
        if state == "serving":
            engine.start(self.db, ticket_id)
        if state == "no_show":
            engine.no_show(self.db, ticket_id)
        ticket = engine.get_ticket(self.db, ticket_id)
        self.values.update(ticket=ticket_id, code=ticket["code"])
        return ticket_id

    def fill(self, value):
        """Put this test's ids into a URL or a JSON body: "{ticket}" alone becomes the int."""
        if isinstance(value, str):
            whole = re.fullmatch(r"\{(\w+)\}", value)
            if whole and whole[1] in self.values:
                return self.values[whole[1]]
            return value.format(**self.values) if "{" in value else value
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value

    def post(self, url, json=None, raw=None, content_type="application/json", role="officer"):
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        if raw is None and json is None:
            return self.client.post(self.fill(url), headers=headers)
        if raw is None:
            return self.client.post(self.fill(url), json=self.fill(json), headers=headers)
        return self.client.post(
            self.fill(url), data=raw, content_type=content_type, headers=headers
        )

    def dump(self) -> dict:
        return {
            t: self.db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("tickets", "ticket_events", "counters")
        }


@pytest.fixture
def api(template, tmp_path):
    context = Api(template, tmp_path)
    yield context
    context.db.close()


def refused(response, message: str | None = None, status: int = 400) -> dict:
    """The response is the one error shape with ``status``, its message containing ``message``."""
    assert response.status_code == status, response.get_data(True)
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status, body
    assert body["code"] == "bad_input" and body["error"], body
    if message:
        assert message in body["error"], body["error"]
    return body


# --- the declaration is the document ---------------------------------------------------


def post_operations(app):
    """(rule, OpenAPI path, view) of every POST route under /api/v1."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and "POST" in rule.methods:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            yield rule.rule, path, app.view_functions[rule.endpoint]


def test_no_hand_written_request_bodies_are_left():
    assert not hasattr(openapi, "BODIES")


def test_every_post_operation_documents_the_models_its_view_validates_with(api):
    spec = api.client.get("/api/v1/openapi.json").get_json()
    for _, path, view in post_operations(api.app):
        models = getattr(view, "request_bodies", None)
        assert models, f"POST {path}: declare its body with @accepts (NoBody if it has none)"
        documented = spec["paths"][path]["post"]["requestBody"]
        assert set(documented["content"]) == {"application/json", FORM}
        for kind, content in documented["content"].items():
            schema = content["schema"]
            # nested models (a ticket's ``notify``) are written in place: no $ref into $defs
            assert "$ref" not in json.dumps(schema) and "$defs" not in schema, path
            # ...and left out of the form encoding, which cannot carry an object
            shape = openapi.flat if kind == FORM else (lambda schema: schema)
            if None in models:
                assert schema == shape(openapi.model_schema(models[None])), path
            else:
                expected = {
                    model: ", ".join(a for a, m in models.items() if m is model)
                    for model in models.values()
                }
                assert schema["anyOf"] == [
                    shape({**model.model_json_schema(), "title": title})
                    for model, title in expected.items()
                ], path
        required = all(m.model_json_schema().get("required") for m in models.values())
        assert documented["required"] is required, path
    validate(spec)


def test_every_action_has_its_body_and_the_document_enumerates_them():
    assert set(bodies.TICKET_ACTION_BODIES) == set(TICKET_ACTIONS)
    assert openapi.ENUMS["/api/v1/counters/{counter_id}/{action}"] == list(
        bodies.COUNTER_ACTION_BODIES
    )


@pytest.mark.parametrize(
    "model",
    sorted(bodies.Body.__subclasses__(), key=lambda m: m.__name__),
    ids=lambda m: m.__name__,
)
def test_every_model_documents_that_unknown_fields_are_refused(model):
    schema = model.model_json_schema()
    assert schema["additionalProperties"] is False
    for name, field in model.model_fields.items():
        assert field.title and schema["properties"][name]["title"] == field.title, name


# --- each operation, with a ticket in the state it needs --------------------------------

# url, the state of {ticket}, a body that is accepted, the role that may post it.
TOMORROW_10 = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)).strftime(
    "%Y-%m-%dT10:00"
)
OPERATIONS = [
    ("/api/v1/tickets", None, {"service": "A"}, "officer"),
    ("/api/v1/tickets/{ticket}/recall", "called", {}, "officer"),
    ("/api/v1/tickets/{ticket}/start", "called", {}, "officer"),
    ("/api/v1/tickets/{ticket}/finish", "serving", {"dossier_code": "H40-1"}, "officer"),
    ("/api/v1/tickets/{ticket}/dossier-code", "serving", {"dossier_code": "H40-1"}, "officer"),
    ("/api/v1/tickets/{ticket}/no-show", "called", {}, "officer"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"service": "C"}, "officer"),
    ("/api/v1/tickets/{ticket}/return", "called", {"reason": "Đi photo"}, "officer"),
    ("/api/v1/tickets/{ticket}/cancel", "waiting", {"reason": "Lấy nhầm"}, "officer"),
    ("/api/v1/tickets/{ticket}/undo", "no_show", {}, "officer"),
    ("/api/v1/counters/{counter}/call-next", "waiting", {}, "officer"),
    (
        "/api/v1/counters/{counter}/call",
        "waiting",
        {"ticket": "{ticket}", "reason": "x"},
        "officer",
    ),
    ("/api/v1/counters/{counter}/open", None, {"takeover": True}, "officer"),
    ("/api/v1/counters/{counter}/close", None, {}, "officer"),
    ("/api/v1/counters/{counter}/pause", None, {"reason": "Nghỉ trưa"}, "officer"),
    ("/api/v1/counters/{counter}/resume", "paused", {}, "officer"),
    ("/api/v1/offices/{office}/close-day", "waiting", {}, "manager"),
    ("/api/v1/offices/{office}/online-tickets", None, {"service": "A"}, None),
    ("/api/v1/offices/{office}/appointments", None, {"service": "A", "slot": TOMORROW_10}, None),
    ("/api/v1/checkins", None, {"text": "CHECK7"}, "kiosk"),
    (
        "/api/v1/offices/{office}/otp",
        "phone_verified",
        {"phone": "0912345678", "consent": True},
        None,
    ),
]
OPERATION_IDS = [url.rsplit("}", 1)[-1] or url for url, *_ in OPERATIONS]


def prepare(api, state):
    if state == "phone_verified":  # phones proven by a one-time code: SMS set up
        api.app.config["SMS_URL"] = "http://127.0.0.1:9/sms"
        engine.set_office_settings(api.db, api.office, {"online_identity": "phone"})
    elif state == "paused":
        engine.pause(api.db, api.counter, "test")
    elif state:
        api.ticket(state)


def test_the_operations_table_covers_every_post_route_and_action(api):
    adapter = api.app.url_map.bind("xephang.test")
    covered = {
        adapter.match(re.sub(r"\{\w+\}", "1", url), method="POST")[0] for url, *_ in OPERATIONS
    }
    endpoints = {
        rule.endpoint
        for rule in api.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and "POST" in rule.methods
    }
    assert covered == endpoints
    actions = {url.rsplit("/", 1)[1] for url, *_ in OPERATIONS}
    assert actions >= set(TICKET_ACTIONS) | set(bodies.COUNTER_ACTION_BODIES)


@pytest.mark.parametrize("url, state, good, role", OPERATIONS, ids=OPERATION_IDS)
def test_each_operation_accepts_its_body(api, url, state, good, role):
    prepare(api, state)
    response = api.post(url, good, role=role)
    assert response.status_code in (200, 201), response.get_data(True)
    assert engine.verify_log(api.db) == []


@pytest.mark.parametrize("url, state, good, role", OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "raw, message",
    [
        ("[1, 2]", NOT_AN_OBJECT),
        ("null", NOT_AN_OBJECT),
        ('"A"', NOT_AN_OBJECT),
        ("{not json", NOT_AN_OBJECT),
        (DEEP, "lồng nhau quá sâu"),
        ('{"x": ' + DEEP + "}", "lồng nhau quá sâu"),
        ('{"reason": "\\ud800"}', "ký tự không hợp lệ"),
        ('{"nope": 1}', "Không có trường 'nope'"),
    ],
    ids=["array", "null", "string", "not-json", "deep", "deep-field", "surrogate", "unknown"],
)
def test_each_operation_refuses_what_is_not_its_body(api, url, state, good, role, raw, message):
    prepare(api, state)
    before = api.dump()
    refused(api.post(url, raw=raw, role=role), message)
    assert api.dump() == before


def model_for(api, url: str):
    """The model the view behind ``url`` declared for its body."""
    endpoint, args = api.app.url_map.bind("xephang.test").match(api.fill(url), method="POST")
    view = api.app.view_functions[endpoint]
    per = view.request_body_per
    return view.request_bodies[args[per] if per else None]


@pytest.mark.parametrize("url, state, good, role", OPERATIONS, ids=OPERATION_IDS)
def test_a_lone_surrogate_in_any_field_is_refused(api, url, state, good, role):
    """SQLite cannot store "\\ud800" (UnicodeEncodeError, a 500 once): the parser refuses it."""
    prepare(api, state)
    before = api.dump()
    for name in model_for(api, url).model_fields:
        raw = json.dumps({**api.fill(good), name: "A\ud800"})  # ensure_ascii: "A\\ud800"
        refused(api.post(url, raw=raw, role=role), "có ký tự không hợp lệ")
        assert api.dump() == before, name


# --- what each model refuses, with today's wording --------------------------------------

# url, ticket state, body, what the message says
REFUSALS = [
    ("/api/v1/tickets", None, {}, "Thiếu dịch vụ"),
    ("/api/v1/tickets", None, {"service": None}, "Thiếu dịch vụ"),
    ("/api/v1/tickets", None, {"service": ""}, "Thiếu dịch vụ"),
    ("/api/v1/tickets", None, {"service": True}, "dịch vụ không hợp lệ"),
    ("/api/v1/tickets", None, {"service": 1.5}, "dịch vụ không hợp lệ"),
    ("/api/v1/tickets", None, {"service": ["A"]}, "dịch vụ không hợp lệ"),
    ("/api/v1/tickets", None, {"service": "A", "office": True}, "Văn phòng phải là số nguyên"),
    ("/api/v1/tickets", None, {"service": "A", "office": 1.5}, "Văn phòng phải là số nguyên"),
    ("/api/v1/tickets", None, {"service": "A", "office": "x"}, "Văn phòng phải là số"),
    ("/api/v1/tickets", None, {"service": "A", "office": 2**64}, "Văn phòng quá lớn"),
    ("/api/v1/tickets", None, {"service": "A", "office": None}, "Thiếu văn phòng"),
    ("/api/v1/tickets", None, {"service": "A", "priority": 7}, "nhóm ưu tiên không hợp lệ"),
    ("/api/v1/tickets", None, {"service": "A", "priority": "x" * 600}, "nhóm ưu tiên quá dài"),
    ("/api/v1/tickets", None, {"service": "A", "priority": "vip"}, "Không có nhóm ưu tiên"),
    ("/api/v1/tickets", None, {"service": "A", "counter": 1}, "Không có trường 'counter'"),
    ("/api/v1/tickets/{ticket}/finish", "serving", {"dossier_code": {"a": 1}}, "mã hồ sơ không"),
    ("/api/v1/tickets/{ticket}/finish", "serving", {"dossier_code": "x" * 501}, "mã hồ sơ quá dài"),
    ("/api/v1/tickets/{ticket}/finish", "serving", {"outcome": 5}, "kết quả không hợp lệ"),
    ("/api/v1/tickets/{ticket}/finish", "serving", {"reason": "x"}, "Không có trường 'reason'"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {}, "Cần chọn dịch vụ hoặc quầy"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"counter": True}, "Quầy phải là số nguyên"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"counter": 1.5}, "Quầy phải là số nguyên"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"counter": "abc"}, "Quầy phải là số"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"counter": 2**63}, "Quầy quá lớn"),
    ("/api/v1/tickets/{ticket}/transfer", "serving", {"service": False}, "dịch vụ không hợp lệ"),
    (
        "/api/v1/tickets/{ticket}/transfer",
        "serving",
        {"service": "C", "reason": "x" * 600},
        "lý do quá dài",
    ),
    ("/api/v1/tickets/{ticket}/return", "called", {"reason": ["x"]}, "lý do không hợp lệ"),
    ("/api/v1/tickets/{ticket}/cancel", "waiting", {"reason": "x" * 600}, "lý do quá dài"),
    ("/api/v1/tickets/{ticket}/recall", "called", {"reason": "x"}, "Không có trường 'reason'"),
    ("/api/v1/counters/{counter}/call", "waiting", {"reason": "x"}, "Thiếu vé"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": None, "reason": "x"}, "Thiếu vé"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": " ", "reason": "x"}, "Thiếu vé"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": True, "reason": "x"}, "Vé phải là"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": 1.5, "reason": "x"}, "Vé phải là"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": 2**64, "reason": "x"}, "Vé quá lớn"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": [1], "reason": "x"}, "Vé phải là số"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": "{ticket}"}, "Thiếu lý do"),
    ("/api/v1/counters/{counter}/call", "waiting", {"ticket": 1, "reason": "  "}, "Thiếu lý do"),
    ("/api/v1/counters/{counter}/pause", None, {}, "Thiếu lý do tạm dừng"),
    ("/api/v1/counters/{counter}/pause", None, {"reason": None}, "Thiếu lý do tạm dừng"),
    ("/api/v1/counters/{counter}/pause", None, {"reason": 5}, "lý do tạm dừng không hợp lệ"),
    ("/api/v1/counters/{counter}/open", None, {"reason": "x"}, "Không có trường 'reason'"),
    ("/api/v1/counters/{counter}/call-next", "waiting", {"counter": 2}, "Không có trường"),
]


@pytest.mark.parametrize("url, state, body, message", REFUSALS)
def test_bad_fields_are_refused_and_change_nothing(api, url, state, body, message):
    prepare(api, state)
    before = api.dump()
    error = refused(api.post(url, body), message)
    assert error["error"].count(" / ") == 1  # Vietnamese first, then English
    assert api.dump() == before


def test_a_refusal_names_the_field_at_fault(api):
    error = refused(api.post("/api/v1/tickets", {"service": "A", "office": "x"}))
    assert error["field"] == "office"
    assert error["error"] == "Văn phòng phải là số / office must be a number"
    error = refused(api.post("/api/v1/tickets", {"service": "A", "colour": "red"}))
    assert error["field"] == "colour"


def test_a_body_that_is_not_json_is_refused_whatever_it_claims_to_be(api):
    before = api.dump()
    refused(api.post("/api/v1/tickets", raw='{"service": "A"}', content_type="text/plain"))
    refused(api.post("/api/v1/tickets", raw=b'{"service": "\xff"}'), "ký tự không hợp lệ")
    refused(api.post("/api/v1/tickets", raw=b'{"service": "A\x01"}'), "ký tự không hợp lệ")
    assert api.dump() == before


def test_text_the_database_cannot_store_is_refused_by_the_models_too():
    """Models used on a dict (not through the JSON parser) refuse lone surrogates as well."""
    for model, data in [
        (bodies.IssueBody, {"service": "\ud800"}),
        (bodies.IssueBody, {"service": "A", "priority": "\ud800"}),
        (bodies.CallBody, {"ticket": "A\ud800", "reason": "x"}),
        (bodies.CallBody, {"ticket": 1, "reason": "\ud800"}),
        (bodies.FinishBody, {"dossier_code": "\ud800"}),
        (bodies.TransferBody, {"service": "\ud800"}),
    ]:
        with pytest.raises(ValidationError) as caught:
            model.model_validate(data)
        assert caught.value.errors()[0]["type"] == "string_unicode", data


# --- what must keep working -------------------------------------------------------------


def test_ids_may_be_numbers_or_numeric_strings(api):
    office = api.office
    service_b = api.db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'B'", [office]
    ).fetchone()[0]
    issued = api.post("/api/v1/tickets", {"service": "A", "office": str(office)})
    assert issued.status_code == 201, issued.get_data(True)
    by_id = api.post("/api/v1/tickets", {"service": service_b}).get_json()["ticket"]
    by_digits = api.post("/api/v1/tickets", {"service": str(service_b)}).get_json()["ticket"]
    assert by_id["code"] == "B001" and by_digits["code"] == "B002"
    first = issued.get_json()["ticket"]["id"]
    called = api.post("/api/v1/counters/{counter}/call", {"ticket": str(first), "reason": "x"})
    assert called.status_code == 200 and called.get_json()["ticket"]["id"] == first
    api.post(f"/api/v1/tickets/{first}/start")
    counter2 = api.db.execute(
        "SELECT id FROM counters WHERE office_id = ? AND number = 2", [office]
    ).fetchone()[0]
    moved = api.post(f"/api/v1/tickets/{first}/transfer", {"counter": str(counter2)})
    assert moved.status_code == 200, moved.get_data(True)


def test_a_ticket_to_call_is_an_id_or_a_code(api):
    first, second = api.ticket("waiting"), api.ticket("waiting")
    code = engine.get_ticket(api.db, second)["code"]
    by_code = api.post("/api/v1/counters/{counter}/call", {"ticket": code.lower(), "reason": "x"})
    assert by_code.status_code == 200 and by_code.get_json()["ticket"]["id"] == second
    api.post(f"/api/v1/tickets/{second}/no-show")
    by_id = api.post("/api/v1/counters/{counter}/call", {"ticket": first, "reason": "x"})
    assert by_id.status_code == 200 and by_id.get_json()["ticket"]["id"] == first


@pytest.mark.parametrize("priority", ["", None, False])
def test_no_priority_may_be_said_as_before(api, priority):
    response = api.post("/api/v1/tickets", {"service": "A", "priority": priority})
    assert response.status_code == 201 and response.get_json()["ticket"]["priority"] is None


@pytest.mark.parametrize(
    "url, state",
    [
        ("/api/v1/tickets/{ticket}/recall", "called"),
        ("/api/v1/tickets/{ticket}/finish", "serving"),
        ("/api/v1/tickets/{ticket}/cancel", "waiting"),
        ("/api/v1/counters/{counter}/call-next", "waiting"),
        ("/api/v1/counters/{counter}/open", None),
    ],
)
@pytest.mark.parametrize("how", ["none", "empty", "object", "form"])
def test_an_empty_body_is_fine_where_no_field_is_required(api, url, state, how):
    prepare(api, state)
    if how == "none":
        response = api.post(url)
    elif how == "empty":
        response = api.post(url, raw="")
    elif how == "object":
        response = api.post(url, raw="{}")
    else:
        response = api.post(url, raw="", content_type=FORM)
    assert response.status_code == 200, response.get_data(True)


def test_form_encoded_bodies_are_read_by_the_same_models(api):
    issued = api.post("/api/v1/tickets", raw="service=B&priority=elderly", content_type=FORM)
    assert issued.status_code == 201, issued.get_data(True)
    assert issued.get_json()["ticket"]["priority"] == "elderly"
    refused(api.post("/api/v1/tickets", raw="service=B&office=", content_type=FORM), "Văn phòng")
    ticket = api.ticket("serving")
    moved = api.post(
        f"/api/v1/tickets/{ticket}/transfer",
        raw="service=C&counter=&reason=C%E1%BA%A7n+th%E1%BA%A9m+%C4%91%E1%BB%8Bnh",
        content_type=FORM,
    )
    assert moved.status_code == 200, moved.get_data(True)
    assert moved.get_json()["ticket"]["code"] == "C001"
    paused = api.post(
        "/api/v1/counters/{counter}/pause", raw="reason=Ngh%E1%BB%89", content_type=FORM
    )
    assert paused.get_json()["counter"]["pause_reason"] == "Nghỉ"


def test_a_signed_in_browser_may_post_a_form_with_its_csrf_field(api):
    """The session's csrf_token form field belongs to auth, not to the body."""
    api.client.get("/login")
    with api.client.session_transaction() as sess:
        csrf = sess["csrf"]
    login = {"username": "canbo1", "password": api.password, "csrf_token": csrf}
    assert api.client.post("/login", data=login).status_code == 302
    with api.client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = api.post(
        "/api/v1/counters/{counter}/pause",
        raw=f"reason=Ngh%E1%BB%89&csrf_token={csrf}",
        content_type=FORM,
        role=None,
    )
    assert response.status_code == 200, response.get_data(True)


def test_text_is_trimmed_and_valid_surrogate_pairs_are_kept(api):
    ticket = api.ticket("serving")
    response = api.post(
        f"/api/v1/tickets/{ticket}/finish", raw='{"dossier_code": "  H40 \\ud83d\\ude00  "}'
    )
    assert response.status_code == 200, response.get_data(True)
    assert response.get_json()["ticket"]["dossier_code"] == "H40 😀"


def test_query_parameters_are_declared_once_checked_and_documented(api):
    waiting = api.client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/offices/{office_id}/waiting"
    ]["get"]
    query = {p["name"]: p for p in waiting["parameters"] if p["in"] == "query"}
    assert query["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 50,
    }
    assert query["service"]["schema"]["type"] == "array" and query["service"]["explode"]
    url = f"/api/v1/offices/{api.office}/waiting"
    for bad, message in (
        ("limit=0", "Giới hạn phải từ 1 đến 500"),
        ("limit=501", "Giới hạn phải từ 1 đến 500"),
        ("limit=abc", "Giới hạn phải là số"),
        ("service=x", "Dịch vụ phải là số"),
    ):
        r = api.client.get(
            f"{url}?{bad}", headers={"Authorization": f"Bearer {api.tokens['officer']}"}
        )
        assert r.status_code == 400 and message in r.json["error"], bad
    ok = api.client.get(
        f"{url}?service=1&service=2&limit=5",
        headers={"Authorization": f"Bearer {api.tokens['officer']}"},
    )
    assert ok.status_code == 200


def test_a_method_not_allowed_says_which_are(api):
    r = api.client.put(
        "/api/v1/tickets", headers={"Authorization": f"Bearer {api.tokens['officer']}"}
    )
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"POST"}
    assert r.json["status"] == 405
