"""The Socket.IO message queue between web workers: Redis, one publish for many emits.

python-socketio's ``RedisManager`` publishes every emit on its own, a Redis round trip
each (12% of a busy worker of `xephang serve --workers 2`); one publish a broadcast
still left two a ticket (its event to the rooms, the queue moves to the trackers), a
fifth of the worker. ``BatchingRedisManager`` (python-socketio's extension points,
``_publish`` and ``_listen``):

- a broadcast gathers its emits (``with batch():``) into one list, in order;
- the lists go to one publisher (a greenlet under gevent) that sends what has
  gathered as one message: the lists of the requests that came while a publish was on
  the wire go out together in the next, and each request waits until its own list is
  published (another worker never hears of an event after the answer to it);
- the receiving workers unpack a message and handle each emit as python-socketio does.

This worker's own clients are not delayed: python-socketio emits to them before it
publishes. The gathering is per thread (per greenlet under gevent): requests that
interleave never share a list, and the publisher keeps the order the lists came in.

All workers of one server run the same code (the supervisor starts them together), so
none meets a message it cannot read.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque

import socketio

BATCH = "xephang_batch"  # the method name of a batch (python-socketio ignores unknown ones)
# How long a request waits for its emits to be published: python-socketio's publish gives
# up after two tries; this only guards against a publisher that is gone.
PUBLISH_WAIT_S = 10


class BatchingRedisManager(socketio.RedisManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        # Emits handed over, not yet published: (emits, the event their sender waits on).
        self._outgoing: deque[tuple[list[dict], object]] = deque()
        self._wake = None  # the publisher's event, made in the server's async mode
        self._starting = threading.Lock()
        self.publishes = 0  # messages sent to Redis (the emits they carried: ``published``)
        self.published = 0

    @contextlib.contextmanager
    def batch(self):
        """The emits made inside the block are published together when it ends."""
        if getattr(self._local, "pending", None) is not None:  # inside one already
            yield
            return
        self._local.pending = []
        try:
            yield
        finally:
            pending, self._local.pending = self._local.pending, None
            if pending:
                self._hand_over(pending)

    def _publish(self, data):
        pending = getattr(self._local, "pending", None)
        if pending is None:
            self._hand_over([data])
        else:
            pending.append(data)

    def _hand_over(self, messages: list[dict]) -> None:
        """Give emits to the publisher and wait until they are on Redis: an event is on
        its way to the other workers before the request that made it answers (its
        caller's next request, to another worker, cannot overtake it)."""
        done = self.server.eio.create_event()
        self._outgoing.append((messages, done))
        if self._wake is None:
            with self._starting:
                if self._wake is None:
                    wake = self.server.eio.create_event()
                    self.server.start_background_task(self._publisher, wake)
                    self._wake = wake
        self._wake.set()
        if not done.wait(PUBLISH_WAIT_S):
            self._get_logger().error("The message queue's publisher did not answer")

    def _publisher(self, wake) -> None:
        """Publish what has gathered, as one message, until the process ends."""
        while True:
            wake.wait()
            wake.clear()  # before reading: an emit handed over from now wakes us again
            while self._outgoing:
                taken = [self._outgoing.popleft() for _ in range(len(self._outgoing))]
                try:
                    self._send([m for messages, _ in taken for m in messages])
                except Exception:  # never let one message stop every later one
                    self._get_logger().exception("Cannot publish to redis")
                for _, done in taken:
                    done.set()

    def _send(self, messages: list[dict]) -> None:
        """One publish (python-socketio's, which reconnects once and logs a failure)."""
        self.publishes += 1
        self.published += len(messages)
        if len(messages) == 1:
            super()._publish(messages[0])
        else:
            super()._publish({"method": BATCH, "messages": messages})

    def _listen(self):
        for message in super()._listen():
            try:
                data = self.json.loads(message)
            except (TypeError, ValueError):
                yield message  # not ours: python-socketio decides
                continue
            if isinstance(data, dict) and data.get("method") == BATCH:
                yield from data.get("messages") or ()
            else:
                yield data


def batch(server) -> contextlib.AbstractContextManager:
    """``server``'s emits in the block published as one message (a batching manager), or
    as they come (one process, or another kind of queue)."""
    manager = getattr(server, "manager", None)
    if isinstance(manager, BatchingRedisManager):
        return manager.batch()
    return contextlib.nullcontext()


def queue_options(url: str | None) -> dict:
    """Flask-SocketIO's options for the message queue at ``url`` (none: one process):
    Redis through ``BatchingRedisManager``, any other kind as Flask-SocketIO makes it."""
    if not url:
        return {}
    if url.startswith(("redis://", "rediss://")):
        return {"client_manager": BatchingRedisManager(url, channel="flask-socketio")}
    return {"message_queue": url}
