"""The TV board at 20 services and 30 counters, at 1920×1080 and 1366×768: nothing overlaps
or is cut (element boxes checked), what does not fit turns in pages, long names scroll in,
the grid keeps still from idle to a call; zones; a muted board warns the dashboard."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import (
    ARTIFACTS,
    AUTOPLAY_POLICY,
    boxes_overlap,
    open_paired,
    outside_viewport,
)
from xephang import engine
from xephang.storage import connect

pytestmark = pytest.mark.e2e

LAND = "Cấp giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất"
MORE_SERVICES = [  # 14 more: with the demo's six, 20 services
    ("G", LAND),
    ("H", "Đăng ký biến động đất đai"),
    ("K", "Cấp phép xây dựng nhà ở riêng lẻ"),
    ("L", "Chứng thực bản sao từ bản chính"),
    ("M", "Đăng ký khai sinh, khai tử, kết hôn"),
    ("N", "Giải quyết chế độ bảo hiểm xã hội một lần"),
    ("P", "Đăng ký hộ kinh doanh cá thể"),
    ("Q", "Thủ tục trợ cấp người có công với cách mạng"),
    ("R", "Cấp đổi giấy phép lái xe"),
    ("S", "Đăng ký thường trú, tạm trú"),
    ("T", "Tiếp nhận hồ sơ trực tuyến"),
    ("U", "Trả kết quả"),
    ("V", "Thu phí, lệ phí"),
    ("Đ", "Đăng ký đất đai lần đầu"),
]
# What must not overlap, and must lie inside the screen.
AREAS = (
    ".top > .office, .top > .sound:not([hidden]), .top > .conn, .top > .clock, main h2,"
    " .latest, .latest-text, .recent-box, .counter, .waiting-h, .service, .wait-today, .ticker"
)
TEXTS = (  # text that must be shown whole (names may be ellipsised: they scroll in)
    ".office, .counter .num, .counter .now, .counter .status, .service .prefix, .service b,"
    " .recent td, .recent th,"
    " .latest-code, .latest-counter, h2"
)
CUT_JS = """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length)
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => e.className + ' ' + e.textContent.trim().slice(0, 30))"""


def big_office(server) -> None:
    """20 services and 30 counters, a long board message, people waiting, calls made."""
    db = connect(server.db_path)
    office = server.demo["office_id"]
    ids = [engine.add_service(db, office, p, name, "", "Khác") for p, name in MORE_SERVICES]
    ids = [r[0] for r in db.execute("SELECT id FROM services WHERE prefix IN ('A','B')")] + ids
    for number in range(7, 31):
        engine.add_counter(db, office, number, [ids[number % len(ids)]])
    engine.set_office_settings(
        db,
        office,
        {"board_message": "Kính mời công dân chuẩn bị sẵn giấy tờ tùy thân. " * 4},
    )
    for prefix in ("A", "G", "Đ", "C", "B", "A", "G", "H"):
        engine.issue_ticket(db, office, prefix, check_hours=False)
    counters = dict(db.execute("SELECT number, id FROM counters WHERE office_id = ?", [office]))
    for number in (1, 3, 7, 2):
        out = engine.call_next(db, counters[number])
        if out.ticket and number == 3:
            engine.start(db, out.ticket["id"])
    engine.pause(db, counters[12], "Họp")
    db.close()


def layout(page) -> dict:
    return {
        "overlaps": boxes_overlap(page, AREAS),
        "outside": outside_viewport(page, AREAS),
        "cut": page.evaluate(CUT_JS, TEXTS),
        "scroll": page.evaluate(
            "[document.scrollingElement.scrollHeight - innerHeight,"
            " document.scrollingElement.scrollWidth - innerWidth]"
        ),
    }


def areas(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(['.latest', '.recent-box', '.counter-grid', '.services',
          '.ticker', '.top'].map(s => { const b = document.querySelector(s).getBoundingClientRect();
          return [s, [b.x, b.y, b.width, b.height].map(Math.round)]; }))"""
    )


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_twenty_services_and_thirty_counters_fit_without_overlap(browser, live_server, size):
    server = live_server
    big_office(server)
    width, height = size
    board = browser.new_page(viewport={"width": width, "height": height})
    board.add_init_script(AUTOPLAY_POLICY)  # sound blocked: the button shows in the header
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}")
    board.wait_for_function("window.xephangBoard && window.xephangBoard.state()")
    board.locator("#sound").wait_for(state="visible")
    board.wait_for_function("document.querySelectorAll('.counter').length > 0")
    shot = f"board-{width}x{height}"
    board.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
    found = layout(board)
    assert found == {"overlaps": [], "outside": [], "cut": [], "scroll": [0, 0]}, found

    # the office name is whole while the sound button shows
    assert board.evaluate(
        "(e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1)"
        "(document.getElementById('office-name'))"
    )
    # every column and area has its English label
    for label in ("Ticket", "Counter", "Time", "Now calling", "Counters", "Waiting"):
        assert label in board.inner_text("#board"), label

    # every counter and every service is on some page; pages turn
    seen_counters, seen_services = set(), set()
    for turn in range(6):
        seen_counters |= set(
            board.eval_on_selector_all(".counter", "cs => cs.map(c => c.dataset.counter)")
        )
        seen_services |= set(
            board.eval_on_selector_all(".service", "ss => ss.map(s => s.dataset.service)")
        )
        found = layout(board)
        assert found == {"overlaps": [], "outside": [], "cut": [], "scroll": [0, 0]}, (turn, found)
        if turn == 1:
            board.screenshot(path=str(ARTIFACTS / f"{shot}-page2.png"))
        board.evaluate("window.xephangBoard.turnPages()")
    assert seen_counters == {str(n) for n in range(1, 31)}
    assert len(seen_services) == 20 and "Đ" in seen_services
    assert board.inner_text("#counters-page") and board.inner_text("#services-page")

    # the long land service name is ellipsised, and scrolls to show the rest
    board.wait_for_function(
        "[...document.querySelectorAll('.service')].some(s => s.dataset.service === 'G')"
        " || (window.xephangBoard.turnPages(), false)",
        polling=200,
    )
    land = board.locator(".service[data-service='G'] .name")
    assert board.evaluate("n => n.scrollWidth > n.clientWidth", land.element_handle())
    assert land.get_attribute("title") is None  # the chip carries it
    assert board.get_attribute(".service[data-service='G']", "title") == LAND
    board.evaluate("window.xephangBoard.reveal()")
    board.wait_for_function(
        "document.querySelector(\".service[data-service='G'] .name\")"
        ".classList.contains('scrolling') || (window.xephangBoard.reveal(), false)",
        polling=200,
    )
    # halfway through, the end of the name is in view (the animation set to that moment)
    shift = board.evaluate(
        """() => { const span = document.querySelector(".service[data-service='G'] .name span");
          const a = span.getAnimations()[0];
          a.pause();
          a.currentTime = a.effect.getTiming().duration * 0.75;
          return new DOMMatrix(getComputedStyle(span).transform).m41; }"""
    )
    assert shift < -20
    board.screenshot(path=str(ARTIFACTS / f"{shot}-long-name.png"))


def test_the_grid_keeps_still_from_idle_to_a_call(browser, live_server):
    server = live_server
    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}")
    board.wait_for_function("window.xephangBoard && window.xephangBoard.state()")
    idle = areas(board)
    board.screenshot(path=str(ARTIFACTS / "board-idle.png"))
    requests.post(
        f"{server.url}/api/v1/tickets",
        json={"service": "A"},
        headers={"Authorization": f"Bearer {server.demo['kiosk_token']}"},
        timeout=10,
    )
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=server.officer, timeout=10)
    board.wait_for_function("document.getElementById('latest-code').textContent === 'A001'")
    assert areas(board) == idle
    board.screenshot(path=str(ARTIFACTS / "board-called.png"))


def test_a_zone_board_shows_and_announces_its_own_counters_only(browser, live_server):
    server = live_server
    board = browser.new_page(viewport={"width": 1366, "height": 768})
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}?services=C,D&counters=3-4")
    board.wait_for_function("window.xephangBoard && window.xephangBoard.state()")
    assert board.eval_on_selector_all(".counter", "cs => cs.map(c => c.dataset.counter)") == [
        "3",
        "4",
    ]
    assert board.eval_on_selector_all(".service", "ss => ss.map(s => s.dataset.service)") == [
        "C",
        "D",
    ]
    kiosk = {"Authorization": f"Bearer {server.demo['kiosk_token']}"}
    for service in ("A", "C"):
        requests.post(
            f"{server.url}/api/v1/tickets", json={"service": service}, headers=kiosk, timeout=10
        )
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=server.officer, timeout=10)
    board.wait_for_function("window.xephangBoard.state().recent_calls.length === 1")
    assert "A001" not in board.inner_text("#latest")  # counter 1 is not this zone's
    requests.post(f"{server.url}/api/v1/counters/3/call-next", headers=server.officer, timeout=10)
    board.wait_for_function("document.getElementById('latest-code').textContent === 'C001'")
    assert board.inner_text("#recent").count("\n") == 0  # one call: C001 only
    board.screenshot(path=str(ARTIFACTS / "board-zone.png"))
    bad = board.goto(f"{server.url}/display/board/{server.demo['board_id']}?counters=99")
    assert bad.status == 400 and "Không có quầy số 99" in board.inner_text("body")


def test_a_board_with_blocked_sound_warns_the_dashboard(browser, live_server):
    server = live_server
    display = browser.new_page(viewport={"width": 1920, "height": 1080})
    display.add_init_script(AUTOPLAY_POLICY)
    open_paired(display, f"{server.url}/display/pair?token={server.demo['display_token']}")
    display.locator("#sound").wait_for(state="visible")
    manager = browser.new_page(viewport={"width": 1600, "height": 900})
    manager.goto(f"{server.url}/manager/")
    manager.fill("input[name=username]", "quanly")
    manager.fill("input[name=password]", server.demo["password"])
    manager.click("button[type=submit]")
    manager.wait_for_function(
        "[...document.querySelectorAll('#alerts .alert')]"
        ".some(a => a.textContent === 'TV phòng chờ: chưa bật âm thanh')"
    )
    assert "Kiosk Kiosk" not in manager.inner_text("#alerts")
    manager.screenshot(path=str(ARTIFACTS / "dashboard-board-muted.png"))
    # the button turns the sound on: the warning goes
    display.click("#sound")
    display.locator("#sound").wait_for(state="hidden")
    manager.reload()
    manager.wait_for_function(
        "document.getElementById('devices').textContent.includes('Đã bật âm thanh')"
    )
    assert "chưa bật âm thanh" not in manager.inner_text("#alerts")
    manager.goto(f"{server.url}/manager/setup/devices")
    assert "Đã bật âm thanh" in manager.inner_text("#devices")
    assert "{" not in manager.inner_text("#devices")  # words, not raw JSON
