"""Today's figures on an office with a long history, planned as production plans them.

xephang never runs ANALYZE, so this works on a copy of the database with
SQLite's statistics removed: the kiosk menu, the dashboard, the board's average
wait and the board snapshot of one office, each the median of 5 calls. Their
cost should follow today's tickets, not the years kept.

    python bench/gen_year.py --db /tmp/xephang-year.db --tickets 300000   # once
    python bench/bench_history.py --db /tmp/xephang-year.db
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchlib import timed  # noqa: E402
from xephang.queries import office as office_queries  # noqa: E402
from xephang.reports import live  # noqa: E402
from xephang.storage import connect, migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/xephang-year.db")
    parser.add_argument("--office", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(args.db).parent) as scratch:
        path = str(Path(scratch) / "copy.db")
        shutil.copyfile(args.db, path)
        db = connect(path)
        migrate(db)
        if db["sqlite_stat1"].exists():
            db.execute("DELETE FROM sqlite_stat1")
        db.conn.close()
        db = connect(path)  # a new connection plans without the statistics
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
        print(f"database: {tickets} tickets, no statistics")
        office = args.office
        for name, fn in (
            ("kiosk menu", lambda: office_queries.kiosk_menu(db, office)),
            ("dashboard", lambda: live.dashboard(db, office)),
            ("board's average wait", lambda: live.today_wait(db, office)),
            ("board snapshot", lambda: office_queries.snapshot(db, office)),
        ):
            ms, _ = timed(fn)
            print(f"{name}: {ms:.1f} ms")
        db.conn.close()


if __name__ == "__main__":
    main()
