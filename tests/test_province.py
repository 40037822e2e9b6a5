"""The province view and the read-only ``province`` role: every office on one page, the
report grouped by office across any set of offices, and a role that reads the offices it
was given and writes nothing, on any page, API route or socket."""

from __future__ import annotations

import re

import pytest

from tests.helpers import login
from xephang import engine, reports
from xephang.engine import accounts
from xephang.reports import province
from xephang.web.extensions import socketio

PASSWORD = "tinh-ninh-binh-2026"


@pytest.fixture
def offices(db, demo):
    """The demo office, two more; ``tinh`` (the demo's province user) reads the demo office
    and the first of them; ``tinh2`` is a fresh one given the same."""
    first = engine.create_office(db, "UBND xã An Hòa")
    second = engine.create_office(db, "UBND phường Đông Thành")
    for office in (first, second):
        service = engine.add_service(db, office, "A", "Hộ tịch", field="Tư pháp - Hộ tịch")
        engine.add_counter(db, office, 1, [service])
    user = db.execute("SELECT id FROM users WHERE username = 'tinh'").fetchone()[0]
    accounts.set_user_offices(db, user, [demo["office_id"], first])
    accounts.add_user(db, "tinh2", "province", None, PASSWORD, offices=[demo["office_id"], first])
    return {"demo": demo["office_id"], "given": first, "other": second, "user": user}


def province_client(app, username="tinh", password="xephang-demo"):
    client = app.test_client()
    client.csrf = login(client, username, password)
    return client


def test_login_lands_on_the_province_page_listing_only_the_offices_given(app, offices):
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    answer = client.post(
        "/login", data={"username": "tinh", "password": "xephang-demo", "csrf_token": csrf}
    )
    assert answer.status_code == 302 and answer.location.endswith("/manager/province")
    page = client.get("/manager/province").get_data(as_text=True)
    assert "UBND xã An Hòa" in page and "(Demo)" in page
    assert "Đông Thành" not in page
    assert "Thiết lập" not in page  # no setup for a read-only role
    data = client.get("/manager/province.json").json
    assert {o["office"]["id"] for o in data["offices"]} == {offices["demo"], offices["given"]}


def test_it_reads_the_offices_given_and_no_other(app, offices):
    client = province_client(app)
    for path in (
        "/manager/",
        "/manager/reports",
        "/manager/log",
        "/manager/satisfaction",
        "/manager/ratings",
        "/manager/dashboard.json",
        "/manager/reports.json",
    ):
        assert client.get(f"{path}?office={offices['given']}").status_code == 200, path
        assert client.get(f"{path}?office={offices['other']}").status_code == 404, path
    switcher = client.get(f"/manager/?office={offices['given']}").get_data(as_text=True)
    assert "Đông Thành" not in switcher
    for path in (
        "/manager/setup/",
        "/manager/setup/users",
        "/manager/setup/devices",
        "/counter/",
        "/manager/printed/",
    ):
        assert client.get(f"{path}?office={offices['given']}").status_code == 403, path


def unsafe_rules(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if methods and rule.endpoint not in ("auth.logout", "auth.login"):
            yield rule, sorted(methods)[0]


def filled(rule) -> str:
    url = rule.rule
    for name in rule.arguments:
        value = "csv" if name == "fmt" else "finish" if name == "action" else "1"
        url = re.sub(r"<(?:\w+:)?" + name + ">", value, url)
    return url


def dump(db) -> dict:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    skip = {
        "sessions",
        "login_failures",
        "api_tokens",
        "report_days",
        "report_rollup",
        "report_state",
    }
    return {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables if t not in skip}


def test_every_write_path_refuses_a_province_user(app, db, offices, demo):
    """Every state-changing route of the app (pages, setup, API, kiosk, tablet), with its
    session and CSRF token, or its bearer token: 403, and nothing changes."""
    client = province_client(app)
    bearer = {"Authorization": "Bearer " + accounts.add_user_token(db, "tinh")}
    ticket = engine.issue_ticket(db, demo["office_id"], "A").ticket["id"]
    engine.call_next(db, db.execute("SELECT id FROM counters WHERE number = 1").fetchone()[0])
    before = dump(db)
    rules = list(unsafe_rules(app))
    assert len(rules) > 30  # the sweep reaches every room
    for rule, method in rules:
        url = filled(rule).replace("/tickets/1/", f"/tickets/{ticket}/")
        for headers in ({"X-CSRF-Token": client.csrf}, bearer):
            answer = client.open(
                url, method=method, json={}, headers={**headers, "Accept": "application/json"}
            )
            assert answer.status_code == 403, (url, answer.status_code)
            assert "chỉ được xem" in answer.json["error"], url
    assert dump(db) == before
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 302


def test_its_sockets_follow_only_its_offices(app, offices):
    client = province_client(app)
    allowed = socketio.test_client(app, flask_test_client=client, auth={"office": offices["given"]})
    assert allowed.is_connected()
    ack = allowed.emit("dashboard_sync", {"office": offices["given"]}, callback=True)
    assert ack["ok"] and ack["dashboard"]["office"]["id"] == offices["given"]
    assert (
        allowed.emit("dashboard_sync", {"office": offices["other"]}, callback=True)["status"] == 403
    )
    assert allowed.emit("join", {"office": offices["other"]}, callback=True)["status"] == 403
    refused = socketio.test_client(app, flask_test_client=client, auth={"office": offices["other"]})
    assert not refused.is_connected()


def test_an_admin_of_every_office_sees_all_and_others_do_not_see_the_page(app, client, offices):
    login(client, "admin")
    names = client.get("/manager/province").get_data(as_text=True)
    assert "Đông Thành" in names and "An Hòa" in names
    manager = app.test_client()
    login(manager, "quanly")
    assert manager.get("/manager/province").status_code == 403
    officer = app.test_client()
    login(officer, "canbo1")
    assert officer.get("/manager/province.json").status_code == 403


def test_the_page_sorts_and_links_each_office_to_its_dashboard(app, db, offices, demo):
    for _ in range(3):
        engine.issue_ticket(db, offices["given"], "A", check_hours=False)
    engine.issue_ticket(db, demo["office_id"], "B", check_hours=False)
    client = province_client(app)
    page = client.get("/manager/province?sort=waiting&dir=desc").get_data(as_text=True)
    order = re.findall(r'data-office="(\d+)"', page)
    assert order == [str(offices["given"]), str(offices["demo"])]
    assert f'href="/manager/?office={offices["given"]}"' in page
    ascending = client.get("/manager/province?sort=waiting&dir=asc").get_data(as_text=True)
    assert re.findall(r'data-office="(\d+)"', ascending) == order[::-1]
    assert client.get("/manager/province?sort=nope").status_code == 400
    data = client.get("/manager/province.json").json
    assert data["total"]["waiting"] == 4


def test_device_and_printer_alerts_reach_the_province_page(app, db, offices):
    accounts.add_device(db, offices["given"], "kiosk", "Kiosk xã")  # never seen: an alert
    row = next(
        r
        for r in province.province_overview(db, [offices["given"]])["offices"]
        if r["office"]["id"] == offices["given"]
    )
    assert row["alerts"] == ["Kiosk xã: chưa từng kết nối"]  # named once (live.device_label)


def test_the_report_by_office_equals_each_offices_own_report(month, tmp_path):
    db, info, _path = month
    other = engine.create_office(db, "UBND xã An Hòa")
    service = engine.add_service(db, other, "A", "Hộ tịch")
    counter = engine.add_counter(db, other, 1, [service])
    for _ in range(2):
        ticket = engine.issue_ticket(db, other, "A", check_hours=False).ticket["id"]
        engine.call_next(db, counter)
        engine.start(db, ticket)
        engine.finish(db, ticket)
    first, last = "2022-12-19", "2023-01-13"
    ids = [info["office_id"], other]
    report = province.offices_report(db, ids, first, last)
    own = reports.wait_report(db, info["office_id"], first, last, "office")
    row = next(r for r in report["rows"] if r["key"] == info["office_id"])
    assert {k: v for k, v in row.items() if k not in ("group", "key")} == {
        k: v for k, v in own["total"].items() if k not in ("group", "key")
    }
    assert report["total"]["visits"] == sum(r["visits"] for r in report["rows"])
    assert report["total"]["avg_wait_s"] == own["total"]["avg_wait_s"]  # the other: no days


def test_the_report_page_chooses_offices_and_exports(app, offices, db, demo):
    client = province_client(app)
    chosen = f"offices={offices['given']}"
    page = client.get(
        f"/manager/province/report?period=custom&from=2026-03-01&to=2026-03-31&{chosen}"
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "UBND xã An Hòa" in text
    assert "từ 01/03/2026 đến 31/03/2026</strong>" in text  # the period, day first
    assert "Trung tâm Phục vụ hành chính công (Demo)</th>" not in text
    full = client.get("/manager/province/report?period=month").get_data(as_text=True)
    assert "(Demo)" in full and "An Hòa" in full
    assert client.get(f"/manager/province/report?offices={offices['other']}").status_code == 404
    data = client.get(f"/manager/province/report.json?{chosen}&offices={demo['office_id']}").json
    assert len(data["rows"]) == 2 and data["group"] == "office"
    csv_text = client.get(f"/manager/province/report/export.csv?{chosen}").get_data(as_text=True)
    assert csv_text.splitlines()[1].startswith("UBND xã An Hòa")
    xlsx = client.get(f"/manager/province/report/export.xlsx?{chosen}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    dossiers = client.get(f"/manager/province/dossiers.json?{chosen}").json
    assert dossiers["dossiers"] == []
    assert re.search(r"<th scope=\"row\">UBND xã An Hòa</th><td class=\"num\">0</td>", text)


def test_an_admin_gives_a_province_user_its_offices_in_setup(app, client, db, offices):
    csrf = login(client, "admin")
    page = client.get("/manager/setup/users").get_data(as_text=True)
    assert "Cấp tỉnh (chỉ xem)" in page
    answer = client.post(
        f"/manager/setup/users/{offices['user']}/offices",
        data={"csrf_token": csrf, "offices": [str(offices["other"])]},
    )
    assert answer.status_code == 302
    tinh = province_client(app)
    assert tinh.get(f"/manager/?office={offices['other']}").status_code == 200
    assert tinh.get(f"/manager/?office={offices['given']}").status_code == 404
    created = client.post(
        "/manager/setup/users",
        data={
            "csrf_token": csrf,
            "username": "tinh3",
            "role": "province",
            "office_id": "",
            "password": PASSWORD,
            "offices": [str(offices["given"])],
        },
    )
    assert created.status_code == 302
    assert province_client(app, "tinh3", PASSWORD).get("/manager/province").status_code == 200
    manager = app.test_client()
    manager_csrf = login(manager, "quanly")
    refused = manager.post(
        f"/manager/setup/users/{offices['user']}/offices",
        data={"csrf_token": manager_csrf, "offices": [str(offices["demo"])]},
    )
    assert refused.status_code == 403


def test_the_command_line_makes_province_users_and_rating_tablets(tmp_path):
    from click.testing import CliRunner

    from xephang.cli import cli
    from xephang.queries import people
    from xephang.storage import connect

    path = str(tmp_path / "cli.db")

    def run(*args):
        return CliRunner().invoke(cli, [*args, "--db", path], catch_exceptions=False)

    run("init")
    db = connect(path)
    first, second = engine.create_office(db, "Xã A"), engine.create_office(db, "Xã B")
    service = engine.add_service(db, first, "A", "Hộ tịch")
    counter = engine.add_counter(db, first, 1, [service])
    added = run(
        "user",
        "add",
        "tinh",
        "--role",
        "province",
        "--password",
        PASSWORD,
        "--offices",
        f"{first},{second}",
    )
    assert added.exit_code == 0, added.output
    user = people.find_user(db, "tinh")
    assert people.user_offices(db, user["id"]) == {first, second}
    assert run("user", "offices", "tinh", str(second)).output.strip().endswith(str(second))
    assert people.user_offices(db, user["id"]) == {second}
    token = run(
        "device", "add", "--office", str(first), "--kind", "rating", "--counter", str(counter)
    ).output.strip()
    assert people.principal_for_token(db, token).counter_id == counter
    refused = CliRunner().invoke(
        cli, ["device", "add", "--office", str(first), "--kind", "rating", "--db", path]
    )
    assert refused.exit_code != 0 and "gắn với một quầy" in refused.output
    db.close()
