"""An appointment as an iCalendar file (RFC 5545): one event, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def _escape(text: str) -> str:
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r", "")
        .replace("\n", "\\n")
    )


def _utc(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw, parts = line.encode(), []
    while len(raw) > 75:
        cut = 75
        while cut and (raw[cut] & 0xC0) == 0x80:  # never inside a UTF-8 character
            cut -= 1
        parts.append(raw[:cut].decode())
        raw = b" " + raw[cut:]
    parts.append(raw.decode())
    return "\r\n".join(parts)


def appointment_ics(appointment: dict, page_url: str, host: str) -> str:
    """The calendar file of an appointment (its code in the title, its page as the URL)."""
    office = appointment["office"]
    service = appointment["service"]
    summary = f"Lịch hẹn {appointment['code']}: {service['name_vi']} — {office['name']}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//xephang//booking//VI",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:appointment-{appointment['id']}@{host}",
        f"DTSTAMP:{_utc(appointment['created_at'])}",
        f"DTSTART:{_utc(appointment['slot_start'])}",
        f"DTEND:{_utc(appointment['slot_end'])}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(office['address'] or office['name'])}",
        "DESCRIPTION:"
        + _escape(
            f"Mã lịch hẹn / Booking code: {appointment['code']}\n"
            "Khi đến, quét mã QR hoặc nhập mã tại kiosk để lấy số.\n"
            "On arrival, scan the QR code or type the code at the kiosk.\n"
            f"{page_url}"
        ),
        f"URL:{page_url}",
        "BEGIN:VALARM",
        "TRIGGER:-PT1H",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{_escape(summary)}",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
