"""ESC/POS bytes for a receipt image, and the DLE EOT real-time status protocol.

The image goes out as a ``GS v 0`` raster (python-escpos' ``bitImageRaster``)
through python-escpos' recording ``Dummy`` printer; only the commands below
are ever sent, never text.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

from escpos.capabilities import BaseProfile, get_profile_class
from escpos.printer import Dummy
from PIL import Image

# DLE EOT n: real-time status transmission (answered even while the printer is offline).
STATUS_PRINTER = b"\x10\x04\x01"  # bit 3: offline
STATUS_OFFLINE_CAUSE = b"\x10\x04\x02"  # bit 2: cover open, bit 5: stopped by paper end
STATUS_PAPER = b"\x10\x04\x04"  # bits 2-3: paper near end, bits 5-6: paper end
FRAGMENT_HEIGHT = 960  # rows per GS v 0 block; older printers reject taller blocks


@functools.lru_cache(maxsize=8)
def receipt_profile(width_dots: int) -> BaseProfile:
    """python-escpos' default profile with the paper's width, so images are width-checked."""
    base = get_profile_class("default")
    data = copy.deepcopy(base.profile_data)
    data["media"] = {"dpi": 203, "width": {"mm": "Unknown", "pixels": width_dots}}
    return type(f"Receipt{width_dots}Profile", (base,), {"profile_data": data})()


INVERT = bytes(255 - b for b in range(256))


def raster(printer: Dummy, image: Image.Image) -> None:
    """Send a 1-bit image as GS v 0 blocks: the bytes ``printer.image(impl="bitImageRaster")``
    sends, without its RGBA/greyscale round trip (14 ms of the 20 ms budget on 80 mm)."""
    if image.mode != "1":
        raise ValueError("the receipt image must be 1-bit")
    width_bytes = (image.width + 7) // 8
    if image.width % 8:  # pad with white to whole bytes
        padded = Image.new("1", (width_bytes * 8, image.height), 1)
        padded.paste(image, (0, 0))
        image = padded
    for top in range(0, image.height, FRAGMENT_HEIGHT):
        block = image.crop((0, top, image.width, min(top + FRAGMENT_HEIGHT, image.height)))
        data = block.tobytes().translate(INVERT)  # PIL packs white as 1; ESC/POS inks 1
        printer._raw(
            b"\x1dv0\x00"
            + printer._int_low_high(width_bytes, 2)
            + printer._int_low_high(block.height, 2)
            + data
        )


def encode_receipt(image: Image.Image, cut: bool = True) -> bytes:
    """Initialise, print the image as a raster, feed and cut: the whole print job."""
    printer = Dummy()
    printer.profile = receipt_profile(image.width)
    printer.hw("INIT")
    raster(printer, image)
    if cut:
        printer.cut()
    else:
        printer.print_and_feed(4)
    return printer.output


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer answered to DLE EOT 1, 2 and 4."""

    online: bool = True
    cover_open: bool = False
    paper_out: bool = False
    paper_low: bool = False

    @property
    def ok(self) -> bool:
        return self.online and not self.cover_open and not self.paper_out

    @property
    def problem(self) -> str:
        """A short machine name for what is wrong ('' when nothing is)."""
        if self.paper_out:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if not self.online:
            return "offline"
        return "paper_low" if self.paper_low else ""

    def to_dict(self) -> dict:
        return {
            "online": self.online,
            "cover_open": self.cover_open,
            "paper_out": self.paper_out,
            "paper_low": self.paper_low,
        }


def _valid(byte: int) -> bool:
    # Status bytes always have bits 1 and 4 set and bits 0 and 7 clear.
    return byte & 0x93 == 0x12


def parse_status(printer_byte: int, cause_byte: int, paper_byte: int) -> PrinterStatus:
    """Decode the three status bytes; raise ValueError if they are not status bytes."""
    for b in (printer_byte, cause_byte, paper_byte):
        if not _valid(b):
            raise ValueError(f"not a DLE EOT status byte: {b:#04x}")
    return PrinterStatus(
        online=not printer_byte & 0x08,
        cover_open=bool(cause_byte & 0x04),
        paper_out=bool(paper_byte & 0x60) or bool(cause_byte & 0x20),
        paper_low=bool(paper_byte & 0x0C),
    )
