"""Application settings: one table of (name, default, help).

Values come, in order of precedence, from the ``config`` mapping given to
``create_app``, ``XEPHANG_<NAME>`` environment variables, the instance file
``instance/xephang.toml`` and the defaults below. ``docs/configuration.md``
documents every entry; a test keeps the two in step.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DB", "instance/xephang.db", "Path of the SQLite database file."),
    Setting(
        "SECRET_KEY",
        "",
        "Key that signs session cookies. Empty: a random key is generated and "
        "kept in instance/secret_key.",
    ),
    Setting(
        "PUBLIC_URL",
        "http://127.0.0.1:5000",
        "Base URL citizens' phones reach the server on; the ticket QR code "
        "points to PUBLIC_URL/t/<token>.",
    ),
    Setting("TIMEZONE", "Asia/Ho_Chi_Minh", "Time zone of new offices (IANA name)."),
    Setting(
        "DEFAULT_SERVICE_TIME_S",
        300,
        "Service time assumed for wait estimates while a service has no finished tickets today"
        " or in the last 7 days.",
    ),
    Setting("BUSY_TIMEOUT_MS", 10000, "How long a writer waits for the SQLite lock."),
    Setting(
        "GROUP_COMMIT",
        True,
        "Let queue operations that arrive together (issue, call, start, finish, ...) share "
        "one transaction and one disk sync, each in its own savepoint and answered after the "
        "commit. Off: each request commits on its own.",
    ),
    Setting(
        "PRINTER",
        "virtual",
        "Receipt printer backend: virtual, file:PATH, network:HOST[:PORT], "
        "usb:VID:PID[:IN_EP:OUT_EP], serial:DEVICE[:BAUD], cups:QUEUE, or none.",
    ),
    Setting("PAPER_WIDTH_MM", 80, "Receipt paper width: 80 (576 dots) or 58 (384 dots)."),
    Setting(
        "PRINTER_MAP",
        "",
        "Per-kiosk printers overriding PRINTER, as KIOSK_DEVICE_ID=SPEC pairs separated by "
        "';' (e.g. '3=network:10.0.0.21;4=network:10.0.0.22').",
    ),
    Setting(
        "COUNTER_PRINTER_MAP",
        "",
        "Printers at counters, for reprinting a citizen's ticket there, as COUNTER_ID=SPEC "
        "pairs separated by ';'. A counter without one reprints on the printer of the kiosk "
        "that issued the ticket, else on PRINTER.",
    ),
    Setting(
        "PRINT_DIR",
        "",
        "Folder where the virtual printer saves each ticket as a PNG. Empty: `printed/` "
        "next to the database file.",
    ),
    Setting(
        "PRINT_WORKER",
        True,
        "Run the print spooler's worker in this server process (tests start it explicitly).",
    ),
    Setting(
        "BACKGROUND_WORKERS",
        True,
        "Run the background workers (print spooler, outbox) in this process. `xephang serve "
        "--workers N` turns it off in the N web processes and runs them in one process of "
        "their own.",
    ),
    Setting("PRINT_MAX_ATTEMPTS", 5, "Tries before a print job is marked failed."),
    Setting(
        "PRINT_RETRY_BASE_S",
        2.0,
        "Wait before the first retry of a print job; doubles after each failed try.",
    ),
    Setting("PRINT_RETRY_MAX_S", 30.0, "Longest wait between two tries of a print job."),
    Setting(
        "PRINT_JOB_TIMEOUT_S",
        15.0,
        "Longest one print attempt may take (connect, status checks, sending) before it is "
        "abandoned.",
    ),
    Setting(
        "PRINT_IO_TIMEOUT_S",
        3.0,
        "Longest a single printer operation (connect, write, status answer) may block.",
    ),
    Setting(
        "PRINT_MAX_AGE_S",
        120,
        "A ticket not printed within this many seconds of issue is not printed any more (the "
        "citizen has left the kiosk; a late ticket would go to the next person).",
    ),
    Setting(
        "PRINT_STATUS_CHECK",
        True,
        "Ask the printer its status (DLE EOT) before and after each job; turn off for "
        "printers or print servers that never answer.",
    ),
    Setting(
        "PRINT_PROBE_S",
        60.0,
        "While idle, ask each printer its status this often (every 10 s while it is in error) "
        "so paper out shows on the dashboard before a citizen meets it; 0 turns it off.",
    ),
    Setting(
        "KIOSK_PRINT_WAIT_S",
        1.5,
        "How long the kiosk screen waits for the receipt to print before telling the citizen "
        "to photograph the QR code instead.",
    ),
    Setting("KIOSK_RESET_S", 10, "Seconds the issued ticket stays on the kiosk screen."),
    Setting(
        "KIOSK_CANCEL_S",
        10,
        'Seconds after issue during which the kiosk offers "Hủy số này" (a mis-tap is '
        "taken back, logged as cancelled by the citizen); 0 turns it off.",
    ),
    Setting(
        "KIOSK_IDLE_S",
        60,
        "Seconds without a touch after which the kiosk goes back to its start screen in "
        "Vietnamese, whatever was on it.",
    ),
    Setting(
        "RATING_TABLET_WINDOW_S",
        600,
        "How long after a ticket is finished its counter's rating tablet may still rate it.",
    ),
    Setting(
        "RATING_TABLET_RESET_S",
        45,
        "Seconds a rating tablet waits for the citizen's next touch before it sends the "
        "level chosen (or, with none chosen, goes back to the counter's screen).",
    ),
    Setting(
        "MESSAGE_QUEUE",
        "",
        "Socket.IO message queue URL (redis://...) when more than one server "
        "process serves the same database. A broadcast sends its emits to the other "
        "processes in one Redis publish (`web/redis_queue.py`), so every process of one "
        "server must run the same xephang version: upgrade them together, as "
        "`xephang serve --workers N` does.",
    ),
    Setting(
        "KIOSK_RATE_LIMIT",
        "20/60",
        "Tickets one kiosk may issue per window, as COUNT/SECONDS.",
    ),
    Setting(
        "ASYNC_MODE",
        "",
        "Socket.IO async mode (gevent or threading). Empty: Flask-SocketIO picks the "
        "first installed (gevent); `xephang serve` and `xephang demo` set gevent and "
        "monkey-patch the process first.",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        False,
        "Send the session cookie over HTTPS only; on by itself when PUBLIC_URL is https://.",
    ),
    Setting(
        "SECRET_KEY_FILE",
        "",
        "File holding the key that signs session cookies (kept outside the database folder, "
        "e.g. /etc/xephang/secret_key); used when SECRET_KEY is empty.",
    ),
    Setting(
        "SOCKET_ORIGINS",
        "",
        "Origins a browser may open a Socket.IO connection from, separated by commas. Empty: "
        "only PUBLIC_URL's own origin; '*' allows any (not recommended).",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        1_000_000,
        "Largest request body accepted, in bytes; a larger one is refused with 413.",
    ),
    Setting(
        "REQUEST_TIMEOUT_S",
        30.0,
        "How long `xephang serve` waits for a client to send its request (headers and body) "
        "before closing the connection; WebSockets are exempt once open.",
    ),
    Setting(
        "SERVER_WORKER_CONNECTIONS", 10000, "Concurrent connections one server process accepts."
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "Python logging level of the server (DEBUG, INFO, WARNING, ERROR).",
    ),
    Setting(
        "NOTIFY_WORKER",
        True,
        "Run the message outbox's worker in this server process (`xephang notify run` runs it "
        "alone; with `xephang serve --workers N` the background worker runs it; tests start "
        "it explicitly).",
    ),
    Setting("NOTIFY_MAX_ATTEMPTS", 8, "Tries before a message is marked failed."),
    Setting(
        "NOTIFY_RETRY_BASE_S",
        5.0,
        "Wait before the first retry of a message; doubles after each failed try.",
    ),
    Setting("NOTIFY_RETRY_MAX_S", 300.0, "Longest wait between two tries of a message."),
    Setting(
        "NOTIFY_TIMEOUT_S",
        10.0,
        "Longest one attempt to send a message (connect, send, answer) may take.",
    ),
    Setting(
        "NOTIFY_POLL_S",
        1.0,
        "How often an idle outbox worker looks for due messages (a commit in the same process "
        "wakes it at once).",
    ),
    Setting(
        "NOTIFY_BATCH",
        20,
        "Messages one worker claims at a time and sends side by side.",
    ),
    Setting(
        "NOTIFY_WEBPUSH",
        True,
        "Offer Web Push notifications on the tracker page (VAPID keys are made by `xephang init`).",
    ),
    Setting(
        "VAPID_PRIVATE_KEY_FILE",
        "",
        "PEM file of the Web Push (VAPID) private key. Empty: `vapid_private.pem` next to the "
        "database file, made by `xephang init` (or at start-up) when missing.",
    ),
    Setting(
        "VAPID_SUBJECT",
        "mailto:admin@localhost",
        "Contact the push services may use about this server's notifications (mailto: or "
        "https: URL).",
    ),
    Setting(
        "SMS_URL",
        "",
        "HTTP endpoint that sends SMS: it receives a POST of JSON {id, to, text, sender}; any "
        "2xx is accepted. Empty: no SMS channel.",
    ),
    Setting("SMS_TOKEN", "", "Bearer token sent to SMS_URL (Authorization header), if any."),
    Setting(
        "SMS_SENDER",
        "",
        "Sender name (brandname, at most 11 characters) passed to the SMS endpoint.",
    ),
    Setting(
        "SMS_ASCII",
        True,
        "Strip Vietnamese diacritics from SMS texts (GSM-7: 160 characters per SMS instead of 70).",
    ),
    Setting(
        "ZALO_URL",
        "https://business.openapi.zalo.me/message/template",
        "Zalo ZNS endpoint that sends a template message.",
    ),
    Setting(
        "ZALO_ACCESS_TOKEN",
        "",
        "Access token of the office's Zalo Official Account. Empty: no Zalo channel.",
    ),
    Setting("SMTP_HOST", "", "SMTP server that sends e-mail. Empty: no e-mail channel."),
    Setting("SMTP_PORT", 587, "Port of SMTP_HOST."),
    Setting(
        "SMTP_SECURITY",
        "starttls",
        "How to secure the SMTP connection: starttls, ssl or none.",
    ),
    Setting("SMTP_USER", "", "SMTP login, if the server wants one."),
    Setting("SMTP_PASSWORD", "", "SMTP password of SMTP_USER."),
    Setting(
        "MAIL_FROM",
        "xephang@localhost",
        "Sender address of e-mails (From:).",
    ),
    Setting(
        "LOG_FORMAT",
        "text",
        "How the server writes its log on stderr: text, or json (one JSON object a line, "
        "with the request id).",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "127.0.0.1,::1",
        "Addresses (or networks) of the reverse proxies in front of the server, separated by "
        "commas: a request from one of them is from the last address in its X-Forwarded-For.",
    ),
    Setting(
        "METRICS_ALLOW",
        "127.0.0.1",
        "Client addresses (or networks, e.g. 10.0.0.0/24), separated by commas, that may read "
        "GET /metrics without an admin's bearer token.",
    ),
)


def message_channels(settings) -> set[str]:
    """The channels to citizens this server has set up: webpush (unless NOTIFY_WEBPUSH is
    off), sms (SMS_URL), zalo (ZALO_ACCESS_TOKEN), email (SMTP_HOST)."""
    found = set()
    if settings.get("NOTIFY_WEBPUSH"):
        found.add("webpush")
    if settings.get("SMS_URL"):
        found.add("sms")
    if settings.get("ZALO_ACCESS_TOKEN"):
        found.add("zalo")
    if settings.get("SMTP_HOST"):
        found.add("email")
    return found


def parse_rate(text: str, fallback: tuple[int, float] = (20, 60.0)) -> tuple[int, float]:
    """A COUNT/SECONDS rate (``KIOSK_RATE_LIMIT``) as (count, seconds); malformed: fallback."""
    try:
        count, seconds = str(text).split("/")
        return max(int(count), 1), max(float(seconds), 1.0)
    except (TypeError, ValueError):
        return fallback


def _coerce(value: str, default: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def load_settings(instance_path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Resolve every setting from defaults, instance file, environment and overrides."""
    values = {s.name: s.default for s in SETTINGS}
    toml_path = Path(instance_path) / "xephang.toml"
    if toml_path.exists():
        with toml_path.open("rb") as fh:
            for key, value in tomllib.load(fh).items():
                values[key.upper()] = value
    for s in SETTINGS:
        env = os.environ.get(f"XEPHANG_{s.name}")
        if env is not None:
            values[s.name] = _coerce(env, s.default)
    for key, value in (overrides or {}).items():
        values[key] = value
    return values
