"""Settings: each is documented in docs/configuration.md and XEPHANG_* overrides it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xephang import create_app
from xephang.config import SETTINGS, load_settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def documented() -> set[str]:
    return set(
        re.findall(r"^## XEPHANG_([A-Z0-9_]+)\s*$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    )


def test_every_setting_is_documented():
    missing = {s.name for s in SETTINGS} - documented()
    assert missing == set(), f"add a '## XEPHANG_<NAME>' section to {DOC.name} for each"


def test_documentation_has_no_stale_settings():
    assert documented() - {s.name for s in SETTINGS} == set()


def test_every_setting_has_a_one_line_help():
    assert all(s.help.strip() for s in SETTINGS)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)


def _sample(default):
    """An environment string for a setting and the value it must become."""
    if isinstance(default, bool):
        return ("yes" if not default else "off"), not default
    if isinstance(default, int):
        return str(default + 7), default + 7
    if isinstance(default, float):
        return str(default + 0.5), default + 0.5
    return "from-environment", "from-environment"


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_environment_overrides_the_default(setting, monkeypatch, tmp_path):
    text, value = _sample(setting.default)
    monkeypatch.setenv(f"XEPHANG_{setting.name}", text)
    assert load_settings(tmp_path)[setting.name] == value


def test_precedence_default_file_environment_config(monkeypatch, tmp_path):
    assert load_settings(tmp_path)["DEFAULT_SERVICE_TIME_S"] == 300
    (tmp_path / "xephang.toml").write_text("default_service_time_s = 200\nlog_level = 'DEBUG'\n")
    assert load_settings(tmp_path)["DEFAULT_SERVICE_TIME_S"] == 200
    monkeypatch.setenv("XEPHANG_DEFAULT_SERVICE_TIME_S", "100")
    values = load_settings(tmp_path)
    assert values["DEFAULT_SERVICE_TIME_S"] == 100 and values["LOG_LEVEL"] == "DEBUG"
    assert load_settings(tmp_path, {"DEFAULT_SERVICE_TIME_S": 50})["DEFAULT_SERVICE_TIME_S"] == 50


def test_app_reads_database_and_values_from_the_environment(monkeypatch, tmp_path):
    db_file = tmp_path / "from-env" / "x.db"
    monkeypatch.setenv("XEPHANG_DB", str(db_file))
    monkeypatch.setenv("XEPHANG_DEFAULT_SERVICE_TIME_S", "123")
    monkeypatch.setenv("XEPHANG_SESSION_COOKIE_SECURE", "true")
    app = create_app({"SECRET_KEY": "test", "PRINT_WORKER": False})
    assert app.config["DB"] == str(db_file) and db_file.exists()
    assert app.config["DEFAULT_SERVICE_TIME_S"] == 123
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_issue_estimate_uses_the_configured_default_service_time(monkeypatch, tmp_path):
    from xephang import engine
    from xephang.storage import connect

    monkeypatch.setenv("XEPHANG_DEFAULT_SERVICE_TIME_S", "60")
    app = create_app({"DB": str(tmp_path / "x.db"), "SECRET_KEY": "test", "PRINT_WORKER": False})
    db = connect(app.config["DB"])
    office = engine.create_office(db, "Office")
    counter = engine.add_counter(db, office, 1, [engine.add_service(db, office, "A", "Hộ tịch")])
    engine.open_counter(db, counter)
    from xephang.engine import accounts

    accounts.add_user(db, "canbo", "officer", office, "mat-khau-dai")
    headers = {"Authorization": "Bearer " + accounts.add_user_token(db, "canbo")}
    db.close()
    client = app.test_client()
    client.post("/api/v1/tickets", json={"service": "A"}, headers=headers)
    second = client.post("/api/v1/tickets", json={"service": "A"}, headers=headers).get_json()
    assert second["ticket"]["people_ahead"] == 1
    # One ahead, nothing finished yet: the configured default, as a range (±50 %).
    assert second["ticket"]["estimated_wait_s"] == 60
    assert second["ticket"]["estimate_range_s"] == [30, 90]
