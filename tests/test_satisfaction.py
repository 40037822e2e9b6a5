"""The QĐ 766 satisfaction report per dossier, its one-row-per-dossier export, and the
ratings/comments page: figures checked against a count written independently here, files
re-read, retention removing comments everywhere they were shown."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from tests.helpers import MONDAY_9AM, login
from xephang import engine, reports
from xephang.reports import satisfaction

T0 = datetime.fromisoformat(MONDAY_9AM)  # Monday 2026-03-02 09:00 office time
DAY1, DAY2 = "2026-03-02", "2026-03-03"
DOC = Path(__file__).resolve().parent.parent / "docs" / "reports.md"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Office:
    """The demo office with tickets served through the engine on an injected clock."""

    def __init__(self, db, demo):
        self.db, self.id = db, demo["office_id"]
        self.counters = {
            r[1]: r[0]
            for r in db.execute("SELECT id, number FROM counters WHERE office_id = ?", [self.id])
        }
        self.users = {r[1]: r[0] for r in db.execute("SELECT id, username FROM users")}
        self.clock = 0.0

    def tick(self, minutes=1.0) -> datetime:
        self.clock += minutes
        return at(self.clock)

    def serve(self, prefix, counter, officer, dossier=None, rating=None, comment="", then=None):
        """Issue, call, start, finish (with a dossier code), rate; ``then`` transfers the
        visit to another service and counter before it is finished there."""
        db, uid = self.db, self.users[officer]
        ticket = engine.issue_ticket(db, self.id, prefix, now=self.tick(), check_hours=False)
        tid = ticket.ticket["id"]
        engine.call_ticket(db, self.counters[counter], tid, "t", user_id=uid, now=self.tick())
        engine.start(db, tid, user_id=uid, now=self.tick())
        if then is not None:
            if dossier:
                engine.set_dossier_code(db, tid, dossier, user_id=uid, now=self.tick())
            prefix2, counter2, officer2 = then
            moved = engine.transfer(db, tid, service=prefix2, user_id=uid, now=self.tick())
            tid, uid = moved.ticket["id"], self.users[officer2]
            engine.call_ticket(db, self.counters[counter2], tid, "t", user_id=uid, now=self.tick())
            engine.start(db, tid, user_id=uid, now=self.tick())
            dossier = None
        engine.finish(db, tid, user_id=uid, dossier_code=dossier, now=self.tick())
        if rating is not None:
            engine.rate_ticket(db, tid, rating, comment, now=self.tick())
        return tid


@pytest.fixture
def office(db, demo):
    """Day 1 and day 2 of the demo office, each kind of dossier once (see the test)."""
    o = Office(db, demo)
    o.serve("A", 1, "canbo1", "HS-01", rating=3, comment="Cán bộ nhiệt tình")  # D1: X, rated 3
    o.serve("A", 1, "canbo1", "HS-02", rating=1, comment="Chờ lâu")  # D2: X, lowest
    o.serve("C", 3, "canbo3", "HS-03")  # D3: Y, not rated
    o.serve("A", 1, "canbo1", "HS-04", rating=3)  # D4 received by X, happy...
    o.serve("A", 1, "canbo1", "hs-06 ")  # D6: one dossier, typed twice in two cases
    o.serve("A", 1, "canbo1", "HS-06", rating=2)
    o.serve("A", 1, "canbo1", "HS-05", then=("C", 3, "canbo3"), rating=1)  # D5: code, transfer
    o.serve("B", 1, "canbo1", None, rating=2, comment='=HYPERLINK("x")')  # a rating, no code
    o.clock = 24 * 60  # the next day
    o.serve("C", 3, "canbo3", "HS-04", rating=1)  # ...D4's result returned by Y: unhappy
    o.serve("C", 3, "canbo3", "=cmd|' /C calc'!A0")  # D7: a code that looks like a formula
    return o


# What the fixture built, counted by hand.
EXPECTED_TOTAL = {  # dossiers, rated, rated at the lowest level
    "dossiers": 7,
    "rated": 5,
    "rated_lowest": 3,  # HS-02, HS-04 (day 2), HS-05
}
EXPECTED_OFFICERS = {  # officer -> (dossiers, rated, rated_lowest)
    "Cán bộ quầy 1": (5, 5, 2),  # HS-01 3, HS-02 1, HS-04 3, HS-05 1 (its visit), HS-06 2
    "Cán bộ quầy 3": (3, 1, 1),  # HS-03 -, HS-04 1, =cmd -
}


def test_the_766_report_counts_per_dossier_against_a_hand_count(office):
    report = satisfaction.satisfaction_report(office.db, [office.id], DAY1, DAY2, "officer")
    total = report["total"]
    assert {k: total[k] for k in EXPECTED_TOTAL} == EXPECTED_TOTAL
    assert total["share_766"] == round((7 - 3) / 7, 4)
    assert total["not_rated"] == 2 and total["rated_share"] == round(5 / 7, 4)
    rows = {r["group"]: (r["dossiers"], r["rated"], r["rated_lowest"]) for r in report["rows"]}
    assert rows == EXPECTED_OFFICERS
    assert sum(v[0] for v in rows.values()) > total["dossiers"]  # HS-04 counts for both
    assert report["ratings_without_dossier"] == 1
    assert total["target_share"] == 0.95 and total["pass"] is False


def test_by_service_and_by_field(office):
    by_service = satisfaction.satisfaction_report(office.db, [office.id], DAY1, DAY2, "service")
    rows = {r["group"]: (r["dossiers"], r["rated"], r["rated_lowest"]) for r in by_service["rows"]}
    assert rows == {"A — Hộ tịch": (5, 5, 2), "C — Đất đai": (3, 1, 1)}
    by_field = satisfaction.satisfaction_report(office.db, [office.id], DAY1, DAY2, "field")
    fields = {r["group"]: r["dossiers"] for r in by_field["rows"]}
    assert fields == {"Tư pháp - Hộ tịch": 5, "Tài nguyên - Môi trường": 3}
    one_day = satisfaction.satisfaction_report(office.db, [office.id], DAY1, DAY1, "officer")
    assert one_day["total"]["dossiers"] == 6 and one_day["total"]["rated_lowest"] == 2


def test_one_row_per_dossier_for_the_provinces_system(office):
    rows = satisfaction.dossier_rows(office.db, [office.id], DAY1, DAY2)
    by_code = {r["dossier_code"]: r for r in rows}
    assert len(rows) == 7 and set(rows[0]) == set(satisfaction.DOSSIER_KEYS)
    d4 = by_code["HS-04"]
    assert (d4["tickets"], d4["ratings"], d4["level"], d4["rated_lowest"]) == (2, 2, 1, 1)
    assert d4["officer_username"] == "canbo3" and d4["first_day"] == DAY1
    assert d4["last_day"] == DAY2 and d4["level_vi"] == "Không hài lòng"
    assert d4["counts_766"] == 0 and d4["channel"] == "tracker"
    d1 = by_code["HS-01"]
    assert (d1["level"], d1["comment"], d1["officer"], d1["counter"]) == (
        3,
        "Cán bộ nhiệt tình",
        "Cán bộ quầy 1",
        1,
    )
    # The ticket that carries the code, like the report's groups (its visit was rated later,
    # at the counter it was transferred to).
    hs05 = by_code["HS-05"]
    assert (hs05["service"], hs05["officer_username"], hs05["level"]) == ("Hộ tịch", "canbo1", 1)
    assert by_code["HS-03"]["rated"] == 0 and by_code["HS-03"]["level"] is None
    assert sum(r["counts_766"] for r in rows) == 7 - 3
    assert "hs-06" in {c.lower() for c in by_code} and len([c for c in by_code if "06" in c]) == 1


def test_every_export_column_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for key in satisfaction.DOSSIER_KEYS:
        assert f"`{key}`" in text, key
    for key in satisfaction.RATING_KEYS:
        assert f"`{key}`" in text, key


def test_the_dossier_export_in_csv_xlsx_json(client, office):
    login(client, "quanly")
    base = f"/manager/satisfaction/dossiers.{{}}?period=custom&from={DAY1}&to={DAY2}"
    csv_text = client.get(base.format("csv")).get_data(as_text=True)
    table = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert tuple(table[0]) == satisfaction.DOSSIER_KEYS and len(table) == 8
    assert any(cell.startswith("'=cmd") for row in table for cell in row)  # stays text
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(base.format("xlsx")).data))
    sheet = list(workbook["Dữ liệu"].iter_rows(values_only=True))
    assert sheet[0][0] == "Mã hồ sơ" and len(sheet) == 8
    assert all(not str(c).startswith("=") for row in sheet for c in row if c is not None)
    data = client.get(base.format("json")).get_json()
    assert len(data["dossiers"]) == 7 and data["from"] == DAY1
    assert client.get(base.format("pdf")).status_code == 400


def test_the_satisfaction_page_and_json(client, office):
    login(client, "quanly")
    page = client.get(f"/manager/satisfaction?period=custom&from={DAY1}&to={DAY2}&group=service")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "57,1 %" in text and "A — Hộ tịch" in text
    assert "phản ánh" in text  # complaints and lateness: said to be outside a queue system
    assert "từ 02/03/2026 đến 03/03/2026</strong>" in text  # the period, day first
    data = client.get(f"/manager/satisfaction.json?period=custom&from={DAY1}&to={DAY2}").json
    assert data["total"]["dossiers"] == 7
    assert client.get("/manager/satisfaction?group=hour").status_code == 400


def test_the_ratings_page_lists_comments_with_filters(client, office):
    login(client, "quanly")
    q = f"from={DAY1}&to={DAY2}"
    text = client.get(f"/manager/ratings?{q}").get_data(as_text=True)
    assert "Cán bộ nhiệt tình" in text and "Chờ lâu" in text
    assert re.search(r'id="ratings-total">3 đánh giá', text)  # with a comment, by default
    everything = client.get(f"/manager/ratings?{q}&filtered=1").get_data(as_text=True)
    assert re.search(r'id="ratings-total">7 đánh giá', everything)
    lowest = client.get(f"/manager/ratings?{q}&filtered=1&level=1").get_data(as_text=True)
    assert re.search(r'id="ratings-total">3 đánh giá', lowest) and "Chờ lâu" in lowest
    officer = office.users["canbo3"]
    theirs = client.get(f"/manager/ratings?{q}&filtered=1&officer={officer}").get_data(True)
    assert re.search(r'id="ratings-total">2 đánh giá', theirs)
    service_b = office.db.execute("SELECT id FROM services WHERE prefix = 'B'").fetchone()[0]
    exported = client.get(f"/manager/ratings/export.json?{q}&filtered=1&service={service_b}")
    assert [r["comment"] for r in exported.json["ratings"]] == ['=HYPERLINK("x")']
    csv_text = client.get(f"/manager/ratings/export.csv?{q}").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_text and "Cán bộ nhiệt tình" in csv_text
    assert client.get(f"/manager/ratings?{q}&level=x&filtered=1").status_code == 400


def test_retention_removes_comments_from_the_page_and_exports(client, db, office):
    engine.set_office_settings(db, office.id, {"comment_retention_days": 1})
    result = reports.purge(db, office.id, now=at(3 * 24 * 60))
    assert result["comments_blanked"] == 3
    login(client, "quanly")
    q = f"from={DAY1}&to={DAY2}&filtered=1"
    text = client.get(f"/manager/ratings?{q}").get_data(as_text=True)
    assert "Cán bộ nhiệt tình" not in text and "Chờ lâu" not in text
    exported = client.get(f"/manager/ratings/export.json?{q}").json["ratings"]
    assert len(exported) == 7 and {r["comment"] for r in exported} == {""}
    dossiers = client.get(
        f"/manager/satisfaction/dossiers.json?period=custom&from={DAY1}&to={DAY2}"
    )
    assert {r["comment"] for r in dossiers.json["dossiers"]} == {""}
    assert {r["level"] for r in dossiers.json["dossiers"]} == {None, 1, 2, 3}  # levels stay


def test_satisfaction_pages_are_scoped_to_the_office(client, db, demo, tokens):
    other = engine.create_office(db, "Xã khác")
    login(client, "quanly")
    assert client.get(f"/manager/satisfaction?office={other}").status_code == 404
    assert client.get(f"/manager/ratings?office={other}").status_code == 404
    assert client.get(f"/manager/satisfaction/dossiers.csv?office={other}").status_code == 404
    officer = client.__class__(client.application)
    login(officer, "canbo1")
    assert officer.get("/manager/satisfaction.json").status_code == 403
    assert officer.get("/manager/ratings/export.csv").status_code == 403


def test_attribute_answers_are_shown_and_exported(client, db, office):
    tid = office.serve("A", 1, "canbo1", "HS-10")
    engine.rate_ticket(db, tid, 3, now=office.tick(), attributes={"on_time": False, "clear": True})
    login(client, "quanly")
    rows = client.get(f"/manager/ratings/export.json?from={DAY1}&to={DAY2}&filtered=1").json
    row = next(r for r in rows["ratings"] if r["code"] == engine.get_ticket(db, tid)["code"])
    assert row["attributes"] == "clear=1;on_time=0"
    assert row["attributes_vi"] == "Hướng dẫn rõ ràng; Trễ hẹn"
    dossier = next(
        r
        for r in satisfaction.dossier_rows(db, [office.id], DAY1, DAY2)
        if r["dossier_code"] == "HS-10"
    )
    assert dossier["attributes"] == "clear=1;on_time=0"
    assert json.loads(
        db.execute("SELECT attributes FROM ratings WHERE ticket_id = ?", [tid]).fetchone()[0]
    ) == {"clear": True, "on_time": False}
