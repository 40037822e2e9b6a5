"""The files in deploy/ refer to real paths, commands, options and settings.

What runs here is run: systemd's own checker on the unit (`systemd-analyze verify`),
the command lines through the `xephang` command's parser, the YAML files through a
YAML parser. No Docker engine runs on this machine, so the Dockerfile and compose file
are checked for what they name (files, commands, settings), not built.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT
from xephang import engine
from xephang.cli import cli
from xephang.config import SETTINGS
from xephang.storage import connect

DEPLOY = ROOT / "deploy"
SETTING_NAMES = {f"XEPHANG_{s.name}" for s in SETTINGS}


def parses(words: list[str]) -> None:
    """The words after `xephang` are a command line the command accepts."""
    name, *rest = words
    command = cli.get_command(cli.make_context("xephang", [name]), name)
    assert command is not None, name
    command.make_context(name, rest)


def unit(name: str = "xephang.service") -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    text = (DEPLOY / name).read_text().replace("\\\n", " ")
    parser.read_string(text)
    return parser


def upstream_ports() -> list[int]:
    """The workers' own ports the nginx site sends requests to."""
    site = (DEPLOY / "nginx" / "xephang.conf").read_text()
    return [int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", site)]


def worker_ports(words: list[str]) -> list[int]:
    """The ports `xephang serve --workers N --worker-ports BASE` gives its workers."""
    base = int(words[words.index("--worker-ports") + 1])
    return [base + i for i in range(1, int(words[words.index("--workers") + 1]) + 1)]


def test_the_unit_is_sandboxed_and_runs_the_server_as_its_own_user():
    service = unit()["Service"]
    assert service["User"] == "xephang" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "yes"
    assert "/var/lib/xephang" in service["ReadWritePaths"]
    assert service["CapabilityBoundingSet"] == ""


def test_the_units_commands_are_commands_of_this_version():
    service = unit()["Service"]
    start = shlex.split(service["ExecStart"])
    assert start[0].endswith("/litestream") and start[1] == "replicate"
    assert start[start.index("-config") + 1] == "/etc/xephang/litestream.yml"
    inner = shlex.split(start[start.index("-exec") + 1])
    assert inner[0].endswith("/xephang")
    parses(inner[1:])
    assert "--workers" in inner and "--worker-ports" in inner
    pre = shlex.split(service["ExecStartPre"])
    parses(pre[1:])
    assert worker_ports(inner) == upstream_ports()  # the nginx site's upstream
    site = (DEPLOY / "nginx" / "xephang.conf").read_text()
    root = re.search(r"root (\S+);", site.split("location ~ ^/(static")[1]).group(1)
    assert pre[-1] == root


def test_nginx_can_read_the_static_folder_and_not_the_database_folder():
    """nginx (www-data) must reach the static files: the unit writes them under the
    cache folder systemd keeps open (0755), not under the database's closed folder."""
    service = unit()["Service"]
    static = shlex.split(service["ExecStartPre"])[-1]
    assert static.startswith(f"/var/cache/{service['CacheDirectory']}/")
    assert service["CacheDirectoryMode"] == "0755"
    assert not static.startswith(service["WorkingDirectory"])  # /var/lib/xephang: 0750


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path):
    bin_dir = str(Path(sys.executable).parent)
    text = (DEPLOY / "xephang.service").read_text().replace("/opt/xephang/bin", bin_dir)
    if not (Path(bin_dir) / "litestream").exists():
        pytest.skip("pip install 'xephang[litestream]'")
    path = tmp_path / "xephang.service"
    path.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "xephang.service" in line and "Documentation" not in line
    ]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr


def test_the_environment_file_names_real_settings():
    names = [
        line.split("=", 1)[0]
        for line in (DEPLOY / "xephang.env").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    xephang = [n for n in names if n.startswith("XEPHANG_")]
    assert xephang and set(xephang) <= SETTING_NAMES, set(xephang) - SETTING_NAMES
    assert "LITESTREAM_REPLICA" in names  # deploy/litestream.yml reads it


def test_the_dockerfile_copies_what_exists_and_runs_real_commands():
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")  # continued lines
    copied = []
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
        copied += sources
    # every package the install takes (pyproject's list), or the image cannot start
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in packages} <= set(copied)
    for setting in re.findall(r"(XEPHANG_\w+)=", text):
        assert setting in SETTING_NAMES
    cmd = yaml.safe_load(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[0] == "xephang"
    parses(cmd[1:])
    assert worker_ports(cmd) == upstream_ports()  # what nginx's upstream reaches
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
    assert set(upstream_ports()) <= exposed
    run = re.search(r"&& xephang (static-files .+)$", text, re.M).group(1)
    parses(shlex.split(run))
    assert "USER xephang" in text


def test_compose_builds_the_dockerfile_and_gives_it_redis():
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    app = compose["services"]["xephang"]
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).exists()
    assert set(app["environment"]) <= SETTING_NAMES
    assert app["environment"]["XEPHANG_MESSAGE_QUEUE"].startswith("redis://redis:")
    assert "redis" in compose["services"]
    assert all(p.startswith("127.0.0.1:") for p in app["ports"])  # nginx is the door
    published = {int(p.split(":")[1]) for p in app["ports"]}
    assert set(upstream_ports()) <= published  # nginx on the host reaches each worker
    # nginx reaches the app from Docker's network: its forwarded address is trusted
    assert "172.16.0.0/12" in app["environment"]["XEPHANG_TRUSTED_PROXIES"]


def test_the_litestream_config_replicates_the_database_of_the_settings():
    config = yaml.safe_load((DEPLOY / "litestream.yml").read_text())
    (db,) = config["dbs"]
    assert db["path"] == "${XEPHANG_DB}"
    assert db["replica"]["path"] == "${LITESTREAM_REPLICA}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_nightly_work_and_its_timer(tmp_path):
    bin_dir = str(Path(sys.executable).parent)
    for name in ("xephang-nightly.service", "xephang-nightly.timer"):
        text = (DEPLOY / name).read_text().replace("/opt/xephang/bin", bin_dir)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "xephang-nightly.timer")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "backup" in line]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr


def test_the_nightly_close_and_backup_run_as_the_service_does_at_night_in_ha_noi():
    backup, service = unit("xephang-nightly.service")["Service"], unit()["Service"]
    for key in ("User", "EnvironmentFile", "WorkingDirectory", "ReadWritePaths"):
        assert backup[key] == service[key], key
    close = shlex.split(backup["ExecStartPre"].removeprefix("-"))  # "-": the copy still runs
    parses(close[1:])
    assert close[1] == "close-day"
    words = shlex.split(backup["ExecStart"])
    parses(words[1:])
    assert words[1] == "backup" and words[words.index("--output") + 1].startswith(
        "/var/backups/xephang/"
    )
    when = unit("xephang-nightly.timer")["Timer"]["OnCalendar"]
    assert when.endswith(" Asia/Ho_Chi_Minh")  # not 22:00 of a server kept in UTC


def admin(args: list[str], env_file: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DEPLOY / "xephang-admin"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": os.environ["PATH"],
            "XEPHANG_ENV_FILE": str(env_file),
            "XEPHANG_BIN": str(Path(sys.executable).parent),
            "XEPHANG_USER": subprocess.run(
                ["id", "-un"], capture_output=True, text=True, check=True
            ).stdout.strip(),
            **env,
        },
    )


def test_the_admin_command_runs_xephang_with_the_services_settings(tmp_path, demo_file):
    """`xephang-admin verify-log` checks the service's database (XEPHANG_DB of its
    environment file), not a fresh ./instance/xephang.db of wherever one stands."""
    db_path, info = demo_file
    db = connect(db_path)
    try:
        engine.issue_ticket(db, info["office_id"], "A", check_hours=False)
    finally:
        db.close()
    env_file = tmp_path / "xephang.env"
    env_file.write_text(
        "# the service's settings\n"
        f"XEPHANG_DB={db_path}\n"
        "XEPHANG_SECRET_KEY=test\n"
        f"LITESTREAM_REPLICA={tmp_path}/replica\n"
    )
    checked = admin(["verify-log"], env_file)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: 1 ")  # the one ticket issued
    missing = admin(["verify-log"], tmp_path / "nowhere.env")
    assert missing.returncode == 2 and "nowhere.env" in missing.stderr
    assert not (tmp_path / "instance").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root")
def test_the_static_files_are_readable_by_nginxs_user_whatever_the_umask():
    """The unit runs with UMask=0027 and nginx reads as a user of its own (www-data):
    `static-files` writes files every user can read, folders every user can enter."""
    import tempfile

    from click.testing import CliRunner

    top = Path(tempfile.mkdtemp(prefix="xephang-static-"))  # in /tmp: others may enter
    try:
        os.chmod(top, 0o755)
        previous = os.umask(0o027)
        try:
            result = CliRunner().invoke(cli, ["static-files", str(top / "public")])
        finally:
            os.umask(previous)
        assert result.exit_code == 0, result.output
        script = top / "public" / "kiosk" / "static" / "kiosk" / "kiosk.js"
        assert script.is_file()
        read = subprocess.run(
            ["runuser", "-u", "nobody", "--", "cat", str(script)],
            capture_output=True,
            timeout=30,
        )
        assert read.returncode == 0, read.stderr
        assert read.stdout == script.read_bytes() and read.stdout
    finally:
        shutil.rmtree(top)
