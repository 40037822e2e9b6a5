"""Every endpoint declares who may call it (STYLE: auth is declared, never implied)."""

KNOWN = {
    "public",
    "officer",
    "manager",
    "admin",
    "province",
    "kiosk",
    "display",
    "printer",
    "rating",
}


def test_every_view_declares_its_callers(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "allowed", None)
        if not allowed or not set(allowed) <= KNOWN:
            undeclared.append(f"{rule.rule} -> {rule.endpoint}: {allowed!r}")
    assert undeclared == []


def test_every_view_has_a_docstring(app):
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.endswith("static")
        and not (app.view_functions[rule.endpoint].__doc__ or "").strip()
    ]
    assert missing == []
