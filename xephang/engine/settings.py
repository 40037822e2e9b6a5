"""Per-office settings as typed data: one definition read by the engine, the setup forms,
the command line (``xephang office settings|set``) and ``docs/configuration.md``.

Each ``OfficeSetting`` has a name, a type, its allowed values or bounds, a
default, a label and help text. ``parse`` turns what a form, the API or the
command line sent (a string or a JSON value) into the stored value or
raises a ``BadInputError`` in Vietnamese and English; ``set_office_settings``
checks the rules between settings, stores them and audits the change in one
transaction. Values are stored as JSON in ``settings``; defaults apply until
an office sets its own.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..errors import BadInputError
from ..storage import write
from . import audit
from .lookups import get_office

TRUE_WORDS = {"1", "true", "yes", "on", "có", "bật"}
FALSE_WORDS = {"0", "false", "no", "off", "không", "tắt", ""}


@dataclass(frozen=True)
class OfficeSetting:
    """One office setting: its type (int, bool, text, choice, scale, attributes) and what it
    accepts."""

    name: str
    type: str
    default: Any
    label: str
    help: str
    section: str = ""
    hint_vi: str = ""
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    max_len: int = 200
    check: Callable[[Any], None] | None = None

    def parse(self, raw: Any) -> Any:
        """The stored value of ``raw`` (a form or command-line string, or a JSON value)."""
        value = _PARSERS[self.type](self, raw)
        if self.check is not None:
            self.check(value)
        return value

    def describe_allowed(self) -> str:
        """The allowed values in words, for the docs and the command line."""
        if self.type == "choice":
            return " | ".join(self.choices)
        if self.type == "int":
            return f"integer {self.low}–{self.high}"
        if self.type == "bool":
            return "true | false"
        if self.type == "fraction":
            return f"a fraction {self.low}–{self.high}"
        if self.type == "scale":
            return "2–7 lines 'level | Vietnamese | English', best first"
        if self.type == "attributes":
            return (
                f"0–{MAX_ATTRIBUTES} lines 'key | Vietnamese, good | Vietnamese, not good"
                " | English, good | English, not good'"
            )
        return f"text, at most {self.max_len} characters"


def _bad(setting: OfficeSetting, vi: str, en: str) -> BadInputError:
    return BadInputError(f"{setting.label} {vi}", f"{setting.name} {en}")


def _parse_int(setting: OfficeSetting, raw) -> int:
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        raise _bad(setting, "phải là số nguyên", "must be an integer")
    try:
        value = int(str(raw).strip()) if not isinstance(raw, int | float) else int(raw)
    except (TypeError, ValueError):
        raise _bad(setting, "phải là số nguyên", "must be an integer") from None
    if not setting.low <= value <= setting.high:
        raise _bad(
            setting,
            f"phải từ {setting.low} đến {setting.high}",
            f"must be within {setting.low}..{setting.high}",
        )
    return value


def _parse_fraction(setting: OfficeSetting, raw) -> float:
    if isinstance(raw, bool):
        raise _bad(setting, "phải là số (ví dụ 0.5)", "must be a number such as 0.5")
    try:
        text = str(raw).strip().replace(",", ".")
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except (TypeError, ValueError):
        raise _bad(setting, "phải là số (ví dụ 0.5)", "must be a number such as 0.5") from None
    if not (setting.low <= value <= setting.high):  # NaN fails here too
        raise _bad(
            setting,
            f"phải từ {setting.low} đến {setting.high}",
            f"must be within {setting.low}..{setting.high}",
        )
    return round(value, 4)


def _parse_bool(setting: OfficeSetting, raw) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw if raw is not None else "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _bad(setting, "phải là có/không (true/false)", "must be true or false")


def _parse_text(setting: OfficeSetting, raw) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _bad(setting, "phải là chữ", "must be text")
    value = raw.strip()
    if len(value) > setting.max_len:
        raise _bad(
            setting, f"tối đa {setting.max_len} ký tự", f"at most {setting.max_len} characters"
        )
    return value


def _parse_choice(setting: OfficeSetting, raw) -> str:
    value = str(raw if raw is not None else "").strip()
    if value not in setting.choices:
        raise _bad(
            setting,
            f"không hợp lệ (chọn {', '.join(setting.choices)})",
            f"must be one of {', '.join(setting.choices)}",
        )
    return value


def _parse_scale(setting: OfficeSetting, raw) -> list[dict]:
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _bad(setting, "không đúng định dạng JSON", "is not valid JSON") from None
    if isinstance(raw, list):
        lines = []
        for item in raw:
            if not isinstance(item, dict):
                raise _bad(setting, "mỗi mức cần level, vi, en", "each level needs level, vi, en")
            lines.append(f"{item.get('level')} | {item.get('vi', '')} | {item.get('en', '')}")
        raw = "\n".join(lines)
    if not isinstance(raw, str):
        raise _bad(setting, "không hợp lệ", "is invalid")
    return parse_rating_scale(raw)


def _parse_attributes(setting: OfficeSetting, raw) -> list[dict]:
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _bad(setting, "không đúng định dạng JSON", "is not valid JSON") from None
    if isinstance(raw, list):
        lines = []
        for item in raw:
            if not isinstance(item, dict):
                raise _bad(setting, "mỗi dòng cần key và nhãn", "each line needs a key and labels")
            lines.append(" | ".join(str(item.get(k) or "") for k in ATTRIBUTE_FIELDS))
        raw = "\n".join(lines)
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _bad(setting, "không hợp lệ", "is invalid")
    return parse_rating_attributes(raw)


_PARSERS = {
    "int": _parse_int,
    "fraction": _parse_fraction,
    "bool": _parse_bool,
    "text": _parse_text,
    "choice": _parse_choice,
    "scale": _parse_scale,
    "attributes": _parse_attributes,
}

ATTRIBUTE_FIELDS = ("key", "good_vi", "bad_vi", "good_en", "bad_en")
ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
MAX_ATTRIBUTES = 8


def parse_rating_attributes(raw: str) -> list[dict]:
    """Lines "key | tốt | chưa tốt | good | not good": what a citizen may add to a rating
    (each a pair of answers, e.g. Đúng hẹn / Trễ hẹn). No lines: no attributes asked."""
    attributes, seen = [], set()
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        parts += [""] * (len(ATTRIBUTE_FIELDS) - len(parts))
        if len(parts) > len(ATTRIBUTE_FIELDS) or not all(parts[:3]):
            raise BadInputError(
                f"Dòng {number} của tiêu chí đánh giá cần 'mã | tốt | chưa tốt | good | not good'",
                "Rating attribute line malformed",
            )
        if not ATTRIBUTE_KEY.match(parts[0]):
            raise BadInputError(
                f"Dòng {number}: mã tiêu chí chỉ gồm chữ thường không dấu, số và _",
                "Attribute key must be lower-case letters, digits and _",
            )
        if parts[0] in seen:
            raise BadInputError(f"Tiêu chí '{parts[0]}' bị lặp", "Duplicate attribute")
        if any(len(p) > 40 for p in parts[1:]):
            raise BadInputError(f"Dòng {number}: nhãn tối đa 40 ký tự", "Attribute label too long")
        seen.add(parts[0])
        attributes.append(dict(zip(ATTRIBUTE_FIELDS, parts, strict=True)))
    if len(attributes) > MAX_ATTRIBUTES:
        raise BadInputError(
            f"Tối đa {MAX_ATTRIBUTES} tiêu chí đánh giá", f"At most {MAX_ATTRIBUTES} attributes"
        )
    return attributes


def parse_rating_scale(raw: str) -> list[dict]:
    """Lines "level | tiếng Việt | English", best first; the last line counts as not satisfied."""
    scale, seen = [], set()
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or not parts[1]:
            raise BadInputError(
                f"Dòng {number} của thang đánh giá cần 'mức | tên tiếng Việt | tên tiếng Anh'",
                "Rating scale line malformed",
            )
        try:
            level = int(parts[0])
        except ValueError:
            raise BadInputError(
                f"Dòng {number}: mức đánh giá phải là số nguyên", "Level must be an integer"
            ) from None
        if level in seen:
            raise BadInputError(f"Mức {level} bị lặp", "Duplicate level")
        if len(parts[1]) > 60 or (len(parts) > 2 and len(parts[2]) > 60):
            raise BadInputError(f"Dòng {number}: tên mức tối đa 60 ký tự", "Level name too long")
        seen.add(level)
        scale.append({"level": level, "vi": parts[1], "en": parts[2] if len(parts) > 2 else ""})
    if not 2 <= len(scale) <= 7:
        raise BadInputError("Thang đánh giá cần từ 2 đến 7 mức", "Scale needs 2-7 levels")
    return scale


def _check_template(value: str) -> None:
    if "{code}" not in value or "{counter}" not in value:
        raise BadInputError(
            "Câu gọi số phải có {code} và {counter}", "Template needs {code} and {counter}"
        )


# --- messages out (engine/outbox.py reads these) -------------------------------------------
MESSAGE_CHANNELS = ("webpush", "sms", "zalo", "email")
MESSAGE_FIELDS = ("code", "counter", "ahead", "minutes", "office", "service", "link", "time")


def _check_message(value: str) -> None:
    """A message text may use only the known {fields}; a stray brace is refused."""
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(value) if field is not None]
    except ValueError:
        raise BadInputError("Mẫu tin nhắn có dấu ngoặc { } lẻ", "Unbalanced { } in text") from None
    unknown = sorted({n for n in names if n not in MESSAGE_FIELDS})
    if unknown:
        raise BadInputError(
            f"Mẫu tin nhắn có trường không biết: {', '.join(unknown)} (dùng: "
            + ", ".join("{" + f + "}" for f in MESSAGE_FIELDS)
            + ")",
            f"Unknown fields in text: {', '.join(unknown)}",
        )


def parse_channel_list(value: str) -> list[str]:
    """'sms, webpush' as a list of known channels (notify_channels)."""
    names = [p.strip().lower() for p in (value or "").replace(";", ",").split(",") if p.strip()]
    unknown = [n for n in names if n not in MESSAGE_CHANNELS]
    if unknown:
        raise BadInputError(
            f"Kênh không hợp lệ: {', '.join(unknown)} (chọn {', '.join(MESSAGE_CHANNELS)})",
            f"Unknown channels: {', '.join(unknown)}",
        )
    return names


def _check_channels(value: str) -> None:
    parse_channel_list(value)


def parse_zalo_templates(value: str) -> dict[str, str]:
    """'near=231001, called=231002' as {purpose: template id} (zalo_templates)."""
    templates = {}
    for part in (value or "").replace(";", ",").replace("\n", ",").split(","):
        if not part.strip():
            continue
        purpose, sep, template = (p.strip() for p in part.partition("="))
        if not sep or not purpose or not template or not template.isalnum():
            raise BadInputError(
                f"Mẫu Zalo '{part.strip()}' cần dạng mục_đích=mã_mẫu (ví dụ near=231001)",
                "Zalo templates are purpose=template_id pairs",
            )
        templates[purpose] = template
    return templates


def _check_zalo(value: str) -> None:
    parse_zalo_templates(value)


def _check_clock(value: str) -> None:
    if value == "":
        return
    hour, sep, minute = value.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(minute) == 2) or not (
        0 <= int(hour) <= 23 and 0 <= int(minute) <= 59
    ):
        raise BadInputError("Giờ phải có dạng HH:MM (ví dụ 20:00)", "Time must be HH:MM")


# Default texts: plain Vietnamese, short enough for one 160-character SMS once the
# diacritics are stripped (SMS_ASCII) and the tracker link is added.
DEFAULT_MESSAGES = {
    "near": (
        "Sắp đến lượt số {code}: còn {ahead} người trước bạn. Vui lòng quay lại phòng chờ. {link}",
        "Your turn is near, number {code}: {ahead} people ahead. Please come back. {link}",
    ),
    "called": (
        "Mời số {code} đến quầy {counter}.",
        "Number {code}, please go to counter {counter}.",
    ),
    "recalled": (
        "Nhắc lại: mời số {code} đến quầy {counter} ngay.",
        "Reminder: number {code}, please go to counter {counter} now.",
    ),
    "rating": (
        "Cảm ơn bạn đã đến {office}. Mời bạn đánh giá mức độ hài lòng: {link}",
        "Thank you for visiting {office}. Please rate our service: {link}",
    ),
    "booking_confirmed": (
        "Đã đặt lịch {service} lúc {time}, số {code}. Theo dõi: {link}",
        "Booked: {service} at {time}, number {code}. Follow: {link}",
    ),
    "booking_reminder": (
        "Nhắc lịch hẹn {service} lúc {time} tại {office}. {link}",
        "Reminder: {service} at {time} at {office}. {link}",
    ),
    # An online number that must check in (online_checkin), in place of "near".
    "checkin_window": (
        "Sắp đến lượt số {code}: còn {ahead} người trước bạn. Vui lòng đến kiosk xác nhận có"
        " mặt để được gọi. {link}",
        "Your turn is near, number {code}: {ahead} people ahead. Please check in at the kiosk"
        " to be called. {link}",
    ),
}
MESSAGE_LABELS = {
    "near": "Sắp đến lượt",
    "called": "Được gọi",
    "recalled": "Gọi lại",
    "rating": "Mời đánh giá",
    "booking_confirmed": "Xác nhận đặt lịch",
    "booking_reminder": "Nhắc lịch hẹn",
    "checkin_window": "Sắp đến lượt, cần xác nhận có mặt",
}


def _message_settings() -> tuple[OfficeSetting, ...]:
    """A Vietnamese and an English text per purpose (``message_<purpose>[_en]``)."""
    found = []
    for purpose, (vi, en) in DEFAULT_MESSAGES.items():
        label = MESSAGE_LABELS[purpose]
        found.append(
            OfficeSetting(
                f"message_{purpose}",
                "text",
                vi,
                f"Tin nhắn: {label}",
                f"Vietnamese text of the '{purpose}' message; fields: "
                + ", ".join("{" + f + "}" for f in MESSAGE_FIELDS)
                + ".",
                section="messages",
                max_len=400,
                check=_check_message,
            )
        )
        found.append(
            OfficeSetting(
                f"message_{purpose}_en",
                "text",
                en,
                f"Tin nhắn: {label} (tiếng Anh)",
                f"English text of the '{purpose}' message (citizens who chose English).",
                section="messages",
                max_len=400,
                check=_check_message,
            )
        )
    return tuple(found)


DEFAULT_RATING_SCALE = [
    {"level": 3, "vi": "Rất hài lòng", "en": "Very satisfied"},
    {"level": 2, "vi": "Hài lòng", "en": "Satisfied"},
    {"level": 1, "vi": "Không hài lòng", "en": "Not satisfied"},
]

DEFAULT_RATING_ATTRIBUTES = [
    {
        "key": "on_time",
        "good_vi": "Đúng hẹn",
        "bad_vi": "Trễ hẹn",
        "good_en": "On time",
        "bad_en": "Late",
    },
    {
        "key": "clear",
        "good_vi": "Hướng dẫn rõ ràng",
        "bad_vi": "Hướng dẫn chưa rõ",
        "good_en": "Clear guidance",
        "bad_en": "Unclear guidance",
    },
    {
        "key": "attitude",
        "good_vi": "Thái độ niềm nở",
        "bad_vi": "Thái độ chưa tốt",
        "good_en": "Friendly",
        "bad_en": "Impolite",
    },
]

OFFICE_SETTINGS: tuple[OfficeSetting, ...] = (
    OfficeSetting(
        "priority_streak_max",
        "int",
        2,
        "Số lượt ưu tiên liên tiếp",
        "At most this many priority tickets are called in a row at one counter before "
        "a ticket in arrival order is taken (0: priority gets no precedence).",
        section="priority",
        low=0,
        high=20,
        hint_vi="Tối đa bao nhiêu số ưu tiên được gọi liên tiếp tại một quầy trước khi gọi một"
        " số theo thứ tự đến; 0 = không ưu tiên",
    ),
    OfficeSetting(
        "rating_scale",
        "scale",
        DEFAULT_RATING_SCALE,
        "Thang đánh giá",
        "Satisfaction levels, best first; the last (lowest) level counts as not satisfied.",
        section="rating",
        hint_vi="Mỗi dòng: mức | tiếng Việt | English, tốt nhất trước; dòng cuối là mức thấp"
        " nhất (tính là không hài lòng)",
    ),
    OfficeSetting(
        "rating_attributes",
        "attributes",
        DEFAULT_RATING_ATTRIBUTES,
        "Tiêu chí đánh giá thêm",
        "What a citizen may add to a rating at the counter's tablet, each a pair of answers "
        "(on time / late); optional for the citizen, empty: none asked.",
        section="rating",
        hint_vi="Mỗi dòng: mã | tốt | chưa tốt | good | not good (vd. on_time | Đúng hẹn |"
        " Trễ hẹn | On time | Late); để trống: không hỏi",
    ),
    OfficeSetting(
        "announce_template",
        "text",
        "Mời công dân có số thứ tự {code} đến quầy số {counter}",
        "Câu gọi số",
        "Sentence the display speaks and shows when a ticket is called; must contain {code} "
        "and {counter}.",
        section="voice",
        hint_vi="có {code} và {counter}",
        max_len=200,
        check=_check_template,
    ),
    OfficeSetting(
        "number_reading",
        "choice",
        "digits",
        "Cách đọc số",
        "How announcements read ticket numbers: 'digits' (một không hai ba) or 'number' "
        "(một nghìn không trăm hai mươi ba).",
        section="voice",
        choices=("digits", "number"),
        choice_labels=(
            "Từng chữ số (một không hai ba)",
            "Thành số (một nghìn không trăm hai mươi ba)",
        ),
    ),
    OfficeSetting(
        "number_dialect",
        "choice",
        "north",
        "Giọng đọc",
        "'north' (nghìn, linh) or 'south' (ngàn, lẻ).",
        section="voice",
        choices=("north", "south"),
        choice_labels=("Miền Bắc (nghìn, linh)", "Miền Nam (ngàn, lẻ)"),
    ),
    OfficeSetting(
        "voice_enabled",
        "bool",
        True,
        "Đọc số bằng giọng nói",
        "Whether the display speaks calls.",
        section="voice",
    ),
    OfficeSetting(
        "board_message",
        "text",
        "",
        "Thông báo chạy trên bảng",
        "Scrolling message at the bottom of the display board.",
        section="voice",
        max_len=500,
    ),
    OfficeSetting(
        "estimate_max_p90_error_min",
        "int",
        10,
        "Chỉ hiện thời gian chờ dự kiến khi sai số P90 không quá (phút)",
        "Kiosks, receipts and trackers show an estimated wait for a service only while the "
        "90th percentile of |estimate − actual wait| over its last 7 days is at most this "
        "many minutes (with at least 20 called tickets); 0 never shows estimates.",
        section="estimate",
        low=0,
        high=120,
        hint_vi="0 = không bao giờ hiện; sai số tính trên 7 ngày gần nhất (ít nhất 20 lượt)",
    ),
    OfficeSetting(
        "report_parent",
        "text",
        "",
        "Cơ quan chủ quản (in trên báo cáo)",
        "The body the office belongs to, printed above the office's name in the heading of "
        "printed reports (e.g. 'UBND TỈNH NINH BÌNH'); empty: the office's name alone.",
        section="report",
        max_len=120,
    ),
    OfficeSetting(
        "report_place",
        "text",
        "",
        "Địa danh (in trên báo cáo)",
        "The place name of a printed report's date line ('Ninh Bình, ngày 05 tháng 3 năm "
        "2026'); empty: a dotted space to write it by hand.",
        section="report",
        max_len=80,
    ),
    OfficeSetting(
        "online_numbers_enabled",
        "bool",
        True,
        "Cho lấy số trực tuyến",
        "Citizens may take a number remotely from the booking pages or the API (in line from "
        "the moment it is taken).",
        section="booking",
    ),
    OfficeSetting(
        "online_checkin",
        "bool",
        False,
        "Số trực tuyến phải xác nhận có mặt tại kiosk mới được gọi",
        "An online number keeps its place in line from the moment it is taken but is not "
        "called until the citizen checks in at the kiosk (its QR or its number) or staff "
        "check it in at a counter; call-next passes over it meanwhile. Off: an online number "
        "is callable at once. Numbers taken before a change keep the rule they were taken "
        "under.",
        section="booking",
    ),
    OfficeSetting(
        "appointments_enabled",
        "bool",
        True,
        "Cho đặt lịch hẹn",
        "Citizens may book a half-hour slot ahead; the booking checks in at the kiosk.",
        section="booking",
    ),
    OfficeSetting(
        "online_identity",
        "choice",
        "none",
        "Thông tin công dân cần khai khi lấy số trực tuyến",
        "What an online number or an appointment needs: 'none', a mobile 'phone' number or "
        "the 12-digit citizen-ID number 'cccd'. Only a keyed hash (HMAC with the server's "
        "secret) and the last 3 digits are kept, for the caps and for the officer to match.",
        section="booking",
        choices=("none", "phone", "cccd"),
        choice_labels=("Không cần", "Số điện thoại", "Số CCCD (12 số)"),
    ),
    OfficeSetting(
        "online_cap_per_person",
        "int",
        2,
        "Số lượt trực tuyến tối đa mỗi người mỗi ngày",
        "At most this many online numbers and appointments per person (by phone or CCCD) "
        "per day, all services together (with online_identity 'phone' or 'cccd').",
        section="booking",
        low=1,
        high=20,
    ),
    OfficeSetting(
        "online_cap_per_field",
        "int",
        1,
        "Số lượt trực tuyến tối đa mỗi người mỗi lĩnh vực mỗi ngày",
        "At most this many online numbers and appointments per person per lĩnh vực per day.",
        section="booking",
        low=1,
        high=20,
    ),
    OfficeSetting(
        "online_share",
        "fraction",
        0.5,
        "Tỷ lệ năng lực dành cho trực tuyến",
        "Share of a service's capacity remote citizens may take: online numbers per day "
        "(capacity = counters serving it × the day's opening time ÷ its service time) and, "
        "where the manager set no capacity, appointments per half-hour slot (counters × 30 "
        "minutes ÷ service time). The rest stays for the people in the room.",
        section="booking",
        low=0,
        high=1,
        hint_vi="0–1, ví dụ 0.5 = một nửa",
    ),
    OfficeSetting(
        "online_close_before_min",
        "int",
        30,
        "Ngừng lấy số trực tuyến trước giờ đóng cửa (phút)",
        "Online numbers stop this many minutes before the end of the day's opening hours.",
        section="booking",
        low=0,
        high=480,
    ),
    OfficeSetting(
        "booking_horizon_days",
        "int",
        14,
        "Đặt lịch trước tối đa (ngày)",
        "Appointments may be booked for today and up to this many days ahead (closed days "
        "and holidays excluded).",
        section="booking",
        low=0,
        high=90,
    ),
    OfficeSetting(
        "booking_grace_min",
        "int",
        15,
        "Thời gian ân hạn khi đến trễ giờ hẹn (phút)",
        "An appointment checked in up to this many minutes after its slot starts is in line "
        "from the slot's start; later it becomes an ordinary ticket of the moment it checks in.",
        section="booking",
        low=0,
        high=120,
    ),
    OfficeSetting(
        "booking_streak_max",
        "int",
        2,
        "Số lượt lịch hẹn được gọi liên tiếp trước người đến trực tiếp",
        "At most this many appointments that checked in on time are called ahead of waiting "
        "walk-ins at one counter before a walk-in is taken (priority calls in between do not "
        "count); 0: appointments get no precedence and queue from their check-in.",
        section="booking",
        low=0,
        high=20,
    ),
    OfficeSetting(
        "online_rate_per_hour",
        "int",
        10,
        "Số lượt trực tuyến tối đa mỗi địa chỉ mạng mỗi giờ",
        "At most this many online numbers and appointments from one network address in any "
        "hour (429 beyond).",
        section="booking",
        low=1,
        high=10000,
    ),
    OfficeSetting(
        "online_otp_per_hour",
        "int",
        3,
        "Số mã xác nhận tối đa mỗi số điện thoại mỗi giờ",
        "At most this many one-time codes sent to one phone in any hour (429 beyond), when "
        "online_identity is 'phone' and an SMS or Zalo channel is set up.",
        section="booking",
        low=1,
        high=20,
    ),
    OfficeSetting(
        "retention_days",
        "int",
        1825,
        "Số ngày lưu nhật ký",
        "Days ticket logs are kept before `xephang purge` removes them (ratings' comments too).",
        section="retention",
        low=30,
        high=3650,
        hint_vi="30–3650; lệnh xephang purge xóa phần cũ hơn",
    ),
    OfficeSetting(
        "comment_retention_days",
        "int",
        365,
        "Số ngày lưu góp ý của công dân",
        "Days free-text rating comments are kept; older comments are blanked (at most "
        "retention_days).",
        section="retention",
        low=1,
        high=3650,
        hint_vi="góp ý cũ hơn bị xóa nội dung; không quá số ngày lưu nhật ký",
    ),
    OfficeSetting(
        "notify_channels",
        "text",
        "webpush, sms, zalo, email",
        "Kênh gửi tin cho công dân",
        "Channels citizens may subscribe by, of those the server has set up (webpush, sms, "
        "zalo, email, comma-separated; empty: none).",
        section="notify",
        hint_vi="webpush, sms, zalo, email; chỉ các kênh máy chủ đã cấu hình",
        check=_check_channels,
    ),
    OfficeSetting(
        "notify_near_people",
        "int",
        3,
        "Báo sắp đến lượt khi còn (người)",
        "The 'turn near' message goes out once this many people or fewer are ahead "
        "(0: not by count).",
        section="notify",
        low=0,
        high=50,
    ),
    OfficeSetting(
        "notify_near_minutes",
        "int",
        10,
        "Báo sắp đến lượt khi còn (phút)",
        "... or once the wait estimate is this many minutes or less (0: not by estimate; "
        "only when an open counter serves the service and its service time is measured today).",
        section="notify",
        low=0,
        high=120,
    ),
    OfficeSetting(
        "rating_invite_time",
        "text",
        "20:00",
        "Giờ gửi lời mời đánh giá",
        "Local time (HH:MM) the after-visit rating invitation goes out on the day of the visit; "
        "empty: right after the service finishes (a visit finished later is invited at once).",
        section="notify",
        max_len=5,
        check=_check_clock,
    ),
    OfficeSetting(
        "rating_window_days",
        "int",
        1,
        "Số ngày giữ liên lạc sau lượt",
        "Phone numbers, e-mail addresses and push subscriptions are erased at the end of the "
        "visit's day plus this many days (the rating window).",
        section="notify",
        low=0,
        high=30,
    ),
    OfficeSetting(
        "zalo_templates",
        "text",
        "",
        "Mẫu Zalo ZNS",
        "Approved Zalo ZNS template id per purpose, as 'near=231001, called=231002, "
        "rating=231003'; a purpose without a template is not sent by Zalo.",
        section="notify",
        max_len=500,
        check=_check_zalo,
    ),
    *_message_settings(),
)

OFFICE_SETTINGS_BY_NAME = {s.name: s for s in OFFICE_SETTINGS}


def in_section(section: str) -> list[OfficeSetting]:
    """The settings a setup page shows together (``priority``, ``rating``, ``voice``, ...)."""
    return [s for s in OFFICE_SETTINGS if s.section == section]


def definition(name: str) -> OfficeSetting:
    """The definition of a setting; a clear error for an unknown name."""
    if name not in OFFICE_SETTINGS_BY_NAME:
        raise BadInputError(
            f"Không có thiết lập '{name}'",
            f"Unknown setting '{name}'",
            known=sorted(OFFICE_SETTINGS_BY_NAME),
        )
    return OFFICE_SETTINGS_BY_NAME[name]


def office_setting(db: sqlite_utils.Database, office_id: int, name: str) -> Any:
    """An office's value of a setting, or its default."""
    if name not in OFFICE_SETTINGS_BY_NAME:
        raise KeyError(name)
    row = db.execute(
        "SELECT value FROM settings WHERE office_id = ? AND name = ?", [office_id, name]
    ).fetchone()
    return json.loads(row[0]) if row else OFFICE_SETTINGS_BY_NAME[name].default


def office_settings(db: sqlite_utils.Database, office_id: int) -> dict:
    """Every setting of an office, defaults filled in."""
    values = {s.name: s.default for s in OFFICE_SETTINGS}
    for name, value in db.execute(
        "SELECT name, value FROM settings WHERE office_id = ?", [office_id]
    ).fetchall():
        if name in values:
            values[name] = json.loads(value)
    return values


def _check_together(values: dict) -> None:
    """Rules between settings, checked on the values an office would end up with."""
    if values["comment_retention_days"] > values["retention_days"]:
        raise BadInputError(
            "Số ngày lưu góp ý không được vượt số ngày lưu nhật ký",
            "Comments cannot outlive the log",
        )


def set_office_settings(
    db: sqlite_utils.Database, office_id: int, raw: dict, user_id: int | None = None
) -> dict:
    """Validate and store several settings of an office in one transaction, audited.

    ``raw`` maps names to what was sent; returns the stored values. Nothing is
    stored when any value is refused.
    """
    parsed = {name: definition(name).parse(value) for name, value in raw.items()}
    with write(db):
        get_office(db, office_id)
        _check_together({**office_settings(db, office_id), **parsed})
        for name, value in parsed.items():
            db.execute(
                "INSERT INTO settings (office_id, name, value) VALUES (?, ?, ?)"
                " ON CONFLICT (office_id, name) DO UPDATE SET value = excluded.value",
                [office_id, name, json.dumps(value, ensure_ascii=False)],
            )
        audit.record(db, office_id, user_id, "settings.update", parsed)
    return parsed
