"""One error vocabulary for the whole application.

Every expected failure is a ``QueueError`` subclass carrying an HTTP status
and a message in Vietnamese (first) and English. ``web.errors`` turns them
into a response in one place: JSON for the API (``error_body``), a page for
browsers. Only the standard library here: the engine raises these.
"""

from __future__ import annotations


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


class NoCounterError(ConflictError):
    code = "no_counter"


class OnlineClosedError(ConflictError):
    """Online numbers or appointments are not taken now (off, or too near closing)."""

    code = "online_closed"


class OnlineCapError(ConflictError):
    """One person's online numbers and appointments reached the office's cap."""

    code = "online_cap"


class OnlineShareError(ConflictError):
    """The share of a service's capacity remote citizens may take is used up."""

    code = "online_share"


class NoSlotError(ConflictError):
    """A well-formed time that is not a slot on offer (passed, closed day, past the horizon)."""

    code = "no_slot"


class SlotFullError(ConflictError):
    """An appointment slot has no place left."""

    code = "slot_full"


class OtpError(BadInputError):
    """A phone's one-time code is missing, wrong, expired, used or out of attempts."""

    code = "otp_invalid"


class RateLimitError(QueueError):
    status = 429
    code = "rate_limited"


def error_body(status: int, message: str, code: str, **extra) -> dict:
    """The one JSON error shape of the API."""
    return {"ok": False, "error": message, "status": status, "code": code, **extra}
