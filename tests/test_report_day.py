"""One office day built by hand, with each kind of visit, against figures worked out on paper.

Target 10 minutes; the office is open 07:30–11:30 and 13:00–17:00 on Mondays.
All times local (UTC+7) on Monday 2026-06-01:

===  =========  =================================================  ==========  =========
#    ticket(s)  what happens                                       visit wait  judged
===  =========  =================================================  ==========  =========
1    A001       issued 08:00, called 08:05, served 08:06–08:16     5 min       hit
2    A002+B001  issued 08:01, called 08:05, transferred 08:20;     4 + 10 min  miss
                B001 called 08:30, served 08:31–08:41
3    A003       issued 08:02, called 08:22, served 08:23–08:28     20 min      miss
4    A004       issued 09:00, cancelled while waiting 09:03        3 min       not judged
5    A005       issued 09:05, cancelled while waiting 09:30        25 min      miss
6    A006       issued 10:00, called 10:02, no-show 10:04          2 min       hit
7    A007       issued 10:01, called 10:07, recalled 10:09,        6 min       hit
                served 10:10–10:20 (the recall does not reset it)
8    A008       issued 16:00, still waiting at 16:40; expired by   60 min      miss
                the close of day at 18:00: it left at 17:00
9    A009       issued 16:30, the same                             30 min      miss
===  =========  =================================================  ==========  =========
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from tests.helpers import make_office
from xephang import engine, reports
from xephang.cli import cli
from xephang.reports import live
from xephang.reports.log import wait_log
from xephang.storage import write

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = "2026-06-01"
HOURS = {"mon": [["07:30", "11:30"], ["13:00", "17:00"]]}


def at(clock: str) -> datetime:
    hour, minute = (int(p) for p in clock.split(":"))
    return datetime(2026, 6, 1, hour, minute, tzinfo=TZ)


@pytest.fixture
def day(db):
    o = make_office(db, services="AB", counters={1: "A", 2: "B", 3: "A"}, hours=HOURS)
    with write(db):
        db.execute("DELETE FROM targets WHERE office_id = ?", [o.office])
    engine.set_target(db, o.office, "avg_wait_s", 600, "2026-01-01")
    engine.set_target(db, o.office, "satisfied_share", 0.95, "2026-01-01")
    c1, c2, c3 = o.counters[1], o.counters[2], o.counters[3]

    def issue(clock):
        return engine.issue_ticket(db, o.office, "A", now=at(clock), check_hours=False).ticket

    def call(counter, clock):
        return engine.call_next(db, counter, now=at(clock)).ticket

    t = {n: issue(clock) for n, clock in ((1, "08:00"), (2, "08:01"), (3, "08:02"))}
    assert call(c1, "08:05")["id"] == t[1]["id"]
    assert call(c3, "08:05")["id"] == t[2]["id"]
    engine.start(db, t[1]["id"], now=at("08:06"))
    engine.start(db, t[2]["id"], now=at("08:06"))
    engine.finish(db, t[1]["id"], now=at("08:16"))
    engine.rate_ticket(db, t[1]["id"], 3, now=at("08:17"))
    b001 = engine.transfer(db, t[2]["id"], service="B", now=at("08:20")).ticket
    assert call(c1, "08:22")["id"] == t[3]["id"]
    engine.start(db, t[3]["id"], now=at("08:23"))
    engine.finish(db, t[3]["id"], now=at("08:28"))
    assert call(c2, "08:30")["id"] == b001["id"]
    engine.start(db, b001["id"], now=at("08:31"))
    engine.finish(db, b001["id"], now=at("08:41"))
    t[4] = issue("09:00")
    engine.cancel(db, t[4]["id"], now=at("09:03"))
    t[5] = issue("09:05")
    engine.cancel(db, t[5]["id"], now=at("09:30"))
    t[6], t[7] = issue("10:00"), issue("10:01")
    assert call(c1, "10:02")["id"] == t[6]["id"]
    engine.no_show(db, t[6]["id"], now=at("10:04"))
    assert call(c3, "10:07")["id"] == t[7]["id"]
    engine.recall(db, t[7]["id"], now=at("10:09"))
    engine.start(db, t[7]["id"], now=at("10:10"))
    engine.finish(db, t[7]["id"], now=at("10:20"))
    engine.rate_ticket(db, t[7]["id"], 1, now=at("10:21"))
    t[8], t[9] = issue("16:00"), issue("16:30")
    return o


def minutes(*values) -> list[float]:
    return [v * 60.0 for v in values]


BEFORE_CLOSE = {  # at 16:40: visits 8 and 9 are still waiting and count in no wait figure
    "issued": 10,
    "served": 4,
    "no_show": 1,
    "cancelled": 2,
    "expired": 0,
    "transferred": 1,
    "in_progress": 2,
    "visits": 9,
    "visits_waited": 7,
    "left_unserved": 2,
    "avg_wait_s": round(sum(minutes(5, 14, 20, 3, 25, 2, 6)) / 7, 1),  # 642.9
    "median_wait_s": 360.0,
    "p90_wait_s": 1500.0,
    "max_wait_s": 1500.0,
    "within_target": 3,
    "visits_judged": 6,  # visit 4 left before its target passed
    "within_target_share": 0.5,
    "avg_service_s": 525.0,  # 10, 5, 10 and 10 minutes
    "ratings": 2,
    "satisfied": 1,
    "satisfied_share": 0.5,
    "target_wait_s": 600.0,
    "wait_pass": False,
}
AFTER_CLOSE = BEFORE_CLOSE | {
    "expired": 2,
    "in_progress": 0,
    "visits_waited": 9,
    "left_unserved": 4,
    "avg_wait_s": 1100.0,  # (75 + 60 + 30) minutes over 9 visits
    "median_wait_s": 840.0,
    "p90_wait_s": 3600.0,
    "max_wait_s": 3600.0,
    "visits_judged": 8,
    "within_target_share": 0.375,
}


def assert_figures(row: dict, expected: dict) -> None:
    assert {k: row[k] for k in expected} == expected


def test_every_kind_of_visit_counts_the_same_everywhere_today(db, day):
    now = at("16:40")
    total = reports.wait_report(db, day.office, DAY, DAY, "office", now=now)["total"]
    assert_figures(total, BEFORE_CLOSE)
    assert_figures(live.dashboard(db, day.office, now=now)["today"], BEFORE_CLOSE)
    board = live.today_wait(db, day.office, now=now)
    assert board == {"day": DAY, "visits": 7, "avg_s": 642.9, "target_s": 600}


def test_after_the_close_of_day_expired_tickets_waited_until_closing_time(db, day):
    engine.close_day(db, day.office, now=at("18:00"))
    now = at("18:05")
    today = reports.wait_report(db, day.office, DAY, DAY, "office", now=now)["total"]
    assert_figures(today, AFTER_CLOSE)
    assert_figures(live.dashboard(db, day.office, now=now)["today"], AFTER_CLOSE)
    assert live.today_wait(db, day.office, now=now)["avg_s"] == 1100.0
    # The next day the figures come from the stored tally of the closed day.
    stored = reports.wait_report(db, day.office, DAY, DAY, "office", now=at("18:05") + timedelta(1))
    assert db.execute("SELECT count(*) FROM report_days").fetchone()[0] == 1
    assert_figures(stored["total"], AFTER_CLOSE)


def test_groups_take_left_visits_under_no_counter(db, day):
    engine.close_day(db, day.office, now=at("18:00"))
    rows = {
        r["group"]: r
        for r in reports.wait_report(db, day.office, DAY, DAY, "counter", now=at("18:05"))["rows"]
    }
    uncalled = rows["(chưa gọi tại quầy nào)"]  # visits 4, 5, 8, 9
    assert (uncalled["visits"], uncalled["left_unserved"], uncalled["visits_judged"]) == (4, 4, 3)
    assert uncalled["avg_wait_s"] == (3 + 25 + 60 + 30) * 60 / 4
    assert uncalled["within_target_share"] == 0.0
    first = rows["Quầy 1"]  # visits 1, 3 and 6
    assert (first["visits"], first["within_target"], first["visits_judged"]) == (3, 2, 3)
    assert rows["Quầy 2"]["visits"] == 0 and rows["Quầy 2"]["issued"] == 1  # B001 only


def test_the_wait_log_finds_the_visits_that_left_over_target(db, day):
    engine.close_day(db, day.office, now=at("18:00"))
    over = wait_log(db, day.office, DAY, DAY, over_target=True)["rows"]
    assert sorted(r["code"] for r in over) == ["A002", "A003", "A005", "A008", "A009", "B001"]
    rows = {r["code"]: r for r in wait_log(db, day.office, DAY, DAY)["rows"]}
    assert rows["A008"]["wait_s"] == 3600.0 and rows["A008"]["left_unserved"] is True
    assert rows["A004"]["wait_s"] == 180.0 and rows["A004"]["over_target"] is False
    assert rows["B001"]["visit_wait_s"] == 840.0 and rows["A001"]["left_unserved"] is False


def test_an_open_visit_has_no_visit_wait_in_the_log(db, day):
    rows = {r["code"]: r for r in wait_log(db, day.office, DAY, DAY)["rows"]}
    assert rows["A009"]["wait_s"] is None and rows["A009"]["visit_wait_s"] is None


def test_the_command_line_report_gives_the_same_figures(db, day, app):
    engine.close_day(db, day.office, now=at("18:00"))
    runner = CliRunner()
    args = ["report", "--db", app.config["DB"], "--office", str(day.office)]
    result = runner.invoke(
        cli, [*args, "--from", DAY, "--to", DAY, "--group", "office", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert_figures(json.loads(result.stdout)["total"], AFTER_CLOSE)


def test_days_stored_under_an_older_definition_are_rebuilt(db, day):
    engine.close_day(db, day.office, now=at("18:00"))
    later = at("18:05") + timedelta(1)
    reports.wait_report(db, day.office, DAY, DAY, "office", now=later)
    with write(db):  # as an earlier version stored it: uncalled visits left out
        db.execute("UPDATE report_days SET fingerprint = 'L1|None:600.0:0.95'")
        db.execute('UPDATE report_rollup SET counts = \'{"visits": 9, "issued": 10}\'')
    total = reports.wait_report(db, day.office, DAY, DAY, "office", now=later)["total"]
    assert_figures(total, AFTER_CLOSE)


def test_changing_the_hours_later_does_not_change_a_past_day(db, day):
    engine.close_day(db, day.office, now=at("18:00"))
    office = engine.get_office(db, day.office)
    engine.update_office(db, day.office, office["name"], hours=None)  # now open all day
    total = reports.wait_report(db, day.office, DAY, DAY, "office", now=at("18:05"))["total"]
    assert_figures(total, AFTER_CLOSE)  # A008 still left at 17:00, not at 18:00


def test_an_older_database_gets_the_leaving_times_from_the_rule(db, day):
    """Upgrading: migration 0008 fills ``left_at`` for tickets that left before it existed."""
    from xephang.storage.migrations import migrate

    engine.close_day(db, day.office, now=at("18:00"))
    with write(db):  # the database as the previous release left it
        db.execute("ALTER TABLE tickets DROP COLUMN left_at")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0008_left_at'")
    migrate(db)
    left = dict(db.execute("SELECT code, left_at FROM tickets WHERE left_at IS NOT NULL"))
    assert sorted(left) == ["A004", "A005", "A008", "A009"]
    total = reports.wait_report(db, day.office, DAY, DAY, "office", now=at("18:05"))["total"]
    assert_figures(total, AFTER_CLOSE)


def test_undone_moves_count_as_if_they_never_happened(db, day):
    """A transfer undone withdraws its new ticket from every figure (the visit went back to
    its earlier ticket, and its wait is not left open); a no-show returned and called
    again keeps its first call's wait."""
    now = at("16:40")
    before = reports.wait_report(db, day.office, DAY, DAY, "office", now=now)["total"]
    c1 = day.counters[1]
    a010 = engine.issue_ticket(db, day.office, "A", now=at("11:00"), check_hours=False).ticket
    assert engine.call_next(db, c1, now=at("11:01")).ticket["id"] == a010["id"]
    moved = engine.transfer(db, a010["id"], service="B", now=at("11:05")).ticket
    engine.undo(db, a010["id"], now=at("11:05") + timedelta(seconds=20))
    engine.start(db, a010["id"], now=at("11:06"))
    engine.finish(db, a010["id"], now=at("11:10"))
    after = reports.wait_report(db, day.office, DAY, DAY, "office", now=now)["total"]
    grew = {k: after[k] - before[k] for k in ("issued", "served", "cancelled", "transferred")}
    assert grew == {"issued": 1, "served": 1, "cancelled": 0, "transferred": 0}
    assert (after["visits"], after["visits_waited"]) == (before["visits"] + 1, 8)
    assert after["within_target"] == before["within_target"] + 1  # waited 1 minute
    rows = {r["id"]: r for r in wait_log(db, day.office, DAY, DAY)["rows"]}
    assert moved["id"] not in rows and rows[a010["id"]]["visit_wait_s"] == 60.0
    # the no-show of 10:04 comes back at its place and is called again: still 2 minutes
    a006 = next(r for r in rows.values() if r["code"] == "A006")
    engine.return_to_queue(db, a006["id"], reason="quay lại", now=at("10:30"))
    engine.call_ticket(db, c1, a006["id"], "gọi lại", now=at("11:20"))
    rows = {r["code"]: r for r in wait_log(db, day.office, DAY, DAY)["rows"]}
    assert rows["A006"]["wait_s"] == 120.0 and rows["A006"]["status"] == "called"
    again = reports.wait_report(db, day.office, DAY, DAY, "office", now=now)["total"]
    assert (again["avg_wait_s"], again["no_show"]) == (after["avg_wait_s"], after["no_show"] - 1)


def test_a_new_definitions_version_rebuilds_the_stored_days(db, day, monkeypatch):
    """The targets' fingerprint is computed once per target era (cached); the definitions'
    version is put in front of it, so a new version still rebuilds every stored day."""
    from xephang.reports import rollup

    engine.close_day(db, day.office, now=at("18:00"))
    later = at("18:05") + timedelta(1)
    reports.wait_report(db, day.office, DAY, DAY, "office", now=later)
    (stored,) = db.execute("SELECT fingerprint FROM report_days").fetchone()
    assert stored.startswith(f"v{rollup.ROLLUP_VERSION}|")
    monkeypatch.setattr(rollup, "ROLLUP_VERSION", rollup.ROLLUP_VERSION + 1)
    total = reports.wait_report(db, day.office, DAY, DAY, "office", now=later)["total"]
    assert_figures(total, AFTER_CLOSE)
    (rebuilt,) = db.execute("SELECT fingerprint FROM report_days").fetchone()
    assert rebuilt == f"v{rollup.ROLLUP_VERSION}|" + stored.split("|", 1)[1]
