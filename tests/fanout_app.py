"""A Socket.IO app on the production server's parts for tests/test_fanout.py.

    python tests/fanout_app.py PORT

gevent's WSGIServer with xephang's handler class and ``fanout.install``, on
127.0.0.1:PORT. Every client joins room ``r``. A client's ``burst`` event
({"n": N, "size": S}) sends it N ``e`` events numbered 0..N-1 with S bytes of
padding, alternately to the room and to that client alone, pausing "pause"
seconds (default 0) after every fifth; ``counts`` answers
with ``fanout.counts``.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402
from gevent import pywsgi  # noqa: E402

from xephang.web import fanout, serving  # noqa: E402

app = Flask(__name__)
sio = SocketIO(app, async_mode="gevent")
fanout.install(sio.server)


@sio.on("connect")
def connected(auth=None):
    join_room("r")


@sio.on("burst")
def burst(data):
    sid, n, pad = request.sid, int(data["n"]), "x" * int(data["size"])
    pause = float(data.get("pause", 0))

    def send_all():
        for i in range(n):
            sio.emit("e", {"i": i, "pad": pad}, to="r" if i % 2 else sid)
            if i % 5 == 0:
                gevent.sleep(pause)  # let writer greenlets run between some of them

    gevent.spawn(send_all)


@sio.on("counts")
def counts(data=None):
    emit("counts", dict(fanout.counts))


if __name__ == "__main__":
    pywsgi.WSGIServer(
        ("127.0.0.1", int(sys.argv[1])), app, handler_class=serving.handler_class(), log=None
    ).serve_forever()
