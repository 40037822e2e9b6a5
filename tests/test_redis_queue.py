"""The message queue's publisher: emits reach Redis in order, many in one message, and a
request never waits for the publish (``web/redis_queue.py``)."""

from __future__ import annotations

import json
import logging
import threading
import time
from types import SimpleNamespace

import redis

from xephang.web.redis_queue import BATCH, BatchingRedisManager

WAIT_S = 60  # a guard against a hang, never expected to run out


def threads_server():
    """What the manager uses of a Socket.IO server: events and background tasks (threads)."""

    def start(fn, *args):
        thread = threading.Thread(target=fn, args=args, daemon=True)
        thread.start()
        return thread

    return SimpleNamespace(
        eio=SimpleNamespace(create_event=threading.Event),
        start_background_task=start,
        logger=logging.getLogger("test_redis_queue"),
    )


def until(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


class OnTheWire(BatchingRedisManager):
    """Records each publish instead of sending it; the first one stays on the wire until
    ``release`` is set."""

    def __init__(self):
        super().__init__("redis://127.0.0.1:9/0", write_only=True)
        self.server = threads_server()
        self.sent: list[list[dict]] = []
        self.first_on_wire, self.release = threading.Event(), threading.Event()

    def _send(self, messages):
        self.sent.append(messages)
        if len(self.sent) == 1:
            self.first_on_wire.set()
            assert self.release.wait(WAIT_S)


def test_the_emits_of_requests_that_come_during_a_publish_go_out_together():
    manager = OnTheWire()
    answered: list[int] = []

    def request(n: int) -> None:  # one request's broadcast: two rooms
        with manager.batch():
            manager._publish({"n": n, "room": "staff"})
            manager._publish({"n": n, "room": "board"})
        answered.append(n)

    requests = [threading.Thread(target=request, args=(n,)) for n in range(6)]
    requests[0].start()
    assert manager.first_on_wire.wait(WAIT_S)
    for thread in requests[1:]:  # five more while the first publish is on the wire
        thread.start()
    until(lambda: len(manager._outgoing) == 5)
    assert answered == []  # nobody answers before its emits are on Redis
    manager.release.set()
    for thread in requests:
        thread.join(WAIT_S)
    assert sorted(answered) == [0, 1, 2, 3, 4, 5]
    assert len(manager.sent) == 2  # the five requests' ten emits: one publish
    assert manager.sent[0] == [{"n": 0, "room": "staff"}, {"n": 0, "room": "board"}]
    second = manager.sent[1]
    pairs = [(second[i], second[i + 1]) for i in range(0, len(second), 2)]
    assert len(second) == 10 and sorted(staff["n"] for staff, _ in pairs) == [1, 2, 3, 4, 5]
    assert all(  # each request's emits together, in the order it made them
        staff == {"n": staff["n"], "room": "staff"} and board == {"n": staff["n"], "room": "board"}
        for staff, board in pairs
    )


def test_a_failed_publish_answers_its_requests_and_does_not_stop_the_later_ones():
    class Failing(OnTheWire):
        def _send(self, messages):
            self.sent.append(messages)
            if len(self.sent) == 1:
                raise RuntimeError("the wire broke")

    manager = Failing()
    manager._publish({"n": 1})  # returns: its publish failed (and was logged)
    manager._publish({"n": 2})
    assert manager.sent == [[{"n": 1}], [{"n": 2}]]


def test_a_gathered_message_crosses_redis_and_unpacks_in_order(redis_url):
    sender = BatchingRedisManager(redis_url, channel="test-queue", write_only=True)
    sender.server = threads_server()
    receiver = BatchingRedisManager(redis_url, channel="test-queue", write_only=True)
    receiver._redis_connect()
    received: list = []

    def listen():
        for message in receiver._listen():
            received.append(message)

    watcher = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    watcher.subscribe("test-queue")
    threading.Thread(target=listen, daemon=True).start()
    client = redis.Redis.from_url(redis_url)
    until(lambda: client.pubsub_numsub("test-queue")[0][1] == 2)
    sender._send([{"method": "emit", "n": n} for n in range(3)])  # one publish, three emits
    sender._send([{"method": "emit", "n": 3}])
    until(lambda: len(received) == 4)
    assert [m["n"] for m in received] == [0, 1, 2, 3]
    wire, deadline = [], time.monotonic() + WAIT_S
    while len(wire) < 2:  # what went over Redis: two publishes
        assert time.monotonic() < deadline
        message = watcher.get_message(timeout=0.1)
        if message is not None:
            wire.append(json.loads(message["data"]))
    assert wire[0]["method"] == BATCH and [m["n"] for m in wire[0]["messages"]] == [0, 1, 2]
    assert wire[1] == {"method": "emit", "n": 3}
    watcher.close()
    client.close()
