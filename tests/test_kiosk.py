"""The kiosk: pairing, the menu, issuing with its print job, limits, caps and hours."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import printers
from tests.helpers import login, pair_kiosk
from xephang import engine
from xephang.engine import accounts
from xephang.queries import people
from xephang.storage import write

JSON = {"Accept": "application/json"}


@pytest.fixture
def kiosk(client, demo):
    """A paired kiosk client and a function that presses a service button."""
    csrf = pair_kiosk(client, demo["kiosk_token"])

    def press(service, priority=None, csrf_token=csrf):
        body = {"service": service}
        if priority:
            body["priority"] = priority
        return client.post(
            "/kiosk/api/tickets", json=body, headers={**JSON, "X-CSRF-Token": csrf_token}
        )

    press.client = client
    return press


def test_an_unpaired_browser_sees_a_friendly_message(client, demo):
    r = client.get("/kiosk/")
    assert r.status_code == 403
    page = r.data.decode()
    assert "Kiosk chưa được kết nối" in page and "not paired" in page
    assert "Traceback" not in page and "k-service" not in page


@pytest.mark.parametrize(
    "token_kind, text", [("bad", "không hợp lệ"), ("display", "màn hình hiển thị")]
)
def test_pairing_with_a_wrong_token_explains_why(client, demo, token_kind, text):
    token = "xd_nope" if token_kind == "bad" else demo["display_token"]
    r = client.get(f"/kiosk/pair?token={token}")
    assert r.status_code == 403 and text in r.data.decode()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    r = client.post("/kiosk/pair", data={"token": token, "csrf_token": csrf})
    assert r.status_code == 403 and text in r.data.decode()
    with client.session_transaction() as sess:
        assert "sid" not in sess  # a display token must not pair the kiosk browser


def test_a_revoked_kiosk_is_unpaired(client, db, demo):
    pair_kiosk(client, demo["kiosk_token"])
    device_id = people.principal_for_token(db, demo["kiosk_token"]).device_id
    accounts.revoke_device(db, device_id)
    assert client.get("/kiosk/").status_code == 403
    r = client.post("/kiosk/api/tickets", json={"service": "A"}, headers=JSON)
    assert r.status_code in (401, 403)


def test_the_menu_groups_services_by_field_in_order_with_the_priority_path(client, demo):
    pair_kiosk(client, demo["kiosk_token"])
    page = client.get("/kiosk/").data.decode()
    fields = re.findall(
        r'<h2><span class="vi">([^<]+)</span><span class="en" lang="en">([^<]+)<', page
    )
    assert fields[:3] == [
        ("Tư pháp - Hộ tịch", "Justice - Civil status"),
        ("Tư pháp - Chứng thực", "Justice - Certification"),
        ("Tài nguyên - Môi trường", "Natural resources and environment"),
    ]
    assert page.index("Hộ tịch") < page.index("Chứng thực") < page.index("Đất đai")
    assert 'id="priority-open"' in page and 'data-priority="elderly"' in page
    assert "Người cao tuổi" in page and 'lang="en"' in page
    assert "https://" not in page and "http://" not in page.replace("http://xephang.test", "")


def test_pressing_a_service_issues_a_ticket_and_queues_its_receipt(kiosk, client, db):
    r = kiosk("B")
    assert r.status_code == 201
    ticket = r.json["ticket"]
    assert ticket["code"] == "B001" and ticket["service"]["name_vi"] == "Chứng thực"
    assert ticket["people_ahead"] == 0 and ticket["counters_open"] == 0  # none open yet
    assert ticket["estimated_wait_s"] is None
    assert ticket["tracker_url"].startswith("http://xephang.test/t/")
    assert r.json["print"]["state"] == "queued"
    job = db.execute("SELECT ticket_id, state, printer, payload FROM print_jobs").fetchone()
    assert job[0] == ticket["id"] and job[1] == "queued" and job[2] == "virtual"
    assert json.loads(job[3])["tracker_url"] == ticket["tracker_url"]
    svg = client.get(ticket["qr_url"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    second = kiosk("B").json["ticket"]
    assert second["code"] == "B002" and second["people_ahead"] == 1


def test_the_print_status_follows_the_spooler(kiosk, client, app, tmp_path):
    r = kiosk("A")
    job_id = r.json["print"]["id"]
    assert client.get(f"/kiosk/api/print/{job_id}").json["job"]["state"] == "queued"
    printers.get_spooler(app).drain()
    assert client.get(f"/kiosk/api/print/{job_id}").json["job"]["state"] == "done"
    assert len(list((tmp_path / "printed").glob("*_A001.png"))) == 1
    assert client.get("/kiosk/api/print/999").status_code == 404


def test_a_priority_ticket_carries_its_category(kiosk, db):
    kiosk("A")
    r = kiosk("A", priority="elderly")
    assert r.json["ticket"]["priority"] == "elderly"
    assert r.json["ticket"]["priority_vi"] == "Người cao tuổi"
    assert r.json["ticket"]["people_ahead"] == 0  # priority goes ahead of plain tickets
    row = db.execute("SELECT payload FROM print_jobs ORDER BY id DESC").fetchone()
    payload = json.loads(row[0])
    assert payload["priority_vi"] == "Người cao tuổi"


def test_without_the_csrf_token_nothing_is_issued(kiosk, db):
    r = kiosk("A", csrf_token="forged")
    assert r.status_code == 403
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"service": ""}, {"service": True}, {"service": [1]}, {"service": "A", "priority": 5}],
)
def test_bad_input_is_a_clear_400(kiosk, body):
    r = kiosk.client.post(
        "/kiosk/api/tickets",
        json=body,
        headers={
            **JSON,
            "X-CSRF-Token": re.search(
                rb'name="csrf-token" content="([^"]+)"', kiosk.client.get("/kiosk/").data
            )
            .group(1)
            .decode(),
        },
    )
    assert r.status_code == 400 and r.json["ok"] is False


def test_unknown_service_or_priority_are_refused(kiosk):
    assert kiosk("Z").status_code == 404
    assert kiosk("A", priority="vip").status_code == 400


def test_the_per_kiosk_rate_limit_answers_429_with_a_message(app, kiosk, db):
    app.config["KIOSK_RATE_LIMIT"] = "3/60"
    assert [kiosk("A").status_code for _ in range(3)] == [201] * 3
    r = kiosk("A")
    assert r.status_code == 429 and r.json["code"] == "rate_limited"
    assert "Kiosk đang quá tải" in r.json["error"]
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 3


def test_the_daily_cap_shows_on_the_menu_and_refuses_with_its_message(kiosk, client, db, demo):
    with write(db):
        db.execute("UPDATE services SET daily_cap = 1 WHERE prefix = 'C'")
    assert kiosk("C").status_code == 201
    r = kiosk("C")
    assert r.status_code == 409 and r.json["code"] == "daily_cap"
    assert "Đã hết số hôm nay" in r.json["error"]
    c_id = engine.find_service(db, demo["office_id"], "C")["id"]
    assert client.get("/kiosk/api/state").json["full"] == [c_id]
    page = client.get("/kiosk/").data.decode()
    assert re.search(rf'data-service="{c_id}" disabled', page)


def test_outside_opening_hours_the_kiosk_says_so_and_issues_nothing(kiosk, client, db, demo):
    closed = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    with write(db):
        db.execute(
            "UPDATE offices SET hours = ? WHERE id = ?", [json.dumps(closed), demo["office_id"]]
        )
    page = client.get("/kiosk/").data.decode()
    assert re.search(r'<section id="start" class="screen" hidden>', page)
    assert "Ngoài giờ làm việc" in page
    assert client.get("/kiosk/api/state").json["open"] is False
    r = kiosk("A")
    assert r.status_code == 409 and r.json["code"] == "office_closed"
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_with_no_printer_the_ticket_is_issued_and_no_job_is_queued(app, kiosk, db):
    app.config["PRINTER"] = "none"
    r = kiosk("A")
    assert r.status_code == 201 and r.json["print"] == {"id": None, "state": "none"}
    assert db.execute("SELECT count(*) FROM print_jobs").fetchone()[0] == 0


def test_each_kiosk_can_have_its_own_printer(app, db, demo):
    other_id, _ = accounts.add_device(db, demo["office_id"], "kiosk", "Kiosk tầng 2")
    app.config["PRINTER_MAP"] = f"{other_id}=network:10.0.0.9"
    assert printers.printer_for(app.config, other_id) == "network:10.0.0.9"
    assert printers.printer_for(app.config, other_id + 1) == "virtual"
    assert printers.configured_printers(app.config) == ["network:10.0.0.9", "virtual"]
    app.config["PRINTER_MAP"] = "kiosk=virtual"
    with pytest.raises(ValueError):
        printers.printer_map(app.config)


def test_the_kiosk_page_and_its_assets_come_from_the_app(kiosk, client):
    page = client.get("/kiosk/").data.decode()
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert src.startswith("/"), src
        assert client.get(src).status_code == 200, src


def test_managers_see_the_tickets_the_virtual_printer_saved(kiosk, client, app):
    kiosk("A")
    kiosk("B")
    printers.get_spooler(app).drain()
    assert client.get("/manager/printed/").status_code in (302, 403)  # a kiosk is no manager
    login(client, "quanly")
    page = client.get("/manager/printed/").data.decode()
    names = re.findall(r'src="/manager/printed/([^"]+)"', page)
    assert len(names) == 2 and names[0].endswith("_B001.png")  # newest first
    # Named by when it printed on the office's clock (Asia/Ho_Chi_Minh), not in UTC.
    stamp = datetime.strptime(names[0].split("_")[0], "%Y%m%dT%H%M%S%f")
    office_now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None)
    assert abs(office_now - stamp) < timedelta(minutes=10)
    image = client.get(f"/manager/printed/{names[0]}")
    assert image.status_code == 200 and image.data[:4] == b"\x89PNG"
    assert client.get("/manager/printed/..%2Fxephang.db").status_code == 404


def test_officers_may_not_see_printed_tickets(client, demo):
    login(client, "canbo1")
    assert client.get("/manager/printed/").status_code == 403


def test_the_start_screen_warns_when_the_kiosk_printer_is_down(kiosk, client, db):
    from printers import jobs

    page = client.get("/kiosk/").data.decode()
    assert re.search(r'id="printer-down" class="k-warn" hidden', page)
    assert client.get("/kiosk/api/state").json["printer"]["state"] == "ok"
    jobs.set_printer_status(db, "virtual", "error", "paper_out", "test")
    assert client.get("/kiosk/api/state").json["printer"] == {
        "state": "error",
        "problem": "paper_out",
    }
    page = client.get("/kiosk/").data.decode()
    assert re.search(r'id="printer-down" class="k-warn" role="status"', page)
    assert "vui lòng chụp mã QR" in page


def test_a_print_queue_fault_still_issues_and_shows_the_ticket(kiosk, db, monkeypatch):
    import printers

    def broken(*args, **kwargs):
        raise OSError("print queue unavailable")

    monkeypatch.setattr(printers, "queue_receipt", broken)
    r = kiosk("A")
    assert r.status_code == 201 and r.json["ticket"]["code"] == "A001"
    assert r.json["print"] == {"id": None, "state": "failed"}
    assert db.execute("SELECT status FROM tickets").fetchall() == [("waiting",)]
    assert db.execute("SELECT count(*) FROM print_jobs").fetchone()[0] == 0
