"""What a message says: the office's text for its purpose, filled in, per channel.

Texts are office settings (``message_<purpose>`` and ``message_<purpose>_en``,
editable in setup); a message is written in the language its citizen chose
when it is sent, from the ticket as it is then. SMS texts lose their
diacritics when ``SMS_ASCII`` is on, so that one SMS holds 160 characters
(GSM-7) instead of 70 (UCS-2).
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

from xephang.engine.outbox import wait_minutes

# The GSM 03.38 basic character set: a text made only of these fits 160 per SMS.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SUBJECTS = {"vi": "{office}: số {code}", "en": "{office}: number {code}"}
# A one-time code's text is fixed (it must carry the code): not an office setting.
OTP_TEXTS = {
    "vi": "{office}: mã xác nhận của bạn là {otp}, có hiệu lực {minutes} phút. Không chia sẻ mã"
    " này cho ai.",
    "en": "{office}: your one-time code is {otp}, valid for {minutes} minutes. Do not share it.",
}
OTP_SUBJECTS = {"vi": "{office}: mã xác nhận", "en": "{office}: one-time code"}


@dataclass(frozen=True)
class Content:
    """A rendered message: the text, an e-mail subject, the tracker link and the fields
    (Zalo ZNS templates take the fields, not the text)."""

    text: str
    subject: str
    link: str
    fields: dict


class _Blank(dict):
    def __missing__(self, key):  # a field the message has no value for reads as nothing
        return ""


def fill(template: str, fields: dict) -> str:
    """``template`` with its ``{fields}``; unknown or missing ones left empty."""
    return string.Formatter().vformat(template, (), _Blank(fields)).strip()


def message_fields(message: dict, public_url: str) -> dict:
    """The values a text may use, from a claimed message (engine.outbox.claim)."""
    payload = message.get("payload_data") or {}
    lang = message.get("lang") or "vi"
    link = public_url.rstrip("/") + "/t/" + message["token"] if message.get("token") else public_url
    if message.get("booking_token") and not message.get("token"):  # a booking not here yet
        link = public_url.rstrip("/") + "/booking/b/" + message["booking_token"]
    service = message.get("service_en") if lang == "en" else message.get("service_vi")
    return {
        "code": message.get("code") or "",
        "counter": payload.get("counter", ""),
        "ahead": payload.get("ahead", ""),
        "minutes": wait_minutes(payload.get("wait_s")) or "",
        "office": message.get("office_name") or "",
        "service": service or message.get("service_vi") or "",
        "link": link,
        "time": payload.get("time", ""),
        **({"otp": payload["otp"]} if payload.get("otp") else {}),
    }


def render(message: dict, settings: dict, public_url: str) -> Content:
    """The content of a citizen message in its language, from the office's settings."""
    lang = message.get("lang") or "vi"
    name = f"message_{message['purpose']}" + ("_en" if lang == "en" else "")
    fields = message_fields(message, public_url)
    if message["purpose"] == "otp":
        fields["minutes"] = (message.get("payload_data") or {}).get("minutes", 5)
        text = fill(OTP_TEXTS[lang], fields)
        return Content(text, fill(OTP_SUBJECTS[lang], fields), fields["link"], fields)
    text = fill(settings.get(name) or "", fields)
    return Content(text, fill(SUBJECTS[lang], fields), fields["link"], fields)


def strip_diacritics(text: str) -> str:
    """Vietnamese without its marks: "Sắp đến lượt" → "Sap den luot"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def is_gsm7(text: str) -> bool:
    """Whether an SMS of this text can use the 7-bit alphabet (160 characters)."""
    return all(c in GSM7 for c in text)


def sms_text(content: Content, ascii_only: bool) -> str:
    """The text an SMS carries: without diacritics when asked (and then GSM-7 where the
    text allows)."""
    return strip_diacritics(content.text) if ascii_only else content.text
