"""The manager's pages hold up: the wait log search ignores diacritics and case, report
date errors are said on the form, the charts follow the grouping, counters and officers
count tickets handled; managers manage their officers; pairing shows its link and QR."""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest

from tests.helpers import login
from xephang import engine
from xephang.clock import today
from xephang.engine import accounts


@pytest.fixture
def manager(client, demo):
    return login(client, "quanly")


def handled_by(db, demo, display_name: str, service="C") -> dict:
    """A ticket of today called and finished by a new officer with this name."""
    office = demo["office_id"]
    user = accounts.add_user(db, "canbo_an", "officer", office, "mat-khau-rat-dai-1", display_name)
    ticket = engine.issue_ticket(db, office, service, check_hours=False).ticket
    engine.call_ticket(db, 3, ticket["id"], "test", user_id=user)
    engine.start(db, ticket["id"], user_id=user)
    engine.finish(db, ticket["id"], user_id=user, dossier_code="H40.22-260302-0007")
    return ticket


@pytest.mark.parametrize(
    "typed",
    ["nguyen van an", "NGUYỄN VĂN AN", "Nguyen Van", "van an", "dat dai", "ĐẤT ĐAI", "h40.22"],
)
def test_the_wait_log_search_ignores_diacritics_and_case(client, db, demo, manager, typed):
    ticket = handled_by(db, demo, "Nguyễn Văn An")
    engine.issue_ticket(db, demo["office_id"], "A", check_hours=False)  # not this one
    found = client.get("/manager/log.json", query_string={"q": typed}).get_json()
    assert [r["code"] for r in found["rows"]] == [ticket["code"]], typed


def test_a_code_is_found_whole(client, db, demo, manager):
    for _ in range(10):
        engine.issue_ticket(db, demo["office_id"], "A", check_hours=False)
    found = client.get("/manager/log.json?q=a001").get_json()
    assert [r["code"] for r in found["rows"]] == ["A001"]  # not A0010 and the like
    page = client.get("/manager/log?q=nguyen").get_data(as_text=True)
    assert "no diacritics needed" in page


@pytest.mark.parametrize(
    "query, message",
    [
        ("period=custom&from=2023-02-01&to=2023-01-01", "Ngày kết thúc phải sau ngày bắt đầu"),
        ("period=day&ref=2023-02-30", "Ngày không hợp lệ"),
        ("period=custom&from=1999-01-01&to=2000-01-05", "Ngày phải trong khoảng"),
        ("period=x", "Kỳ báo cáo không hợp lệ"),
    ],
)
def test_report_date_errors_are_shown_on_the_form(client, demo, manager, query, message):
    response = client.get(f"/manager/reports?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page and 'id="report-form"' in page and 'id="report-error"' in page
    assert 'id="report-table"' not in page  # no half report
    if "from=" in query:  # what was typed stays in the fields
        typed = dict(p.split("=") for p in query.split("&"))
        assert f'name="from" value="{typed["from"]}"' in page


def chart_data(page: str) -> dict:
    return json.loads(re.search(r'id="chart-data">([^<]*)</script>', page)[1])


@pytest.mark.parametrize(
    "group, chart_group",
    [
        ("service", "service"),
        ("counter", "counter"),
        ("officer", "officer"),
        ("hour", "hour"),
        ("office", "service"),
        ("day", "service"),
    ],
)
def test_the_charts_follow_the_grouping(client, db, demo, manager, group, chart_group):
    handled_by(db, demo, "Nguyễn Văn An")
    day = today("Asia/Ho_Chi_Minh")
    page = client.get(f"/manager/reports?period=day&ref={day}&group={group}").get_data(True)
    charts = chart_data(page)
    assert charts["group"] == chart_group
    labels = [g["label"] for g in charts["groups"]]
    report = client.get(f"/manager/reports.json?period=day&ref={day}&group={chart_group}")
    assert labels == [r["group"] for r in report.get_json()["rows"]]
    if chart_group == "officer":
        assert "Nguyễn Văn An" in labels
    assert len(charts["daily"]) == 1 and charts["daily"][0]["target_wait_s"] == 900


@pytest.mark.parametrize("group", ["counter", "officer"])
def test_counters_and_officers_count_tickets_handled_not_issued(client, db, demo, manager, group):
    handled_by(db, demo, "Nguyễn Văn An")
    day = today("Asia/Ho_Chi_Minh")
    page = client.get(f"/manager/reports?period=day&ref={day}&group={group}").get_data(True)
    assert "Số vé xử lý" in page and "Số vé cấp" not in page
    xlsx = client.get(f"/manager/reports/export.xlsx?period=day&ref={day}&group={group}")
    header = next(
        openpyxl.load_workbook(io.BytesIO(xlsx.data))["Báo cáo"].iter_rows(values_only=True)
    )
    assert header[1] == "Số vé xử lý"
    service_page = client.get(f"/manager/reports?period=day&ref={day}&group=service")
    assert "Số vé cấp" in service_page.get_data(True)


def test_managers_add_and_deactivate_officers_of_their_office(client, db, demo, manager):
    """Already on main (manager/setup/people.py): checked, not rebuilt."""
    r = client.post(
        "/manager/setup/users",
        data={
            "csrf_token": manager,
            "username": "canbo_moi",
            "role": "officer",
            "office_id": str(demo["office_id"]),
            "password": "mat-khau-rat-dai-2",
            "display_name": "Cán bộ mới",
        },
    )
    assert r.status_code == 302
    user = db.execute("SELECT id, active FROM users WHERE username = 'canbo_moi'").fetchone()
    assert user[1] == 1
    r = client.post(
        f"/manager/setup/users/{user[0]}",
        data={
            "csrf_token": manager,
            "role": "officer",
            "office_id": str(demo["office_id"]),
            "display_name": "Cán bộ mới",
        },
    )
    assert r.status_code == 302
    assert db.execute("SELECT active FROM users WHERE id = ?", [user[0]]).fetchone()[0] == 0


def test_pairing_a_device_shows_its_full_link_and_a_qr_code(client, manager):
    """Already on main (manager/setup/devices.html): checked, not rebuilt."""
    page = client.get("/manager/setup/devices").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)[1]
    r = client.post(
        "/manager/setup/devices",
        data={"csrf_token": manager, "nonce": nonce, "kind": "display", "name": "TV tầng 2"},
    )
    shown = r.get_data(as_text=True)
    link = re.search(r'id="pair-link">([^<]+)<', shown)[1]
    assert link.startswith("http://xephang.test/display/pair?token=xd_")
    assert "<svg" in shown
