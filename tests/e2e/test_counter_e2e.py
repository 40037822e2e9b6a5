"""A counter an officer can trust, in a real Chromium: it fits 1366×768, V asks first, the
last move is undone with Z, a no-show comes back, the banner tells the last result only,
another officer's counter is taken over knowingly, an ended session says so, a key typed
while the last move is on its way (or as a dialog closes) is not lost, a counter holding a
ticket does not call another."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import (
    ARTIFACTS,
    boxes_overlap,
    issue_ticket,
    open_counter,
    outside_viewport,
    press,
)
from xephang import engine
from xephang.storage import connect

pytestmark = pytest.mark.e2e

MESSAGE = "document.getElementById('message')"


def message_has(page, text: str) -> None:
    page.wait_for_function(f"!{MESSAGE}.hidden && {MESSAGE}.textContent.includes({text!r})")


def next_shows(page, code: str) -> None:
    page.wait_for_function(f"document.getElementById('next').textContent.includes('{code}')")


def current_is(page, code: str) -> None:
    page.wait_for_function(f"document.getElementById('current-code').textContent === '{code}'")


def one_called(browser, server):
    """A counter page that has called the one ticket issued: (page, ticket)."""
    page = open_counter(browser, server)
    ticket = issue_ticket(server)
    next_shows(page, ticket["code"])
    press(page, "n")
    current_is(page, ticket["code"])
    return page, ticket


# What the page held when a key did not open its dialog: where the key went and why.
PAGE_STATE = """() => ({
    active: document.activeElement && (document.activeElement.tagName + '#' +
            document.activeElement.id),
    open: [...document.querySelectorAll('dialog[open]')].map(d => d.id),
    busy: document.body.dataset.busy,
    disabled: [...document.querySelectorAll('[data-action][disabled]')]
        .map(b => b.dataset.action),
    current: document.getElementById('current-code').textContent,
    message: document.getElementById('message').textContent,
})"""


def press_opens(page, key: str, dialog: str) -> None:
    """Press a counter shortcut that opens a dialog; if it does not, fail with the state
    the page was in (a rare miss under a loaded machine was seen without it)."""
    press(page, key)
    try:
        page.locator(dialog).wait_for(state="visible", timeout=15000)
    except Exception as err:
        raise AssertionError(f"{key} did not open {dialog}: {page.evaluate(PAGE_STATE)}") from err


def fits(page) -> dict:
    """The page's scroll size against the viewport, and what sticks out of it."""
    size = page.evaluate(
        """() => ({scroll: document.scrollingElement.scrollHeight, height: innerHeight,
                   width: document.scrollingElement.scrollWidth, inner: innerWidth})"""
    )
    # inside a card that clips (overflow: hidden): the dossier field and the counter's
    # state line must not fall below its bottom edge
    clipped = page.evaluate(
        """sel => [...document.querySelectorAll(sel)]
          .filter(e => e.getClientRects().length)
          .filter(e => e.getBoundingClientRect().bottom
                       > e.closest('.card').getBoundingClientRect().bottom + 1)
          .map(e => e.id || e.className)""",
        "#dossier-code, #dossier-save, #dossier-for, #counter-state, .actions button",
    )
    return {
        **size,
        "cut": outside_viewport(page, "main .card, .actions button, .bar"),
        "clipped": clipped,
    }


def test_the_counter_fits_1366x768_with_a_calm_placeholder(browser, live_server):
    server = live_server
    page = open_counter(browser, server)
    page.set_viewport_size({"width": 1366, "height": 768})
    placeholder = page.locator("#current-code")
    assert "empty" in placeholder.get_attribute("class")
    assert "Chưa gọi ai" in placeholder.inner_text()
    page.screenshot(path=str(ARTIFACTS / "counter-1366-empty.png"))
    empty_box = placeholder.bounding_box()
    layout = fits(page)
    assert layout["scroll"] <= layout["height"] and layout["width"] <= layout["inner"], layout
    assert layout["cut"] == [] and layout["clipped"] == []
    assert boxes_overlap(page, ".actions button") == []

    for service in "AAAB":
        issue_ticket(server, service=service)
    page.wait_for_function("document.querySelectorAll('#next li button').length >= 4")
    press(page, "n")
    current_is(page, "A001")
    page.screenshot(path=str(ARTIFACTS / "counter-1366-called.png"))
    layout = fits(page)
    assert layout["scroll"] <= layout["height"] and layout["cut"] == [], layout
    assert layout["clipped"] == [], layout
    # the ticket area keeps its place: the actions below do not jump
    called_box = placeholder.bounding_box()
    assert abs(called_box["y"] - empty_box["y"]) < 1


def test_no_show_asks_first_is_undone_and_comes_back_the_same_day(browser, live_server):
    server = live_server
    page = open_counter(browser, server)
    first, second = issue_ticket(server), issue_ticket(server)
    next_shows(page, second["code"])
    press(page, "n")
    current_is(page, first["code"])
    message_has(page, f"Đã gọi số {first['code']}")

    # V asks: Esc keeps the citizen called
    press_opens(page, "v", "#dlg-noshow")
    assert first["code"] in page.inner_text("#noshow-text")
    page.screenshot(path=str(ARTIFACTS / "counter-noshow-confirm.png"))
    page.keyboard.press("Escape")
    page.locator("#dlg-noshow").wait_for(state="hidden")
    current_is(page, first["code"])
    # V, V: confirmed. The banner says so, not "Đã gọi" any more.
    press_opens(page, "v", "#dlg-noshow")
    page.keyboard.press("v")
    page.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    message_has(page, f"Số {first['code']} vắng mặt")
    assert "Đã gọi" not in page.inner_text("#message")
    page.wait_for_function(
        f"document.getElementById('no-shows').textContent.includes('{first['code']}')"
    )
    page.screenshot(path=str(ARTIFACTS / "counter-noshow-undo-offered.png"))

    # Z: undone, back at the counter as called
    press(page, "z")
    current_is(page, first["code"])
    message_has(page, "Đã hoàn tác")
    # No-show again, then call-next: the undo is gone (something happened since)
    press_opens(page, "v", "#dlg-noshow")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    press(page, "n")
    current_is(page, second["code"])
    assert page.locator("#btn-undo").is_disabled()
    press(page, "v")
    page.keyboard.press("v")
    page.wait_for_function("document.getElementById('current-code').classList.contains('empty')")

    # the first no-show comes back to its original place from today's no-shows list
    page.click(f"#no-shows button[data-return][data-code='{first['code']}']")
    page.locator("#dlg-return").wait_for(state="visible")
    assert "đúng chỗ cũ" in page.inner_text("#return-what")
    page.fill("#dlg-return input[name=reason]", "Công dân đã quay lại")
    page.keyboard.press("Enter")
    message_has(page, f"Đã trả số {first['code']} về hàng chờ")
    # and the second by calling it again (G with its code), with a reason
    press(page, "g")
    page.fill("#dlg-call input[name=ticket]", second["code"].lower())
    page.fill("#dlg-call input[name=reason]", "Gọi lại số đã bỏ lỡ")
    page.keyboard.press("Enter")
    current_is(page, second["code"])
    page.screenshot(path=str(ARTIFACTS / "counter-noshow-called-back.png"))
    events = requests.get(
        f"{server.url}/api/v1/tickets/{first['id']}", headers=server.officer, timeout=10
    ).json()["ticket"]["events"]
    assert [e["type"] for e in events] == [
        "issued",
        "called",
        "no_show",
        "undone",
        "no_show",
        "returned",
    ]


def test_the_banner_shows_the_last_result_only(browser, live_server):
    server = live_server
    page = open_counter(browser, server)
    ticket = issue_ticket(server)
    next_shows(page, ticket["code"])
    press(page, "n")
    message_has(page, "Đã gọi số")
    # pause is refused while a citizen is called (as closing is), and says why
    press(page, "p")
    page.fill("#dlg-pause input[name=reason]", "Họp")
    page.keyboard.press("Enter")
    message_has(page, "trước khi tạm dừng")
    page.wait_for_function(f"{MESSAGE}.classList.contains('error')")
    # a success replaces the error
    press(page, "s")
    message_has(page, "Bắt đầu phục vụ")
    assert "error" not in page.get_attribute("#message", "class")
    press(page, "f")
    page.keyboard.press("Enter")
    message_has(page, "Đã kết thúc")
    press(page, "p")
    page.fill("#dlg-pause input[name=reason]", "Họp")
    page.keyboard.press("Enter")
    message_has(page, "Quầy tạm dừng")
    press(page, "n")  # refused while paused
    message_has(page, "đang tạm dừng")
    press(page, "p")  # resume: the paused refusal does not stay
    message_has(page, "tiếp tục nhận số")
    assert "đang tạm dừng" not in page.inner_text("#message")
    page.screenshot(path=str(ARTIFACTS / "counter-banner-after-resume.png"))


def test_a_scan_typed_into_the_page_goes_to_check_in_not_to_the_shortcuts(browser, live_server):
    """A 2D scanner types what it reads a few milliseconds a character, wherever the focus
    is: a link full of shortcut letters (N, S, F, V, R) must not call, start or finish
    anyone, and must land in the check-in field."""
    server = live_server
    page = open_counter(browser, server)
    ticket = issue_ticket(server)
    next_shows(page, ticket["code"])
    page.locator("body").focus()
    scanned = "https://example.org/b/NSFVRTX9"  # no such booking
    page.keyboard.type(scanned)  # no delay between the keys, as a scanner
    page.keyboard.press("Enter")
    message_has(page, "Không tìm thấy")  # it went to check-in, which knows no such code
    assert page.input_value("#checkin-text") == scanned
    assert page.text_content("#current-code") != ticket["code"]  # nobody was called
    page.locator("#checkin-text").fill("")
    page.locator("body").click(position={"x": 5, "y": 5})  # the focus off the field
    press(page, "n")  # one key is still its shortcut
    current_is(page, ticket["code"])


def test_transfer_offers_other_services_and_reprints_the_new_ticket(browser, live_server):
    server = live_server
    page, ticket = one_called(browser, server)
    press(page, "t")
    options = page.eval_on_selector_all(
        "#dlg-transfer select[name=service] option", "os => os.map(o => o.textContent)"
    )
    assert not any(o.startswith("A —") for o in options) and "C — Đất đai" in options
    page.select_option("#dlg-transfer select[name=service]", label="C — Đất đai")
    page.keyboard.press("Enter")
    message_has(page, "thành số C001")
    # I: the citizen's new ticket is printed again, through the spooler
    with page.expect_response(lambda r: r.url.endswith("/print")) as printed:
        press(page, "i")
    assert printed.value.status == 201 and printed.value.json()["code"] == "C001"
    message_has(page, "in lại phiếu C001")
    # Z undoes the transfer: the citizen is back, C001 withdrawn
    press(page, "z")
    current_is(page, ticket["code"])
    waiting = requests.get(
        f"{server.url}/api/v1/offices/{server.demo['office_id']}/waiting",
        headers=server.officer,
        timeout=10,
    ).json()["tickets"]
    assert "C001" not in [t["code"] for t in waiting]


def test_a_counter_held_by_another_officer_is_taken_over_knowingly(browser, live_server):
    server = live_server
    first = open_counter(browser, server, "canbo1", 1)
    ticket = issue_ticket(server)
    next_shows(first, ticket["code"])
    press(first, "n")
    current_is(first, ticket["code"])
    # leaving with a citizen called warns
    asked = []
    first.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    press(first, "q")
    first.wait_for_function("true")
    assert asked and ticket["code"] in asked[0]
    assert not first.locator("#dlg-counter").is_visible()

    second = browser.new_page(viewport={"width": 1366, "height": 768})
    second.goto(f"{server.url}/counter/")
    second.fill("input[name=username]", "canbo2")
    second.fill("input[name=password]", server.demo["password"])
    second.click("button[type=submit]")
    second.locator("#dlg-counter").wait_for(state="visible")
    choice = second.locator("#counter-choices button[data-counter]", has_text="Quầy 1")
    assert "Đang do Cán bộ quầy 1 phụ trách" in choice.inner_text()
    second.screenshot(path=str(ARTIFACTS / "counter-chooser-held.png"))
    choice.click()
    second.locator("#dlg-takeover").wait_for(state="visible")
    assert "Cán bộ quầy 1" in second.inner_text("#takeover-text")
    second.keyboard.press("Enter")
    message_has(second, "Bạn đã nhận quầy 1")
    current_is(second, ticket["code"])
    # the first officer's screen says who has the counter now, and its keys are off
    first.wait_for_function(
        "document.getElementById('counter-state').textContent.includes('Cán bộ quầy 2')"
    )
    assert first.locator("[data-action=call-next]").is_disabled()
    first.screenshot(path=str(ARTIFACTS / "counter-taken-over.png"))


def test_an_ended_session_says_so_and_logs_back_in_to_the_same_counter(browser, live_server):
    server = live_server
    page = open_counter(browser, server, "canbo3", 3)
    page.locator("#conn[data-status=online]").wait_for()
    db = connect(server.db_path)  # the session outlives its lifetime: HTTP says 401 now
    db.execute("UPDATE sessions SET created_at = '2000-01-01T00:00:00+00:00'")
    db.close()
    press(page, "n")
    page.wait_for_url("**/login?**")
    assert "Phiên đăng nhập đã hết hạn" in page.inner_text("#expired")
    page.screenshot(path=str(ARTIFACTS / "counter-session-expired.png"))
    page.fill("input[name=username]", "canbo3")
    page.fill("input[name=password]", server.demo["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/counter/")
    page.wait_for_function(
        "document.getElementById('counter-title').textContent.includes('Quầy số 3')"
    )
    assert not page.locator("#dlg-counter").is_visible()


def test_a_key_typed_while_the_last_move_is_on_its_way_is_not_lost(browser, live_server):
    """An officer who types N then S at once calls and starts: S, pressed while the call
    is on its way (its button disabled), acts once the call's answer and state enable it."""
    server = live_server
    page = open_counter(browser, server)
    ticket = issue_ticket(server)
    next_shows(page, ticket["code"])
    press(page, "n")
    page.keyboard.press("s")  # at once: the call has not been answered yet
    message_has(page, f"Bắt đầu phục vụ số {ticket['code']}")
    state = requests.get(
        f"{server.url}/api/v1/tickets/{ticket['id']}", headers=server.officer, timeout=30
    ).json()
    assert state["ticket"]["status"] == "serving"


# Set while the current number is also listed as next (a MutationObserver sees every render).
WATCH_NEXT = """() => {
    window.calledAndNext = [];
    const check = () => {
        const code = document.getElementById('current-code');
        if (code.classList.contains('empty')) return;
        const listed = [...document.querySelectorAll('#next [data-call], #next [data-checkin]')]
            .some(b => (b.dataset.call || b.dataset.checkin) === code.textContent);
        if (listed) window.calledAndNext.push(code.textContent);
    };
    new MutationObserver(check).observe(document.body,
        {childList: true, subtree: true, characterData: true});
}"""


def test_a_called_number_leaves_the_next_list_as_it_is_called(browser, live_server):
    """The counter's list of who is next came with the counter's own state, asked for a
    moment after each change: the number just called stayed listed as next below it until
    then. It leaves the list with the call's answer or event, whichever comes first."""
    server = live_server
    page = open_counter(browser, server, counter_number=2)
    tickets = [issue_ticket(server) for _ in range(3)]
    next_shows(page, tickets[-1]["code"])
    page.evaluate(WATCH_NEXT)
    page.evaluate("() => { window.mineBefore = window.xephangCounter.state().mine; }")
    press(page, "n")
    page.wait_for_function("!document.getElementById('current-code').classList.contains('empty')")
    page.wait_for_function(  # the counter's own state, asked after the call, is here
        "() => window.xephangCounter.state().mine !== window.mineBefore"
    )
    called = page.inner_text("#current-code")
    assert called not in page.inner_text("#next")
    assert page.evaluate("() => window.calledAndNext") == []


def test_the_counter_acts_on_its_own_moves_answers_before_any_event_comes(browser, live_server):
    """A move's answer says where its ticket is: the counter shows it and acts on it at once
    (V right after Z), though its event and the state that follow are late or lost."""
    server = live_server
    page = open_counter(browser, server, counter_number=3)
    ticket = issue_ticket(server, service="C")
    next_shows(page, ticket["code"])
    press(page, "n")
    page.wait_for_function("!document.getElementById('current-code').classList.contains('empty')")
    called = page.inner_text("#current-code")
    page.evaluate(  # from here on no event and no office state reach the page
        """() => { const live = window.xephangCounter.live;
                   live.socket.off('queue_event'); live.resync = () => {}; }"""
    )
    press_opens(page, "v", "#dlg-noshow")
    page.keyboard.press("v")
    page.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    press(page, "z")
    current_is(page, called)  # back at the counter, called, from the undo's answer
    press_opens(page, "v", "#dlg-noshow")
    assert called in page.inner_text("#noshow-text")


CUT_OFF = """() => { const live = window.xephangCounter.live, emit = live.socket.emit;
    live.socket.off('queue_event'); live.resync = () => {};
    live.socket.emit = function (name) {
        return name === 'counter_sync' ? live.socket : emit.apply(live.socket, arguments);
    }; }"""


def test_a_no_show_undone_leaves_todays_no_shows_with_the_undos_answer(browser, live_server):
    """Today's no-shows come with the counter's own state: a no-show undone by Z left the
    list only when that state came. It leaves it with the undo's answer."""
    server = live_server
    page, ticket = one_called(browser, server)
    press_opens(page, "v", "#dlg-noshow")
    page.keyboard.press("v")
    page.wait_for_function(
        f"document.getElementById('no-shows').textContent.includes('{ticket['code']}')"
    )
    page.evaluate(CUT_OFF)  # from here on no event and no counter state reach the page
    press(page, "z")
    current_is(page, ticket["code"])
    assert ticket["code"] not in page.inner_text("#no-shows")


def test_a_counter_holding_a_ticket_does_not_call_another(browser, live_server):
    """Call-next is refused while the counter holds a ticket (the engine's rule): its button
    is disabled and says why, N says what to do instead (S or V when called, F when served)
    and calls nobody, and a finish then N typed at once calls the next."""
    server = live_server
    page = open_counter(browser, server)
    first, second = issue_ticket(server), issue_ticket(server)
    next_shows(page, second["code"])
    page.evaluate("() => { window.mineBefore = window.xephangCounter.state().mine; }")
    press(page, "n")
    current_is(page, first["code"])
    page.wait_for_function(  # the counter's state after the call: N now is no double press
        "() => window.xephangCounter.state().mine !== window.mineBefore"
    )
    call_next = page.locator("[data-action='call-next']")
    page.wait_for_function("() => document.querySelector(\"[data-action='call-next']\").disabled")
    assert f"giữ số {first['code']}: nhấn S" in call_next.get_attribute("title")
    page.wait_for_function("document.body.dataset.busy === ''")
    page.keyboard.press("n")  # its button is disabled: press() would wait for it
    message_has(page, f"Quầy đang giữ số {first['code']}")
    # a number of the next list, clicked to call it by its code: the same answer
    page.click(f"#next button[data-call='{second['code']}']")
    assert not page.locator("#dlg-call").is_visible()
    current_is(page, first["code"])
    waiting = requests.get(
        f"{server.url}/api/v1/tickets/{second['id']}", headers=server.officer, timeout=30
    ).json()
    assert waiting["ticket"]["status"] == "waiting"

    press(page, "s")
    message_has(page, f"Bắt đầu phục vụ số {first['code']}")
    assert "F khi phục vụ xong" in call_next.get_attribute("title")
    press_opens(page, "f", "#dlg-finish")
    page.keyboard.press("Enter")
    page.keyboard.press("n")  # at once: the finish has not been answered yet
    current_is(page, second["code"])
    message_has(page, f"Đã gọi số {second['code']}")
    assert second["code"] in call_next.get_attribute("title")
    assert page.input_value("#dlg-finish input[name=dossier_code]") == ""  # not typed there


def test_v_right_after_esc_asks_again_and_marks_nobody_absent(browser, live_server):
    """Chromium leaves the focus in a closed dialog until its next rendering: V typed right
    after Esc closed the no-show dialog reached the dialog's own V (confirm) and marked the
    citizen absent without asking (the rare failure of the no-show test under load). It
    opens the dialog again."""
    server = live_server
    page, ticket = one_called(browser, server)
    press_opens(page, "v", "#dlg-noshow")
    # Esc closes the dialog and V comes before the next rendering: one task, as a loaded
    # machine makes it (real keys hit that moment in about one run of two)
    where = page.evaluate(
        """() => { document.getElementById('dlg-noshow').close();
                   const at = document.activeElement;
                   at.dispatchEvent(new KeyboardEvent('keydown',
                       {key: 'v', bubbles: true, cancelable: true}));
                   return at.closest('dialog') && at.closest('dialog').id; }"""
    )
    assert where == "dlg-noshow"  # the focus was still in the closed dialog
    page.locator("#dlg-noshow").wait_for(state="visible")
    state = requests.get(
        f"{server.url}/api/v1/tickets/{ticket['id']}", headers=server.officer, timeout=30
    ).json()
    assert state["ticket"]["status"] == "called"


def test_todays_no_shows_beyond_the_list_are_counted(browser, live_server):
    """The counter lists today's latest four no-shows: the others were not there at all.
    It says how many more there are and how to call one back."""
    server = live_server
    db = connect(server.db_path)
    for _ in range(6):
        issue_ticket(server)
        engine.no_show(db, engine.call_next(db, 1).ticket["id"])
    db.close()
    page = open_counter(browser, server)
    page.wait_for_function("document.querySelectorAll('#no-shows li').length === 4")
    more = page.locator("#no-shows-more")
    more.wait_for(state="visible")
    assert more.inner_text().startswith("Còn 2 số vắng mặt khác: nhấn G")
    # one brought back from the list: its answer leaves one more to count, not two
    code = page.locator("#no-shows button[data-return]").first.get_attribute("data-code")
    page.click(f"#no-shows button[data-return][data-code='{code}']")
    page.fill("#dlg-return input[name=reason]", "Công dân đã quay lại")
    page.keyboard.press("Enter")
    message_has(page, f"Đã trả số {code} về hàng chờ")
    page.wait_for_function(
        "document.getElementById('no-shows-more').textContent.startsWith('Còn 1 số')"
    )
    page.screenshot(path=str(ARTIFACTS / "counter-no-shows-more.png"))
