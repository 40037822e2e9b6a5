"""util.js, the helpers every page script shares, run under Node: what each page shows;
and every page loads it and /xephang/rules.js before the scripts that use them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UTIL_JS = ROOT / "xephang" / "static" / "xephang" / "util.js"

HARNESS = r"""
const fs = require("fs");
const window = {}; global.window = window;
eval(fs.readFileSync(process.argv[1], "utf8"));
const U = window.XephangUtil;
const out = JSON.parse(process.argv[2]).map(([name, args]) => U[name].apply(null, args));
console.log(JSON.stringify(out));
"""

CASES = [
    # the counter screen's clocks and average service time; the dashboard's wait clocks
    ("clock", [0], "0:00"),
    ("clock", [7.9], "0:07"),  # whole seconds passed
    ("clock", [-3], "0:00"),  # a clock a little ahead of the server's
    ("clock", [725], "12:05"),
    ("clock", [3723], "1:02:03"),
    ("clock", [None], "—"),
    # the board's average wait today and its target
    ("minutes", [None], "—"),
    ("minutes", [59], "< 1 phút"),
    ("minutes", [90], "2 phút"),
    ("minutes", [900], "15 phút"),
    ("minutes", [900, "en"], "15 min"),
    # the dashboard's figures and the reports' heatmap tooltips
    ("decimalMinutes", [None], "—"),
    ("decimalMinutes", [900], "15,0 phút"),  # the Vietnamese decimal comma
    ("decimalMinutes", [6], "0,1 phút"),
    ("decimalMinutes", [96], "1,6 phút"),
    ("percent", [0.95], "95,0 %"),
    ("percent", [None], "—"),
    ("number", [1234567], "1.234.567"),
    ("number", [1234.5, 1, False], "1234,5"),  # a spreadsheet cell: no thousands dots
    ("esc", ["<b>\"Tom\" & 'Hà'</b>"], "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Hà&#39;&lt;/b&gt;"),
    ("esc", [None], ""),
    ("esc", [12], "12"),
]


def call_key(name: str, args: list) -> str:
    return json.dumps([name, args])


def run_util(calls: list) -> list:
    """Each ``[name, args]`` call of util.js, run under Node in one process."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run(
        [node, "-e", HARNESS, str(UTIL_JS), json.dumps(calls)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def results():
    """Every case's output, by its call, from one run of Node."""
    calls = [[name, args] for name, args, _ in CASES]
    return {call_key(*call): shown for call, shown in zip(calls, run_util(calls), strict=True)}


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_what_the_pages_show(results, name, args, expected):
    assert results[call_key(name, args)] == expected


# What a citizen's ticket says of its wait: the tracker (util.js waitWords, live) and the
# kiosk screen and receipt (engine/estimate.py wait_words) must say the same words.
WAITS = [
    {"counters_open": 0, "estimated_wait_s": None, "estimate_shown": False},
    {"counters_open": 2, "estimated_wait_s": 600, "estimate_shown": False},
    {"counters_open": 1, "estimated_wait_s": 0, "estimate_shown": True},
    {"counters_open": 1, "estimated_wait_s": 59, "estimate_shown": True},
    {"counters_open": 1, "estimated_wait_s": 89, "estimate_shown": True},
    {"counters_open": 1, "estimated_wait_s": 90, "estimate_shown": True},  # half up: 2
    {"counters_open": 1, "estimated_wait_s": 750, "estimate_shown": True},
    {
        "counters_open": 3,
        "estimated_wait_s": 600,
        "estimate_range_s": [300, 900],
        "estimate_shown": True,
    },
    {
        "counters_open": 1,
        "estimated_wait_s": 40,
        "estimate_range_s": [20, 60],
        "estimate_shown": True,
    },  # a range is never "1–1"
    {"counters_open": 1, "estimated_wait_s": 900, "past_closing": True, "estimate_shown": True},
]


def test_wait_words_are_the_same_in_the_browser_and_on_the_receipt():
    from xephang.engine.estimate import wait_words

    browser = run_util([["waitWords", [fields]] for fields in WAITS])
    assert browser == [wait_words(fields) for fields in WAITS]
    kinds = [w["kind"] for w in browser]
    assert kinds == ["no_counter", "none"] + ["estimate"] * 8
    assert [w["vi"] for w in browser[2:]] == [
        "dưới 1 phút",
        "dưới 1 phút",
        "khoảng 1 phút",
        "khoảng 2 phút",
        "khoảng 13 phút",
        "khoảng 5–15 phút",
        "khoảng 1–2 phút",
        "khoảng 15 phút (có thể không kịp trong giờ làm việc hôm nay)",
    ]
    assert browser[0]["vi"] == "Hiện chưa có quầy nào phục vụ dịch vụ này"


# Every number a page shows: the live pages (util.js) and the server's pages, printed
# reports and spreadsheets (xephang/formats.py) must write it the same way.
NUMBERS = [
    ("number", [0]),
    ("number", [7]),
    ("number", [999.5]),
    ("number", [1000]),
    ("number", [1234567.891, 2]),
    ("number", [-0.04, 1]),  # never "-0,0"
    ("number", [-1.25, 1]),
    ("number", [0.05, 1]),
    ("number", [2.675, 2]),  # a float just under the tie: both languages say the same
    ("number", [12345.6, 1, False]),
    ("number", [None]),
    ("percent", [0.95]),
    ("percent", [1]),
    ("percent", [0.12345]),
    ("percent", [0.5, 0]),
    ("percent", [None]),
    ("minutes", [96]),
    ("minutes", [900]),
    ("minutes", [0]),
    ("minutes", [None]),
]


def test_numbers_are_the_same_in_the_browser_and_on_the_server():
    from xephang import formats

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # util.js names the minutes figure with its unit; formats.minutes leaves the unit out
    js_names = {"minutes": "decimalMinutes"}
    calls = [[js_names.get(name, name), args] for name, args in NUMBERS]
    out = subprocess.run(
        [node, "-e", HARNESS, str(UTIL_JS), json.dumps(calls)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    browser = json.loads(out.stdout)
    server = []
    for name, args in NUMBERS:
        text = getattr(formats, name)(*args)
        server.append(text + " phút" if name == "minutes" and args[0] is not None else text)
    assert browser == server
    assert server[:6] == ["0", "7", "1.000", "1.000", "1.234.567,89", "0,0"]
    assert server[11:13] == ["95,0 %", "100,0 %"]
    assert server[16] == "1,6 phút"


TEMPLATES = sorted(
    p
    for room in ("xephang", "kiosk", "counter", "display", "manager")
    for p in (ROOT / room / "templates").rglob("*.html")
    if "<script src=" in p.read_text()
)
SCRIPT_SRC = re.compile(r"<script src=\"\{\{ url_for\(([^)]*)\) \}\}\"")


def scripts_of(template: Path) -> list[str]:
    """The script files a template loads from the app, in order; rules.js by its endpoint."""
    names = []
    for args in SCRIPT_SRC.findall(template.read_text()):
        names.append("rules.js" if "rules_js" in args else args.split("filename=")[1].strip("'\""))
    return names


def source(name: str) -> str:
    """A static file's text: ``room/...`` lives in ``<room>/static/room/...``."""
    return (ROOT / name.split("/")[0] / "static" / name).read_text()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_load_the_shared_scripts_before_their_own(template):
    """rules.js and util.js come before live.js and before each page script using them."""
    scripts = scripts_of(template)
    for i, name in enumerate(scripts):
        if name == "rules.js" or "/vendor/" in name:
            continue
        text = source(name)
        if name == "xephang/live.js" or "XephangRules" in text:
            assert "rules.js" in scripts[:i], f"{name} needs /xephang/rules.js first"
        if "XephangUtil" in text and name != "xephang/util.js":
            assert "xephang/util.js" in scripts[:i], f"{name} needs xephang/util.js first"
