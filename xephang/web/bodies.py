"""The request bodies of the /api/v1 JSON API, each declared once, as a pydantic model.

``@accepts(Model)`` on a view declares its body; the view reads it, validated
by that model, with ``read_body()``; ``openapi.py`` reads the same declaration
(the view's ``request_bodies``) and writes each model's ``model_json_schema()``
as the operation's requestBody. The checks and the document cannot drift
apart, and every POST operation declares a body (``NoBody`` when it has no
field; a test holds every one to its declaration).

Why pydantic rather than dataclasses with a validator: one declaration gives
both the checks and a JSON Schema (2020-12, the dialect OpenAPI 3.1 uses
as-is), where dataclasses would need a second hand-written description; its
JSON parser refuses, as invalid JSON, what must never reach the engine (a lone
surrogate such as ``"\\ud800"``, which SQLite cannot encode; nesting deeper
than 200 levels, long before Python's recursion limit); and its errors are
data (a type and a field), so they are put into Vietnamese here, once
(``_refusal``), from each field's Vietnamese label (``Field(title=...)``).

What a model checks is the shape of a request: types, ids, required fields
and the bounds of free text. The rules stay in the engine (a service exists,
a ticket may make this move, a transfer names a service or a counter), which
also trims and bounds text for its other callers.

- Ids are JSON integers or numeric strings (form fields); ``true``/``false``
  and decimals are refused, as are ids SQLite cannot store (past 64 bits).
- A field sent as ``null`` counts as not sent.
- An empty body is ``{}``: fine wherever no field is required.
- Form-encoded bodies are validated by the same models (their ``csrf_token``
  field belongs to ``auth`` and is dropped first).
- Unknown fields are refused (``extra="forbid"``, ``additionalProperties:
  false`` in the document): a misspelt ``dossier_code`` silently dropped would
  be a dossier lost from the satisfaction figures, while a 400 naming the field
  is seen the first time the client is tried.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from flask import current_app, request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ..engine.booking import SLOT_PATTERN
from ..engine.lookups import MAX_TEXT, storable_id
from ..errors import BadInputError

NOT_AN_OBJECT = ("Dữ liệu gửi lên phải là một đối tượng JSON", "Body must be a JSON object")

# --- field types --------------------------------------------------------------------------


def _whole_number(value: Any) -> int:
    """An int from a JSON integer or a numeric string; the rule for every id and count."""
    # int(True) is 1, int(2.7) is 2: both are mistakes; 2.0 is the integer JSON Schema
    # (and so the document) says it is.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise PydanticCustomError("whole_number", "must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PydanticCustomError("number", "must be a number") from None
    if not storable_id(number):
        raise PydanticCustomError("out_of_range", "out of range")
    return number


def _optional_id(value: Any) -> int | None:
    return None if value is None or value == "" else _whole_number(value)


def _text_ref(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: SQLite cannot store it
        raise PydanticCustomError("string_unicode", "invalid character") from None
    return value


def _service_ref(value: Any) -> int | str:
    """A prefix letter or a service id, as ``find_service`` takes them."""
    if value is None or value == "":
        raise PydanticCustomError("missing", "missing")
    if isinstance(value, str):
        return _text_ref(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # past 64 bits it is simply not found
    raise PydanticCustomError("ref_type", "must be a prefix or an id")


def _optional_service_ref(value: Any) -> int | str | None:
    return None if value is None or value == "" else _service_ref(value)


def _ticket_ref(value: Any) -> int | str:
    """A ticket id (a number, or digits) or the code of a waiting ticket (A023)."""
    if isinstance(value, str) and not value.isdigit():
        if not value.strip():
            raise PydanticCustomError("missing", "missing")
        return _text_ref(value)
    return _whole_number(value)


def _no_priority_if_blank(value: Any) -> Any:
    # "", null and false have always meant "no priority" to this API; blank text does too.
    return None if not value or (isinstance(value, str) and not value.strip()) else value


# What SQLite can store: the document says so, so generated ids stay within it.
ID_SCHEMA = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
Id = Annotated[int, BeforeValidator(_whole_number), WithJsonSchema(ID_SCHEMA)]
OptionalId = Annotated[
    int | None,
    BeforeValidator(_optional_id),
    WithJsonSchema({"anyOf": [ID_SCHEMA, {"type": "null"}]}),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT)]
# "Not blank": a string with something besides spaces (JSON Schema patterns search).
NOT_BLANK = {"type": "string", "pattern": "\\S"}
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    WithJsonSchema({**NOT_BLANK, "maxLength": MAX_TEXT}),
]
ServiceRef = Annotated[
    int | str,
    PlainValidator(_service_ref),
    WithJsonSchema({"anyOf": [{"type": "integer"}, NOT_BLANK]}),
]
OptionalServiceRef = Annotated[
    int | str | None,
    PlainValidator(_optional_service_ref),
    WithJsonSchema({"type": ["string", "integer", "null"]}),
]
TicketRef = Annotated[
    int | str,
    PlainValidator(_ticket_ref),
    WithJsonSchema({"anyOf": [{"type": "integer"}, NOT_BLANK], "examples": [42, "A023"]}),
]


def _no_object_if_blank(value: Any) -> Any:
    # A form cannot carry an object: its "" or "null" (what a form client sends for a
    # null field) means none.
    return None if isinstance(value, str) and value.strip() in ("", "null") else value


def _hide_default(schema: dict) -> None:
    schema.pop("default", None)  # absent is not null: null is refused


# --- the bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoBody(Body):
    """No fields: send nothing, or {}."""


class PushKeysBody(Body):
    """The keys of a browser's push subscription."""

    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        title="khóa p256dh"
    )
    auth: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(title="khóa auth")


class PushSubscriptionBody(Body):
    """A browser's PushSubscription, as ``JSON.stringify(subscription)`` gives it."""

    endpoint: Annotated[str, StringConstraints(max_length=1000)] = Field(
        title="địa chỉ đẩy", json_schema_extra={"pattern": r"^https?://[^/\s]+(/\S*)?$"}
    )
    expirationTime: int | None = Field(None, title="hết hạn")  # noqa: N815 (the browser's name)
    keys: PushKeysBody = Field(title="khóa")


# What the engine accepts (engine/subscriptions.py), written into the document so that a
# client (and Schemathesis) can tell a well-formed request: checked by the engine, with
# its own words, not by these patterns.
PHONE_PATTERN = r"^[ .()-]*(\+84|84|0)[ .()-]*[35789]([ .()-]*[0-9]){8}[ .()-]*$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)+$"


class NotifyBody(Body):
    """Messages about the visit: exactly one of a phone, an e-mail or a push subscription,
    and the citizen's explicit consent (without ``"consent": true``: 400, nothing issued)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "oneOf": [{"required": ["phone"]}, {"required": ["email"]}, {"required": ["webpush"]}]
        },
    )

    phone: Annotated[Text | None, StringConstraints(max_length=30)] = Field(
        None,
        title="số điện thoại",
        description="a Vietnamese mobile number (09…, +849…)",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    email: Annotated[Text | None, StringConstraints(max_length=254)] = Field(
        None, title="e-mail", json_schema_extra={"pattern": EMAIL_PATTERN}
    )
    webpush: PushSubscriptionBody | None = Field(None, title="thông báo đẩy")
    consent: Literal[True] = Field(
        title="đồng ý",
        description="true: 'Tôi đồng ý nhận tin nhắn về lượt của mình' was ticked",
    )
    channel: Literal["sms", "zalo"] | None = Field(
        None, title="kênh", description="for a phone: sms or zalo (default: what the office has)"
    )
    lang: Annotated[Literal["vi", "en"] | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="ngôn ngữ"
    )

    def request(self) -> dict:
        """The request as the engine checks it (``engine.subscriptions.contact_from``)."""
        return self.model_dump(exclude_none=True)


class IssueBody(Body):
    """A new ticket for a service."""

    service: ServiceRef = Field(title="dịch vụ", description="prefix (A) or service id")
    priority: Annotated[Text | None, BeforeValidator(_no_priority_if_blank)] = Field(
        None, title="nhóm ưu tiên", description="priority category key"
    )
    office: Id = Field(
        None,
        title="văn phòng",
        description="office id; absent: the caller's own (admins must give it)",
        json_schema_extra=_hide_default,
    )
    notify: Annotated[NotifyBody | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="nhận tin nhắn", description="subscribe the visit to messages, with consent"
    )


class KioskIssueBody(Body):
    """A ticket pressed at a kiosk (its office is the kiosk's)."""

    service: ServiceRef = Field(title="dịch vụ", description="prefix (A) or service id")
    priority: Annotated[Text | None, BeforeValidator(_no_priority_if_blank)] = Field(
        None, title="nhóm ưu tiên", description="priority category key"
    )
    notify: Annotated[NotifyBody | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="nhận tin nhắn"
    )


CCCD_PATTERN = r"^[ .-]*([0-9][ .-]*){12}$"


class RemoteBody(Body):
    """Who is taking a number or a slot from home, as the office's ``online_identity``
    asks (``none``: nothing; ``phone``; ``cccd``: ``citizen_id``), and their consent to
    keeping its keyed hash and last 3 digits. Checked by the engine, in its own words."""

    service: ServiceRef = Field(title="dịch vụ", description="prefix (A) or service id")
    phone: Annotated[Text | None, StringConstraints(max_length=30)] = Field(
        None,
        title="số điện thoại",
        description="a Vietnamese mobile number, when the office asks for a phone",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    citizen_id: Annotated[Text | None, StringConstraints(max_length=30)] = Field(
        None,
        title="số CCCD",
        description="the 12-digit citizen-ID number, when the office asks for it",
        json_schema_extra={"pattern": CCCD_PATTERN},
    )
    consent: Annotated[bool | None, BeforeValidator(_no_object_if_blank)] = Field(
        None,
        title="đồng ý",
        description="true: the consent line was accepted (needed when an identity is asked)",
    )
    otp_id: Annotated[Text | None, StringConstraints(max_length=64)] = Field(
        None,
        title="mã yêu cầu xác nhận",
        description="where the office verifies phones: the otp_id POST .../otp answered"
        " (then phone may be left out)",
    )
    otp_code: Annotated[Text | None, StringConstraints(max_length=12)] = Field(
        None,
        title="mã xác nhận",
        description="the 6-digit one-time code sent to the phone",
        json_schema_extra={"pattern": r"^\s*[0-9]{6}\s*$"},
    )


class OtpRequestBody(Body):
    """A one-time code to a phone, before an online number or an appointment, where the
    office verifies phones (``online_identity`` ``phone`` with an SMS or Zalo channel)."""

    phone: Annotated[Text | None, StringConstraints(max_length=30)] = Field(
        None,
        title="số điện thoại",
        description="the Vietnamese mobile number the code is sent to (needed)",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    consent: Annotated[bool | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="đồng ý", description="true: the consent line was accepted (needed)"
    )
    lang: Annotated[Literal["vi", "en"] | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="ngôn ngữ", description="the message's language: vi (default) or en"
    )


class OnlineTicketBody(RemoteBody):
    """An online number, in line from the moment it is taken."""

    notify: Annotated[NotifyBody | None, BeforeValidator(_no_object_if_blank)] = Field(
        None, title="nhận tin nhắn", description="subscribe the visit to messages, with consent"
    )


class AppointmentBody(RemoteBody):
    """An appointment: a service and one of its half-hour slots."""

    slot: RequiredText = Field(
        title="khung giờ",
        description="the slot's start in the office's time (2026-12-03T08:00), as listed by"
        " availability; a well-formed time that is no slot on offer answers 409",
        examples=["2026-12-03T08:00"],
        json_schema_extra={"pattern": SLOT_PATTERN},
    )
    notify: Annotated[NotifyBody | None, BeforeValidator(_no_object_if_blank)] = Field(
        None,
        title="nhận tin nhắn",
        description="a confirmation, a reminder an hour before, then the ticket's messages",
    )


class CheckinBody(Body):
    """What a kiosk's scanner typed, or staff entered: a booking's code or its QR (the page
    link), an online number's check-in code (A023 4817; staff may type the bare A023) or
    its QR (the tracker link), or a CCCD QR text (only its first field is read)."""

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
        WithJsonSchema({**NOT_BLANK, "maxLength": 1000}),
    ] = Field(title="mã lịch hẹn hoặc số thứ tự", examples=["HX7K3M", "A023 4817"])
    office: Id = Field(
        None,
        title="văn phòng",
        description="office id; absent: the caller's own (admins must give it)",
        json_schema_extra=_hide_default,
    )


class KioskCheckinBody(Body):
    """What a kiosk's scanner typed, or the citizen keyed in (its office is the kiosk's)."""

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
        WithJsonSchema({**NOT_BLANK, "maxLength": 1000}),
    ] = Field(title="mã lịch hẹn")


class UnsubscribeBody(Body):
    """Which messages to stop: one channel, or (absent) all of them."""

    channel: Literal["webpush", "sms", "zalo", "email"] | None = Field(None, title="kênh")


class CallBody(Body):
    """A waiting ticket to call out of order, and why."""

    ticket: TicketRef = Field(title="vé", description="ticket id, or the code of a waiting ticket")
    reason: RequiredText = Field(title="lý do", description="why out of order (logged)")


class PauseBody(Body):
    """Why the counter stops calling (shown on the board)."""

    reason: RequiredText = Field(title="lý do tạm dừng")


class FinishBody(Body):
    """The end of service, with what was done."""

    dossier_code: Text | None = Field(None, title="mã hồ sơ", description="the dossier code")
    outcome: Text | None = Field(None, title="kết quả")


class TransferBody(Body):
    """Where to send the citizen next: a service, a counter, or both."""

    service: OptionalServiceRef = Field(
        None, title="dịch vụ", description="prefix or id; default: the counter's first"
    )
    counter: OptionalId = Field(None, title="quầy", description="counter id")
    reason: Text | None = Field(None, title="lý do")


class ReasonBody(Body):
    """An optional reason, logged with the move."""

    reason: Text | None = Field(None, title="lý do")


class OpenBody(Body):
    """Opening a counter; another officer's counter only with ``takeover`` (logged)."""

    takeover: bool = Field(
        False, title="nhận quầy", description="take over a counter another officer holds"
    )


class ReprintBody(Body):
    """Print a citizen's ticket again, at a counter (its printer, else the kiosk's)."""

    counter: OptionalId = Field(None, title="quầy", description="the counter asking (its printer)")


class RatingBody(Body):
    """A citizen's rating of a finished visit, from the tracker page."""

    level: Id = Field(title="mức đánh giá", description="a level of the office's scale")
    attributes: dict[Annotated[str, StringConstraints(max_length=30)], StrictBool] = Field(
        default_factory=dict,
        title="tiêu chí",
        description="answers to the office's rating attributes: key -> true (good) / false",
        max_length=20,
    )
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = Field(
        "", title="góp ý"
    )


class TabletRatingBody(RatingBody):
    """A citizen's rating at the counter's tablet, of the ticket the counter just finished."""

    ticket: Id = Field(title="vé", description="the ticket the tablet was asked to rate")


class DossierBody(Body):
    """The dossier code (mã hồ sơ) of a ticket being served or done, typed or scanned."""

    dossier_code: RequiredText = Field(title="mã hồ sơ", description="the dossier code")


# The body of each action of /tickets/<id>/<action> and /counters/<id>/<action>.
TICKET_ACTION_BODIES: dict[str, type[Body]] = {
    "recall": NoBody,
    "start": NoBody,
    "finish": FinishBody,
    "no-show": NoBody,
    "transfer": TransferBody,
    "return": ReasonBody,
    "cancel": ReasonBody,
    "undo": NoBody,
}
COUNTER_ACTION_BODIES: dict[str, type[Body]] = {
    "open": OpenBody,
    "close": NoBody,
    "pause": PauseBody,
    "resume": NoBody,
}


# --- reading a request --------------------------------------------------------------------


def accepts(body: type[Body] | Mapping[str, type[Body]], per: str | None = None):
    """Declare the model a view's request body must fit; the view reads it with ``read_body()``.

    With ``per="action"`` the model depends on that URL part: ``body`` maps
    each action to its model. Views read their body after finding what the URL
    names, so a wrong URL is a 404 before a wrong body is a 400.
    """
    models = dict(body) if per else {None: body}

    def decorator(view):
        view.request_bodies = models
        view.request_body_per = per
        return view

    return decorator


def read_body() -> Any:
    """This request's body, validated by the model its view declared with ``@accepts``."""
    view = current_app.view_functions[request.endpoint]
    per = view.request_body_per
    return read(view.request_bodies[request.view_args[per] if per else None])


def read(model: type[Body]) -> Body:
    """The request's body as ``model``: JSON, form-encoded or empty; BadInputError otherwise."""
    try:
        if request.form:  # parsed only for form content types
            fields = request.form.to_dict()
            fields.pop("csrf_token", None)
            return model.model_validate(fields)
        raw = request.data
        if not raw:
            return model.model_validate({})
        if not request.is_json:
            raise BadInputError(*NOT_AN_OBJECT)
        return model.model_validate_json(raw.removeprefix(codecs.BOM_UTF8))
    except ValidationError as err:
        errors = err.errors()
        # An unknown field first: it is most often the misspelt name of a missing one.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise _refusal(first, model.model_fields) from None


@dataclass(frozen=True)
class QueryNumber:
    """A whole-number query parameter: declared once, read (checked) and documented from it."""

    name: str
    title: str  # Vietnamese label, for the refusal
    description: str
    low: int | None = None
    high: int | None = None
    default: int | None = None
    repeat: bool = False  # ?service=1&service=2

    def schema(self) -> dict:
        # Without bounds of its own, a number is still one SQLite can store (``_checked``).
        number = {
            "type": "integer",
            "minimum": -(2**63) if self.low is None else self.low,
            "maximum": 2**63 - 1 if self.high is None else self.high,
        }
        if self.repeat:
            return {"type": "array", "items": number}
        return {**number, **({"default": self.default} if self.default is not None else {})}

    def read(self) -> Any:
        raw = request.args.getlist(self.name)
        values = [self._checked(v) for v in raw]
        if self.repeat:
            return values
        return values[-1] if values else self.default

    def _checked(self, value: str) -> int:
        number = whole_number(value, self.title, self.name)
        low = self.low if self.low is not None else -(2**63)
        high = self.high if self.high is not None else 2**63 - 1
        if not low <= number <= high:
            label = self.title[:1].upper() + self.title[1:]
            raise BadInputError(
                f"{label} phải từ {low} đến {high}",
                f"{self.name} must be within {low}..{high}",
                field=self.name,
            )
        return number


@dataclass(frozen=True)
class QueryDay:
    """A day query parameter (YYYY-MM-DD), optional."""

    name: str
    title: str
    description: str
    repeat: bool = False

    def schema(self) -> dict:
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}

    def read(self) -> Any:
        raw = request.args.getlist(self.name)
        if not raw:
            return None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw[-1]):
            raise BadInputError(
                f"{self.title[:1].upper() + self.title[1:]} không hợp lệ (YYYY-MM-DD)",
                f"{self.name} must be YYYY-MM-DD",
                field=self.name,
            )
        return raw[-1]  # a day that does not exist is no bookable day: it has no slots


def accepts_query(*params: QueryNumber | QueryDay):
    """Declare a view's query parameters; the view reads them with ``read_query()``."""

    def decorator(view):
        view.query_params = params
        return view

    return decorator


def read_query() -> dict[str, Any]:
    """This request's query parameters, checked by what its view declared."""
    view = current_app.view_functions[request.endpoint]
    return {p.name: p.read() for p in view.query_params}


def whole_number(value: Any, label: str, name: str) -> int:
    """A number from the query string, by the rule and with the messages of body ids."""
    try:
        return _whole_number(value)
    except PydanticCustomError as err:
        raise _field_refusal(err.type, value, label, name) from None


# --- refusals in Vietnamese (first) and English, in one place --------------------------------

# The wording of the engine's checks and of the API's earlier ones: clients match on it.
# {Label} is the field's title capitalised, {label} as written, {name} the field's name.
MESSAGES = {
    "missing": ("Thiếu {label}", "Missing {name}"),
    "string_too_short": ("Thiếu {label}", "Missing {name}"),  # required text left blank
    "string_too_long": ("{label} quá dài", "{name} too long"),
    "string_unicode": ("{label} có ký tự không hợp lệ", "{name} has an invalid character"),
    "whole_number": ("{Label} phải là số nguyên", "{name} must be an integer"),
    "number": ("{Label} phải là số", "{name} must be a number"),
    "out_of_range": ("{Label} quá lớn", "{name} out of range"),
}
INVALID = ("{label} không hợp lệ", "Invalid {name}")


def _refusal(error: dict, fields: Mapping[str, Any]) -> BadInputError:
    """One pydantic error as the API's 400."""
    if not error["loc"]:
        return _body_refusal(error)
    name = ".".join(str(part) for part in error["loc"])  # notify.consent for a nested field
    if error["type"] == "extra_forbidden":
        shown = name if len(name) <= 40 else name[:40] + "…"
        return BadInputError(f"Không có trường '{shown}'", f"Unknown field '{shown}'", field=shown)
    label = name
    for part in error["loc"]:  # the innermost field's Vietnamese title
        info = fields.get(str(part)) if isinstance(fields, Mapping) else None
        if info is None:
            break
        label = info.title or str(part)
        inner = _nested_model(info.annotation)
        fields = inner.model_fields if inner else {}
    return _field_refusal(error["type"], error.get("input"), label, name)


def _nested_model(annotation) -> type[BaseModel] | None:
    """The model a field holds (``NotifyBody | None`` → NotifyBody), if any."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_refusal(kind: str, value: Any, label: str, name: str) -> BadInputError:
    vi, en = MESSAGES.get("missing" if value is None else kind, INVALID)
    words = {"label": label, "Label": label[:1].upper() + label[1:], "name": name.replace("_", " ")}
    return BadInputError(vi.format(**words), en.format(**words), field=name)


def _body_refusal(error: dict) -> BadInputError:
    """A body that is not JSON, or not an object."""
    detail = str(error.get("ctx", {}).get("error", ""))
    # pydantic's parser (jiter) says why in English; the two cases worth their own words:
    if "recursion limit" in detail:
        return BadInputError("Dữ liệu gửi lên lồng nhau quá sâu", "Body is nested too deeply")
    if any(word in detail for word in ("surrogate", "unicode", "escape", "control character")):
        return BadInputError(
            "Dữ liệu gửi lên có ký tự không hợp lệ", f"Body has an invalid character ({detail})"
        )
    return BadInputError(*NOT_AN_OBJECT)
