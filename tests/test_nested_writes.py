"""A write inside a write is a savepoint of it: its failure undoes only its own rows."""

import pytest

from xephang.storage import connect, scalar, write


@pytest.fixture
def table(tmp_path):
    db = connect(str(tmp_path / "nested.db"))
    db.execute("CREATE TABLE t (v TEXT)")
    yield db
    db.close()


def add(db, value: str) -> None:
    db.execute("INSERT INTO t VALUES (?)", [value])


def values(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT v FROM t ORDER BY rowid").fetchall()]


def test_a_failing_inner_write_undoes_its_rows_and_the_outer_commits(table):
    with write(table):
        add(table, "outer before")
        with pytest.raises(RuntimeError), write(table):
            add(table, "inner")
            raise RuntimeError("refused")
        add(table, "outer after")
    assert values(table) == ["outer before", "outer after"]
    assert not table.conn.in_transaction


def test_writes_nested_three_deep_each_undo_only_their_own(table):
    with write(table):
        with write(table):
            add(table, "middle")
            with pytest.raises(RuntimeError), write(table):
                add(table, "innermost")
                raise RuntimeError("refused")
            with write(table):
                add(table, "second inner")
        with pytest.raises(RuntimeError), write(table):
            add(table, "doomed")
            with write(table):
                add(table, "doomed too")
            raise RuntimeError("refused after its inner write was released")
    assert values(table) == ["middle", "second inner"]


def test_a_failing_outer_write_undoes_its_committed_looking_inner_writes(table):
    with pytest.raises(RuntimeError), write(table):
        with write(table):
            add(table, "inner")
        raise RuntimeError("refused")
    assert scalar(table, "SELECT count(*) FROM t") == 0
    assert not table.conn.in_transaction


def test_the_suite_catches_a_write_of_the_app_outside_a_transaction(table):
    """Every test fails when the app's code writes outside a transaction (the autouse
    ``every_write_in_a_transaction``); a test's own setup writing directly does not."""
    from tests.conftest import AUTOCOMMIT
    from xephang.storage import one

    add(table, "the test's own setup")  # this file's code, not the app's
    assert AUTOCOMMIT.found == []
    with write(table):
        one(table, "UPDATE t SET v = 'in a transaction' RETURNING v")
    assert AUTOCOMMIT.found == []
    one(table, "UPDATE t SET v = 'alone' RETURNING v")  # through the app's code, alone
    (found,) = AUTOCOMMIT.found
    assert found.startswith("UPDATE t SET v = 'alone'")
    assert "xephang/storage/transaction.py" in found
    AUTOCOMMIT.found.clear()
