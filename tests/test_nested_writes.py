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
