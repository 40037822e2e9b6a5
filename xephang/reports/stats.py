"""Aggregating ticket and visit facts into report figures (one definition, used everywhere).

A ``Tally`` holds the additive counts of a group plus the sorted visit waits
(integer milliseconds) it needs for the median, p90 and max. Tallies of
single days merge into tallies of any period.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import chain

# Additive counters of a tally, in the order they are stored.
COUNTS = (
    "issued",
    "served",
    "no_show",
    "cancelled",
    "expired",
    "transferred",
    "in_progress",
    "visits",
    "visits_waited",
    "left_unserved",
    "wait_sum_ms",
    "judged",
    "within",
    "target_sum_s",
    "service_n",
    "service_sum_ms",
    "ratings",
    "satisfied",
    "sat_target_sum",
)


def kth_smallest(runs: list, k: int):
    """The k-th smallest value (0-based) of several sorted runs of integers, without merging.

    Binary search on the value: the answer is the smallest v with more than
    k values ≤ v. A year is ~300 daily runs, so this beats sorting a
    million Python ints by an order of magnitude.
    """
    if len(runs) == 1:
        return runs[0][k]
    lo, hi = min(r[0] for r in runs), max(r[-1] for r in runs)
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(bisect_right(r, mid) for r in runs) > k:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass
class Tally:
    """Counts and visit waits of one group (a service, a counter, a day, ...).

    The waits are kept as sorted runs (one per day merged in), never merged.
    """

    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    runs: list = field(default_factory=list)
    days: set = field(default_factory=set)

    @property
    def waits(self) -> array:
        """All waits, sorted (materialised only when asked for)."""
        if len(self.runs) == 1:
            return self.runs[0]
        return array("q", sorted(chain.from_iterable(self.runs)))

    @waits.setter
    def waits(self, sorted_waits: array) -> None:
        self.runs = [sorted_waits] if len(sorted_waits) else []

    def add_counts(self, other: dict) -> None:
        counts = self.counts
        for key, value in other.items():
            counts[key] = counts.get(key, 0) + value

    def merge(self, other: Tally) -> None:
        """Fold another tally (e.g. another day of the same group) into this one."""
        self.add_counts(other.counts)
        self.runs.extend(other.runs)
        self.days |= other.days

    def order_statistics(self) -> tuple:
        """(median, p90, max) of the waits in ms, or Nones."""
        runs = self.runs
        n = sum(len(r) for r in runs)
        if not n:
            return None, None, None
        if len(runs) > 1 and 72 * len(runs) * math.log2(n / len(runs) + 2) > 2 * n:
            # Many short runs (a counter over a year): one sort is cheaper than selection.
            runs = self.runs = [array("q", sorted(chain.from_iterable(runs)))]
        mid = n // 2
        med = (
            kth_smallest(runs, mid)
            if n % 2
            else (kth_smallest(runs, mid - 1) + kth_smallest(runs, mid)) / 2
        )
        p90 = kth_smallest(runs, max(1, math.ceil(0.9 * n)) - 1)
        return med, p90, max(r[-1] for r in runs)

    def figures(self, fallback_wait_target=None, fallback_sat_target=None) -> dict:
        """The report row of this group: the definitions of docs/reports.md applied."""
        c = self.counts
        med, p90, top = self.order_statistics()
        waited = c["visits_waited"]
        target_wait = c["target_sum_s"] / waited if waited else fallback_wait_target
        target_sat = c["sat_target_sum"] / c["ratings"] if c["ratings"] else fallback_sat_target
        avg_wait = c["wait_sum_ms"] / waited / 1000 if waited else None
        sat_share = c["satisfied"] / c["ratings"] if c["ratings"] else None
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
            "left_unserved": c["left_unserved"],
            "avg_wait_s": _round(avg_wait),
            "median_wait_s": _round(med / 1000 if med is not None else None),
            "p90_wait_s": _round(p90 / 1000 if p90 is not None else None),
            "max_wait_s": _round(top / 1000 if top is not None else None),
            "within_target": c["within"],
            "visits_judged": c["judged"],
            "within_target_share": _round(c["within"] / c["judged"] if c["judged"] else None, 4),
            "avg_service_s": _round(
                c["service_sum_ms"] / c["service_n"] / 1000 if c["service_n"] else None
            ),
            "ratings": c["ratings"],
            "satisfied": c["satisfied"],
            "satisfied_share": _round(sat_share, 4),
            "target_wait_s": _round(target_wait),
            "target_satisfied_share": _round(target_sat, 4),
            "wait_pass": (avg_wait <= target_wait + 1e-9)
            if avg_wait is not None and target_wait is not None
            else None,
            "satisfaction_pass": (sat_share >= target_sat - 1e-9)
            if sat_share is not None and target_sat is not None
            else None,
        }


def _round(value, digits: int = 1):
    return None if value is None else round(value, digits)
