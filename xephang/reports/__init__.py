"""Reports: figures against the targets, the wait-time log, the live dashboard, exports.

Plain read functions over the database (the only writes are the derived
report tables kept by ``rollup``). Definitions: ``facts`` and
docs/reports.md. ``purge`` is the retention rule of the engine with the
daily figures kept first.
"""

from ..engine import retention
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
from .rollup import keep_figures


def purge(db, office_id: int, now=None, dry_run: bool = False) -> dict:
    """Apply the office's retention settings, storing the daily figures of purged days first."""
    return retention.purge(db, office_id, now=now, dry_run=dry_run, keep_figures=keep_figures)


__all__ = [
    "GROUPINGS",
    "GROUPING_VI",
    "PERIODS",
    "WEEKDAYS_VI",
    "check_range",
    "heatmap",
    "period_bounds",
    "purge",
    "wait_report",
]
