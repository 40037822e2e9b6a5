"""Restarting the server: open display and counter pages reconnect by themselves and show
the state as it is now, without a page reload."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, issue_ticket, open_counter, open_display, press
from xephang import engine
from xephang.storage import connect

pytestmark = pytest.mark.e2e


def test_pages_reconnect_after_restart_and_show_current_state(browser, live_server):
    server = live_server
    display = open_display(browser, server)
    counter = open_counter(browser, server)
    first = issue_ticket(server)
    counter.wait_for_function(
        f"document.getElementById('next').textContent.includes('{first['code']}')"
    )
    press(counter, "n")
    display.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{first['code']}'"
    )
    # mark both documents: a reload would lose the marks
    for page in (display, counter):
        page.evaluate("window.__notReloaded = true")

    server.stop()
    display.wait_for_function("document.getElementById('conn').dataset.status !== 'online'")
    counter.wait_for_function("document.getElementById('conn').dataset.status !== 'online'")
    # while the server is down the queue moves on (e.g. another process or a CLI did it)
    db = connect(server.db_path)
    second = engine.issue_ticket(db, server.demo["office_id"], "A", check_hours=False).ticket
    engine.no_show(db, first["id"])
    engine.call_next(db, 1)
    db.close()
    server.start()

    display.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{second['code']}'"
    )
    counter.wait_for_function(
        f"document.getElementById('current-code').textContent === '{second['code']}'"
    )
    for page in (display, counter):
        page.wait_for_function("document.getElementById('conn').dataset.status === 'online'")
        assert page.evaluate("window.__notReloaded") is True
    display.screenshot(path=str(ARTIFACTS / "reconnect-display.png"))
    counter.screenshot(path=str(ARTIFACTS / "reconnect-counter.png"))

    # and live events flow again over the new connection
    third = issue_ticket(server)
    press(counter, "v")  # no-show for the second ticket, confirmed with V again
    counter.locator("#dlg-noshow").wait_for(state="visible")
    counter.keyboard.press("v")
    counter.wait_for_function("document.getElementById('current-code').classList.contains('empty')")
    press(counter, "n")
    display.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{third['code']}'"
    )


def test_board_resyncs_on_a_sequence_gap(browser, live_server):
    """An event whose seq skips one means something was missed: the page fetches a snapshot."""
    server = live_server
    display = open_display(browser, server)
    issue_ticket(server)
    display.wait_for_function("window.xephangBoard.state().waiting_total === 1")
    syncs = display.evaluate("window.xephangBoard.syncs()")
    seq = display.evaluate("window.xephangBoard.live.seq()")
    # deliver a forged event from the future, as if seq + 1 had been lost on the way
    display.evaluate(
        """seq => window.xephangBoard.live.socket.listeners('queue_event')[0]({
        office_id: 1, seq: seq + 2, type: 'called', ticket_id: 999, counter_id: 1,
        details: {counter_number: 1}, ticket: {id: 999, code: 'Z999', counter: {id: 1, number: 1}},
        waiting: {}, waiting_total: 0})""",
        seq,
    )
    display.wait_for_function(f"window.xephangBoard.syncs() > {syncs}")
    # the forged event was not applied; the snapshot is the truth
    assert display.text_content("#latest-code") != "Z999"
    assert display.evaluate("window.xephangBoard.state().waiting_total") == 1
    assert display.evaluate("window.xephangBoard.live.seq()") == seq
