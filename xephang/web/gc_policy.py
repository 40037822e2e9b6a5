"""Full garbage collections that do not stop a busy server for long.

CPython's full collection walks every tracked object. A web worker holding 5,000
sockets tracks ~400,000 of them, and each full collection held its loop for
300–500 ms (about one every 40 s once the sockets were in): every board and
tracker of that worker got its call that much later (BENCHMARKS.md, "Collections
that skip the sockets").

So the production server freezes what survives each full collection
(``gc.freeze``): the next one walks only what was made since. Frozen objects
are not collected, so cyclic garbage among them (a closed socket's greenlets and
frames) would stay. The policy therefore unfreezes, and the next full collection
walks everything again, an hour after the last walk of everything, or sooner once
the frozen set has grown to twice what that walk left: the garbage kept is at
most an hour's, and one long collection an hour replaces one a minute.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

WHOLE_EVERY_S = 3600.0  # the longest between two collections of everything
GROWTH = 2.0  # ... or once the frozen set is this many times what the last one left


class FreezeSurvivors:
    """A ``gc.callbacks`` entry: after each full collection, freeze its survivors, or
    unfreeze so that the next one walks everything (see the module's text)."""

    def __init__(
        self,
        whole_every_s: float = WHOLE_EVERY_S,
        growth: float = GROWTH,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.whole_every_s, self.growth, self.clock = whole_every_s, growth, clock
        self.whole_at = clock()
        self.baseline = 0  # objects frozen after the last collection of everything
        self.next_is_whole = True
        self.full = self.whole = 0  # full collections seen, and of them of everything

    def install(self) -> FreezeSurvivors:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def __call__(self, phase: str, info: dict) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        self.full += 1
        # the collection has finished; freezing or unfreezing only moves its lists
        gc.freeze()
        frozen = gc.get_freeze_count()
        if self.next_is_whole:
            self.whole += 1
            self.whole_at, self.baseline, self.next_is_whole = self.clock(), frozen, False
            return
        aged = self.clock() - self.whole_at >= self.whole_every_s
        if aged or frozen > self.growth * max(self.baseline, 1):
            gc.unfreeze()  # the next full collection walks everything, garbage included
            self.next_is_whole = True

    def collect(self):
        """``/metrics``: full collections by kind, and the objects frozen now."""
        runs = CounterMetricFamily(
            "xephang_gc_full_collections",
            "Full garbage collections in this process: of everything (walk=all) or of"
            " what was made since the last freeze (walk=new).",
            labels=["walk"],
        )
        runs.add_metric(["all"], self.whole)
        runs.add_metric(["new"], self.full - self.whole)
        yield runs
        yield GaugeMetricFamily(
            "xephang_gc_frozen_objects",
            "Objects frozen out of garbage collection (survivors of the last full collections).",
            value=gc.get_freeze_count(),
        )
