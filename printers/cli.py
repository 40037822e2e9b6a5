"""``xephang printer ...``: print a test ticket, show the spooler's status."""

from __future__ import annotations

import json
import os
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from xephang.clock import DEFAULT_TIMEZONE, SHOWN, local_now

from .backends import PrintError, make_backend
from .escpos_bytes import encode_receipt
from .layout import Receipt, render_receipt

db_option = click.option(
    "--db",
    "db_path",
    envvar="XEPHANG_DB",
    default="instance/xephang.db",
    show_default=True,
    help="SQLite database file (env XEPHANG_DB).",
)


@click.group()
def printer():
    """Receipt printers (máy in vé)."""


def test_receipt(public_url: str, timezone: str = DEFAULT_TIMEZONE, now=None) -> Receipt:
    """A receipt that exercises every Vietnamese diacritic the font must cover, issued now
    on the office's clock."""
    return Receipt(
        office_name="xephang — In thử / Test print",
        service_vi="Kiểm tra máy in: ăâđêôơư ẮẰẲẴẶ ỆỖỢỮỴ",
        service_en="Printer check",
        code="T000",
        issued_at=local_now(timezone, now).strftime(SHOWN),
        people_ahead=0,
        tracker_url=public_url.rstrip("/") + "/",
        footer="Nếu đọc được dòng này và quét được mã QR, máy in đã sẵn sàng.",
    )


@printer.command("test")
@db_option
@click.option(
    "--printer",
    "spec",
    envvar="XEPHANG_PRINTER",
    default="virtual",
    show_default=True,
    help="Printer setting, as XEPHANG_PRINTER (network:HOST[:PORT], usb:VID:PID, ...).",
)
@click.option(
    "--paper",
    "paper_mm",
    envvar="XEPHANG_PAPER_WIDTH_MM",
    default=80,
    type=click.Choice(["58", "80"]),
    show_default=True,
)
@click.option(
    "--print-dir",
    envvar="XEPHANG_PRINT_DIR",
    default="",
    help="Virtual printer folder (default: printed/ next to the database).",
)
@click.option("--public-url", envvar="XEPHANG_PUBLIC_URL", default="http://127.0.0.1:5000")
@click.option("--no-status", is_flag=True, help="Do not ask the printer its status (DLE EOT).")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds per printer operation.")
@click.option(
    "--timezone",
    envvar="XEPHANG_TIMEZONE",
    default=DEFAULT_TIMEZONE,
    show_default=True,
    help="The office's time zone: the time printed and the virtual printer's file name.",
)
def printer_test(db_path, spec, paper_mm, print_dir, public_url, no_status, timeout, timezone):
    """Print a test ticket directly (not through the spooler) and report what happened."""
    folder = print_dir or os.path.join(os.path.dirname(os.path.abspath(db_path)), "printed")
    try:
        ZoneInfo(timezone)
        backend = make_backend(spec, print_dir=folder, io_timeout=timeout, timezone=timezone)
    except (ValueError, ZoneInfoNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    started = time.perf_counter()
    data = encode_receipt(render_receipt(test_receipt(public_url, timezone), int(paper_mm)))
    try:
        backend.open(time.monotonic() + timeout * 4)
        if backend.reads_status and not no_status:
            status = backend.status()
            click.echo(f"Trạng thái / status: {json.dumps(status.to_dict())}")
            if not status.ok:
                raise click.ClickException(
                    f"máy in chưa sẵn sàng / printer not ready: {status.problem}"
                )
        backend.send(data, "test")
    except PrintError as err:
        raise click.ClickException(f"in thất bại / print failed: {err}") from None
    finally:
        backend.close()
    where = getattr(backend, "last_path", None)
    click.echo(
        f"Đã gửi {len(data)} byte tới {spec} trong "
        f"{(time.perf_counter() - started) * 1000:.0f} ms / sent" + (f" → {where}" if where else "")
    )


@printer.command("status")
@db_option
@click.option("--office", "office_id", type=int, required=True)
def printer_status(db_path, office_id):
    """Show the office's printers, print queue and recent failures as JSON."""
    from xephang.storage import connect, migrate

    from .jobs import status

    db = connect(db_path)
    migrate(db)
    click.echo(json.dumps(status(db, office_id), ensure_ascii=False, indent=2))


@printer.command("run")
@db_option
def printer_run(db_path):
    """Run only the print spooler (for servers started with XEPHANG_PRINT_WORKER=0)."""
    import signal
    import threading

    from xephang import create_app

    # The handler comes first: a job can print the moment the spooler starts,
    # and a SIGTERM sent after that must still stop it cleanly.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = create_app({"DB": os.path.abspath(db_path), "PRINT_WORKER": True})
    spool = app.extensions["xephang.spooler"]
    spool.start()
    names = ", ".join(spool.workers) or "none"
    click.echo(f"Đang chạy hàng đợi in / print spooler running for: {names} (Ctrl+C to stop)")
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    spool.stop()
