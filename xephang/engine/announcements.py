"""The spoken announcement of a call: the sentence and the voice-pack clips that say it.

Pure functions, no I/O. ``announcement("A023", 3, ...)`` gives the text the
display shows and the list of clip names it plays one after another, e.g.
``["chime", "phrase_moi_cong_dan_co_so_thu_tu", "letter_a", "digit_0",
"digit_2", "digit_3", "phrase_den_quay_so", "digit_3"]``. The clip files live
in ``display/static/display/voice/<name>.ogg``; ``docs/voice.md`` lists them.

Number reading follows common Vietnamese usage: "mười lăm" (15), "hai mươi
mốt" (21), "hai mươi tư" (24), "hai mươi lăm" (25), "một trăm linh năm"
(north) or "một trăm lẻ năm" (south), "một nghìn" (north) or "một ngàn"
(south), "không trăm" inside a larger number.
"""

from __future__ import annotations

import re
import unicodedata

DEFAULT_TEMPLATE = "Mời công dân có số thứ tự {code} đến quầy số {counter}"
CHIME = "chime"

DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Every spoken number word and the clip that says it. Digits 0-9 use the
# digit clips; the rest are the forms numbers take inside a number.
NUMBER_CLIPS = {
    **{word: f"digit_{d}" for d, word in enumerate(DIGIT_WORDS)},
    "mười": "num_muoi",  # ten ("mười hai")
    "mươi": "num_muoi_tens",  # tens ("hai mươi")
    "mốt": "num_mot_tens",  # 1 after mươi ("hai mươi mốt")
    "tư": "num_tu",  # 4 after mươi ("hai mươi tư")
    "lăm": "num_lam",  # 5 after mười/mươi ("mười lăm")
    "trăm": "num_tram",
    "nghìn": "num_nghin",
    "ngàn": "num_ngan",
    "linh": "num_linh",
    "lẻ": "num_le",
}

# Vietnamese names of the Latin letters, as read in ticket codes.
LETTER_NAMES = {
    "A": "a",
    "B": "bê",
    "C": "xê",
    "D": "dê",
    "Đ": "đê",
    "E": "e",
    "F": "ép",
    "G": "giê",
    "H": "hát",
    "I": "i",
    "J": "gi",
    "K": "ca",
    "L": "e lờ",
    "M": "em mờ",
    "N": "en nờ",
    "O": "o",
    "P": "pê",
    "Q": "quy",
    "R": "e rờ",
    "S": "ét xì",
    "T": "tê",
    "U": "u",
    "V": "vê",
    "W": "vê kép",
    "X": "ích xì",
    "Y": "i dài",
    "Z": "dét",
}

# Whole phrases recorded as one clip each (they sound better than word by word).
PHRASE_CLIPS = {
    "mời công dân có số thứ tự": "phrase_moi_cong_dan_co_so_thu_tu",
    "kính mời công dân có số thứ tự": "phrase_kinh_moi_cong_dan_co_so_thu_tu",
    "xin mời quý khách có số thứ tự": "phrase_xin_moi_quy_khach_co_so_thu_tu",
    "mời số": "phrase_moi_so",
    "đến quầy số": "phrase_den_quay_so",
    "đến quầy": "phrase_den_quay",
    "xin cảm ơn": "phrase_xin_cam_on",
}

# Single words, the fallback for a template the phrase clips do not cover.
WORD_CLIPS = {
    word: "word_"
    + unicodedata.normalize("NFKD", word.replace("đ", "d")).encode("ascii", "ignore").decode()
    for word in (
        "mời",
        "kính",
        "xin",
        "công",
        "dân",
        "quý",
        "khách",
        "có",
        "số",
        "thứ",
        "tự",
        "đến",
        "quầy",
        "bàn",
        "phòng",
        "vui",
        "lòng",
        "cảm",
        "ơn",
        "ông",
        "bà",
    )
}


def letter_clip(letter: str) -> str:
    """Clip name of a letter: ``letter_a`` … ``letter_z``, ``letter_dd`` for Đ."""
    return "letter_dd" if letter == "Đ" else f"letter_{letter.lower()}"


def read_number(n: int, dialect: str = "north") -> list[str]:
    """The words of a whole number read as a number ("một nghìn không trăm hai mươi ba")."""
    if n < 0:
        raise ValueError("negative number")
    if n < 10:
        return [DIGIT_WORDS[n]]
    thousand = "ngàn" if dialect == "south" else "nghìn"
    if n >= 1_000_000:  # no ticket or counter gets there; say the digits
        return read_digits(str(n))
    if n >= 1000:
        thousands, rest = divmod(n, 1000)
        words = read_number(thousands, dialect) + [thousand]
        return words + (_below_thousand_full(rest, dialect) if rest else [])
    return _below_thousand(n, dialect, leading=True)


def _below_thousand_full(n: int, dialect: str) -> list[str]:
    """A three-digit group after a larger unit: "không trăm" kept, "linh/lẻ" for 0x."""
    return _below_thousand(n, dialect, leading=False)


def _below_thousand(n: int, dialect: str, leading: bool) -> list[str]:
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or not leading:
        words += [DIGIT_WORDS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("lẻ" if dialect == "south" else "linh")
            words.append(DIGIT_WORDS[units])
        return words
    if tens == 1:
        words.append("mười")
        if units == 5:
            words.append("lăm")
        elif units:
            words.append(DIGIT_WORDS[units])
        return words
    words += [DIGIT_WORDS[tens], "mươi"]
    if units == 1:
        words.append("mốt")
    elif units == 4:
        words.append("tư")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGIT_WORDS[units])
    return words


def read_digits(digits: str) -> list[str]:
    """Digit by digit: "023" → ["không", "hai", "ba"]."""
    return [DIGIT_WORDS[int(d)] for d in digits if d.isdigit()]


def read_code(code: str, reading: str = "digits", dialect: str = "north") -> list[tuple[str, str]]:
    """A ticket code as (spoken word, clip) pairs: letters by name, then the number."""
    pairs: list[tuple[str, str]] = []
    letters = "".join(ch for ch in code if not ch.isdigit()).upper()
    digits = "".join(ch for ch in code if ch.isdigit())
    for letter in letters:
        if letter in LETTER_NAMES:
            pairs.append((LETTER_NAMES[letter], letter_clip(letter)))
    if digits:
        words = read_number(int(digits), dialect) if reading == "number" else read_digits(digits)
        pairs += [(w, NUMBER_CLIPS[w]) for w in words]
    return pairs


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def _literal_clips(text: str) -> tuple[list[str], list[str]]:
    """Clips for a literal part of the template: whole phrases first, then words."""
    words = _norm(text).split()
    clips, missing = [], []
    i = 0
    while i < len(words):
        for j in range(len(words), i, -1):
            phrase = " ".join(words[i:j])
            if phrase in PHRASE_CLIPS:
                clips.append(PHRASE_CLIPS[phrase])
                i = j
                break
        else:
            word = words[i]
            if word in WORD_CLIPS:
                clips.append(WORD_CLIPS[word])
            elif word.isdigit():
                clips += [NUMBER_CLIPS[w] for w in read_number(int(word))]
            else:
                missing.append(word)
            i += 1
    return clips, missing


def announcement(
    code: str,
    counter_number: int,
    template: str = DEFAULT_TEMPLATE,
    reading: str = "digits",
    dialect: str = "north",
    chime: bool = True,
) -> dict:
    """The text and clip sequence announcing that ``code`` is called to a counter.

    Returns ``{"text", "spoken", "clips", "missing"}``: the sentence as shown
    (``A023``), the sentence as spoken (the words the clips say), the clip
    names in order, and template words no clip can say (skipped).
    """
    template = template or DEFAULT_TEMPLATE
    counter_words = read_number(int(counter_number), dialect)
    clips = [CHIME] if chime else []
    spoken: list[str] = []
    missing: list[str] = []
    for part in re.split(r"(\{code\}|\{counter\})", template):
        if part == "{code}":
            pairs = read_code(code, reading, dialect)
            spoken += [w for w, _ in pairs]
            clips += [c for _, c in pairs]
        elif part == "{counter}":
            spoken += counter_words
            clips += [NUMBER_CLIPS[w] for w in counter_words]
        elif part.strip():
            literal, lost = _literal_clips(part)
            spoken.append(_norm(part))
            clips += literal
            missing += lost
    text = template.replace("{code}", code).replace("{counter}", str(counter_number))
    return {"text": text, "spoken": " ".join(spoken), "clips": clips, "missing": missing}


def every_clip() -> dict[str, str]:
    """Every clip of a complete voice pack: name → what it says (the chime says nothing)."""
    clips = {CHIME: ""}
    clips.update({clip: word for word, clip in NUMBER_CLIPS.items()})
    clips.update({letter_clip(letter): name for letter, name in LETTER_NAMES.items()})
    clips.update({clip: phrase for phrase, clip in PHRASE_CLIPS.items()})
    clips.update({clip: word for word, clip in WORD_CLIPS.items()})
    return clips
