"""The board's voice in a real browser: blocked audio, queued announcements, recalls."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_flow_e2e import issue_ticket
from xephang import accounts
from xephang.db import connect

pytestmark = pytest.mark.e2e


def officer(server) -> dict:
    db = connect(server.db_path)
    token = accounts.add_user_token(db, "canbo1")
    db.close()
    return {"Authorization": f"Bearer {token}"}


# Headless Chromium (driven by Playwright) lets Web Audio start without a gesture; this puts
# back what desktop browsers do: an AudioContext stays suspended until the user clicks or types.
AUTOPLAY_POLICY = """
(() => {
  let activated = false;
  const activate = e => { if (e.isTrusted) activated = true; };
  addEventListener("pointerdown", activate, true);
  addEventListener("keydown", activate, true);
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) {
      super(...args);
      if (!activated) this.suspend();
    }
    resume() {
      return activated ? super.resume()
        : Promise.reject(new DOMException("blocked until a gesture", "NotAllowedError"));
    }
  };
})();
"""

def test_blocked_audio_shows_button_then_announces_in_turn(browser, live_server):
    """With autoplay blocked the board shows "Bật âm thanh"; after the click, calls queue."""
    server = live_server
    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    board.add_init_script(AUTOPLAY_POLICY)
    board.goto(f"{server.url}/display/board/{server.demo['board_id']}")
    board.locator("#sound").wait_for(state="visible")
    board.screenshot(path=str(ARTIFACTS / "voice-blocked-button.png"))

    headers = officer(server)
    first, second = issue_ticket(server, service="A"), issue_ticket(server, service="C")
    requests.post(f"{server.url}/api/v1/counters/1/call-next", headers=headers)
    requests.post(f"{server.url}/api/v1/counters/3/call-next", headers=headers)
    requests.post(f"{server.url}/api/v1/tickets/{first['id']}/recall", headers=headers)
    board.wait_for_function(
        f"document.getElementById('latest-code').textContent === '{first['code']}'")
    assert board.evaluate("window.xephangVoice.log.length") == 0  # nothing played yet

    board.click("#sound")
    board.locator("#sound").wait_for(state="hidden")
    board.wait_for_function("window.xephangVoice.log.length === 3", timeout=60000)
    log = board.evaluate("window.xephangVoice.log")
    assert [entry["text"].split()[-5] for entry in log] == [
        first["code"], second["code"], first["code"]]  # the recall announced again
    for before, after in zip(log, log[1:], strict=False):
        assert after["at"] >= before["at"] + before["duration_ms"]  # never overlapping
