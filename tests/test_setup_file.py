"""`xephang setup apply office.toml` / `setup export`: an office declared in a file, applied
idempotently, all or nothing."""

from __future__ import annotations

import tomllib

from click.testing import CliRunner

from xephang import engine
from xephang.cli import cli
from xephang.engine import accounts, declared
from xephang.engine.setup import parse_zone
from xephang.storage import connect

COMMUNE = """
[office]
name = "UBND xã Gia Viễn"
address = "Thôn Đông, xã Gia Viễn, tỉnh Ninh Bình"
ticket_footer = "Cảm ơn quý khách!"
hours = {mon = [["07:30", "11:30"], ["13:30", "17:00"]], tue = [["07:30", "11:30"]]}

[settings]
priority_streak_max = 3
voice_enabled = false

[[services]]
prefix = "A"
name_vi = "Hộ tịch"
name_en = "Civil status"
field = "Tư pháp - Hộ tịch"

[[services]]
prefix = "B"
name_vi = "Đất đai"
name_en = "Land"
daily_cap = 40

[[counters]]
number = 1
name = "Quầy 1"
services = ["A", "B"]

[[counters]]
number = 2
services = ["B"]

[[priority]]
key = "elderly"
name_vi = "Người cao tuổi"
name_en = "Elderly"
rank = 0

[[targets]]
metric = "avg_wait_s"
value = 600
from = "2026-01-01"
service = "B"

[[devices]]
kind = "kiosk"
name = "Kiosk sảnh"

[[devices]]
kind = "display"
name = "TV phòng chờ"

[[users]]
username = "giavien.canbo1"
display_name = "Nguyễn Thị Lan"
role = "officer"

[[users]]
username = "giavien.quanly"
role = "manager"
"""


def apply(db_path, text, *options):
    path = db_path.parent / "office.toml"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(
        cli, ["setup", "apply", "--db", str(db_path), str(path), *options], catch_exceptions=False
    )


def audit_rows(db_path) -> int:
    db = connect(db_path)
    try:
        return db.execute("SELECT count(*) FROM setup_audit").fetchone()[0]
    finally:
        db.close()


def test_a_declared_office_is_created_then_applying_again_changes_nothing(tmp_path):
    db_path = tmp_path / "x.db"
    first = apply(db_path, COMMUNE)
    assert first.exit_code == 0, first.output
    assert "service A: created" in first.output and "counter 2: created" in first.output
    assert "token xd_" in first.output and "one-time password" in first.output
    db = connect(db_path)
    office = db.execute("SELECT id FROM offices WHERE name = 'UBND xã Gia Viễn'").fetchone()[0]
    spec = declared.export_office(db, office)
    db.close()
    assert [c["services"] for c in spec["counters"]] == [["A", "B"], ["B"]]
    assert spec["settings"] == {"priority_streak_max": 3, "voice_enabled": False}
    assert spec["office"]["hours"]["mon"] == [["07:30", "11:30"], ["13:30", "17:00"]]
    assert {"metric": "avg_wait_s", "value": 600.0, "from": "2026-01-01", "service": "B"} in (
        spec["targets"]
    )
    assert [u["username"] for u in spec["users"]] == ["giavien.canbo1", "giavien.quanly"]
    before = audit_rows(db_path)
    again = apply(db_path, COMMUNE)
    assert again.exit_code == 0 and f"office {office}: 0 " in again.output, again.output
    assert "token" not in again.output
    assert audit_rows(db_path) == before  # nothing written, not even an audit entry


def test_a_change_in_the_file_changes_just_that(tmp_path):
    db_path = tmp_path / "x.db"
    assert apply(db_path, COMMUNE).exit_code == 0
    changed = (
        COMMUNE.replace('name_vi = "Đất đai"', 'name_vi = "Đất đai - Nhà ở"')
        .replace('services = ["B"]', 'services = ["B", "A"]')
        .replace("value = 600", "value = 900")
    )
    result = apply(db_path, changed)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()[1:]]
    assert lines == [
        "service B: updated",
        "counter 2: updated",
        "target avg_wait_s B from 2026-01-01: 900",
    ]


def test_prune_deactivates_what_the_file_leaves_out(tmp_path):
    db_path = tmp_path / "x.db"
    assert apply(db_path, COMMUNE).exit_code == 0
    db = connect(db_path)
    spec = declared.export_office(db, 1)
    db.close()
    spec["counters"] = spec["counters"][:1]
    spec["priority"], spec["devices"], spec["users"] = [], spec["devices"][1:], []
    spec["targets"] = [t for t in spec["targets"] if "service" not in t]
    smaller = declared.to_toml(spec)
    kept = apply(db_path, smaller)
    assert kept.exit_code == 0 and "office 1: 0 " in kept.output  # left alone
    pruned = apply(db_path, smaller, "--prune")
    assert pruned.exit_code == 0, pruned.output
    lines = {line.strip() for line in pruned.output.splitlines()[1:]}
    assert lines == {
        "counter 2: deactivated",
        "priority elderly: deactivated",
        "device kiosk 'Kiosk sảnh': revoked",
        "user giavien.canbo1: deactivated",
        "user giavien.quanly: deactivated",
        "target avg_wait_s B from 2026-01-01: removed",
    }
    assert apply(db_path, smaller, "--prune").output.startswith("office 1: 0 ")


def test_a_bad_file_changes_nothing(tmp_path):
    db_path = tmp_path / "x.db"
    bad = COMMUNE.replace('services = ["B"]', 'services = ["Z"]')
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["setup", "apply", "--db", str(db_path), str(tmp_path / "bad.toml")]
    )
    assert result.exit_code == 1 and "Z" in result.output
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM offices").fetchone()[0] == 0  # not even the office
    db.close()


def test_a_dry_run_says_what_would_change_and_changes_nothing(tmp_path):
    db_path = tmp_path / "x.db"
    result = apply(db_path, COMMUNE, "--dry-run")
    assert result.exit_code == 0 and "would change" in result.output
    assert "service A: created" in result.output and "token" not in result.output
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM offices").fetchone()[0] == 0
    db.close()


def test_export_then_apply_elsewhere_gives_the_same_office(tmp_path, demo_file):
    """The whole office: with its holidays, a lĩnh vực's English name, a display's zone
    and the rating tablet's counter too."""
    path, info = demo_file
    db = connect(path)
    office = info["office_id"]
    row = engine.get_office(db, office)
    engine.update_office(
        db,
        office,
        row["name"],
        row["address"],
        row["timezone"],
        row["hours"],
        row["ticket_footer"],
        holidays=[{"day": "2026-09-02", "name": "Quốc khánh"}],
    )
    db.execute("UPDATE services SET field_en = 'Civil status' WHERE office_id = ?", [office])
    display = db.execute("SELECT id FROM devices WHERE kind = 'display'").fetchone()[0]
    zone = parse_zone(db, office, "A, B", "1-2")
    accounts.set_device_zone(db, display, zone)
    db.close()
    exported = tmp_path / "demo.toml"
    result = CliRunner().invoke(
        cli,
        [
            "setup",
            "export",
            "--db",
            str(path),
            "--office",
            str(info["office_id"]),
            "--output",
            str(exported),
        ],
    )
    assert result.exit_code == 0, result.output
    assert apply(path, exported.read_text()).output.startswith(f"office {info['office_id']}: 0 ")
    other = tmp_path / "other.db"
    assert apply(other, exported.read_text()).exit_code == 0
    db = connect(other)
    again = declared.export_office(db, 1)
    db.close()
    original = tomllib.loads(exported.read_text())
    assert again == original
    assert original["office"]["holidays"] == [{"day": "2026-09-02", "name": "Quốc khánh"}]
    kinds = {d["kind"]: d for d in original["devices"]}
    assert kinds["display"]["zone"] == {"services": ["A", "B"], "counters": [1, 2]}
    assert kinds["rating"]["counter"] == 1
