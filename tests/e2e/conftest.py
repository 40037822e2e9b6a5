"""Browser-test fixtures: a running demo server and a headless Chromium.

``live_server`` is ``xephang serve`` (the production gevent server, started by
``tests.helpers.LiveServer`` through the ``start_demo_server`` fixture of
``tests/conftest.py``) on a fresh copy of the demo template; it can
``restart()`` on the same port and database. ``browser`` is Debian's Chromium
driven by Playwright (never ``playwright install``), launched once per test
process; a test's pages and contexts are closed after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_server(start_demo_server):
    """A running demo server: ``.url``, ``.demo`` (tokens, board id), ``.officer``,
    ``.restart()``."""
    return start_demo_server()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium through Playwright, launched once per test process."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ScriptableBrowser:
    """The shared Chromium, whose pages let Playwright evaluate script strings.

    The app's Content-Security-Policy allows no ``eval`` (script-src 'self'), and
    Playwright's ``wait_for_function("...")`` is one; so test pages bypass the CSP.
    ``tests/e2e/test_csp_e2e.py`` opens every page with the policy in force.
    """

    def __init__(self, chromium):
        self._chromium = chromium

    def new_context(self, **options):
        return self._chromium.new_context(**{"bypass_csp": True, **options})

    def new_page(self, **options):
        return self._chromium.new_page(**{"bypass_csp": True, **options})

    def __getattr__(self, name):
        return getattr(self._chromium, name)


@pytest.fixture
def browser(chromium):
    """The shared Chromium; every page and context a test opens is closed after it, so
    each test starts with none (``new_page`` gives each page a context of its own)."""
    yield ScriptableBrowser(chromium)
    for context in chromium.contexts:
        context.close()
