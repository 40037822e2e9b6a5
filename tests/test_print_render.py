"""Receipt rendering and ESC/POS encoding, checked by decoding the bytes back into an image."""

from __future__ import annotations

import unicodedata

import pytest
import zxingcpp
from PIL import Image, ImageChops

from printers.escpos_bytes import encode_receipt, parse_status
from printers.layout import Receipt, font, nfc, render_receipt, wrap
from tests.helpers import RECEIPT, URL, decode_gs_v0, walk_commands


@pytest.mark.parametrize("paper_mm, width", [(80, 576), (58, 384)])
def test_bytes_decode_to_an_image_of_the_paper_width_whose_qr_reads_the_tracker_url(
    paper_mm, width
):
    data = encode_receipt(render_receipt(RECEIPT, paper_mm))
    kinds = [kind for kind, _ in walk_commands(data)]
    assert kinds[0] == "init" and kinds[-1] == "cut" and "raster" in kinds
    image = decode_gs_v0(data)
    assert image.width == width
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode] == [URL]


def test_tall_receipts_are_sent_as_several_raster_blocks_that_stack_back():
    long_footer = " ".join(["Vui lòng giữ vé cẩn thận và chờ gọi số."] * 40)
    image = render_receipt(Receipt(**{**RECEIPT.to_dict(), "footer": long_footer}), 80)
    assert image.height > 960
    data = encode_receipt(image)
    assert sum(kind == "raster" for kind, _ in walk_commands(data)) >= 2
    decoded = decode_gs_v0(data)
    assert decoded.size == image.size
    assert ImageChops.difference(decoded, image.convert("L")).getbbox() is None


def test_the_image_is_one_bit_and_has_ink_where_the_code_is():
    image = render_receipt(RECEIPT, 80)
    assert image.mode == "1" and image.width == 576
    black = image.histogram()[0]
    assert 0.05 < black / (image.width * image.height) < 0.5


def test_text_is_normalised_to_nfc_and_decomposed_input_renders_the_same():
    decomposed = unicodedata.normalize("NFD", RECEIPT.service_vi)
    assert decomposed != RECEIPT.service_vi and nfc(decomposed) == RECEIPT.service_vi
    same = Receipt(**{**RECEIPT.to_dict(), "service_vi": decomposed})
    assert render_receipt(same).tobytes() == render_receipt(RECEIPT).tobytes()


def test_the_bundled_font_has_every_vietnamese_letter():
    letters = (
        "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
    )
    face = font(40)
    notdef = face.getmask("\uffff").getbbox()
    for letter in letters + letters.upper():
        mask = face.getmask(letter)
        assert mask.getbbox() is not None and mask.getbbox() != notdef, letter


def test_wrap_keeps_lines_within_the_width():
    face = font(32, True)
    lines = wrap("Trung tâm Phục vụ hành chính công tỉnh Ninh Bình " * 3, face, 300)
    assert len(lines) > 3 and all(face.getlength(line) <= 300 for line in lines)


def test_other_paper_widths_are_refused():
    with pytest.raises(ValueError):
        render_receipt(RECEIPT, 76)


@pytest.mark.parametrize(
    "answers, ok, problem",
    [
        ((0x12, 0x12, 0x12), True, ""),
        ((0x12, 0x12, 0x1E), True, "paper_low"),
        ((0x1A, 0x32, 0x72), False, "paper_out"),
        ((0x1A, 0x16, 0x12), False, "cover_open"),
        ((0x1A, 0x12, 0x12), False, "offline"),
    ],
)
def test_dle_eot_answers_are_decoded(answers, ok, problem):
    status = parse_status(*answers)
    assert status.ok is ok and status.problem == problem


def test_a_byte_that_is_not_a_status_answer_is_rejected():
    with pytest.raises(ValueError):
        parse_status(0x41, 0x12, 0x12)


@pytest.mark.parametrize("width, height", [(576, 1500), (384, 700), (37, 20)])
def test_the_raster_is_byte_for_byte_what_python_escpos_image_sends(width, height):
    from escpos.printer import Dummy

    from printers.escpos_bytes import FRAGMENT_HEIGHT, raster

    image = Image.effect_noise((width, height), 80).convert("1")
    ours, theirs = Dummy(), Dummy()
    raster(ours, image)
    theirs.image(image, impl="bitImageRaster", fragment_height=FRAGMENT_HEIGHT)
    assert ours.output == theirs.output
