"""Manager pages: role checks, the dashboard (HTTP and Socket.IO), reports, log, exports."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from tests.helpers import FIRST, LAST, login
from xephang import clock, create_app, engine
from xephang.engine import accounts
from xephang.reports import live
from xephang.storage import connect, write
from xephang.web.extensions import socketio

# The dashboard tests' clock: 12:00 in Hà Nội on a Monday. Tickets issued up to 40 minutes
# earlier stay today's at any hour the suite runs (with the real clock, in the first 40
# minutes after the office's midnight they were yesterday's and expired).
NOON = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)

PAGES = [
    "/manager/",
    "/manager/reports",
    "/manager/log",
    "/manager/reports/print",
    "/manager/estimates",
    "/manager/setup/",
]
DATA = [
    "/manager/dashboard.json",
    "/manager/reports.json",
    "/manager/log.json",
    "/manager/reports/export.csv",
    "/manager/reports/export.xlsx",
    "/manager/log/export.csv",
    "/manager/log/export.xlsx",
    "/manager/estimates.json",
    "/manager/estimates/export.csv",
    "/manager/estimates/export.xlsx",
    "/manager/reports/export.vi.csv",
    "/manager/log/export.vi.csv",
    "/manager/estimates/export.vi.csv",
]


def test_role_checks_on_every_page_and_download(client, demo):
    for url in PAGES:  # browsers without a session go to the login form
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    for url in DATA:
        assert client.get(url, headers={"Accept": "application/json"}).status_code == 401, url
    login(client, "canbo1")
    for url in PAGES + DATA:
        assert client.get(url).status_code == 403, url
    client.post("/logout", data={"csrf_token": login(client, "canbo1")})
    login(client, "quanly")
    for url in PAGES + DATA:
        response = client.get(url)
        assert response.status_code == 200, (url, response.data[:300])


def test_manager_cannot_see_another_office_but_admin_can(client, db, demo):
    other = engine.create_office(db, "Văn phòng khác")
    login(client, "quanly")
    assert client.get(f"/manager/dashboard.json?office={other}").status_code == 404
    assert client.get(f"/manager/reports?office={other}").status_code == 404
    client.post("/logout", data={"csrf_token": login(client, "quanly")})
    login(client, "admin")
    body = client.get(f"/manager/dashboard.json?office={other}").get_json()
    assert body["office"]["name"] == "Văn phòng khác"
    page = client.get("/manager/").get_data(as_text=True)
    assert "Văn phòng khác" in page  # the admin's office switcher


def test_bad_report_input_is_explained_in_vietnamese(client, demo):
    login(client, "quanly")
    response = client.get(
        "/manager/reports.json?period=custom&from=2023-02-01&to=2023-01-01",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "Ngày kết thúc phải sau ngày bắt đầu" in response.get_json()["error"]
    assert client.get("/manager/reports?group=nope").status_code == 400
    assert "Kỳ báo cáo không hợp lệ" in client.get("/manager/reports?period=x").get_data(
        as_text=True
    )
    assert client.get("/manager/reports/export.pdf").status_code == 400


def test_dashboard_shows_queues_counters_alerts(db, demo):
    office = demo["office_id"]
    now = NOON
    first = engine.issue_ticket(db, office, "A", now=now - timedelta(minutes=20), check_hours=False)
    engine.issue_ticket(db, office, "A", now=now - timedelta(minutes=2), check_hours=False)
    engine.issue_ticket(db, office, "C", now=now - timedelta(minutes=1), check_hours=False)
    counter = db.execute("SELECT id FROM counters WHERE number = 3").fetchone()[0]
    engine.pause(db, counter, "Nghỉ giải lao", now=now)
    with write(db):
        db.execute(
            "UPDATE devices SET last_seen_at = ?, status = ? WHERE kind = 'kiosk'",
            [(now - timedelta(minutes=10)).isoformat(), json.dumps({"paper": "out"})],
        )
    data = live.dashboard(db, office, now=now)
    by_prefix = {s["prefix"]: s for s in data["services"]}
    assert by_prefix["A"]["waiting"] == 2 and by_prefix["C"]["waiting"] == 1
    assert by_prefix["A"]["longest_code"] == first.ticket["code"]
    assert by_prefix["A"]["longest_wait_s"] == pytest.approx(1200, abs=2)
    assert by_prefix["A"]["over_target"] == 1  # 20 min > 15 min target
    texts = " ".join(a["text"] for a in data["alerts"])
    assert first.ticket["code"] in texts and "Nghỉ giải lao" in texts and "hết giấy" in texts
    paused = [c for c in data["counters"] if c["number"] == 3][0]
    assert paused["state"] == "paused" and paused["pause_reason"] == "Nghỉ giải lao"
    assert data["today"]["issued"] == 3 and data["waiting_total"] == 3
    assert data["target_wait_s"] == 900


def test_dashboard_waits_include_earlier_tickets_of_the_visit(db, demo):
    office = demo["office_id"]
    now = NOON
    issued = engine.issue_ticket(
        db, office, "A", now=now - timedelta(minutes=12), check_hours=False
    )
    counter = db.execute("SELECT id FROM counters WHERE number = 1").fetchone()[0]
    engine.call_next(db, counter, now=now - timedelta(minutes=7))
    engine.start(db, issued.ticket["id"], now=now - timedelta(minutes=6))
    engine.transfer(db, issued.ticket["id"], service="C", now=now - timedelta(minutes=4))
    data = live.dashboard(db, office, now=now)
    land = {s["prefix"]: s for s in data["services"]}["C"]
    assert land["longest_wait_s"] == pytest.approx(5 * 60 + 4 * 60, abs=2)


def test_dashboard_wait_of_a_ticket_back_in_line_stops_at_its_first_call(db, demo):
    """The definition the reports use: a no-show brought back waited until it was first
    called; the dashboard neither restarts nor keeps counting that wait."""
    office = demo["office_id"]
    now = NOON
    issued = engine.issue_ticket(
        db, office, "A", now=now - timedelta(minutes=40), check_hours=False
    )
    counter = db.execute("SELECT id FROM counters WHERE number = 1").fetchone()[0]
    engine.call_next(db, counter, now=now - timedelta(minutes=30))
    engine.no_show(db, issued.ticket["id"], now=now - timedelta(minutes=28))
    engine.return_to_queue(
        db, issued.ticket["id"], reason="Công dân quay lại", now=now - timedelta(minutes=5)
    )
    data = live.dashboard(db, office, now=now)
    a = {s["prefix"]: s for s in data["services"]}["A"]
    assert a["waiting"] == 1
    assert a["longest_wait_s"] == pytest.approx(10 * 60, abs=2)  # 40 - 30, not 40
    assert a["over_target"] == 0  # 10 min is within the 15-minute target


def test_dashboard_sync_over_socketio(app, client, demo):
    login(client, "quanly")
    sock = socketio.test_client(app, flask_test_client=client, auth={})
    assert sock.is_connected()
    ack = sock.emit("dashboard_sync", {"office": demo["office_id"]}, callback=True)
    assert ack["ok"] and ack["dashboard"]["office"]["id"] == demo["office_id"]
    assert ack["seq"] == ack["dashboard"]["seq"]
    sock.disconnect()


def test_dashboard_sync_refuses_officers(app, client, demo):
    login(client, "canbo1")
    sock = socketio.test_client(app, flask_test_client=client, auth={})
    ack = sock.emit("dashboard_sync", {"office": demo["office_id"]}, callback=True)
    assert ack["ok"] is False and ack["status"] == 403
    sock.disconnect()


# ------------------------------------------------------------------ with the generated month


@pytest.fixture
def month_client(month_template, tmp_path):
    """A logged-in manager client on a copy of the generated month."""
    path = str(tmp_path / "month.db")
    info = month_template.copy_to(path)
    app = create_app(
        {"DB": path, "TESTING": True, "SECRET_KEY": "test", "PRINT_DIR": str(tmp_path / "printed")}
    )
    client = app.test_client()
    login(client, "quanly")
    return client, info, path


def test_monthly_report_page_json_and_exports_agree(month_client):
    client, info, _ = month_client
    query = "period=month&ref=2023-01-10&group=service"
    data = client.get(f"/manager/reports.json?{query}").get_json()
    assert (data["from"], data["to"]) == ("2023-01-01", "2023-01-31")
    total = data["total"]
    page = client.get(f"/manager/reports?{query}").get_data(as_text=True)
    assert f"{total['avg_wait_s'] / 60:.1f}".replace(".", ",") in page  # decimal comma
    assert f"{total['within_target_share'] * 100:.1f} %".replace(".", ",") in page
    assert f"{total['avg_wait_s'] / 60:.1f}" not in page  # no decimal point on the page
    assert "từ 01/01/2023 đến 31/01/2023" in page
    assert 'id="export-csv-vi"' in page
    assert "Không đạt" in page or "Đạt" in page
    for row in data["rows"]:
        assert row["group"] in page
    xlsx = client.get(f"/manager/reports/export.xlsx?{query}")
    assert xlsx.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.data))["Báo cáo"].iter_rows(values_only=True)
    )
    assert sheet[-1][0] == "Tổng cộng" and sheet[-1][1] == total["issued"]
    avg = sheet[0].index("Chờ TB (phút)")
    assert sheet[-1][avg] == pytest.approx(total["avg_wait_s"] / 60, abs=0.01)
    assert sheet[-1][sheet[0].index("Rời đi chưa được gọi")] == total["left_unserved"] > 0
    csv_text = client.get(f"/manager/reports/export.csv?{query}").get_data(as_text=True)
    assert csv_text.splitlines()[-1].split(",")[1] == str(total["issued"])
    vi = client.get(f"/manager/reports/export.vi.csv?{query}")
    assert vi.headers["Content-Disposition"].endswith('.vi.csv"')
    assert vi.get_data(as_text=True).startswith("\ufeffDịch vụ;Số vé cấp;")
    printable = client.get(f"/manager/reports/print?{query}").get_data(as_text=True)
    assert "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG (DEMO)" in printable
    assert "từ ngày 01/01/2023 đến ngày 31/01/2023" in printable


def test_report_groupings_and_periods_render(month_client):
    client, _, _ = month_client
    for group in ("office", "service", "counter", "officer", "day", "hour", "weekday"):
        for period in ("day", "week", "month", "year"):
            response = client.get(f"/manager/reports?period={period}&ref=2023-01-05&group={group}")
            assert response.status_code == 200, (group, period)
    custom = client.get(f"/manager/reports?period=custom&from={FIRST}&to={LAST}&group=day")
    assert "Chỉ tiêu thay đổi trong kỳ" in custom.get_data(as_text=True)


def test_log_filters_search_and_timeline(month_client):
    client, info, path = month_client
    db = connect(path)
    ticket = db.execute("SELECT * FROM tickets WHERE dossier_code IS NOT NULL LIMIT 1").fetchone()
    day, code, dossier = (
        ticket[5],
        ticket[7],
        db.execute("SELECT dossier_code FROM tickets WHERE id = ?", [ticket[0]]).fetchone()[0],
    )
    by_code = client.get(f"/manager/log.json?from={day}&q={code}").get_json()
    assert by_code["total"] == 1 and by_code["rows"][0]["code"] == code
    issued_at = by_code["rows"][0]["issued_at"]
    assert issued_at.startswith(day) and issued_at.endswith("+07:00")  # ISO, office time
    assert by_code["rows"][0]["timeline"][0]["at"].endswith("+07:00")
    assert [e["type"] for e in by_code["rows"][0]["timeline"]][:2] == ["issued", "called"]
    by_dossier = client.get(f"/manager/log.json?from={FIRST}&to={LAST}&q={dossier}").get_json()
    assert [r["code"] for r in by_dossier["rows"]] == [code]
    over = client.get(f"/manager/log.json?from={FIRST}&to={LAST}&over=1").get_json()
    assert over["total"] and all(r["over_target"] for r in over["rows"])
    no_show = client.get(f"/manager/log.json?from={FIRST}&to={LAST}&status=no_show").get_json()
    assert no_show["total"] and {r["status"] for r in no_show["rows"]} == {"no_show"}
    counter = info["counters"][3]
    at_3 = client.get(f"/manager/log.json?from={FIRST}&to={LAST}&counter={counter}").get_json()
    assert {r["counter"] for r in at_3["rows"]} == {3}
    page = client.get(f"/manager/log?from={day}&q={code}").get_data(as_text=True)
    assert code in page and "Gọi số" in page
    assert client.get("/manager/log.json?status=bogus").status_code == 400
    too_long = client.get(
        "/manager/log.json?from=2023-01-01&to=2023-03-01", headers={"Accept": "application/json"}
    )
    assert too_long.status_code == 400 and "tối đa 31 ngày" in too_long.get_json()["error"]
    xlsx = client.get(f"/manager/log/export.xlsx?from={FIRST}&to={LAST}")
    rows = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.data))["Nhật ký"].iter_rows(values_only=True)
    )
    assert len(rows) - 1 == db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    filtered = client.get(f"/manager/log/export.csv?from={FIRST}&to={LAST}&status=no_show")
    assert len(filtered.get_data(as_text=True).strip().splitlines()) == no_show["total"] + 1
    db.close()


def test_revoked_device_disappears_from_dashboard(client, db, demo):
    login(client, "quanly")
    before = client.get("/manager/dashboard.json").get_json()["devices"]
    kiosk = [d for d in before if d["kind"] == "kiosk"][0]
    accounts.revoke_device(db, kiosk["id"])
    after = client.get("/manager/dashboard.json").get_json()["devices"]
    assert kiosk["id"] not in [d["id"] for d in after]


SEEN = "2026-06-01T21:22:00.000+00:00"  # 04:22 on 2 June on a Hà Nội office's clock


def test_times_a_person_reads_are_on_the_office_clock(client, db, demo):
    office = demo["office_id"]
    device_id, _ = accounts.add_device(db, office, "display", "Màn hình sảnh")
    with write(db):
        db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [SEEN, device_id])
        db.execute("UPDATE setup_audit SET at = ? WHERE office_id = ?", [SEEN, office])
    login(client, "quanly")
    data = client.get("/manager/dashboard.json").get_json()
    seen = next(d for d in data["devices"] if d["id"] == device_id)
    assert seen["last_seen_at"] == SEEN  # the machine form stays ISO UTC
    assert seen["last_seen_shown"] == "02/06/2026 04:22"  # what dashboard.js shows
    script = client.get("/manager/static/manager/dashboard.js").get_data(as_text=True)
    assert "toLocaleString" not in script and "last_seen_shown" in script  # no browser zone
    setup = client.get("/manager/setup/").get_data(as_text=True)
    assert "UTC" not in setup and "02/06/2026 04:22:00" in setup and "21:22" not in setup
    devices = client.get("/manager/setup/devices").get_data(as_text=True)
    assert "02/06/2026 04:22" in devices and "21:22" not in devices


def test_the_printed_report_has_the_national_heading_place_date_and_signatures(client, db, demo):
    office = demo["office_id"]
    engine.set_office_settings(
        db, office, {"report_place": "Ninh Bình", "report_parent": "UBND tỉnh Ninh Bình"}
    )
    login(client, "quanly")
    page = client.get("/manager/reports/print?period=month&ref=2026-03-05").get_data(as_text=True)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page
    assert "Độc lập - Tự do - Hạnh phúc" in page
    assert "UBND TỈNH NINH BÌNH" in page  # the body the office belongs to, above its name
    row = engine.get_office(db, office)
    assert row["name"].upper() in page
    assert "Kỳ báo cáo: từ ngày 01/03/2026 đến ngày 31/03/2026" in page
    assert f"Ninh Bình, {written(clock.today(row['timezone']))}" in page
    assert "NGƯỜI LẬP BIỂU" in page and "THỦ TRƯỞNG ĐƠN VỊ" in page
    assert page.count("(Ký, ghi rõ họ tên") == 2


def written(day: str) -> str:
    """The date line written here independently of clock.written_day (NĐ 30/2020)."""
    year, month, date = (int(part) for part in day.split("-"))
    month_text = f"{month:02d}" if month < 3 else str(month)
    return f"ngày {date:02d} tháng {month_text} năm {year}"


def test_the_log_shows_priority_names_and_dd_mm_yyyy_days(month_client):
    client, _, path = month_client
    db = connect(path)
    day, key = db.execute(
        "SELECT day, priority FROM tickets WHERE priority IS NOT NULL LIMIT 1"
    ).fetchone()
    name = db.execute(
        "SELECT name_vi FROM priority_categories WHERE key = ? LIMIT 1", [key]
    ).fetchone()[0]
    page = client.get(f"/manager/log?from={day}&to={day}").get_data(as_text=True)
    dmy = "/".join(reversed(day.split("-")))
    assert f"<td>{dmy}</td>" in page and f"<td>{day}</td>" not in page
    assert name in page and f">{key}<" not in page
    report = client.get("/manager/reports?period=day&ref=" + day + "&group=day").get_data(
        as_text=True
    )
    assert f'<th scope="row">{dmy}</th>' in report
