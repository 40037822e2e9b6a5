"""Printer transports: one small class per way bytes reach a receipt printer.

Each backend opens, optionally reads the DLE EOT status, sends a job while
counting the bytes that left (``sent``), and closes. The spooler decides
what to do with failures; a backend only reports them as ``PrintError``.

Configuration strings (``XEPHANG_PRINTER``)::

    virtual                     PNG files in PRINT_DIR (the demo default)
    network:HOST[:PORT]         raw TCP, port 9100 by default
    usb:VID:PID[:IN_EP:OUT_EP]  hex ids, e.g. usb:04b8:0202:82:01
    serial:DEVICE[:BAUD]        e.g. serial:/dev/ttyUSB0:19200
    cups:QUEUE                  a raw CUPS queue, through `lp -o raw`
    file:PATH                   a device node such as /dev/usb/lp0
    none                        no printer: the kiosk shows the QR code only
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

from xephang.clock import DEFAULT_TIMEZONE, file_stamp

from .escpos_bytes import (
    STATUS_OFFLINE_CAUSE,
    STATUS_PAPER,
    STATUS_PRINTER,
    PrinterStatus,
    parse_status,
)

CHUNK = 4096


class PrintError(Exception):
    """A print attempt failed; ``sent`` counts job bytes that already left for the printer."""

    def __init__(
        self,
        message: str,
        sent: int = 0,
        status: PrinterStatus | None = None,
        lost_connection: bool = False,
    ):
        super().__init__(message)
        self.sent = sent
        self.status = status
        self.lost_connection = lost_connection  # the printer closed or reset the link


class Backend:
    """Base transport: subclasses implement _open, _write, _read_byte and _close."""

    kind = "base"
    reads_status = False  # whether DLE EOT answers can be read back
    blocking_io = False  # True when I/O does not cooperate with gevent (run in a thread)

    def __init__(self, spec: str, io_timeout: float = 3.0):
        self.spec = spec
        self.io_timeout = io_timeout
        self.sent = 0
        self.deadline = float("inf")

    def remaining(self) -> float:
        """Seconds left for this job, bounded by the per-operation timeout."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PrintError("job timed out", sent=self.sent)
        return min(left, self.io_timeout)

    def open(self, deadline: float = float("inf")) -> None:
        self.deadline = deadline
        self.sent = 0
        try:
            self._open()
        except PrintError:
            raise
        except Exception as err:  # transports raise their own families; normalise
            raise PrintError(f"cannot open printer: {err}") from err

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1, 2 and 4; PrintError when the printer does not answer."""
        answers = []
        for query in (STATUS_PRINTER, STATUS_OFFLINE_CAUSE, STATUS_PAPER):
            try:
                self._write(query)
                answers.append(self._read_byte())
            except PrintError:
                raise
            except Exception as err:
                raise PrintError(
                    f"no status answer: {err}",
                    sent=self.sent,
                    lost_connection=isinstance(err, ConnectionError),
                ) from err
        try:
            return parse_status(*answers)
        except ValueError as err:
            raise PrintError(str(err), sent=self.sent) from err

    def send(self, data: bytes, label: str = "") -> None:
        """Send a whole job, counting bytes so a partial send is known as one."""
        view = memoryview(data)
        try:
            while self.sent < len(data):
                written = self._write(view[self.sent : self.sent + CHUNK])
                if not written:
                    raise PrintError("printer accepted no data", sent=self.sent)
                self.sent += written
            self._flush()
        except PrintError as err:
            err.sent = self.sent
            raise
        except Exception as err:
            raise PrintError(f"send failed: {err}", sent=self.sent) from err

    def close(self) -> None:
        try:
            self._close()
        except Exception:  # closing a broken transport must not mask the real error
            pass

    def _open(self) -> None:
        pass

    def _write(self, chunk) -> int:
        """Send some of ``chunk``; return how many bytes went out (streaming backends)."""
        raise PrintError(f"{type(self).__name__} does not stream bytes", sent=self.sent)

    def _read_byte(self) -> int:
        raise PrintError("this printer cannot report its status")

    def _flush(self) -> None:
        pass

    def _close(self) -> None:
        pass


class NetworkBackend(Backend):
    """Raw TCP to the printer's port 9100 (python-escpos ``Network``)."""

    kind = "network"
    reads_status = True

    def __init__(self, spec: str, host: str, port: int = 9100, io_timeout: float = 3.0):
        super().__init__(spec, io_timeout)
        self.host, self.port = host, port
        self.printer = None

    def _open(self) -> None:
        from escpos.printer import Network

        self.printer = Network(self.host, self.port, timeout=self.remaining())
        try:
            self.printer.open()
        except Exception as err:
            self.printer._device = False
            raise PrintError(f"cannot connect to {self.host}:{self.port}: {err}") from err
        # Status queries are 3-byte writes awaiting a 1-byte answer: no Nagle delay.
        self.printer.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _write(self, chunk) -> int:
        self.printer.device.settimeout(self.remaining())
        return self.printer.device.send(chunk)

    def _read_byte(self) -> int:
        self.printer.device.settimeout(self.remaining())
        try:
            answer = self.printer._read()
        except TimeoutError as err:
            raise PrintError("printer did not answer the status query", sent=self.sent) from err
        if not answer:
            raise PrintError("printer closed the connection", sent=self.sent, lost_connection=True)
        return answer[0]

    def _close(self) -> None:
        if self.printer is not None:
            sock = self.printer._device
            if sock:
                # Linger briefly so the last bytes are delivered, never forever.
                sock.settimeout(1.0)
            self.printer.close()


class UsbBackend(Backend):
    """A USB printer by vendor and product id with explicit endpoints (python-escpos ``Usb``)."""

    kind = "usb"
    reads_status = True
    blocking_io = True

    def __init__(
        self,
        spec: str,
        vendor: int,
        product: int,
        in_ep: int = 0x82,
        out_ep: int = 0x01,
        io_timeout: float = 3.0,
    ):
        super().__init__(spec, io_timeout)
        self.vendor, self.product, self.in_ep, self.out_ep = vendor, product, in_ep, out_ep
        self.printer = None

    def _ms(self) -> int:
        return max(1, int(self.remaining() * 1000))

    def _open(self) -> None:
        from escpos.printer import Usb

        self.printer = Usb(
            self.vendor, self.product, timeout=self._ms(), in_ep=self.in_ep, out_ep=self.out_ep
        )
        self.printer.open()

    def _write(self, chunk) -> int:
        return self.printer.device.write(self.out_ep, bytes(chunk), self._ms())

    def _read_byte(self) -> int:
        answer = self.printer.device.read(self.in_ep, 16, self._ms())
        if not len(answer):
            raise PrintError("printer did not answer the status query", sent=self.sent)
        return answer[0]

    def _close(self) -> None:
        if self.printer is not None:
            self.printer.close()


class SerialBackend(Backend):
    """A serial (RS-232 or USB-serial) printer (python-escpos ``Serial``)."""

    kind = "serial"
    reads_status = True
    blocking_io = True

    def __init__(self, spec: str, device: str, baudrate: int = 9600, io_timeout: float = 3.0):
        super().__init__(spec, io_timeout)
        self.device, self.baudrate = device, baudrate
        self.printer = None

    def _open(self) -> None:
        from escpos.printer import Serial

        self.printer = Serial(self.device, baudrate=self.baudrate, timeout=self.io_timeout)
        self.printer.open()
        self.printer.device.write_timeout = self.io_timeout

    def _write(self, chunk) -> int:
        self.printer.device.write_timeout = self.remaining()
        return self.printer.device.write(bytes(chunk))

    def _read_byte(self) -> int:
        self.printer.device.timeout = self.remaining()
        answer = self.printer.device.read(1)
        if not answer:
            raise PrintError("printer did not answer the status query", sent=self.sent)
        return answer[0]

    def _flush(self) -> None:
        self.printer.device.flush()

    def _close(self) -> None:
        if self.printer is not None:
            self.printer.close()


class CupsBackend(Backend):
    """A raw CUPS queue: the whole job goes to `lp -d QUEUE -o raw` at once.

    lp either queues the whole job or nothing, so ``sent`` is all or zero;
    CUPS keeps the printer's status, so none is read here.
    """

    kind = "cups"

    def __init__(self, spec: str, queue: str, io_timeout: float = 3.0, lp: str = "lp"):
        super().__init__(spec, io_timeout)
        self.queue, self.lp = queue, lp

    def send(self, data: bytes, label: str = "") -> None:
        command = [self.lp, "-d", self.queue, "-o", "raw", "-t", label or "xephang"]
        try:
            result = subprocess.run(
                command, input=data, capture_output=True, timeout=self.remaining()
            )
        except (OSError, subprocess.SubprocessError) as err:
            raise PrintError(f"lp failed: {err}") from err
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise PrintError(f"lp exited {result.returncode}: {message}")
        self.sent = len(data)


class FileBackend(Backend):
    """A device node or file the bytes are written to (python-escpos ``File``)."""

    kind = "file"
    blocking_io = True

    def __init__(self, spec: str, path: str, io_timeout: float = 3.0):
        super().__init__(spec, io_timeout)
        self.path = path
        self.printer = None

    def _open(self) -> None:
        from escpos.printer import File

        self.printer = File(self.path, auto_flush=False)
        self.printer.open()
        if not self.printer.device:
            raise PrintError(f"cannot open {self.path}")

    def _write(self, chunk) -> int:
        return self.printer.device.write(bytes(chunk))

    def _flush(self) -> None:
        self.printer.device.flush()

    def _close(self) -> None:
        if self.printer is not None:
            self.printer.close()


class VirtualBackend(Backend):
    """Decodes the raster the job carries and saves it as a PNG (the demo printer), named
    by when it printed on the office's clock (``timezone``) and its label."""

    kind = "virtual"

    def __init__(
        self,
        spec: str,
        directory: str | Path,
        io_timeout: float = 3.0,
        timezone: str = DEFAULT_TIMEZONE,
    ):
        super().__init__(spec, io_timeout)
        self.directory = Path(directory)
        self.timezone = timezone
        self.last_path: Path | None = None

    def send(self, data: bytes, label: str = "") -> None:
        from .raster import decode_raster

        try:
            image = decode_raster(data)
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = file_stamp(self.timezone)
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", label or "ticket")
            self.last_path = self.directory / f"{stamp}_{safe}.png"
            tmp = self.last_path.with_suffix(".tmp")
            image.save(tmp, format="PNG")
            tmp.replace(self.last_path)
        except (OSError, ValueError) as err:
            raise PrintError(f"virtual printer: {err}") from err
        self.sent = len(data)


def printed_label(office_id: int, code: str) -> str:
    """The label a ticket is sent with: its office and code (the virtual printer's file
    name carries it, so each office sees only its own receipts)."""
    return f"o{office_id}_{code}"


def printed_by(name: str, office_id: int) -> bool:
    """Whether a saved receipt's file name is one of this office's."""
    return f"_o{office_id}_" in name


def list_printed(
    directory: str | Path, limit: int = 20, office_id: int | None = None
) -> list[Path]:
    """The virtual printer's most recent PNG tickets (of one office), newest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    files = sorted(path.glob("*.png"), reverse=True)
    if office_id is not None:
        files = [f for f in files if printed_by(f.name, office_id)]
    return files[:limit]


def _hex(value: str) -> int:
    return int(value, 16)


def make_backend(
    spec: str,
    print_dir: str | Path = "printed",
    io_timeout: float = 3.0,
    lp: str = "lp",
    timezone: str = DEFAULT_TIMEZONE,
) -> Backend:
    """The backend a configuration string describes; ValueError when it is malformed.
    ``timezone`` is the office's, for what a backend names by time (the virtual printer)."""
    kind, _, rest = (spec or "").strip().partition(":")
    kind = kind.lower()
    parts = rest.split(":") if rest else []
    try:
        if kind == "virtual":
            return VirtualBackend(spec, rest or print_dir, io_timeout, timezone)
        if kind == "network" and parts and parts[0]:
            port = int(parts[1]) if len(parts) > 1 else 9100
            return NetworkBackend(spec, parts[0], port, io_timeout)
        if kind == "usb" and len(parts) in (2, 4):
            eps = [_hex(p) for p in parts[2:]] or [0x82, 0x01]
            return UsbBackend(spec, _hex(parts[0]), _hex(parts[1]), eps[0], eps[1], io_timeout)
        if kind == "serial" and parts and parts[0]:
            baud = int(parts[1]) if len(parts) > 1 else 9600
            return SerialBackend(spec, parts[0], baud, io_timeout)
        if kind == "cups" and rest:
            return CupsBackend(spec, rest, io_timeout, lp)
        if kind == "file" and rest:
            return FileBackend(spec, rest, io_timeout)
    except ValueError:
        pass
    raise ValueError(
        f"printer setting {spec!r} not understood; use virtual, network:HOST[:PORT], "
        "usb:VID:PID[:IN_EP:OUT_EP], serial:DEVICE[:BAUD], cups:QUEUE, file:PATH or none"
    )


def check_spec(spec: str) -> None:
    """Raise ValueError if a printer setting is malformed ('none' is valid)."""
    if (spec or "").strip().lower() != "none":
        make_backend(spec)


__all__ = [
    "Backend",
    "CupsBackend",
    "FileBackend",
    "NetworkBackend",
    "PrintError",
    "SerialBackend",
    "UsbBackend",
    "VirtualBackend",
    "check_spec",
    "list_printed",
    "printed_by",
    "printed_label",
    "make_backend",
]
