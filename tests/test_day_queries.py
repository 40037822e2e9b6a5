"""A day's (or a period's) figures read that day's tickets, not the office's whole history.

xephang never runs ANALYZE, so SQLite plans without statistics. Without them it
walked every ticket an office ever had (an index on the office alone) to spare a
GROUP BY its sort: the dashboard, the board's average wait and the kiosk's menu
grew slower with each year the office kept. Every query here that says which day
or days it wants must search the tickets by an index whose key holds the day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.helpers import FIRST, LAST, NOW, ticket_plans
from xephang import reports
from xephang.queries import office as office_queries
from xephang.reports import estimates, live, log, satisfaction

DAY_WHERE = re.compile(r"\bt?\.?day\s*(=|BETWEEN|>=|<=|<|>|IN)", re.IGNORECASE)
TICKETS_STEP = re.compile(r"^(SEARCH|SCAN) (t|tickets)\b")


def test_day_and_period_queries_search_tickets_by_day(month):
    db, info, _ = month
    office_id = info["office_id"]
    last_day_noon = datetime(2023, 1, 13, 5, 0, tzinfo=UTC)  # noon of the month's last day
    plans = ticket_plans(
        db,
        [
            lambda: office_queries.kiosk_menu(db, office_id, now=last_day_noon),
            lambda: office_queries.snapshot(db, office_id, now=last_day_noon),
            lambda: live.dashboard(db, office_id, now=last_day_noon),
            lambda: live.today_wait(db, office_id, now=last_day_noon),
            lambda: reports.wait_report(db, office_id, LAST, LAST, "service", now=NOW),
            lambda: reports.wait_report(db, office_id, FIRST, LAST, "hour", now=NOW),
            lambda: reports.heatmap(db, office_id, FIRST, LAST, now=NOW),
            *(
                lambda group=group: satisfaction.satisfaction_report(
                    db, [office_id], FIRST, LAST, group, now=NOW
                )
                for group in satisfaction.GROUPS
            ),
            lambda: estimates.estimate_report(db, office_id, FIRST, LAST),
            lambda: log.wait_log(db, office_id, LAST, LAST),
        ],
    )
    plans = [(sql, plan) for sql, plan in plans if DAY_WHERE.search(sql)]
    assert len(plans) >= 10, plans
    by_history = [
        (sql, step)
        for sql, plan in plans
        for step in plan
        if TICKETS_STEP.match(step)
        and not ("day" in step or "rowid=?" in step or " (id=?)" in step)
    ]
    assert by_history == []
