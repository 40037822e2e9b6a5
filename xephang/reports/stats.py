"""Aggregating ticket and visit facts into report figures (one definition, used everywhere).

A ``Tally`` holds the additive counts of a group plus the sorted visit waits
(integer milliseconds) it needs for the median, p90 and max. Tallies of
single days merge into tallies of any period.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

# Additive counters of a tally, in the order they are stored.
COUNTS = (
    "issued", "served", "no_show", "cancelled", "expired", "transferred", "in_progress",
    "visits", "visits_waited", "wait_sum_ms", "within", "target_sum_s",
    "service_n", "service_sum_ms", "ratings", "satisfied", "sat_target_sum",
)


def percentile_nearest_rank(sorted_values, share: float):
    """The nearest-rank percentile: the smallest value with at least ``share`` of values ≤ it."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def median(sorted_values):
    """The middle value (the mean of the two middle values for an even count)."""
    n = len(sorted_values)
    if not n:
        return None
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2


@dataclass
class Tally:
    """Counts and visit waits of one group (a service, a counter, a day, ...)."""

    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    waits: array = field(default_factory=lambda: array("q"))
    days: set = field(default_factory=set)
    sorted: bool = True

    def add_counts(self, other: dict) -> None:
        for key, value in other.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def merge(self, other: Tally) -> None:
        """Fold another tally (e.g. another day of the same group) into this one."""
        self.add_counts(other.counts)
        if other.waits:
            self.waits.extend(other.waits)
            self.sorted = False
        self.days |= other.days

    def sorted_waits(self) -> array:
        if not self.sorted:
            self.waits = array("q", sorted(self.waits))
            self.sorted = True
        return self.waits

    def figures(self, fallback_wait_target=None, fallback_sat_target=None) -> dict:
        """The report row of this group: the definitions of docs/reports.md applied."""
        c = self.counts
        waits = self.sorted_waits()
        waited = c["visits_waited"]
        target_wait = c["target_sum_s"] / waited if waited else fallback_wait_target
        target_sat = c["sat_target_sum"] / c["ratings"] if c["ratings"] else fallback_sat_target
        avg_wait = c["wait_sum_ms"] / waited / 1000 if waited else None
        sat_share = c["satisfied"] / c["ratings"] if c["ratings"] else None
        med = median(waits)
        p90 = percentile_nearest_rank(waits, 0.9)
        return {
            "issued": c["issued"],
            "served": c["served"],
            "no_show": c["no_show"],
            "cancelled": c["cancelled"],
            "expired": c["expired"],
            "transferred": c["transferred"],
            "in_progress": c["in_progress"],
            "visits": c["visits"],
            "visits_waited": waited,
            "avg_wait_s": _round(avg_wait),
            "median_wait_s": _round(med / 1000 if med is not None else None),
            "p90_wait_s": _round(p90 / 1000 if p90 is not None else None),
            "max_wait_s": _round(waits[-1] / 1000 if waits else None),
            "within_target": c["within"],
            "within_target_share": _round(c["within"] / waited if waited else None, 4),
            "avg_service_s": _round(c["service_sum_ms"] / c["service_n"] / 1000
                                    if c["service_n"] else None),
            "ratings": c["ratings"],
            "satisfied": c["satisfied"],
            "satisfied_share": _round(sat_share, 4),
            "target_wait_s": _round(target_wait),
            "target_satisfied_share": _round(target_sat, 4),
            "wait_pass": (avg_wait <= target_wait + 1e-9) if avg_wait is not None
            and target_wait is not None else None,
            "satisfaction_pass": (sat_share >= target_sat - 1e-9) if sat_share is not None
            and target_sat is not None else None,
        }


def _round(value, digits: int = 1):
    return None if value is None else round(value, digits)
