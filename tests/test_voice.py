"""The spoken announcement: sentence → clip sequence, number reading, and the shipped pack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from xephang.engine.announcements import announcement, every_clip, read_number

VOICE = Path(__file__).resolve().parents[1] / "display" / "static" / "display" / "voice"
MOI = "phrase_moi_cong_dan_co_so_thu_tu"
DEN = "phrase_den_quay_so"


@pytest.mark.parametrize(
    "n, north, south",
    [
        (0, "không", "không"),
        (5, "năm", "năm"),
        (10, "mười", "mười"),
        (11, "mười một", "mười một"),
        (14, "mười bốn", "mười bốn"),
        (15, "mười lăm", "mười lăm"),
        (20, "hai mươi", "hai mươi"),
        (21, "hai mươi mốt", "hai mươi mốt"),
        (24, "hai mươi tư", "hai mươi tư"),
        (25, "hai mươi lăm", "hai mươi lăm"),
        (55, "năm mươi lăm", "năm mươi lăm"),
        (100, "một trăm", "một trăm"),
        (101, "một trăm linh một", "một trăm lẻ một"),
        (105, "một trăm linh năm", "một trăm lẻ năm"),
        (110, "một trăm mười", "một trăm mười"),
        (115, "một trăm mười lăm", "một trăm mười lăm"),
        (121, "một trăm hai mươi mốt", "một trăm hai mươi mốt"),
        (1000, "một nghìn", "một ngàn"),
        (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
        (1023, "một nghìn không trăm hai mươi ba", "một ngàn không trăm hai mươi ba"),
        (1100, "một nghìn một trăm", "một ngàn một trăm"),
        (2024, "hai nghìn không trăm hai mươi tư", "hai ngàn không trăm hai mươi tư"),
        (12345, "mười hai nghìn ba trăm bốn mươi lăm", "mười hai ngàn ba trăm bốn mươi lăm"),
    ],
)
def test_numbers_read_as_numbers(n, north, south):
    assert " ".join(read_number(n, "north")) == north
    assert " ".join(read_number(n, "south")) == south


@pytest.mark.parametrize(
    "code, counter, reading, dialect, spoken, clips",
    [
        (
            "A023",
            3,
            "digits",
            "north",
            "a không hai ba",
            ["letter_a", "digit_0", "digit_2", "digit_3", DEN, "digit_3"],
        ),
        (
            "B105",
            12,
            "digits",
            "south",
            "bê một không năm",
            ["letter_b", "digit_1", "digit_0", "digit_5", DEN, "num_muoi", "digit_2"],
        ),
        (
            "A023",
            3,
            "number",
            "north",
            "a hai mươi ba",
            ["letter_a", "digit_2", "num_muoi_tens", "digit_3", DEN, "digit_3"],
        ),
        (
            "C015",
            21,
            "number",
            "north",
            "xê mười lăm",
            ["letter_c", "num_muoi", "num_lam", DEN, "digit_2", "num_muoi_tens", "num_mot_tens"],
        ),
        (
            "D105",
            4,
            "number",
            "north",
            "dê một trăm linh năm",
            ["letter_d", "digit_1", "num_tram", "num_linh", "digit_5", DEN, "digit_4"],
        ),
        (
            "D105",
            4,
            "number",
            "south",
            "dê một trăm lẻ năm",
            ["letter_d", "digit_1", "num_tram", "num_le", "digit_5", DEN, "digit_4"],
        ),
        (
            "1023",
            24,
            "number",
            "north",
            "một nghìn không trăm hai mươi ba",
            [
                "digit_1",
                "num_nghin",
                "digit_0",
                "num_tram",
                "digit_2",
                "num_muoi_tens",
                "digit_3",
                DEN,
                "digit_2",
                "num_muoi_tens",
                "num_tu",
            ],
        ),
        (
            "1023",
            25,
            "number",
            "south",
            "một ngàn không trăm hai mươi ba",
            [
                "digit_1",
                "num_ngan",
                "digit_0",
                "num_tram",
                "digit_2",
                "num_muoi_tens",
                "digit_3",
                DEN,
                "digit_2",
                "num_muoi_tens",
                "num_lam",
            ],
        ),
        (
            "1023",
            3,
            "digits",
            "north",
            "một không hai ba",
            ["digit_1", "digit_0", "digit_2", "digit_3", DEN, "digit_3"],
        ),
        ("Đ001", 10, "number", "north", "đê một", ["letter_dd", "digit_1", DEN, "num_muoi"]),
    ],
)
def test_announcement_table(code, counter, reading, dialect, spoken, clips):
    result = announcement(code, counter, reading=reading, dialect=dialect)
    assert result["text"] == f"Mời công dân có số thứ tự {code} đến quầy số {counter}"
    assert result["clips"] == ["chime", MOI, *clips]
    assert result["spoken"].startswith("mời công dân có số thứ tự " + spoken + " đến quầy số")
    assert result["missing"] == []


def test_other_templates_use_phrases_then_words():
    kinh = announcement("A1", 2, "Kính mời công dân có số thứ tự {code} đến quầy {counter}")
    assert kinh["clips"] == [
        "chime",
        "phrase_kinh_moi_cong_dan_co_so_thu_tu",
        "letter_a",
        "digit_1",
        "phrase_den_quay",
        "digit_2",
    ]
    custom = announcement(
        "A1", 2, "Mời ông bà số {code} vui lòng đến bàn {counter}, xin cảm ơn", chime=False
    )
    assert custom["clips"] == [
        "word_moi",
        "word_ong",
        "word_ba",
        "word_so",
        "letter_a",
        "digit_1",
        "word_vui",
        "word_long",
        "word_den",
        "word_ban",
        "digit_2",
        "phrase_xin_cam_on",
    ]
    unknown = announcement("A1", 2, "Hello {code} quầy {counter}")
    assert unknown["missing"] == ["hello"] and "word_quay" in unknown["clips"]


def test_shipped_pack_has_every_clip():
    manifest = json.loads((VOICE / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["clips"] == every_clip()
    for name in every_clip():
        data = (VOICE / f"{name}.ogg").read_bytes()
        assert data[:4] == b"OggS" and len(data) > 1000, name


def test_every_code_and_counter_can_be_said():
    names = set(every_clip())
    for reading in ("digits", "number"):
        for dialect in ("north", "south"):
            for number in list(range(0, 1200)) + [1999, 2005, 9999, 10010]:
                for prefix in ("A", "Đ", "Z", ""):
                    result = announcement(
                        f"{prefix}{number:03d}", number % 70 + 1, reading=reading, dialect=dialect
                    )
                    assert set(result["clips"]) <= names


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox generate the pack",
)
def test_voice_pack_generator_writes_every_clip(tmp_path):
    from display.voice_pack import generate

    manifest = generate(tmp_path, speed=160)
    assert set(manifest) == set(every_clip())
    for name in manifest:
        assert (tmp_path / f"{name}.ogg").read_bytes()[:4] == b"OggS"
    assert json.loads((tmp_path / "manifest.json").read_text())["clips"] == manifest
