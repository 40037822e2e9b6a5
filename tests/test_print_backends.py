"""Printer transports (file, virtual, CUPS through lp, serial over a pty), settings, the CLI."""

from __future__ import annotations

import os
import pty
import stat
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from printers.backends import (
    CupsBackend,
    FileBackend,
    NetworkBackend,
    PrintError,
    SerialBackend,
    UsbBackend,
    VirtualBackend,
    check_spec,
    list_printed,
    make_backend,
)
from printers.escpos_bytes import encode_receipt
from printers.layout import render_receipt
from printers.testing import FakeNetworkPrinter
from tests.helpers import RECEIPT, URL, decode_gs_v0
from xephang.cli import cli

DATA = encode_receipt(render_receipt(RECEIPT, 58))


@pytest.mark.parametrize(
    "spec, kind, attrs",
    [
        ("virtual", VirtualBackend, {}),
        ("network:10.0.0.5", NetworkBackend, {"host": "10.0.0.5", "port": 9100}),
        ("network:printer.local:9101", NetworkBackend, {"host": "printer.local", "port": 9101}),
        (
            "usb:04b8:0202",
            UsbBackend,
            {"vendor": 0x04B8, "product": 0x0202, "in_ep": 0x82, "out_ep": 0x01},
        ),
        ("usb:0416:5011:81:03", UsbBackend, {"in_ep": 0x81, "out_ep": 0x03}),
        ("serial:/dev/ttyUSB0:19200", SerialBackend, {"device": "/dev/ttyUSB0", "baudrate": 19200}),
        ("cups:POS80", CupsBackend, {"queue": "POS80"}),
        ("file:/dev/usb/lp0", FileBackend, {"path": "/dev/usb/lp0"}),
    ],
)
def test_printer_settings_make_the_right_backend(spec, kind, attrs):
    backend = make_backend(spec)
    assert isinstance(backend, kind)
    for name, value in attrs.items():
        assert getattr(backend, name) == value


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "laser",
        "network:",
        "network:h:port",
        "usb:04b8",
        "usb:zz:01",
        "serial:",
        "cups:",
        "file:",
    ],
)
def test_malformed_printer_settings_are_refused_with_the_accepted_forms(spec):
    with pytest.raises(ValueError, match="network:HOST"):
        check_spec(spec)


def test_none_is_a_valid_setting():
    check_spec("none")


def test_the_virtual_printer_saves_the_ticket_as_a_png(tmp_path):
    backend = make_backend("virtual", print_dir=tmp_path)
    backend.open()
    backend.send(DATA, "F023")
    (path,) = list_printed(tmp_path)
    assert path.name.endswith("_F023.png") and backend.last_path == path
    image = Image.open(path)
    assert image.width == 384
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [URL]


def test_the_virtual_printers_file_names_carry_the_office_time(tmp_path):
    for zone in ("Asia/Ho_Chi_Minh", "America/Los_Angeles"):
        backend = make_backend("virtual", print_dir=tmp_path / zone, timezone=zone)
        backend.open()
        backend.send(DATA, "o1_A001")
        stamp = datetime.strptime(backend.last_path.name.split("_")[0], "%Y%m%dT%H%M%S%f")
        office_now = datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
        assert abs(office_now - stamp) < timedelta(minutes=10), zone


def test_the_file_backend_writes_the_exact_bytes(tmp_path):
    target = tmp_path / "lp0"
    backend = make_backend(f"file:{target}")
    backend.open()
    backend.send(DATA)
    backend.close()
    assert target.read_bytes() == DATA and backend.sent == len(DATA)


def test_the_cups_backend_hands_the_raw_job_to_lp(tmp_path):
    received = tmp_path / "job.bin"
    args = tmp_path / "args.txt"
    lp = tmp_path / "lp"
    lp.write_text(f'#!/bin/sh\necho "$@" > {args}\ncat > {received}\n')
    lp.chmod(lp.stat().st_mode | stat.S_IEXEC)
    backend = CupsBackend("cups:POS80", "POS80", lp=str(lp))
    backend.open()
    backend.send(DATA, "A001")
    assert received.read_bytes() == DATA
    assert args.read_text().split() == ["-d", "POS80", "-o", "raw", "-t", "A001"]


def test_a_failing_lp_is_a_print_error_with_nothing_sent(tmp_path):
    lp = tmp_path / "lp"
    lp.write_text("#!/bin/sh\necho 'lp: The printer or class does not exist.' >&2\nexit 1\n")
    lp.chmod(lp.stat().st_mode | stat.S_IEXEC)
    backend = CupsBackend("cups:nope", "nope", lp=str(lp))
    with pytest.raises(PrintError, match="does not exist") as err:
        backend.send(DATA)
    assert err.value.sent == 0


def test_the_serial_backend_reads_status_and_sends_over_a_pty():
    """A pseudo-terminal stands in for the serial line; a thread plays the printer."""
    controller, device = pty.openpty()
    os.set_blocking(controller, True)
    import tty

    tty.setraw(device)
    received = bytearray()
    done = threading.Event()

    def printer():
        while len(received) < 9 + len(DATA):
            chunk = os.read(controller, 65536)
            received.extend(chunk)
            # answer each DLE EOT query while the status round is going on
            for _ in range(chunk.count(b"\x10\x04")):
                os.write(controller, b"\x12")
        done.set()

    threading.Thread(target=printer, daemon=True).start()
    # Generous timeouts: the fake printer is a thread of this process, and answers.
    backend = SerialBackend("serial:pty", os.ttyname(device), 19200, io_timeout=60)
    backend.open()
    status = backend.status()
    assert status.ok
    backend.send(DATA)
    assert done.wait(60)
    backend.close()
    os.close(controller)
    assert bytes(received[9:]) == DATA
    assert decode_gs_v0(bytes(received[9:])).width == 384


def test_a_network_printer_that_refuses_is_an_error_before_any_byte():
    with FakeNetworkPrinter("refuse") as fake:
        backend = make_backend(fake.spec, io_timeout=0.5)
        with pytest.raises(PrintError, match="cannot connect") as err:
            backend.open(time.monotonic() + 2)
        assert err.value.sent == 0


def test_a_network_printer_that_hangs_times_out_on_the_status_answer():
    with FakeNetworkPrinter("hang") as fake:
        backend = make_backend(fake.spec, io_timeout=0.2)
        backend.open(time.monotonic() + 60)
        with pytest.raises(PrintError, match="did not answer") as err:
            backend.status()
        backend.close()
        assert err.value.sent == 0 and not err.value.lost_connection


def test_the_cli_prints_a_test_ticket_to_the_configured_printer(tmp_path):
    with FakeNetworkPrinter() as fake:
        result = CliRunner().invoke(
            cli, ["printer", "test", "--printer", fake.spec, "--paper", "58"]
        )
        assert result.exit_code == 0, result.output
        assert "status" in result.output
        (job,) = fake.wait_for_jobs(1)
        image = decode_gs_v0(bytes(job.data))
        assert image.width == 384
        assert zxingcpp.read_barcodes(image)[0].text.startswith("http")


def test_the_cli_reports_a_printer_out_of_paper():
    with FakeNetworkPrinter("paper_out") as fake:
        result = CliRunner().invoke(cli, ["printer", "test", "--printer", fake.spec])
        assert result.exit_code != 0 and "paper_out" in result.output
        assert fake.jobs == []


def test_the_cli_writes_a_virtual_test_ticket(tmp_path):
    result = CliRunner().invoke(
        cli, ["printer", "test", "--printer", "virtual", "--print-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert len(list_printed(tmp_path / "out")) == 1


def test_the_cli_shows_the_spooler_status(db, demo, app):
    result = CliRunner().invoke(
        cli, ["printer", "status", "--db", app.config["DB"], "--office", str(demo["office_id"])]
    )
    assert result.exit_code == 0 and '"alert": false' in result.output


class FakeUsbDevice:
    """Stands in for a pyusb device: records bulk writes, answers status reads."""

    class _backend:  # its module is not libusb1: python-escpos skips the kernel driver
        pass

    backend = _backend()

    class _ctx:  # what usb.util.dispose_resources calls
        @staticmethod
        def dispose(device):
            pass

    def __init__(self, status=0x12):
        self.written = bytearray()
        self.endpoints = set()
        self.status = status
        self.pending = 0

    def set_configuration(self):
        pass

    def reset(self):
        pass

    def write(self, endpoint, data, timeout):
        self.endpoints.add(("out", endpoint, timeout > 0))
        if bytes(data[:2]) == b"\x10\x04":
            self.pending += 1
        else:
            self.written += data
        return len(data)

    def read(self, endpoint, size, timeout):
        self.endpoints.add(("in", endpoint, timeout > 0))
        self.pending -= 1
        return bytes([self.status])


@pytest.fixture
def fake_usb(monkeypatch):
    usb_core = pytest.importorskip("usb.core")
    import usb.util

    device = FakeUsbDevice()
    found = {}

    def find(**kwargs):
        found.update(kwargs)
        return device if kwargs.get("idVendor") == 0x0416 else None

    monkeypatch.setattr(usb_core, "find", find)
    monkeypatch.setattr(usb.util, "dispose_resources", lambda dev: None)
    device.found = found
    return device


def test_the_usb_backend_uses_the_configured_ids_endpoints_and_timeouts(fake_usb):
    backend = make_backend("usb:0416:5011:81:03", io_timeout=2.0)
    backend.open(time.monotonic() + 5)
    assert fake_usb.found == {"idVendor": 0x0416, "idProduct": 0x5011}
    assert backend.status().ok
    backend.send(DATA)
    backend.close()
    assert bytes(fake_usb.written) == DATA and backend.sent == len(DATA)
    assert fake_usb.endpoints == {("out", 0x03, True), ("in", 0x81, True)}


def test_a_missing_usb_printer_is_a_print_error(fake_usb):
    backend = make_backend("usb:04b8:0202")
    with pytest.raises(PrintError, match="cannot open printer"):
        backend.open(time.monotonic() + 5)
