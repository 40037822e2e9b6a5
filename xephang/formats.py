"""Every number a person reads, in the Vietnamese way: a decimal comma, a dot between
thousands, a space before the percent sign ("1,6", "1.234", "95,0 %").

One home for the rule: Jinja filters for every room (``web/context.py``), the XLSX
summaries' text and the Vietnamese-header CSV (``reports/exports.py``) call these;
``static/xephang/util.js`` (``number``, ``percent``, ``decimalMinutes``) mirrors them
for live pages, and ``tests/test_formats.py`` keeps the two equal. Rounding is half away
from zero on the float scaled by 10**places (the same arithmetic in both languages, so
they never disagree on a tie). Machine exports (JSON, ``export.csv``) keep plain numbers.
"""

from __future__ import annotations

import math

NONE = "—"  # what a missing figure shows


def number(value: float | int | None, places: int = 0, grouping: bool = True) -> str:
    """``value`` to ``places`` decimals with a decimal comma ("1,6"), thousands grouped
    by dots unless ``grouping`` is off ("12.345", or "12345" for a spreadsheet cell)."""
    if value is None:
        return NONE
    scale = 10**places
    scaled = math.floor(abs(value) * scale + 0.5)
    whole, frac = divmod(int(scaled), scale)
    digits = f"{whole:,}".replace(",", ".") if grouping else str(whole)
    text = digits + ("," + str(frac).rjust(places, "0") if places else "")
    return ("-" + text) if value < 0 and scaled else text


def minutes(seconds: float | None) -> str:
    """A duration in seconds as minutes to a tenth: 96 → "1,6" (the unit is the caller's)."""
    return NONE if seconds is None else number(seconds / 60, 1)


def percent(share: float | None, places: int = 1) -> str:
    """A share (0..1) as a percentage: 0.95 → "95,0 %"."""
    return NONE if share is None else number(share * 100, places) + " %"


def duration(seconds: float) -> str:
    """A long span as a person says it: "30 phút" under two hours, "5 giờ" under two
    days, then "183 ngày" (a device silent for months is not "263.856 phút")."""
    if seconds < 2 * 3600:
        return f"{number(seconds / 60)} phút"
    if seconds < 2 * 86400:
        return f"{number(seconds / 3600)} giờ"
    return f"{number(seconds / 86400)} ngày"
