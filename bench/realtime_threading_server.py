"""For bench_realtime.py only: the app in Flask-SocketIO threading mode, for comparison.

    BENCH_SERVER_SCRIPT=bench/realtime_threading_server.py \
        python bench/bench_realtime.py --clients 1000
"""

import sys

from xephang import create_app
from xephang.web.extensions import socketio

db, port = sys.argv[1], int(sys.argv[2])
app = create_app(
    {"DB": db, "ASYNC_MODE": "threading", "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
)
socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)
