"""Headers every response carries: scripts and styles from this server only, no framing,
no MIME sniffing, no referrer leaving the site (tracker links carry a token).

HSTS is left to the TLS-terminating proxy (docs/security.md, deploy guidance): the
application cannot know whether every client reaches it over https.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A tracker page's address is its key: never send it on as a referrer.
    private = request.path.startswith(("/t/", "/booking/b/"))  # addresses that are keys
    referrer = "no-referrer" if private else "same-origin"
    headers.setdefault("Referrer-Policy", referrer)
    return response


def _body_limit():
    """A body declared larger than MAX_CONTENT_LENGTH is refused before anything reads it,
    on every route (also those that would refuse the caller first)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        abort(413)


def init_app(app: Flask) -> None:
    """Refuse oversized bodies up front; add the security headers to every response."""
    app.before_request(_body_limit)
    app.after_request(_headers)
