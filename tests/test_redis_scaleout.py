"""Two server processes on one database share events through Redis (Socket.IO message queue).

A process subscribes to the queue's channel when its first socket connects, in
the background: the tests wait for Redis to count the subscriptions before
they make the events a client must receive.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from xephang.engine import accounts
from xephang.storage import connect

CHANNEL = "flask-socketio"  # Flask-SocketIO's message queue channel
WAIT_S = 120  # a guard against a hang, never expected to run out


@pytest.fixture
def two_servers(demo_file, redis_url, live_servers):
    """Two server processes on one copy of the demo office, sharing events through Redis."""
    path, info = demo_file
    db = connect(path)
    info["officer_token"] = accounts.add_user_token(db, "canbo1")
    db.close()
    servers = [live_servers(path, args=["--message-queue", redis_url]) for _ in range(2)]
    return servers, info


def listen(url: str, auth: dict) -> tuple[socketio.Client, list, threading.Event]:
    received, called = [], threading.Event()
    client = socketio.Client(reconnection=False)

    @client.on("queue_event")
    def on_event(event):
        received.append(event)
        if event["type"] == "called":
            called.set()

    client.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT_S)
    return client, received, called


def wait_for_subscribers(redis_url: str, processes: int) -> None:
    """Until ``processes`` server processes listen on the message queue's channel."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + WAIT_S
    while client.pubsub_numsub(CHANNEL)[0][1] < processes:
        assert time.monotonic() < deadline, "the servers never subscribed"
        time.sleep(0.02)  # Redis has no event for a new subscription: ask again
    client.close()


def test_call_through_one_process_reaches_display_on_the_other(two_servers, redis_url):
    (first, second), info = two_servers
    display, received, called = listen(second.url, {"token": info["display_token"]})
    try:
        wait_for_subscribers(redis_url, 1)  # the second; the first has no socket yet
        kiosk = {"Authorization": f"Bearer {info['kiosk_token']}"}
        officer = {"Authorization": f"Bearer {info['officer_token']}"}
        r = requests.post(f"{first.url}/api/v1/tickets", json={"service": "A"}, headers=kiosk)
        assert r.status_code == 201
        r = requests.post(f"{first.url}/api/v1/counters/1/call-next", headers=officer)
        assert r.status_code == 200 and r.json()["ticket"]["code"] == "A001"
        assert called.wait(WAIT_S), received
        call = [e for e in received if e["type"] == "called"][0]
        assert call["ticket"]["code"] == "A001" and call["details"]["counter_number"] == 1
        assert [e["type"] for e in received] == ["issued", "called"]
        assert received[1]["seq"] == received[0]["seq"] + 1
    finally:
        display.disconnect()


def test_each_event_reaches_each_client_once_across_processes(two_servers, redis_url):
    (first, second), info = two_servers
    clients = [listen(server.url, {"board": info["board_id"]}) for server in (first, second)]
    try:
        wait_for_subscribers(redis_url, 2)
        officer = {"Authorization": f"Bearer {info['officer_token']}"}
        kiosk = {"Authorization": f"Bearer {info['kiosk_token']}"}
        requests.post(f"{second.url}/api/v1/tickets", json={"service": "B"}, headers=kiosk)
        requests.post(f"{first.url}/api/v1/counters/2/call-next", headers=officer)
        for _client, received, called in clients:
            assert called.wait(WAIT_S)
            assert [e["type"] for e in received] == ["issued", "called"]
    finally:
        for client, _, _ in clients:
            client.disconnect()


def test_an_events_emits_cross_to_the_other_process_in_one_publish(two_servers, redis_url):
    import json

    import redis

    (first, second), info = two_servers
    client, received, _ = listen(second.url, {"board": info["board_id"]})
    watcher = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    watcher.subscribe(CHANNEL)
    try:
        wait_for_subscribers(redis_url, 2)  # the second process (the first: on its first emit)
        kiosk = {"Authorization": f"Bearer {info['kiosk_token']}"}
        r = requests.post(f"{first.url}/api/v1/tickets", json={"service": "B"}, headers=kiosk)
        assert r.status_code == 201
        deadline = time.monotonic() + WAIT_S
        while not received:  # the board on the other process hears of it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        published, quiet_until = [], time.monotonic() + 1.0  # anything more would come by then
        while time.monotonic() < quiet_until:
            message = watcher.get_message(timeout=0.1)  # None also for the subscription's own
            if message is not None:
                published.append(json.loads(message["data"]))
        # one publish: the staff room's emit and the public room's, in that order
        assert len(published) == 1 and published[0]["method"] == "xephang_batch"
        rooms = [m["room"] for m in published[0]["messages"]]
        assert [m["method"] for m in published[0]["messages"]] == ["emit", "emit"]
        assert (
            rooms[0] == [f"staff:{info['office_id']}"] and f"board:{info['office_id']}" in rooms[1]
        )
        assert [e["type"] for e in received] == ["issued"]
        assert "staff_note" not in json.dumps(received)
    finally:
        watcher.close()
        client.disconnect()
