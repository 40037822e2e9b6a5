"""The kiosk and the tracker in a real Chromium against a real ``xephang serve`` process."""

from __future__ import annotations

import json
from contextlib import closing

import pytest
import requests
import zxingcpp
from PIL import Image

from printers.backends import list_printed
from printers.testing import FakeNetworkPrinter
from tests.helpers import ARTIFACTS, open_paired
from xephang.storage import connect

pytestmark = pytest.mark.e2e

KIOSK_VIEWPORT = {"width": 1280, "height": 1024}
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture
def server(start_demo_server):
    """A demo server whose kiosk screen resets after 3 s (and offers "Hủy số này" as long);
    ``officer`` is a bearer header."""
    return start_demo_server(env={"XEPHANG_KIOSK_RESET_S": "3", "XEPHANG_KIOSK_CANCEL_S": "3"})


def open_kiosk(browser, server):
    page = browser.new_page(viewport=KIOSK_VIEWPORT)
    open_paired(page, f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    page.wait_for_selector(".k-service")
    return page


def test_press_a_service_and_see_the_ticket_with_its_qr_code(browser, server):
    page = open_kiosk(browser, server)
    page.screenshot(path=str(ARTIFACTS / "kiosk_start.png"))
    page.get_by_role("button", name="Hộ tịch").click()
    page.wait_for_selector("#ticket:not([hidden])")
    assert page.inner_text("#t-code") == "A001"
    assert "Hộ tịch" in page.inner_text("#t-service")
    assert page.inner_text("#t-ahead") == "0"
    page.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
    page.wait_for_selector('#t-print[data-state="done"]')
    assert "Mời nhận vé in" in page.inner_text("#t-print")
    shot = ARTIFACTS / "kiosk_ticket.png"
    page.screenshot(path=str(shot))
    tracker = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert len(tracker) == 1 and tracker[0].startswith(f"{server.url}/t/")
    (printed,) = list_printed(server.printed)  # the virtual printer's ticket carries the same QR
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(printed))] == tracker
    page.wait_for_selector("#start:not([hidden])", timeout=10000)  # back to the start by itself
    page.close()


def qr_texts(page, name: str) -> list[str]:
    shot = ARTIFACTS / name
    page.screenshot(path=str(shot))
    return [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]


def test_the_next_citizen_never_sees_the_last_ones_qr(browser, server):
    """The last ticket's QR opens its tracker (and its "Hủy số"): the next ticket's screen
    shows no QR while its own is on its way, never the last one's."""
    page = open_kiosk(browser, server)
    page.get_by_role("button", name="Hộ tịch").click()
    page.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
    (first,) = qr_texts(page, "kiosk_qr_first.png")
    page.wait_for_selector("#start:not([hidden])", timeout=10000)  # reset by itself
    held = []  # the next QR's request, answered only when released
    page.route("**/t/*/qr.svg", lambda route: held.append(route))
    page.get_by_role("button", name="Hộ tịch").click()
    page.wait_for_selector("#ticket:not([hidden])")
    assert page.inner_text("#t-code") == "A002"
    assert len(held) == 1 and qr_texts(page, "kiosk_qr_loading.png") == []
    held[0].continue_()
    page.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
    (second,) = qr_texts(page, "kiosk_qr_second.png")
    assert second != first and second.startswith(f"{server.url}/t/")
    page.close()


def test_the_kiosk_clock_shows_the_office_time_whatever_the_machine_zone(browser, server):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    context = browser.new_context(viewport=KIOSK_VIEWPORT, timezone_id="America/New_York")
    page = context.new_page()
    open_paired(page, f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    page.wait_for_selector(".k-service")
    shown = page.inner_text("#clock")
    office_now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert office_now.strftime("%d/%m/%Y") in shown
    assert shown.split(" · ")[0][:2] == office_now.strftime("%H") or office_now.minute == 0
    context.close()


def test_english_switch_and_the_priority_path(browser, server):
    page = open_kiosk(browser, server)
    page.click("#lang")
    assert page.is_visible("text=Please choose a service")
    page.click("#lang")
    page.click("#priority-open")
    page.get_by_role("button", name="Người cao tuổi").click()
    assert "Người cao tuổi" in page.inner_text("#priority-banner")
    page.get_by_role("button", name="Chứng thực").click()
    page.wait_for_selector("#ticket:not([hidden])")
    assert page.inner_text("#t-code") == "B001"
    assert "Ưu tiên: Người cao tuổi" in page.inner_text("#t-priority")
    page.screenshot(path=str(ARTIFACTS / "kiosk_priority_ticket.png"))
    page.close()


def test_a_broken_printer_still_shows_the_ticket_and_says_to_photograph_the_qr(
    browser, start_demo_server
):
    with FakeNetworkPrinter("refuse") as fake:
        live = start_demo_server(
            env={"XEPHANG_PRINTER": fake.spec, "XEPHANG_KIOSK_PRINT_WAIT_S": "1"}
        )
        try:
            page = open_kiosk(browser, live)
            page.get_by_role("button", name="Đất đai").click()
            page.wait_for_selector("#ticket:not([hidden])")
            assert page.inner_text("#t-code") == "C001"
            page.wait_for_selector('#t-print[data-state="failed"]', timeout=5000)
            assert "Máy in lỗi — vui lòng chụp mã QR" in page.inner_text("#t-print")
            page.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
            page.screenshot(path=str(ARTIFACTS / "kiosk_printer_error.png"))
            page.close()
        finally:
            live.stop()


def test_an_unpaired_browser_sees_the_explanation(browser, server):
    page = browser.new_page(viewport=KIOSK_VIEWPORT)
    response = page.goto(f"{server.url}/kiosk/")
    assert response.status == 403
    assert page.is_visible("text=Kiosk chưa được kết nối với văn phòng")
    page.close()


def test_the_tracker_follows_the_queue_and_the_call_and_takes_one_rating(browser, server):
    api = server.url + "/api/v1"
    first = requests.post(
        f"{api}/tickets", json={"service": "A"}, headers=server.officer, timeout=5
    ).json()["ticket"]
    kiosk = open_kiosk(browser, server)
    kiosk.get_by_role("button", name="Hộ tịch").click()
    kiosk.wait_for_selector("#ticket:not([hidden])")
    kiosk.wait_for_function("document.getElementById('t-qr').naturalWidth > 0")
    shot = ARTIFACTS / "kiosk_for_tracker.png"
    kiosk.screenshot(path=str(shot))
    url = zxingcpp.read_barcodes(Image.open(shot))[0].text  # as a phone would scan it
    kiosk.close()

    phone = browser.new_page(viewport=PHONE_VIEWPORT)
    phone.goto(url)
    assert phone.inner_text("#code") == "A002"
    assert phone.inner_text("#status-vi") == "Đang chờ" and phone.inner_text("#ahead") == "1"
    phone.wait_for_selector("#live.on")  # connected to the realtime hub
    requests.post(f"{api}/counters/1/open", headers=server.officer, timeout=5)

    def officer(path):
        r = requests.post(f"{api}/{path}", headers=server.officer, timeout=5)
        assert r.ok, r.text
        return r.json()

    assert officer("counters/1/call-next")["ticket"]["id"] == first["id"]
    phone.wait_for_function("document.getElementById('ahead').textContent === '0'", timeout=10000)
    officer(f"tickets/{first['id']}/start")
    officer(f"tickets/{first['id']}/finish")
    called = officer("counters/1/call-next")["ticket"]
    phone.wait_for_function(
        "document.getElementById('status-vi').textContent === 'Mời đến quầy 1'", timeout=10000
    )
    phone.screenshot(path=str(ARTIFACTS / "tracker_called.png"))
    assert phone.is_hidden("#rating") and phone.is_hidden("#queue")
    officer(f"tickets/{called['id']}/start")
    officer(f"tickets/{called['id']}/finish")
    phone.wait_for_selector("#rating:not([hidden])", timeout=10000)
    assert phone.is_hidden("#nocounter")  # served: nothing about counters open or not
    # the office's questions come first, optional, as on the counter's tablet
    phone.get_by_label("Hướng dẫn rõ ràng").check()
    phone.screenshot(path=str(ARTIFACTS / "tracker_rating.png"), full_page=True)
    phone.get_by_role("button", name="Rất hài lòng").click()
    phone.wait_for_selector("#rated:not([hidden])")
    assert phone.is_hidden("#rating")
    phone.screenshot(path=str(ARTIFACTS / "tracker_rated.png"))
    token = url.rsplit("/t/", 1)[1]
    again = requests.post(
        f"{server.url}/t/{token}/rating",
        json={"level": 1},
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert again.status_code == 409
    with closing(connect(server.db_path)) as db:
        stored = db.execute("SELECT level, attributes FROM ratings").fetchone()
    assert json.loads(stored[1]) == {"clear": True}  # the one question answered
    phone.close()
