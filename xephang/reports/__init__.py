"""Reports: wait times and service against the targets, the wait-time log, the live dashboard.

Plain read functions over the database (the only writes are the derived
report tables kept by ``rollup``). Definitions: see ``facts`` and
docs/reports.md.
"""

from .report import (
    GROUPING_VI,
    GROUPINGS,
    PERIODS,
    WEEKDAYS_VI,
    check_range,
    heatmap,
    period_bounds,
    wait_report,
)

__all__ = ["GROUPINGS", "GROUPING_VI", "PERIODS", "WEEKDAYS_VI", "check_range", "heatmap",
           "period_bounds", "wait_report"]
