"""Every response is hardened; cookies follow the public URL; bodies have a size limit."""

from __future__ import annotations

import pytest

from xephang import create_app


@pytest.mark.parametrize("url", ["/", "/login", "/api/v1/health", "/kiosk/", "/nowhere"])
def test_every_response_carries_the_security_headers(client, url):
    r = client.get(url)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_a_tracker_page_sends_no_referrer(client, demo, tokens):
    ticket = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"]).json
    path = ticket["ticket"]["tracker_url"].split("xephang.test", 1)[1]
    assert client.get(path).headers["Referrer-Policy"] == "no-referrer"


def test_no_template_has_inline_script_or_handlers():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    bad = []
    for page in root.glob("*/templates/**/*.html"):
        text = page.read_text(encoding="utf-8")
        for needle in (
            " onclick=",
            " onchange=",
            " onsubmit=",
            " onload=",
            "javascript:",
            " style=",
            "<style",
        ):
            if needle in text:
                bad.append(f"{page.relative_to(root)}: {needle.strip()}")
        for chunk in text.split("<script")[1:]:
            head, _, rest = chunk.partition(">")
            if "src=" not in head and 'type="application/json"' not in head:
                bad.append(f"{page.relative_to(root)}: inline <script>")
    assert bad == []


def _app(tmp_path, **config):
    return create_app({"DB": str(tmp_path / "x.db"), "TESTING": True, "PRINTER": "none", **config})


def test_the_session_cookie_is_secure_behind_https(tmp_path):
    assert (
        _app(tmp_path, SECRET_KEY="k", PUBLIC_URL="https://xephang.gov.vn").config[
            "SESSION_COOKIE_SECURE"
        ]
        is True
    )
    plain = _app(tmp_path, SECRET_KEY="k", PUBLIC_URL="http://10.0.0.5:5000")
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    assert plain.config["SESSION_COOKIE_HTTPONLY"] is True


def test_the_secret_key_can_live_outside_the_database_folder(tmp_path):
    key_file = tmp_path / "etc" / "secret_key"
    app = _app(tmp_path / "data", SECRET_KEY="", SECRET_KEY_FILE=str(key_file))
    assert key_file.exists() and app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert not (tmp_path / "data" / "secret_key").exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("url", ["/api/v1/tickets", "/t/unknown/rating", "/login"])
def test_a_body_past_the_limit_is_refused_with_413(tmp_path, url):
    app = _app(tmp_path, SECRET_KEY="k", MAX_CONTENT_LENGTH=10_000)
    r = app.test_client().post(
        url, data=b"{" + b" " * 20_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
