"""The house rules, checked: import contracts, and rooms that hold no SQL or transactions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("kiosk", "counter", "display", "manager", "booking")
SQL = re.compile(r"""["'](?:SELECT|INSERT|UPDATE|DELETE|CREATE|BEGIN|COMMIT)\s""")
TRANSACTION = re.compile(r"\b(?:write|read|atomic)\(\s*(?:get_db\(\)|db\b)|\bdb\.execute\(")


def room_sources():
    for room in ROOMS:
        yield from sorted((ROOT / room).rglob("*.py")) if (ROOT / room).exists() else []


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


@pytest.mark.parametrize("path", list(room_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_rooms_hold_no_sql_and_open_no_transaction(path):
    text = path.read_text(encoding="utf-8")
    assert not SQL.search(text), f"SQL in a room: {SQL.search(text).group(0)}"
    assert not TRANSACTION.search(text), "a room opens a transaction or runs SQL"


def test_the_checks_catch_what_they_look_for():
    assert SQL.search('x = db.execute("SELECT id FROM tickets")')
    assert TRANSACTION.search("with write(get_db()):")
    assert TRANSACTION.search("db.execute(sql)")
    assert not SQL.search('label = "Select a service"')


def test_the_code_is_linted_and_formatted():
    ruff = Path(sys.executable).with_name("ruff")
    lint = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [str(ruff), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout[-3000:]
