"""Watching a server: /metrics (who may read it, what it says), /api/v1/health, request ids
and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from xephang import engine
from xephang.engine import access, accounts, checkin
from xephang.web.context import address_in
from xephang.web.health import register_check
from xephang.web.logs import JsonFormatter, RequestIdFilter


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of a Prometheus text answer."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_metrics_say_what_waits_what_was_issued_and_how_long_requests_took(client, tokens):
    for service in "AAB":
        r = client.post("/api/v1/tickets", json={"service": service}, headers=tokens["kiosk"])
        assert r.status_code == 201
    r = client.get("/metrics")  # the test client comes from 127.0.0.1
    assert r.status_code == 200 and r.mimetype == "text/plain"
    found = samples(r.get_data(as_text=True))
    assert (
        found[("xephang_waiting_tickets", frozenset({"office": "1", "service": "A"}.items()))] == 2
    )
    assert (
        found[("xephang_waiting_tickets", frozenset({"office": "1", "service": "B"}.items()))] == 1
    )
    assert found[("xephang_tickets_issued_total", frozenset({"office": "1"}.items()))] >= 3
    assert found[("xephang_longest_wait_seconds", frozenset({"office": "1"}.items()))] >= 0
    api = frozenset({"group": "api", "method": "POST", "status_class": "2xx"}.items())
    assert found[("xephang_http_request_duration_seconds_count", api)] >= 3
    assert found[("xephang_db_commit_seconds_count", frozenset())] >= 1
    assert ("xephang_print_jobs", frozenset({"state": "queued"}.items())) in found


def test_metrics_answer_allowed_addresses_and_admins_of_every_office(client, tokens, db, demo):
    far = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=far).status_code == 403
    assert client.get("/metrics", environ_base=far, headers=tokens["officer"]).status_code == 403
    assert client.get("/metrics", environ_base=far, headers=tokens["admin"]).status_code == 200
    # through a proxy on this machine the client is the address the proxy saw
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=proxied).status_code == 403
    # an admin bound to one office sees one office: not the whole server's figures
    office_admin = accounts.add_user(db, "qtv", "admin", office_id=demo["office_id"])
    token = accounts.add_user_token(db, "qtv")
    assert office_admin
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/metrics", environ_base=far, headers=bearer).status_code == 403


def test_listed_addresses_and_networks():
    assert address_in("127.0.0.1", "127.0.0.1")
    assert address_in("10.0.0.7", "127.0.0.1, 10.0.0.0/24")
    assert not address_in("10.0.1.7", "10.0.0.0/24")
    assert not address_in("not an ip", "0.0.0.0/0")
    assert address_in("::1", "::1")


def test_health_reports_each_part_and_503_when_one_is_unwell(app, client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json["ok"] is True
    assert set(r.json["checks"]) == {"database", "spooler", "outbox", "message_queue"}
    assert r.json["checks"]["outbox"] == {
        "ok": True,
        "state": "not started (testing)",
        "queued": 0,
        "late": 0,
        "moves": 0,
        "moves_late": 0,
    }
    assert r.json["checks"]["message_queue"]["state"] == "not used"
    register_check(app, "outbox", lambda: {"ok": False, "state": "3 messages failing"})
    r = client.get("/api/v1/health")
    assert r.status_code == 503 and r.json["ok"] is False
    assert r.json["checks"]["outbox"]["state"] == "3 messages failing"
    assert r.json["checks"]["database"]["ok"] is True


def test_every_request_has_an_id_on_its_answer_and_its_json_log_line(client, tokens):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("xephang.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        r = client.get("/api/v1/health", headers={"X-Request-Id": "nginx-42"})
        assert r.headers["X-Request-Id"] == "nginx-42"
        odd = client.get("/api/v1/health", headers={"X-Request-Id": "<script>"})
        fresh = odd.headers["X-Request-Id"]
        assert fresh != "<script>" and len(fresh) == 32
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["nginx-42", fresh]
    first = lines[0]
    assert first["logger"] == "xephang.access" and first["level"] == "INFO"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/api/v1/health", 200)
    assert first["ms"] >= 0 and first["time"].endswith("+00:00")


def test_health_and_metrics_read_the_notifiers_outbox(app, client, db):
    """A message queued and overdue by more than five minutes means no outbox worker is
    working, wherever it should run."""
    now, old = "2999-01-01T00:00:00.000+00:00", "2000-01-01T00:00:00.000+00:00"
    db.execute(
        "INSERT INTO outbox (office_id, channel, purpose, state, next_attempt_at, give_up_at,"
        " created_at) VALUES (1, 'sms', 'near', 'queued', ?, ?, ?),"
        " (1, 'sms', 'called', 'sent', ?, ?, ?)",
        [now, now, now, now, now, now],
    )
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json["checks"]["outbox"] == {
        "ok": True,
        "state": "not started (testing)",
        "queued": 1,
        "late": 0,
        "moves": 0,
        "moves_late": 0,
    }
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("xephang_outbox_messages", frozenset({"state": "queued"}.items()))] == 1
    assert found[("xephang_outbox_messages", frozenset({"state": "sent"}.items()))] == 1
    assert found[("xephang_outbox_messages", frozenset({"state": "failed"}.items()))] == 0
    assert found[("xephang_outbox_moves", frozenset())] == 0
    assert found[("xephang_outbox_move_age_seconds", frozenset())] == 0
    db.execute("UPDATE outbox SET next_attempt_at = ? WHERE state = 'queued'", [old])
    r = client.get("/api/v1/health")
    assert r.status_code == 503 and r.json["checks"]["outbox"]["late"] == 1


def test_a_line_whose_near_messages_are_not_written_shows_and_fails_health(app, client, db, demo):
    """A line's move left unexpanded for five minutes (the worker is down, or its
    expansion keeps failing) is counted by health, metrics and the dashboard's outbox."""
    from xephang.queries.messages import outbox_status

    office = demo["office_id"]
    service = db.execute("SELECT id FROM services WHERE office_id = ?", [office]).fetchone()[0]
    db.execute(
        "INSERT INTO outbox_moves (service_id, office_id, first_at, last_at)"
        " VALUES (?, ?, '2000-01-01T00:00:00.000+00:00', '2999-01-01T00:00:00.000+00:00')",
        [service, office],
    )
    r = client.get("/api/v1/health")
    assert r.status_code == 503
    assert (r.json["checks"]["outbox"]["moves"], r.json["checks"]["outbox"]["moves_late"]) == (1, 1)
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("xephang_outbox_moves", frozenset())] == 1
    assert found[("xephang_outbox_move_age_seconds", frozenset())] > 3600
    status = outbox_status(db, office)
    assert status["alert"] and status["moves"]["pending"] == 1
    assert "sắp đến lượt" in status["message_vi"]


def test_health_says_where_the_outbox_worker_runs(app, client):
    """Started in this process it is well while its thread lives; a stopped one is not."""
    from notifiers import get_notifier

    notifier = get_notifier(app)
    notifier.start()
    try:
        outbox = client.get("/api/v1/health").json["checks"]["outbox"]
        assert outbox["ok"] and (outbox["state"], outbox["in"]) == ("running", "this process")
    finally:
        notifier.stop()
    thread = notifier.thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()  # a worker whose thread ended
    try:
        r = client.get("/api/v1/health")
        assert r.status_code == 503 and r.json["checks"]["outbox"]["state"] == "stopped"
    finally:
        notifier.thread = None


def test_metrics_show_what_the_throttles_count_in_their_windows(client, db, demo):
    """Someone guessing check-in digits or passwords shows on /metrics (alert on it),
    over the throttles' own 15 minutes; older tries are not counted."""
    office = demo["office_id"]
    ticket = engine.issue_ticket(db, office, "A", check_hours=False).ticket["id"]
    now = datetime.now(UTC)
    for minutes in (1, 2, 40):
        checkin.record_wrong_digits(db, office, ticket, None, now=now - timedelta(minutes=minutes))
    for minutes in (3, 50):
        access.record_login_failure(db, "canbo1", "192.0.2.7", now=now - timedelta(minutes=minutes))
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("xephang_checkin_wrong_digits", frozenset({"office": str(office)}.items()))] == 2
    assert found[("xephang_login_failures", frozenset())] == 1


def test_a_served_process_counts_how_its_socket_packets_went(demo_file, live_servers):
    """Under `xephang serve`, /metrics says how packets to Socket.IO clients went: framed
    and written at once, or through the socket's queue (a client that does not keep up),
    and how its full garbage collections went (``web.gc_policy`` is in place)."""
    import requests
    import socketio

    path, info = demo_file
    server = live_servers(path)
    got = threading.Event()
    display = socketio.Client(reconnection=False)
    display.on("queue_event", lambda event: got.set())
    display.connect(
        server.url, auth={"token": info["display_token"]}, transports=["websocket"], wait_timeout=60
    )
    try:
        kiosk = {"Authorization": f"Bearer {info['kiosk_token']}"}
        r = requests.post(f"{server.url}/api/v1/tickets", json={"service": "A"}, headers=kiosk)
        assert r.status_code == 201
        assert got.wait(60)
        found = samples(requests.get(f"{server.url}/metrics", timeout=30).text)
    finally:
        display.disconnect()
    assert found[("xephang_socket_sends_total", frozenset({"way": "direct"}.items()))] >= 1
    assert ("xephang_socket_sends_total", frozenset({"way": "queued"}.items())) in found
    for walk in ("all", "new"):
        assert ("xephang_gc_full_collections_total", frozenset({"walk": walk}.items())) in found
    assert ("xephang_gc_frozen_objects", frozenset()) in found


def test_a_served_request_is_one_json_line_with_the_address_nginx_saw(demo_file, live_servers):
    """Under `xephang serve` with LOG_FORMAT=json, each request is one access line (not
    one more from the WebSocket handler), and behind the proxy its client is the
    address the proxy saw, not 127.0.0.1."""
    import requests

    path, _info = demo_file
    server = live_servers(path, env={"XEPHANG_LOG_FORMAT": "json"})
    headers = {"X-Forwarded-For": "198.51.100.23", "X-Request-Id": "nginx-7"}
    assert requests.get(f"{server.url}/xephang/rules.js", headers=headers, timeout=30).ok
    server.stop()
    lines = [line for line in server.log.read_text().splitlines() if "rules.js" in line]
    assert len(lines) == 1, lines
    (line,) = [json.loads(line) for line in lines]
    assert line["logger"] == "xephang.access" and line["request_id"] == "nginx-7"
    assert line["client"] == "198.51.100.23" and line["status"] == 200
