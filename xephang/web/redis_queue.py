"""The Socket.IO message queue between web workers: Redis, one publish per broadcast.

python-socketio's ``RedisManager`` publishes every emit on its own: a Redis round trip
each (an event goes to a staff room and to a public room: two; a call moves lines
too), 12% of a busy worker of `xephang serve --workers 2`. ``BatchingRedisManager``
(python-socketio's extension points, ``_publish`` and ``_listen``) lets a broadcast
gather its emits (``with batch():``) and publishes them as one message, in order, when
the block ends: still before the request that caused them answers, as before. The
receiving workers unpack it and handle each message as python-socketio does. This
worker's own clients are not delayed: python-socketio emits to them before it
publishes. The gathering is per thread (per greenlet under gevent): requests that
interleave never share a batch.

All workers of one server run the same code (the supervisor starts them together), so
none meets a batch it cannot read.
"""

from __future__ import annotations

import contextlib
import threading

import socketio

BATCH = "xephang_batch"  # the method name of a batch (python-socketio ignores unknown ones)


class BatchingRedisManager(socketio.RedisManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    @contextlib.contextmanager
    def batch(self):
        """Publish the emits made inside the block as one message when it ends."""
        if getattr(self._local, "pending", None) is not None:  # inside one already
            yield
            return
        self._local.pending = []
        try:
            yield
        finally:
            pending, self._local.pending = self._local.pending, None
            if len(pending) == 1:
                super()._publish(pending[0])
            elif pending:
                super()._publish({"method": BATCH, "messages": pending})

    def _publish(self, data):
        pending = getattr(self._local, "pending", None)
        if pending is None:
            return super()._publish(data)
        pending.append(data)
        return None

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
