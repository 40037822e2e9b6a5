"""The estimate error report: each ticket's kept estimate against the wait it had, per service
and day, with figures worked out by hand; the page, JSON, CSV and XLSX agree; office-scoped.

Monday 2026-06-01 (UTC+7), service A at counter 1, service B at counter 2, none open for C;
every ticket issued at 08:00, its estimate set by hand (the engine's own is tested in
tests/test_estimate.py):

====  =======  ============  ========  =========  =====================
#     ticket   estimate (s)  wait (s)  error (s)  note
====  =======  ============  ========  =========  =====================
1     A001     0             300       −300       called 08:05
2     A002     1200          600       +600       called 08:10
3     A003     600           900       −300       called 08:15
4     A004     300           —         —          cancelled uncalled: not judged
5     B001     120           120       0          called 08:02
6     C001     none          —         —          no open counter
====  =======  ============  ========  =========  =====================
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.helpers import login, make_office
from xephang import engine
from xephang.reports.estimates import estimate_report

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = "2026-06-01"


def at(clock: str) -> datetime:
    hour, minute = (int(p) for p in clock.split(":"))
    return datetime(2026, 6, 1, hour, minute, tzinfo=TZ)


def set_estimate(db, ticket_id, seconds):
    db.execute("UPDATE tickets SET estimated_wait_s = ? WHERE id = ?", [seconds, ticket_id])


@pytest.fixture
def day(db):
    o = make_office(db, services="ABC", counters={1: "A", 2: "B", 3: "C"})
    engine.open_counter(db, o.counters[1], now=at("07:59"))
    engine.open_counter(db, o.counters[2], now=at("07:59"))

    def issue(prefix, clock):
        return engine.issue_ticket(db, o.office, prefix, now=at(clock), check_hours=False).ticket

    def serve(counter, clock):
        ticket = engine.call_next(db, o.counters[counter], now=at(clock)).ticket
        engine.start(db, ticket["id"], now=at(clock))
        engine.finish(db, ticket["id"], now=at(clock))
        return ticket

    a = [issue("A", clock) for clock in ("08:00", "08:00", "08:00", "08:00")]
    b = issue("B", "08:00")
    c = issue("C", "08:00")
    assert c["estimated_wait_s"] is None and c["counters_open"] == 0
    for ticket, seconds in zip(a + [b], (0, 1200, 600, 300, 120), strict=True):
        set_estimate(db, ticket["id"], seconds)
    assert serve(2, "08:02")["id"] == b["id"]
    assert serve(1, "08:05")["id"] == a[0]["id"]
    assert serve(1, "08:10")["id"] == a[1]["id"]
    assert serve(1, "08:15")["id"] == a[2]["id"]
    engine.cancel(db, a[3]["id"], now=at("08:20"))
    o.c = c
    return o


EXPECTED_A = {
    "tickets": 4,
    "with_estimate": 4,
    "without_estimate": 0,
    "judged": 3,
    "median_error_s": 300.0,  # |−300|, |+600|, |−300| sorted: 300, 300, 600
    "p90_error_s": 600.0,  # nearest rank: the 3rd of 3
    "within_5min_share": round(2 / 3, 4),
    "bias_s": 0.0,  # (−300 + 600 − 300) / 3
}


def test_the_figures_match_the_table(db, day):
    report = estimate_report(db, day.office, DAY, DAY)
    by_service = {r["service"][0]: r for r in report["rows"]}
    assert set(by_service) == {"A", "B", "C"} and all(r["day"] == DAY for r in report["rows"])
    assert {k: by_service["A"][k] for k in EXPECTED_A} == EXPECTED_A
    assert by_service["B"]["judged"] == 1 and by_service["B"]["median_error_s"] == 0.0
    assert by_service["B"]["within_5min_share"] == 1.0
    c = by_service["C"]
    assert (c["tickets"], c["with_estimate"], c["without_estimate"], c["judged"]) == (1, 0, 1, 0)
    assert c["median_error_s"] is None and c["within_5min_share"] is None
    total = report["total"]
    assert (total["tickets"], total["with_estimate"], total["judged"]) == (6, 5, 4)
    # |errors| 0, 300, 300, 600: median 300, p90 (4th of 4) 600, 3 of 4 within ±5 min.
    assert (total["median_error_s"], total["p90_error_s"]) == (300.0, 600.0)
    assert total["within_5min_share"] == 0.75
    assert [r["service"][0] for r in report["services"]] == ["A", "B", "C"]
    assert report["services"][0]["judged"] == 3
    # Another day has nothing.
    assert estimate_report(db, day.office, "2026-06-02", "2026-06-02")["rows"] == []


def test_page_json_and_downloads_agree_and_stay_in_the_office(client, db, demo):
    login(client, "quanly")
    query = f"period=custom&from={DAY}&to={DAY}"
    data = client.get(f"/manager/estimates.json?{query}").get_json()
    assert data["from"] == DAY and data["total"]["tickets"] == 0 and data["rows"] == []
    page = client.get(f"/manager/estimates?{query}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Thời gian chờ dự kiến có đúng không?" in text and "Không có số nào" in text
    csv_text = client.get(f"/manager/estimates/export.csv?{query}").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert header[:3] == ["day", "service", "service_id"] and "p90_error_s" in header
    xlsx = client.get(f"/manager/estimates/export.xlsx?{query}")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["Tóm tắt", "Sai số dự kiến"]
    vi = client.get(f"/manager/estimates/export.vi.csv?{query}")
    assert vi.headers["Content-Disposition"].endswith('.vi.csv"')
    assert vi.get_data(as_text=True).startswith("\ufeffNgày;Dịch vụ;")
    assert 'href="/manager/estimates/export.vi.csv?' in text
    assert (
        client.get("/manager/estimates?period=custom&from=2026-06-02&to=2026-06-01").status_code
        == 400
    )
    other = engine.create_office(db, "Văn phòng khác")
    assert client.get(f"/manager/estimates.json?office={other}").status_code == 404
    assert client.get(f"/manager/estimates/export.csv?office={other}").status_code == 404
    assert client.get("/manager/estimates/export.pdf").status_code == 400


def test_the_downloads_carry_the_hand_made_day(db, day, app):
    from xephang.reports import exports

    report = estimate_report(db, day.office, DAY, DAY)
    rows = list(csv.DictReader(io.StringIO(exports.estimate_csv(report).lstrip("\ufeff"))))
    a_day = next(r for r in rows if r["day"] == DAY and r["service"].startswith("A"))
    assert (a_day["judged"], a_day["median_error_s"], a_day["p90_error_s"]) == (
        "3",
        "300.0",
        "600.0",
    )
    assert rows[-1]["service"] == "Tất cả" and rows[-1]["within_5min_share"] == "0.75"
    sheet = openpyxl.load_workbook(io.BytesIO(exports.estimate_xlsx(report)))["Sai số dự kiến"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    a_row = next(v for v in values if v[0] == datetime(2026, 6, 1) and v[1].startswith("A"))
    assert a_row[6:9] == [5.0, 10.0, round(2 / 3, 4)]  # minutes, minutes, share
    assert sheet["A2"].number_format == "dd/mm/yyyy"  # a real date, shown the Vietnamese way
    assert values[-1][:2] == ["Cả kỳ", "Tất cả"]
    # The Vietnamese CSV: the XLSX's headers, minutes with a decimal comma, ';' between.
    vi = exports.estimate_csv_vi(report)
    assert vi.startswith("\ufeffNgày;Dịch vụ;Số vé;")
    lines = list(csv.reader(io.StringIO(vi.lstrip("\ufeff")), delimiter=";"))
    a_vi = next(line for line in lines if line[0] == "01/06/2026" and line[1].startswith("A"))
    assert a_vi[6:9] == ["5,0", "10,0", "66,7"]  # minutes, minutes, percent
    assert lines[0][8] == "Trong ±5 phút (%)" and lines[-1][:2] == ["Cả kỳ", "Tất cả"]
