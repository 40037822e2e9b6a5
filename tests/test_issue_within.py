"""A caller's step run within issuing commits or rolls back with the ticket."""

import pytest

from xephang import engine
from xephang.storage import scalar, write


def test_the_step_commits_with_the_ticket(db, demo):
    def step(db, outcome):
        with write(db):  # nested: a savepoint of the issuing transaction
            db.execute(
                "INSERT INTO settings (office_id, name, value) VALUES (?, 'board_message',"
                " '\"x\"')",
                [outcome.ticket["office_id"]],
            )
        return "queued"

    outcome = engine.issue_ticket(db, demo["office_id"], "A", within=step)
    assert outcome.extra["within"] == "queued"
    assert not db.conn.in_transaction
    assert scalar(db, "SELECT count(*) FROM tickets") == 1
    assert engine.office_setting(db, demo["office_id"], "board_message") == "x"


def test_a_failing_step_issues_nothing(db, demo):
    def step(db, outcome):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        engine.issue_ticket(db, demo["office_id"], "A", within=step)
    assert scalar(db, "SELECT count(*) FROM tickets") == 0
    assert scalar(db, "SELECT count(*) FROM ticket_events") == 0
    assert engine.issue_ticket(db, demo["office_id"], "A").ticket["code"] == "A001"
