"""Typed office settings: one definition for the engine, the forms, the CLI and the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from xephang import engine
from xephang.cli import cli
from xephang.engine.settings import OFFICE_SETTINGS, definition
from xephang.errors import BadInputError

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def documented() -> dict[str, str]:
    """The '### name' sections under '# Per-office settings', with their text."""
    text = DOC.read_text(encoding="utf-8").split("# Per-office settings", 1)[1]
    parts = re.split(r"^### ([a-z0-9_]+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_office_setting_is_documented_with_its_type_and_default():
    docs = documented()
    assert set(docs) == {s.name for s in OFFICE_SETTINGS}
    for s in OFFICE_SETTINGS:
        assert f"Type: {s.type}" in docs[s.name]
        assert json.dumps(s.default, ensure_ascii=False) in docs[s.name]
        assert s.help in docs[s.name]


def test_every_default_passes_its_own_parser():
    for s in OFFICE_SETTINGS:
        assert s.parse(s.default) == s.default, s.name


@pytest.mark.parametrize(
    "name,raw,value",
    [
        ("priority_streak_max", "3", 3),
        ("priority_streak_max", 0, 0),
        ("voice_enabled", "off", False),
        ("voice_enabled", "có", True),
        ("number_dialect", " south ", "south"),
        ("board_message", "  Nghỉ trưa 11:30–13:30 ", "Nghỉ trưa 11:30–13:30"),
        (
            "rating_scale",
            "2 | Tốt | Good\n1 | Chưa tốt | Not good",
            [
                {"level": 2, "vi": "Tốt", "en": "Good"},
                {"level": 1, "vi": "Chưa tốt", "en": "Not good"},
            ],
        ),
        (
            "rating_scale",
            '[{"level": 5, "vi": "A"}, {"level": 1, "vi": "B"}]',
            [{"level": 5, "vi": "A", "en": ""}, {"level": 1, "vi": "B", "en": ""}],
        ),
    ],
)
def test_values_are_parsed_to_their_type(name, raw, value):
    assert definition(name).parse(raw) == value


@pytest.mark.parametrize(
    "name,raw,message",
    [
        ("priority_streak_max", "21", "phải từ 0 đến 20"),
        ("priority_streak_max", True, "phải là số nguyên"),
        ("priority_streak_max", 2.5, "phải là số nguyên"),
        ("voice_enabled", "maybe", "có/không"),
        ("number_reading", "roman", "không hợp lệ"),
        ("announce_template", "Mời {code}", "{counter}"),
        ("board_message", "x" * 501, "tối đa 500"),
        ("board_message", 5, "phải là chữ"),
        ("rating_scale", "1 | Một", "từ 2 đến 7 mức"),
        ("rating_scale", "[1, 2]", "mỗi mức"),
    ],
)
def test_bad_values_are_refused_in_vietnamese(name, raw, message):
    with pytest.raises(BadInputError) as err:
        definition(name).parse(raw)
    assert message in err.value.message_vi


def test_an_unknown_setting_is_refused():
    with pytest.raises(BadInputError) as err:
        definition("color")
    assert "Không có thiết lập 'color'" in err.value.message_vi


def test_settings_are_stored_together_audited_and_checked_together(queue):
    db, office = queue.db, queue.office
    stored = engine.set_office_settings(
        db, office, {"retention_days": "400", "comment_retention_days": 100}, user_id=None
    )
    assert stored == {"retention_days": 400, "comment_retention_days": 100}
    assert engine.office_setting(db, office, "retention_days") == 400
    audit = db.execute(
        "SELECT action, details FROM setup_audit ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audit[0] == "settings.update" and json.loads(audit[1])["retention_days"] == 400
    with pytest.raises(BadInputError):  # comments may not outlive the log
        engine.set_office_settings(db, office, {"comment_retention_days": 401})
    with pytest.raises(BadInputError):  # nothing stored when one value is refused
        engine.set_office_settings(db, office, {"board_message": "mới", "number_reading": "x"})
    assert engine.office_setting(db, office, "board_message") == ""
    assert engine.office_setting(db, office, "comment_retention_days") == 100


def test_cli_lists_and_sets_an_office_setting(tmp_path):
    path = str(tmp_path / "x.db")
    runner = CliRunner()
    added = runner.invoke(cli, ["office", "add", "Phường Một", "--db", path])
    assert added.exit_code == 0, added.output
    office = added.output.strip()
    listed = runner.invoke(cli, ["office", "settings", office, "--db", path])
    assert listed.exit_code == 0 and 'number_dialect = "north"' in listed.output
    assert "north | south" in listed.output
    done = runner.invoke(cli, ["office", "set", office, "number_dialect", "south", "--db", path])
    assert done.exit_code == 0 and 'number_dialect = "south"' in done.output
    again = runner.invoke(cli, ["office", "settings", office, "--db", path])
    assert 'number_dialect = "south"  (đã đổi / changed)' in again.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["color", "red"], "Không có thiết lập 'color'"),
        (["priority_streak_max", "many"], "phải là số nguyên"),
        (["retention_days", "10"], "phải từ 30 đến 3650"),
    ],
)
def test_cli_refuses_a_bad_key_or_value_and_changes_nothing(tmp_path, args, message):
    path = str(tmp_path / "x.db")
    runner = CliRunner()
    office = runner.invoke(cli, ["office", "add", "Phường Hai", "--db", path]).output.strip()
    before = runner.invoke(cli, ["office", "settings", office, "--db", path]).output
    result = runner.invoke(cli, ["office", "set", office, *args, "--db", path])
    assert result.exit_code == 1 and message in result.output
    assert runner.invoke(cli, ["office", "settings", office, "--db", path]).output == before


def test_cli_office_set_on_a_missing_office(tmp_path):
    result = CliRunner().invoke(
        cli, ["office", "set", "99", "voice_enabled", "off", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 1 and "Không có văn phòng 99" in result.output
