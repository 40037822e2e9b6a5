from tests.helpers import login


def test_issue_and_call_over_api(client, tokens):
    r = client.post("/api/v1/tickets", json={"service": "A"}, headers=tokens["kiosk"])
    assert r.status_code == 201, r.json
    ticket = r.json["ticket"]
    assert ticket["code"] == "A001" and ticket["tracker_url"].startswith("http://xephang.test/t/")
    r = client.post("/api/v1/counters/1/call-next", headers=tokens["officer"])
    assert r.json["ticket"]["code"] == "A001" and r.json["ticket"]["status"] == "called"


def test_login_form_sets_session(client, demo):
    csrf = login(client, "canbo1")
    r = client.post("/api/v1/counters/1/call-next", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json["ticket"] is None
    r = client.post("/api/v1/counters/1/call-next")
    assert r.status_code == 403
