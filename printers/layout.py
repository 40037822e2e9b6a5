"""The ticket receipt as one 1-bit image: a pure function of the receipt's data.

Text is drawn with the bundled DejaVu Sans (it covers every Vietnamese
letter) after NFC normalisation, so the printer never needs a code page:
thermal printers' text modes cannot print Vietnamese reliably.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from xephang.engine.lookups import fold

FONTS = Path(__file__).with_name("fonts")
PAPER_DOTS = {80: 576, 58: 384}  # printable dots at 203 dpi


@dataclass(frozen=True)
class Receipt:
    """Everything printed on a ticket (nothing personal)."""

    office_name: str
    service_vi: str
    service_en: str
    code: str
    issued_at: str  # local time as printed, e.g. "26/11/2026 14:05"
    people_ahead: int
    tracker_url: str
    wait_vi: str = ""  # the whole line: an estimate, or that no counter serves now
    wait_en: str = ""
    footer: str = ""
    priority_vi: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Receipt:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def paper_dots(paper_mm: int) -> int:
    """Printable width in dots of 58 or 80 mm paper."""
    try:
        return PAPER_DOTS[int(paper_mm)]
    except (KeyError, ValueError):
        raise ValueError(f"paper width must be 58 or 80 mm, not {paper_mm!r}") from None


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def nfc(text: str) -> str:
    """Composed Unicode: 'ế' as one code point, as the font's glyph tables expect."""
    return unicodedata.normalize("NFC", text or "").strip()


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to a pixel width (a word longer than the line is cut)."""
    lines: list[str] = []
    for paragraph in nfc(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while face.getlength(word) > width:
                cut = len(word)
                while cut > 1 and face.getlength(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return [ln for ln in lines if ln] or [""]


def qr_image(data: str, target_px: int) -> Image.Image:
    """The QR code of ``data`` as a 1-bit image of whole modules, about target_px wide."""
    # A fixed mask skips qrcode's trial of all eight (pure Python, ~2/3 of the render
    # time); any mask is valid and phone scanners read it equally well.
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=2
    )
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    raw = bytes(0 if cell else 255 for row in matrix for cell in row)
    small = Image.frombytes("L", (n, n), raw)
    scale = max(2, target_px // n)
    return small.resize((n * scale, n * scale), Image.NEAREST).convert("1", dither=Image.NONE)


@functools.lru_cache(maxsize=512)
def text_block(text: str, size: int, bold: bool, width: int, gap: int) -> Image.Image:
    """Centred, wrapped lines of text as a 1-bit image (cached: labels, office and service
    names repeat on every ticket)."""
    face = font(size, bold)
    lines = wrap(text, face, width)
    boxes = [face.getbbox(line, mode="1") for line in lines]
    image = Image.new("1", (width, max(sum(b[3] - b[1] + gap for b in boxes) - gap, 1)), 1)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # no anti-aliasing: the image is 1-bit anyway
    y = 0
    for line, (left, top, right, bottom) in zip(lines, boxes, strict=True):
        draw.text(((width - (right - left)) // 2 - left, y - top), line, font=face, fill=0)
        y += bottom - top + gap
    return image


class _Canvas:
    """A tall white strip that text and images are stacked on, top to bottom."""

    def __init__(self, width: int, scale: float):
        self.width = width
        self.scale = scale
        self.margin = round(12 * scale)
        self.image = Image.new("1", (width, 2400), 1)
        self.draw = ImageDraw.Draw(self.image)
        self.draw.fontmode = "1"  # no anti-aliasing: the image is 1-bit anyway
        self.y = self.margin

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def text(self, text: str, size: int, bold: bool = False, gap: int = 6) -> None:
        block = text_block(
            nfc(text), self.px(size), bold, self.width - 2 * self.margin, self.px(gap)
        )
        self.image.paste(block, (self.margin, self.y))
        self.y += block.height + 2 * self.px(gap)

    def big_code(self, code: str, size: int) -> None:
        """The ticket code as large as fits the line."""
        size = self.px(size)
        face = font(size, True)
        while size > 20 and face.getlength(code) > self.width - 2 * self.margin:
            size -= 4
            face = font(size, True)
        self.text(code, round(size / self.scale), bold=True, gap=10)

    def rule(self) -> None:
        self.y += self.px(4)
        self.draw.rectangle([self.margin, self.y, self.width - self.margin, self.y + 1], fill=0)
        self.y += self.px(12)

    def paste(self, image: Image.Image) -> None:
        self.image.paste(image, ((self.width - image.width) // 2, self.y))
        self.y += image.height + self.px(10)

    def finish(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y + self.margin))


QR_LINE = "Quét mã QR để theo dõi lượt của bạn"


def footer_text(footer: str) -> str:
    """The office's footer without a sentence that repeats the receipt's own QR line
    (offices set up before it said "Quét mã QR để theo dõi số thứ tự" there)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", nfc(footer)) if s.strip()]
    return " ".join(s for s in sentences if not fold(s).startswith("quet ma qr"))


def render_receipt(receipt: Receipt, paper_mm: int = 80) -> Image.Image:
    """Lay out a ticket as a 1-bit image exactly as wide as the paper's printable area."""
    width = paper_dots(paper_mm)
    c = _Canvas(width, width / 576)
    c.text(receipt.office_name, 26, bold=True)
    c.rule()
    c.text(receipt.service_vi, 32, bold=True, gap=2)
    if receipt.service_en:
        c.text(receipt.service_en, 20)
    c.text("SỐ THỨ TỰ / YOUR NUMBER", 20, gap=0)
    c.big_code(nfc(receipt.code), 150)
    if receipt.priority_vi:
        c.text(f"Ưu tiên: {receipt.priority_vi}", 24, bold=True)
    c.text(f"Số người đang chờ trước bạn: {receipt.people_ahead}", 24, gap=2)
    c.text(f"People ahead of you: {receipt.people_ahead}", 20)
    if receipt.wait_vi:
        c.text(receipt.wait_vi, 24, gap=2)
        c.text(receipt.wait_en, 20)
    c.text(f"Giờ lấy số / Issued: {receipt.issued_at}", 20)
    c.paste(qr_image(receipt.tracker_url, c.px(264)))
    c.text(QR_LINE, 20, gap=2)
    c.text("Scan to follow your turn", 18)
    footer = footer_text(receipt.footer)
    if footer:
        c.rule()
        c.text(footer, 20)
    return c.finish()
