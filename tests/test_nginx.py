"""Debian's nginx with the shipped site (deploy/nginx/xephang.conf) in front of `xephang
serve --workers 2`: TLS with a certificate made here, the kiosk → counter → board flow
and its sockets through it, static files from disk, sizes and timeouts as the app's.

Only what cannot run here is changed in the site: the listening addresses (127.0.0.1
and free ports), the certificate, the upstream's ports, the static folder and the log
files. Everything else is the file as shipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests
import socketio
from click.testing import CliRunner

from tests.helpers import ROOT, free_port, free_ports_after
from xephang.cli import cli
from xephang.config import SETTINGS

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SITE = ROOT / "deploy" / "nginx" / "xephang.conf"
WAIT_S = 120  # a guard against a hang, never expected to run out
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run does)")


def setting(name: str):
    return next(s.default for s in SETTINGS if s.name == name)


def test_the_site_matches_the_apps_size_and_timeout():
    text = SITE.read_text()
    assert f"client_max_body_size {setting('MAX_CONTENT_LENGTH')};" in text
    timeout = int(setting("REQUEST_TIMEOUT_S"))
    for directive in ("client_header_timeout", "client_body_timeout"):
        assert f"{directive} {timeout}s;" in text
    # every static route of the app is served from disk
    from xephang import create_app
    from xephang.cli.ops import static_folders

    app = create_app({"DB": str(ROOT / "tests" / "artifacts" / "x.db"), "TESTING": True})
    prefixes = {prefix.strip("/") for prefix, _ in static_folders(app)}
    served = re.search(r"location ~ \^/\(([^)]*)\)/", text).group(1).split("|")
    assert prefixes == set(served)


def site_for_test(tmp_path, https_port: int, http_port: int, workers: list[int]) -> str:
    text = SITE.read_text()
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)
    text = text.replace("/etc/ssl/xephang/fullchain.pem", str(tmp_path / "cert.pem"))
    text = text.replace("/etc/ssl/xephang/privkey.pem", str(tmp_path / "key.pem"))
    text = text.replace("/var/cache/xephang/public", str(tmp_path / "public"))
    text = text.replace("/var/log/nginx/", str(tmp_path / "nginx-"))
    servers = re.findall(r"server 127\.0\.0\.1:\d+", text)
    assert len(servers) == len(workers)
    for old, port in zip(servers, workers, strict=True):
        text = text.replace(old, f"server 127.0.0.1:{port}", 1)
    return text


def start_nginx(tmp_path, site: str) -> subprocess.Popen:
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-main-error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp_path}/nginx-main-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/site.conf;
}}
"""
    )
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    return subprocess.Popen([NGINX, "-c", str(conf)], stderr=subprocess.STDOUT)


def make_certificate(tmp_path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )


class Listener:
    """A Socket.IO client through nginx that keeps the events it gets."""

    def __init__(self, url: str, auth: dict, transports: list[str], session: requests.Session):
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self.client = socketio.Client(ssl_verify=False, reconnection=False, http_session=session)
        for name in ("queue_event", "queue_moved"):
            self.client.on(name, self._keep(name))
        self.client.connect(url, auth=auth, transports=transports, wait_timeout=WAIT_S)

    def _keep(self, name):
        def keep(data):
            with self.cond:
                self.events.append((name, data))
                self.cond.notify_all()

        return keep

    def wait_for(self, name: str, kind: str) -> dict:
        def found():
            return [
                d for n, d in self.events if n == name and d.get("type", d.get("cause")) == kind
            ]

        with self.cond:
            assert self.cond.wait_for(found, WAIT_S), self.events
            return found()[0]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_kiosk_counter_and_board_through_nginx(tmp_path, start_demo_server, redis_url):
    https_port, http_port = free_port(), free_port()
    public = f"https://127.0.0.1:{https_port}"
    base = free_ports_after(2)  # workers 1 and 2 listen alone on base + 1 and base + 2
    server = start_demo_server(
        env={"XEPHANG_MESSAGE_QUEUE": redis_url, "XEPHANG_PUBLIC_URL": public},
        args=["--workers", "2", "--worker-ports", str(base)],
    )
    for port in (base + 1, base + 2):  # both workers answer on their own ports
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)  # a port that starts listening sends no event
    make_certificate(tmp_path)
    result = CliRunner().invoke(cli, ["static-files", str(tmp_path / "public")])
    assert result.exit_code == 0, result.output
    nginx = start_nginx(
        tmp_path, site_for_test(tmp_path, https_port, http_port, [base + 1, base + 2])
    )
    web = requests.Session()
    web.trust_env = False  # else REQUESTS_CA_BUNDLE would win over our certificate
    web.verify = str(tmp_path / "cert.pem")
    listeners = []
    try:
        deadline, health = time.monotonic() + WAIT_S, None
        while True:
            try:
                health = web.get(public + "/api/v1/health", timeout=10)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert nginx.poll() is None and time.monotonic() < deadline, health.text
            time.sleep(0.1)  # nginx and the heartbeat have no event to wait on
        assert health.headers["Server"].startswith("nginx")
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
        request_id = health.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's

        plain = requests.get(f"http://127.0.0.1:{http_port}/kiosk/", allow_redirects=False)
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"https://127.0.0.1:{http_port}/kiosk/"

        # static files come from disk, as the app would serve them
        live = web.get(public + "/static/xephang/live.js")
        assert live.status_code == 200 and "XephangLive" in live.text
        assert live.content == (ROOT / "xephang" / "static" / "xephang" / "live.js").read_bytes()
        assert live.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in live.headers  # not through the app

        # a body over XEPHANG_MAX_CONTENT_LENGTH stops at nginx
        big = web.post(public + "/api/v1/tickets", data=b"x" * 1_100_000, headers=server.officer)
        assert big.status_code == 413 and "nginx" in big.text

        board = Listener(public, {"token": server.demo["display_token"]}, ["websocket"], web)
        listeners.append(board)
        polling = Listener(public, {"board": server.demo["board_id"]}, ["polling"], web)
        listeners.append(polling)
        counter = Listener(
            public, {"token": server.officer["Authorization"][7:], "counter": 1}, ["websocket"], web
        )
        listeners.append(counter)

        kiosk = {"Authorization": f"Bearer {server.demo['kiosk_token']}"}
        first = web.post(public + "/api/v1/tickets", json={"service": "A"}, headers=kiosk)
        second = web.post(public + "/api/v1/tickets", json={"service": "A"}, headers=kiosk)
        assert first.status_code == second.status_code == 201
        mine = second.json()["ticket"]
        assert mine["tracker_url"].startswith(public + "/t/")
        token = mine["tracker_url"].rsplit("/", 1)[1]
        tracker = Listener(public, {"visit": token}, ["websocket"], web)
        listeners.append(tracker)
        tracker_page = web.get(mine["tracker_url"])
        assert tracker_page.status_code == 200 and mine["code"] in tracker_page.text

        called = web.post(public + "/api/v1/counters/1/call-next", headers=server.officer)
        assert called.status_code == 200 and called.json()["ticket"]["code"] == "A001"
        for listener in (board, polling, counter):
            event = listener.wait_for("queue_event", "called")
            assert event["ticket"]["code"] == "A001" and event["details"]["counter_number"] == 1
        move = tracker.wait_for("queue_moved", "called")
        assert move["change"] == "left" and move["waiting"] == 1
        assert "announcement" in board.wait_for("queue_event", "called")

        ticket = called.json()["ticket"]["id"]
        for action in ("start", "finish"):
            r = web.post(
                f"{public}/api/v1/tickets/{ticket}/{action}", json={}, headers=server.officer
            )
            assert r.status_code == 200, r.text
        done = board.wait_for("queue_event", "finished")
        assert done["ticket"]["code"] == "A001"
        ack = board.client.call("sync", timeout=WAIT_S)
        assert ack["ok"] and ack["snapshot"]["waiting_total"] == 1
        # nginx's access line has the id the app logged (written once answered: long ago)
        logged = (tmp_path / "nginx-xephang.access.log").read_text().splitlines()
        assert any(f"id={request_id} " in line and "/api/v1/health" in line for line in logged)
    finally:
        for listener in listeners:
            listener.client.disconnect()
        nginx.terminate()
        nginx.wait(30)
