"""Exports open and carry the report's figures; the CLI report and purge commands."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from click.testing import CliRunner

from tests.helpers import FIRST, LAST, NOW
from xephang import engine, reports
from xephang.cli import cli
from xephang.reports import exports, purge
from xephang.reports.estimates import estimate_report
from xephang.reports.log import log_rows
from xephang.storage import write


def _sheet_rows(data: bytes, sheet: str) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return list(wb[sheet].iter_rows(values_only=True))


@pytest.mark.parametrize("group", ["service", "day", "officer"])
def test_report_xlsx_carries_the_report_figures(month, group):
    db, info, _ = month
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, group, now=NOW)
    rows = _sheet_rows(exports.report_xlsx(report), "Báo cáo")
    header = rows[0]
    assert header[0] == "Nhóm" and "Chờ TB (phút)" in header
    col = {title: i for i, title in enumerate(header)}
    body = rows[1:]
    assert len(body) == len(report["rows"]) + 1
    for line, row in zip(body, [*report["rows"], report["total"]], strict=True):
        if group == "day" and row["key"]:  # a day is a real date cell (dd/mm/yyyy)
            assert line[0] == datetime.fromisoformat(row["key"])
        else:
            assert line[0] == row["group"]
        assert line[col[report["issued_vi"]]] == row["issued"]  # "Số vé xử lý" by officer
        assert line[col["Vắng mặt"]] == row["no_show"]
        if row["avg_wait_s"] is not None:
            assert line[col["Chờ TB (phút)"]] == pytest.approx(row["avg_wait_s"] / 60, abs=0.01)
        assert line[col["Tỷ lệ lượt đạt"]] == row["within_target_share"]
        assert (
            line[col["Đạt chỉ tiêu chờ"]]
            == {True: "Đạt", False: "Không đạt", None: None}[row["wait_pass"]]
        )
    summary = dict(
        (r[0], r[1]) for r in _sheet_rows(exports.report_xlsx(report), "Tóm tắt") if r and r[0]
    )
    assert summary["Số vé cấp"] == report["total"]["issued"]


def test_report_csv_carries_the_json_figures(month):
    db, info, _ = month
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, "service", now=NOW)
    text = exports.report_csv(report)
    assert text.startswith("\ufeff")
    lines = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(lines) == len(report["rows"]) + 1
    for line, row in zip(lines, [*report["rows"], report["total"]], strict=True):
        assert line["group"] == row["group"]
        assert int(line["issued"]) == row["issued"]
        assert float(line["avg_wait_s"]) == row["avg_wait_s"]
        assert float(line["satisfied_share"]) == row["satisfied_share"]


SEEN_UTC = datetime(2026, 6, 1, 21, 22, tzinfo=UTC)  # 04:22 on 2 June in Hà Nội


def test_xlsx_files_say_when_they_were_made_on_the_office_clock(month):
    db, info, _ = month
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, "service", now=NOW)
    summary = _sheet_rows(exports.report_xlsx(report, now=SEEN_UTC), "Tóm tắt")
    assert summary[3][0] == "Lập lúc 02/06/2026 04:22"  # not 21:22 (UTC), not the server's
    dmy = "/".join(reversed(FIRST.split("-")))
    assert summary[2][0].startswith(f"Từ {dmy} đến ")  # dd/mm/yyyy periods
    office = engine.get_office(db, info["office_id"])
    rows = log_rows(db, info["office_id"], FIRST, FIRST)
    log_summary = _sheet_rows(exports.log_xlsx(rows, office, FIRST, FIRST, now=SEEN_UTC), "Tóm tắt")
    assert log_summary[3][0] == "Lập lúc 02/06/2026 04:22"
    estimates = _sheet_rows(
        exports.estimate_xlsx(estimate_report(db, info["office_id"], FIRST, FIRST), SEEN_UTC),
        "Tóm tắt",
    )
    assert estimates[3][0] == "Lập lúc 02/06/2026 04:22"


def test_the_vietnamese_csv_is_for_excel_and_the_plain_one_for_scripts(month):
    db, info, _ = month
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, "service", now=NOW)
    text = exports.report_csv_vi(report)
    assert text.startswith("\ufeffDịch vụ;Số vé cấp;Đã phục vụ;")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    header, total = lines[0], lines[-1]
    avg, share = header.index("Chờ TB (phút)"), header.index("Tỷ lệ lượt đạt (%)")
    assert total[0] == "Tổng cộng" and total[1] == str(report["total"]["issued"])
    minutes = report["total"]["avg_wait_s"] / 60
    assert total[avg] == f"{minutes:.1f}".replace(".", ",")
    assert total[share] == f"{report['total']['within_target_share'] * 100:.1f}".replace(".", ",")
    assert total[header.index("Đạt chỉ tiêu chờ")] in ("Đạt", "Không đạt")
    by_day = reports.wait_report(db, info["office_id"], FIRST, LAST, "day", now=NOW)
    days = list(
        csv.reader(io.StringIO(exports.report_csv_vi(by_day).lstrip("\ufeff")), delimiter=";")
    )
    first_day = by_day["rows"][0]["key"]
    assert days[0][0] == "Ngày" and days[1][0] == "/".join(reversed(first_day.split("-")))
    # The plain CSV is as it was: machine names, seconds, ISO days.
    plain = list(csv.reader(io.StringIO(exports.report_csv(by_day).lstrip("\ufeff"))))
    assert plain[0][:3] == ["group", "issued", "served"] and plain[1][0] == first_day
    # The log: Vietnamese statuses and priority names, office times dd/mm/yyyy HH:MM.
    rows = log_rows(db, info["office_id"], FIRST, LAST)
    log = list(
        csv.DictReader(io.StringIO(exports.log_csv_vi(rows).lstrip("\ufeff")), delimiter=";")
    )
    first = rows[0]
    assert log[0]["Trạng thái"] == first["status_vi"]
    assert log[0]["Ngày"] == "/".join(reversed(first["day"].split("-")))
    assert log[0]["Lấy số lúc"] == first["issued_at"].strftime("%d/%m/%Y %H:%M")
    prio = next(i for i, r in enumerate(rows) if r["priority"])
    assert log[prio]["Ưu tiên"] == rows[prio]["priority_vi"] != rows[prio]["priority"]
    machine = list(csv.DictReader(io.StringIO(exports.log_csv(rows).lstrip("\ufeff"))))
    assert machine[prio]["priority"] == rows[prio]["priority"]  # the key, for scripts
    assert machine[0]["status"] == first["status"]


def test_log_exports_have_every_ticket(month):
    db, info, _ = month
    rows = log_rows(db, info["office_id"], FIRST, LAST)
    assert len(rows) == db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    sheet = _sheet_rows(
        exports.log_xlsx(rows, {"name": "VP", "timezone": "Asia/Ho_Chi_Minh"}, FIRST, LAST),
        "Nhật ký",
    )
    assert len(sheet) == len(rows) + 1
    first = dict(zip(sheet[0], sheet[1], strict=True))
    assert first["Số"] == rows[0]["code"]
    assert isinstance(first["Lấy số lúc"], datetime)
    lines = list(csv.DictReader(io.StringIO(exports.log_csv(rows).lstrip("\ufeff"))))
    assert [ln["code"] for ln in lines] == [r["code"] for r in rows]
    over = [r for r in rows if r["over_target"]]
    assert all(r["visit_wait_s"] > r["target_wait_s"] for r in over)


def test_cli_report_json_csv_xlsx(month, tmp_path):
    db, info, path = month
    runner = CliRunner()
    base = [
        "report",
        "--db",
        path,
        "--office",
        str(info["office_id"]),
        "--from",
        FIRST,
        "--to",
        LAST,
        "--group",
        "service",
    ]
    result = runner.invoke(cli, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    expected = reports.wait_report(db, info["office_id"], FIRST, LAST, "service")["rows"]
    assert [r["avg_wait_s"] for r in rows] == [r["avg_wait_s"] for r in expected]
    for key in (
        "group",
        "issued",
        "served",
        "no_show",
        "visits",
        "avg_wait_s",
        "median_wait_s",
        "p90_wait_s",
        "max_wait_s",
        "within_target_share",
        "avg_service_s",
        "ratings",
        "satisfied_share",
        "target_wait_s",
    ):
        assert key in rows[0]
    result = runner.invoke(cli, [*base, "--format", "csv"])
    assert result.exit_code == 0 and "avg_wait_s" in result.stdout
    out = tmp_path / "r.xlsx"
    result = runner.invoke(cli, [*base, "--format", "xlsx", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert _sheet_rows(out.read_bytes(), "Báo cáo")[1][0] == rows[0]["group"]
    bad = runner.invoke(
        cli, ["report", "--db", path, "--office", "1", "--from", LAST, "--to", FIRST]
    )
    assert bad.exit_code != 0 and "Ngày kết thúc" in bad.output


def test_purge_removes_old_logs_keeps_chain_and_statistics(month):
    db, info, _ = month
    office = info["office_id"]
    ticket = db.execute(
        "SELECT id FROM tickets WHERE status = 'done' AND day = '2023-01-12'"
        " AND id NOT IN (SELECT ticket_id FROM ratings) LIMIT 1"
    ).fetchone()[0]
    engine.rate_ticket(
        db, ticket, 2, comment="Cán bộ nhiệt tình", now=datetime(2023, 1, 12, 9, tzinfo=UTC)
    )
    before = reports.wait_report(db, office, FIRST, "2022-12-31", "office", now=NOW)["total"]
    engine.set_office_settings(db, office, {"retention_days": 30, "comment_retention_days": 10})
    later = NOW + timedelta(days=10)  # 30 days kept (the shortest allowed): cutoff 12 January
    dry = purge(db, office, now=later, dry_run=True)
    assert dry["tickets"] > 0 and dry["comments_blanked"] == 1
    done = purge(db, office, now=later)
    assert done["before_day"] == "2023-01-12"
    assert db.execute("SELECT count(*) FROM tickets WHERE day < '2023-01-12'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM tickets WHERE day >= '2023-01-12'").fetchone()[0]
    assert (
        db.execute("SELECT comment FROM ratings WHERE ticket_id = ?", [ticket]).fetchone()[0] == ""
    )
    assert engine.verify_log(db, office) == []
    after = reports.wait_report(db, office, FIRST, "2022-12-31", "office", now=NOW)["total"]
    assert after == before  # statistics outlive the logs
    engine.set_target(db, office, "avg_wait_s", 300, "2022-01-01")  # frozen days not rebuilt
    assert (
        reports.wait_report(db, office, FIRST, "2022-12-31", "office", now=NOW)["total"]["issued"]
        == before["issued"]
    )
    # The chain still detects tampering after a purge.
    db.execute(
        "UPDATE ticket_events SET at = '2023-01-12T00:00:00.000+00:00' WHERE seq ="
        " (SELECT min(seq) FROM ticket_events)"
    )
    assert engine.verify_log(db, office)


def test_cli_purge_dry_run_and_run(month):
    db, info, path = month
    runner = CliRunner()
    dry = runner.invoke(cli, ["purge", "--db", path, "--dry-run"])
    assert dry.exit_code == 0 and "sẽ xóa / would remove 0 vé" in dry.output  # 5 years kept
    with write(db):
        engine.set_office_settings(
            db, info["office_id"], {"retention_days": 30, "comment_retention_days": 30}
        )
    done = runner.invoke(cli, ["purge", "--db", path, "--office", str(info["office_id"])])
    assert done.exit_code == 0, done.output
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0  # all of 2022-23
    assert runner.invoke(cli, ["verify-log", "--db", path]).exit_code == 0
