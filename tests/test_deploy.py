"""The files in deploy/ refer to real paths, commands, options and settings.

What runs here is run: systemd's own checker on the unit (`systemd-analyze verify`),
the command lines through the `xephang` command's parser, the YAML files through a
YAML parser. No Docker engine runs on this machine, so the Dockerfile and compose file
are checked for what they name (files, commands, settings), not built.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT
from xephang.cli import cli
from xephang.config import SETTINGS

DEPLOY = ROOT / "deploy"
SETTING_NAMES = {f"XEPHANG_{s.name}" for s in SETTINGS}


def parses(words: list[str]) -> None:
    """The words after `xephang` are a command line the command accepts."""
    name, *rest = words
    command = cli.get_command(cli.make_context("xephang", [name]), name)
    assert command is not None, name
    command.make_context(name, rest)


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    text = (DEPLOY / "xephang.service").read_text().replace("\\\n", " ")
    parser.read_string(text)
    return parser


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
    # the nginx site's upstream is the workers' own ports
    base = int(inner[inner.index("--worker-ports") + 1])
    workers = int(inner[inner.index("--workers") + 1])
    site = (DEPLOY / "nginx" / "xephang.conf").read_text()
    assert re.findall(r"server 127\.0\.0\.1:(\d+)", site) == [
        str(base + i) for i in range(1, workers + 1)
    ]
    root = re.search(r"root (/var/lib/xephang/public);", site).group(1)
    assert pre[-1] == root


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
    text = (DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    for setting in re.findall(r"(XEPHANG_\w+)=", text):
        assert setting in SETTING_NAMES
    cmd = yaml.safe_load(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[0] == "xephang"
    parses(cmd[1:])
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


def test_the_litestream_config_replicates_the_database_of_the_settings():
    config = yaml.safe_load((DEPLOY / "litestream.yml").read_text())
    (db,) = config["dbs"]
    assert db["path"] == "${XEPHANG_DB}"
    assert db["replica"]["path"] == "${LITESTREAM_REPLICA}"
