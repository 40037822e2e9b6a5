"""Receipt printers: ticket layout → 1-bit image → ESC/POS raster, transports, the spooler.

The kiosk queues a ticket's receipt inside the issuing transaction
(``queue_receipt_within``) and wakes the printer after the commit; the
spooler's workers print it. ``status(db, office_id)`` is what the manager
dashboard reads. This package never imports a room.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask

from xephang.engine import Outcome, estimate
from xephang.engine.lookups import get_counter, get_office, get_ticket
from xephang.engine.views import ticket_view
from xephang.errors import BadInputError, ConflictError
from xephang.queries.office import priority_name
from xephang.queries.queue import visit_tickets
from xephang.storage import write
from xephang.web import publish as publish_outcome

from .backends import check_spec, list_printed, make_backend, printed_by
from .jobs import get_job, job_view, printer_state, reprint, status, withdraw
from .layout import Receipt, render_receipt
from .spooler import SpoolConfig, Spooler, print_dir

NO_PRINTER = "none"
log = logging.getLogger(__name__)

__all__ = [
    "NO_PRINTER",
    "Receipt",
    "SpoolConfig",
    "Spooler",
    "get_job",
    "init_app",
    "job_view",
    "list_printed",
    "printed_by",
    "make_backend",
    "print_dir",
    "printer_for",
    "kiosk_printer_state",
    "printer_state",
    "receipt_for",
    "reprint",
    "reprint_ticket",
    "render_receipt",
    "get_spooler",
    "status",
    "withdraw",
]


def printer_map(config) -> dict[int, str]:
    """PRINTER_MAP parsed: kiosk device id → printer setting."""
    mapping = {}
    for pair in (config.get("PRINTER_MAP") or "").split(";"):
        if not pair.strip():
            continue
        device, sep, spec = pair.partition("=")
        if not sep or not device.strip().isdigit():
            raise ValueError(f"PRINTER_MAP entry {pair!r} is not KIOSK_DEVICE_ID=SPEC")
        mapping[int(device)] = spec.strip()
    return mapping


def printer_for(config, device_id: int | None) -> str:
    """The printer a kiosk prints on: its PRINTER_MAP entry, else PRINTER."""
    spec = printer_map(config).get(device_id) if device_id is not None else None
    return (spec or config.get("PRINTER") or NO_PRINTER).strip()


def counter_printer_map(config) -> dict[int, str]:
    """COUNTER_PRINTER_MAP parsed: counter id → printer setting."""
    mapping = {}
    for pair in (config.get("COUNTER_PRINTER_MAP") or "").split(";"):
        if not pair.strip():
            continue
        counter, sep, spec = pair.partition("=")
        if not sep or not counter.strip().isdigit():
            raise ValueError(f"COUNTER_PRINTER_MAP entry {pair!r} is not COUNTER_ID=SPEC")
        mapping[int(counter)] = spec.strip()
    return mapping


def configured_printers(config) -> list[str]:
    """Every distinct printer the settings name (a worker each), validated."""
    specs = {
        printer_for(config, None),
        *printer_map(config).values(),
        *counter_printer_map(config).values(),
    }
    for spec in specs:
        check_spec(spec)
    return sorted(s for s in specs if s.lower() != NO_PRINTER)


def init_app(app: Flask) -> Spooler:
    """Create the spooler; start its workers unless testing, PRINT_WORKER is off or this
    process runs no background workers (BACKGROUND_WORKERS: `xephang serve --workers N`
    prints from one process only)."""

    def publish(outcome: Outcome) -> None:
        with app.app_context():
            publish_outcome(outcome)

    config = SpoolConfig.from_config(app.config)
    spool = Spooler(config, configured_printers(app.config), publish)
    app.extensions["xephang.spooler"] = spool
    background = app.config.get("BACKGROUND_WORKERS", True)
    if app.config.get("PRINT_WORKER") and background and not app.testing:
        spool.start()
    return spool


def kiosk_printer_state(config, db, device_id: int | None) -> dict:
    """The state of a kiosk's printer: {'state': ok|warning|error|none, 'problem': ...}."""
    printer = printer_for(config, device_id)
    if printer.lower() == NO_PRINTER:
        return {"state": "none", "problem": ""}
    return printer_state(db, printer)


def get_spooler(app: Flask) -> Spooler:
    return app.extensions["xephang.spooler"]


def _printed_time(issued_at: str) -> str:
    return datetime.fromisoformat(issued_at).strftime("%d/%m/%Y %H:%M")


def receipt_wait_lines(ticket: dict) -> tuple[str, str]:
    """What a receipt says about the wait (``engine.estimate.wait_words``) as two lines."""
    words = estimate.wait_words(ticket)
    if words["kind"] == "estimate":
        return f"Thời gian chờ dự kiến: {words['vi']}", f"Estimated wait: {words['en']}"
    return words["vi"], words["en"]


def receipt_for(ticket: dict, office: dict, tracker_url: str, priority_vi: str = "") -> Receipt:
    """The receipt of a just-issued ticket (a private ticket view with its wait estimate)."""
    wait_vi, wait_en = receipt_wait_lines(ticket)
    return Receipt(
        office_name=office["name"],
        service_vi=ticket["service"]["name_vi"],
        service_en=ticket["service"]["name_en"] or "",
        code=ticket["code"],
        issued_at=_printed_time(ticket["issued_at"]),
        people_ahead=int(ticket.get("people_ahead") or 0),
        wait_vi=wait_vi,
        wait_en=wait_en,
        tracker_url=tracker_url,
        footer=office.get("ticket_footer") or "",
        priority_vi=priority_vi,
    )


def queue_receipt(
    app: Flask,
    db,
    ticket: dict,
    office: dict,
    tracker_url: str,
    device_id: int | None,
    priority_vi: str = "",
) -> int | None:
    """Store the ticket's print job for the kiosk's printer; None: the kiosk has no printer.

    Safe inside the caller's transaction (the kiosk runs it within issuing);
    call ``wake_printer`` once that transaction has committed.
    """
    from .jobs import enqueue

    printer = printer_for(app.config, device_id)
    if printer.lower() == NO_PRINTER:
        return None
    receipt = receipt_for(ticket, office, tracker_url, priority_vi)
    return enqueue(
        db,
        office["id"],
        receipt,
        printer,
        int(app.config["PAPER_WIDTH_MM"]),
        ticket_id=ticket["id"],
        device_id=device_id,
    )


def queue_receipt_within(
    app: Flask, db, ticket: dict, tracker_url: str, device_id: int | None
) -> dict:
    """Queue a just-issued ticket's receipt inside the issuing transaction, as a savepoint.

    A fault here is logged and leaves the ticket issued (the citizen still
    sees it and its QR code on the kiosk): ``{"id": job id or None, "state":
    "queued" | "none" (no printer) | "failed"}``.
    """
    try:
        with write(db):
            office = get_office(db, ticket["office_id"])
            name = priority_name(db, office["id"], ticket["priority"])
            job_id = queue_receipt(app, db, ticket, office, tracker_url, device_id, name)
    except Exception:  # the ticket is issued and shown; a print queue fault must not hide it
        log.exception("could not queue the receipt of ticket %s", ticket["id"])
        return {"id": None, "state": "failed"}
    return {"id": job_id, "state": "queued" if job_id is not None else "none"}


def reprint_ticket(
    app: Flask, db, ticket_id: int, tracker_url: str, counter_id: int | None = None
) -> dict:
    """Queue a fresh receipt of a citizen's ticket as it is now (after a transfer: its new
    code and service; a lost ticket: its place now), for a counter.

    It prints on the counter's own printer (``COUNTER_PRINTER_MAP``), else on the
    printer of the kiosk that issued the visit's first ticket, else on ``PRINTER``,
    through the spooler like any receipt (its print result is logged on the
    ticket). Returns ``{"id": job id, "state": "queued", "printer": ...}``.
    """
    from .jobs import enqueue, next_copy

    ticket = get_ticket(db, ticket_id)
    office = get_office(db, ticket["office_id"])
    if counter_id is not None and get_counter(db, counter_id)["office_id"] != office["id"]:
        raise BadInputError("Quầy không thuộc văn phòng này", "Counter of another office")
    view = ticket_view(db, ticket, private=True)
    kiosks = [r["device_id"] for r in visit_tickets(db, view["tracker_token"]) if r["device_id"]]
    printer = counter_printer_map(app.config).get(counter_id) if counter_id else None
    printer = (printer or printer_for(app.config, kiosks[0] if kiosks else None)).strip()
    if printer.lower() == NO_PRINTER:
        raise ConflictError(
            "Chưa có máy in cho quầy này (COUNTER_PRINTER_MAP hoặc PRINTER)",
            "No printer for this counter",
        )
    # the wait as it is now, in the words a receipt uses (none once called)
    view.update(estimate.for_citizen(db, ticket, int(app.config["DEFAULT_SERVICE_TIME_S"])))
    priority_vi = priority_name(db, office["id"], ticket["priority"])
    receipt = receipt_for(view, office, tracker_url, priority_vi)
    job_id = enqueue(
        db,
        office["id"],
        receipt,
        printer,
        int(app.config["PAPER_WIDTH_MM"]),
        ticket_id=ticket_id,
        device_id=kiosks[0] if kiosks else None,
        copy=next_copy(db, ticket_id),
    )
    if app.extensions.get("xephang.spooler"):
        get_spooler(app).wake(printer)
    return {"id": job_id, "state": "queued", "printer": printer}


def wake_printer(app: Flask, device_id: int | None) -> None:
    """Tell the spooler worker of the kiosk's printer that a job is waiting."""
    printer = printer_for(app.config, device_id)
    if printer.lower() != NO_PRINTER:
        get_spooler(app).wake(printer)
