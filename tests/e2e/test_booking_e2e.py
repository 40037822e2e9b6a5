"""Online numbers and appointments in a real Chromium against a real ``xephang serve``:
the phone pages at 390×844 with the Content-Security-Policy in force, and check-in at a
real kiosk page by the booking's QR, by its code and by a CCCD QR, and of an online number
that must check in by its tracker's QR, the printed ticket decoded. Screenshots go to
tests/artifacts/."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import requests
import zxingcpp
from PIL import Image

from printers.backends import list_printed
from tests.helpers import ARTIFACTS, open_counter, press
from xephang import engine
from xephang.clock import iso, today, utcnow
from xephang.engine import booking, checkin
from xephang.storage import connect

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
KIOSK = {"viewport": {"width": 1280, "height": 1024}}
CCCD = "001203004567"
CCCD_QR = f"{CCCD}|012345678|Nguyễn Văn A|01011990|Nam|Số 1 Tràng Tiền, Hà Nội|15062021"


def watch(page) -> list[str]:
    """Console errors, script errors and failed responses the page reports."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    return problems


def test_a_citizen_takes_a_number_and_books_a_slot_on_a_phone(chromium, live_server):
    server = live_server
    office = server.demo["office_id"]
    context = chromium.new_context(**PHONE)  # the CSP in force
    page = context.new_page()
    problems = watch(page)

    page.goto(f"{server.url}/booking/{office}/")
    page.locator("#go-online").wait_for()
    page.screenshot(path=str(ARTIFACTS / "booking_phone_start.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"

    page.click("#go-online")
    page.locator("#online-form").wait_for()
    page.locator("label.bk-option", has_text="Hộ tịch").first.click()
    page.screenshot(path=str(ARTIFACTS / "booking_phone_online.png"), full_page=True)
    with page.expect_navigation():
        page.click("#take")
    assert "/t/" in page.url
    page.locator("main.tr[data-status=waiting]").wait_for()
    assert page.inner_text("#code") == "A001"
    page.screenshot(path=str(ARTIFACTS / "booking_phone_tracker.png"), full_page=True)

    page.goto(f"{server.url}/booking/{office}/")
    page.click("#go-appointment")
    page.locator("#services a", has_text="Chứng thực").first.click()
    page.locator("#days a").last.click()  # the last day of the horizon: all its slots ahead
    page.locator("#appointment-form").wait_for()
    page.locator("label.bk-slot:not(.bk-off)", has_text="09:00").first.click()
    page.screenshot(path=str(ARTIFACTS / "booking_phone_slots.png"), full_page=True)
    with page.expect_navigation():
        page.click("#book")
    assert "/booking/b/" in page.url
    code = page.inner_text("#code")
    assert len(code) == 6
    page.locator("#qr").wait_for()
    shot = ARTIFACTS / "booking_phone_confirmation.png"
    page.screenshot(path=str(shot), full_page=True)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert found and found[0] == page.url  # the QR is the page's own link
    with page.expect_download() as download:
        page.click("#ics")
    ics = download.value.path().read_text()
    assert code in ics and "BEGIN:VEVENT" in ics

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#cancel")
    assert "Đã hủy" in page.inner_text("#status")
    page.screenshot(path=str(ARTIFACTS / "booking_phone_cancelled.png"), full_page=True)
    assert problems == []
    context.close()


def seed_bookings(path, office_id: int) -> dict[str, dict]:
    """Three bookings of today whose slot starts now: one with a CCCD (its keyed hash)."""
    db = connect(path)
    now = utcnow()
    service = db.execute(
        "SELECT id FROM services WHERE office_id = ? AND prefix = 'A'", [office_id]
    ).fetchone()[0]
    key = booking.identity_key("test")  # the test server's SECRET_KEY
    made = {}
    for name, code in (("qr", "QRCHK3"), ("code", "CDCHK4"), ("cccd", "IDCHK6")):
        token = secrets.token_urlsafe(16)
        digest = booking.keyed_hash(key, office_id, "cccd", CCCD) if name == "cccd" else None
        db.execute(
            "INSERT INTO appointments (office_id, service_id, day, slot_start, slot_end, code,"
            " token, identity_kind, identity_hash, identity_last3, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [office_id, service, today("Asia/Ho_Chi_Minh", now), iso(now),
             iso(now + timedelta(minutes=30)), code, token, "cccd" if digest else None, digest,
             CCCD[-3:] if digest else None, iso(now)],
        )  # fmt: skip
        made[name] = {"code": code, "token": token}
    db.close()
    return made


def test_a_scan_sent_before_the_page_script_runs_puts_nothing_in_the_address(
    chromium, start_demo_server
):
    """The check-in form submitted by the browser itself (its script not run yet, or not
    at all): the CCCD QR's content must not land in the URL, the history or a log line."""
    server = start_demo_server()
    paired = chromium.new_context(**KIOSK)
    page = paired.new_page()
    page.goto(f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    with page.expect_navigation():
        page.click("#pair-button")
    scripted_out = chromium.new_context(
        **KIOSK, java_script_enabled=False, storage_state=paired.storage_state()
    )
    page = scripted_out.new_page()
    page.goto(f"{server.url}/kiosk/checkin")
    page.locator("#checkin-text").fill(CCCD_QR)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "?" not in page.url.removesuffix("?")  # the form's own GET sent no field
    assert CCCD_QR.split("|")[0] not in page.url


def test_check_in_at_the_kiosk_by_qr_code_and_cccd_qr(chromium, start_demo_server, demo_file):
    path, info = demo_file
    made = seed_bookings(path, info["office_id"])
    server = start_demo_server(env={"XEPHANG_KIOSK_RESET_S": "30"})
    context = chromium.new_context(**KIOSK)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    with page.expect_navigation():
        page.click("#pair-button")
    page.click("#checkin-open")
    page.locator("#checkin-form[data-ready]").wait_for()  # its script sends what is typed
    page.screenshot(path=str(ARTIFACTS / "kiosk_checkin.png"))

    scans = {
        "qr": f"{server.url}/booking/b/{made['qr']['token']}",  # the booking's QR, scanned
        "code": made["code"]["code"].lower(),  # typed by hand
        "cccd": CCCD_QR,  # the citizen's card
    }
    codes = []
    for name, text in scans.items():
        page.locator("#checkin-text").focus()
        page.keyboard.type(text)  # the scanner types like a keyboard, then Enter
        page.keyboard.press("Enter")
        page.locator("#done:not([hidden])").wait_for()
        page.locator('#c-print[data-state="done"]').wait_for()
        codes.append(page.inner_text("#c-code"))
        assert "bạn được xếp theo giờ hẹn" in page.inner_text("#c-slot")
        page.screenshot(path=str(ARTIFACTS / f"kiosk_checkin_{name}.png"))
        page.click("#c-done")
        page.locator("#scan:not([hidden])").wait_for()
    assert codes == ["A001", "A002", "A003"]
    assert problems == []

    page.locator("#checkin-text").focus()  # the same booking again: refused, said on screen
    page.keyboard.type(made["code"]["code"])
    page.keyboard.press("Enter")
    page.locator("#checkin-error:not([hidden])").wait_for()
    assert "đã được xác nhận" in page.inner_text("#checkin-error")

    printed = list_printed(server.printed)
    assert len(printed) == 3
    for png in printed:
        (found,) = [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
        assert found.startswith(f"{server.url}/t/")
    context.close()


def test_an_online_number_that_must_check_in_checks_in_at_the_kiosk(
    chromium, start_demo_server, demo_file
):
    """With ``online_checkin`` on: the phone's tracker asks the citizen to check in and
    shows its QR; the kiosk's scanner reads that QR, the ticket keeps its number and place
    and prints, and the phone's tracker stops asking, live."""
    path, info = demo_file
    db = connect(path)
    engine.set_office_settings(db, info["office_id"], {"online_checkin": True})
    db.close()
    server = start_demo_server(env={"XEPHANG_KIOSK_RESET_S": "30"})
    office = server.demo["office_id"]

    phone = chromium.new_context(**PHONE)
    page = phone.new_page()
    problems = watch(page)
    page.goto(f"{server.url}/booking/{office}/online")
    assert "xác nhận có mặt tại kiosk" in page.inner_text("#checkin-needed")
    page.locator("label.bk-option", has_text="Hộ tịch").first.click()
    with page.expect_navigation():
        page.click("#take")
    tracker = page.url
    assert "/t/" in tracker
    page.locator("#checkin:not([hidden])").wait_for()
    assert page.inner_text("#status-vi") == "Đang chờ — chưa xác nhận có mặt"
    assert page.inner_text("#code") == "A001"
    checkin_code = page.inner_text(".tr-checkin-code")  # the number and four digits
    assert checkin_code == checkin.checkin_code("A001", tracker.rsplit("/", 1)[1])
    shot = ARTIFACTS / "booking_phone_checkin_needed.png"
    page.screenshot(path=str(shot), full_page=True)
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert found == [tracker]  # the QR the kiosk's scanner will read is the tracker's link

    kiosk_context = chromium.new_context(**KIOSK)
    kiosk = kiosk_context.new_page()
    problems += watch(kiosk)
    kiosk.goto(f"{server.url}/kiosk/pair?token={server.demo['kiosk_token']}")
    with kiosk.expect_navigation():
        kiosk.click("#pair-button")
    assert "lấy số trực tuyến" in kiosk.inner_text("#checkin-open")
    kiosk.click("#checkin-open")
    kiosk.locator("#checkin-form[data-ready]").wait_for()  # its script sends what is typed
    kiosk.locator("#checkin-text").focus()
    kiosk.keyboard.type("a001")  # the number alone, as the board shows it: not enough
    kiosk.keyboard.press("Enter")
    kiosk.locator("#checkin-error:not([hidden])").wait_for()
    assert "cần mã xác nhận" in kiosk.inner_text("#checkin-error")
    # the English lines take the colour of their box: white on the red notice and on the
    # green button, not the page's grey
    assert kiosk.evaluate(
        """() => ["#checkin-error", "#checkin-send"].map(sel => {
            const box = document.querySelector(sel);
            return getComputedStyle(box.querySelector(".en-always")).color
                === getComputedStyle(box).color;
        })"""
    ) == [True, True]
    kiosk.locator("#checkin-text").fill("")
    kiosk.locator("#checkin-text").focus()
    kiosk.keyboard.type(tracker)  # the scanner types the QR it read from the phone
    kiosk.keyboard.press("Enter")
    kiosk.locator("#done:not([hidden])").wait_for()
    assert kiosk.inner_text("#c-code") == "A001"
    assert "Đã xác nhận có mặt" in kiosk.inner_text("#c-slot")
    kiosk.locator('#c-print[data-state="done"]').wait_for()
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk_checkin_online.png"))

    page.locator("#checkin[hidden]").wait_for(state="attached")  # the phone follows, live
    assert page.inner_text("#status-vi") == "Đang chờ"

    kiosk.click("#c-done")
    kiosk.locator("#checkin-text").focus()
    kiosk.keyboard.type("a001")  # typed again by hand: already done, said on the screen
    kiosk.keyboard.press("Enter")
    kiosk.locator("#checkin-error:not([hidden])").wait_for()
    assert "đã được xác nhận có mặt" in kiosk.inner_text("#checkin-error")

    (printed,) = list_printed(server.printed)
    (decoded,) = [r.text for r in zxingcpp.read_barcodes(Image.open(printed))]
    assert decoded == tracker
    assert problems == []
    phone.close()
    kiosk_context.close()


def test_the_counter_says_who_is_not_here_yet_and_checks_them_in(
    browser, start_demo_server, demo_file
):
    """With ``online_checkin`` on, at the counter: call-next passes over an online number
    not checked in and says so; the officer checks it in from the next list and calls it."""
    path, info = demo_file
    db = connect(path)
    engine.set_office_settings(db, info["office_id"], {"online_checkin": True})
    db.close()
    server = start_demo_server()
    taken = requests.post(
        f"{server.url}/api/v1/offices/{server.demo['office_id']}/online-tickets",
        json={"service": "A", "consent": True},
        timeout=30,
    )
    assert taken.status_code == 201, taken.text
    code = taken.json()["ticket"]["code"]
    page = open_counter(browser, server)
    page.locator(f"#next [data-checkin='{code}']").wait_for()
    assert "1 chưa đến" in page.inner_text("#waiting")
    press(page, "n")
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('chưa xác nhận có mặt')"
    )
    assert page.text_content("#current-code") != code  # not called: not here yet
    page.click(f"#next [data-checkin='{code}']")
    page.locator(f"#next [data-call='{code}']").wait_for()  # callable now
    page.screenshot(path=str(ARTIFACTS / "counter_online_checked_in.png"))
    press(page, "n")
    page.wait_for_function(f"document.getElementById('current-code').textContent === '{code}'")
