"""docs/operations.md says what is true: its commands are commands of this version, its
office file applies, its metrics table names every label value the server uses."""

from __future__ import annotations

import json
import re
import shlex

import click
from click.testing import CliRunner

from tests.helpers import ROOT
from tests.test_deploy import parses
from xephang import create_app
from xephang.cli import cli
from xephang.storage import connect

DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC, re.M | re.S)


PLACEHOLDERS = {"N": "2", "BASE": "5000", "ID": "1", "NAME": "tinh", "FILE": "x.db"}


def command_lines() -> list[list[str]]:
    """Each `xephang ...` or `xephang-admin ...` command of the shell examples and of the
    prose, as words (placeholders such as N and [--dry-run] filled in)."""
    found = []
    for block in blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith(("xephang ", "xephang-admin ")):
                found.append(shlex.split(line, comments=True))
    prose = re.sub(r"^```.*?^```", "", DOC, flags=re.M | re.S)
    for span in re.findall(r"`(xephang(?:-admin)? [^`]+)`", prose):
        words = shlex.split(re.sub(r"[\[\]]", "", " ".join(span.split())))
        found.append([PLACEHOLDERS.get(w, w) for w in words])
    return found


def test_the_shell_examples_are_commands_this_version_accepts():
    lines = command_lines()
    assert len(lines) >= 5
    for words in lines:
        if words[:2] == ["xephang-admin", "litestream"]:
            assert words[2] == "restore" and "-config" in words
            continue
        try:
            parses(words[1:])
        except click.MissingParameter:  # a mention of the command (`xephang restore`)
            assert not any(w.startswith("-") for w in words), words
        except click.BadParameter as err:  # a file of the server, not of this machine
            assert "does not exist" in str(err), (words, err)


def test_the_office_file_example_applies_to_a_new_database(tmp_path):
    (example,) = blocks("toml")
    path = tmp_path / "office.toml"
    path.write_text(example, encoding="utf-8")
    db_path = tmp_path / "x.db"
    result = CliRunner().invoke(cli, ["setup", "apply", str(path), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    db = connect(db_path)
    try:
        zone = db.execute("SELECT zone FROM devices WHERE kind = 'display'").fetchone()[0]
        assert json.loads(zone) == {"services": [1], "counters": [1]}  # A, counter 1
    finally:
        db.close()


def test_the_metrics_table_names_every_route_group_and_socket_kind(tmp_path):
    app = create_app({"DB": str(tmp_path / "x.db"), "TESTING": True, "SECRET_KEY": "x"})
    row = {
        line.split("|")[1].strip(" `"): line
        for line in DOC.splitlines()
        if line.startswith("| `xephang_")
    }
    groups = set(app.blueprints) | {"socketio", "static", "app", "other"}  # metrics.route_group
    listed = re.search(r"`group` \(([^)]*)", row["xephang_http_request_duration_seconds"])
    assert groups <= {g.strip().split(":")[0] for g in listed.group(1).split(",")}
    realtime = (ROOT / "xephang" / "web" / "realtime.py").read_text()
    kinds = set(re.findall(r'LiveClient\("(\w+)"', realtime))
    listed = re.search(r"`kind` \(([^)]*)", row["xephang_sockets"])
    assert kinds and kinds <= {k.strip().split(":")[0] for k in listed.group(1).split(",")}
