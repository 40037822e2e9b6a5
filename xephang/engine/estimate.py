"""The wait estimate a citizen is shown. It is a promise (DESIGN), so it says only what it knows.

- No open counter serves the service (or the counter a transfer was sent
  to is not open): no estimate (``wait_s`` None, ``counters_open`` 0).
- Otherwise the work ahead of the ticket is shared among the open counters
  that serve its service:

  * the people ahead in its own line, each taking the service's time;
  * at each of those counters, what it takes first: tickets transferred to
    that counter, and the lines of the services it prefers over this one
    (each such line shared among the open counters that serve it);
  * what each counter is busy with now: the rest of its current ticket's
    expected time.

  The people ahead then go one by one to whichever counter is free first;
  when the last of them has been called and a counter frees up, the ticket is
  called: that is the wait in serving time. A break in the day's opening
  hours that falls inside it is added (nobody is called over lunch), and
  ``past_closing`` says when the wait runs past the end of the day.
- A service's time per person is the mean call-to-finish of its last
  finished tickets today (``window`` of them). With fewer than
  ``THIN_SAMPLES`` the data is thin: the last 7 days' finished tickets give
  the mean and the quartiles, or, with no history, the default ±50%; the
  estimate is then a range (``low_s``–``high_s``).
- Track record: each ticket keeps the estimate it was given at issue
  (``tickets.estimated_wait_s``); ``track_record`` is the 90th percentile of
  |estimate − actual wait| of a service's tickets over the last 7 days, and
  screens say "dự kiến" only while it is within the office's bound
  (``estimate_max_p90_error_min``, ``shown``).
"""

from __future__ import annotations

import heapq
import math
import statistics
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import day_bounds, iso, opening_spans, resolve_now
from ..storage import file_of, one, rows, scalar
from .lookups import get_ticket
from .order import people_ahead
from .settings import office_setting
from .states import WAITING

MIN_SERVICE_S = 30.0
DEFAULT_SERVICE_S = 300  # the server's DEFAULT_SERVICE_TIME_S, where no request gives it
THIN_SAMPLES = 5  # fewer finished tickets today than this: the estimate is a range
HISTORY_DAYS = 7
HISTORY_LIMIT = 400  # recent finishes read for the history (index order, newest first)
TRACK_MIN_SAMPLES = 20  # fewer judged estimates than this in 7 days: no track record yet
WITHIN_S = 300  # "within ±5 minutes" of the estimate-error report


# What a citizen's ticket, kiosk screen and tracker carry of the estimate (``for_citizen``).
CITIZEN_FIELDS = (
    "people_ahead",
    "counters_open",
    "estimated_wait_s",
    "estimate_range_s",
    "estimate_shown",
    "past_closing",
)


@dataclass(frozen=True)
class PerPerson:
    """Seconds a counter spends per person of a service: best guess and its range."""

    mean: float
    low: float
    high: float
    thin: bool


@dataclass(frozen=True)
class Estimate:
    """What a waiting ticket is told about its wait."""

    people_ahead: int
    counters_open: int
    wait_s: int | None = None
    low_s: int | None = None
    high_s: int | None = None
    past_closing: bool = False

    def fields(self) -> dict:
        """The estimate as the ticket JSON, the kiosk and the tracker carry it."""
        return {
            "people_ahead": self.people_ahead,
            "counters_open": self.counters_open,
            "estimated_wait_s": self.wait_s,
            "estimate_range_s": None if self.low_s is None else [self.low_s, self.high_s],
            "past_closing": self.past_closing,
        }


def _finished(db, service_id: int, since: str, until: str | None, limit: int) -> list[float]:
    """Call-to-finish seconds of a service's tickets finished in [since, until), newest first.

    The partial index tickets_done_recent (service_id, finished_at) WHERE
    status = 'done' hands over the newest finishes first: ``limit`` rows read,
    the arithmetic done by SQLite."""
    return [
        r[0]
        for r in db.execute(
            "SELECT (julianday(finished_at) - julianday(called_at)) * 86400.0 FROM tickets"
            " WHERE service_id = ? AND status = 'done' AND finished_at >= ? AND finished_at < ?"
            " AND called_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
            [service_id, since, until or "9999", limit],
        ).fetchall()
    ]


def per_person(
    db: sqlite_utils.Database,
    service_id: int,
    day: str,
    timezone: str,
    default_s: float,
    window: int = 20,
) -> PerPerson:
    """A service's time per person: today's recent mean, or a range when data is thin."""
    start = day_bounds(day, timezone)[0]
    today = _finished(db, service_id, start, None, window)
    if len(today) >= THIN_SAMPLES:
        mean = max(statistics.fmean(today), MIN_SERVICE_S)
        return PerPerson(mean, mean, mean, False)
    since = iso(datetime.fromisoformat(start) - timedelta(days=HISTORY_DAYS))
    known = today + _finished(db, service_id, since, start, HISTORY_LIMIT)
    if len(known) >= THIN_SAMPLES:
        q1, _median, q3 = statistics.quantiles(known, n=4)
        mean = max(statistics.fmean(known), MIN_SERVICE_S)
        return PerPerson(mean, max(q1, MIN_SERVICE_S), max(q3, mean), True)
    mean = max(statistics.fmean(known), MIN_SERVICE_S) if known else float(default_s)
    return PerPerson(mean, mean * 0.5, mean * 1.5, True)


def recent_service_time(
    db: sqlite_utils.Database, service_id: int, day: str, default_s: int, window: int = 20
) -> float:
    """Mean service time (finish − call) of the service's last tickets finished today, or
    ``default_s`` when none has finished (the outbox's "near" rule reads this)."""
    timezone = scalar(
        db,
        "SELECT o.timezone FROM services s JOIN offices o ON o.id = s.office_id WHERE s.id = ?",
        [service_id],
    )
    if timezone is None:
        return float(default_s)
    today = _finished(db, service_id, day_bounds(day, timezone)[0], None, window)
    return max(statistics.fmean(today), MIN_SERVICE_S) if today else float(default_s)


def open_counters(db: sqlite_utils.Database, service_id: int) -> int:
    """Active, open counters that serve a service."""
    return scalar(
        db,
        "SELECT count(*) FROM counters c JOIN counter_services cs ON cs.counter_id = c.id"
        " WHERE cs.service_id = ? AND c.active AND c.state = 'open'",
        [service_id],
    )


def _serving_counters(db, ticket: dict) -> list[dict]:
    """The open counters that may call this ticket, with what each is busy with now."""
    sql = (
        "SELECT c.id, cur.service_id AS cur_service, cur.called_at AS cur_called,"
        " cur.status AS cur_status FROM counters c"
        " LEFT JOIN tickets cur ON cur.id = c.current_ticket_id"
        " WHERE c.active AND c.state = 'open' AND c.office_id = ?"
    )
    if ticket.get("target_counter_id"):  # sent to one counter: only it calls the ticket
        return rows(db, sql + " AND c.id = ?", [ticket["office_id"], ticket["target_counter_id"]])
    return rows(
        db,
        sql + " AND c.id IN (SELECT counter_id FROM counter_services WHERE service_id = ?)",
        [ticket["office_id"], ticket["service_id"]],
    )


def estimate(
    db: sqlite_utils.Database,
    ticket: dict,
    default_service_s: float = 300,
    window: int = 20,
    now: datetime | None = None,
    office: dict | None = None,
) -> Estimate:
    """The estimate of a waiting ticket (a ticket no longer waiting has none); ``office``,
    the ticket's office row if the caller has it (its zone and hours)."""
    ahead = people_ahead(db, ticket)
    if ticket["status"] != WAITING:
        return Estimate(ahead, 0)
    counters = _serving_counters(db, ticket)
    if not counters:
        return Estimate(ahead, 0)
    at = resolve_now(now)
    if office is None:
        office = one(db, "SELECT timezone, hours FROM offices WHERE id = ?", [ticket["office_id"]])
    timezone, hours = office["timezone"], office["hours"]
    ids = [c["id"] for c in counters]
    marks = ",".join("?" * len(ids))
    service = ticket["service_id"]
    # The services each of these counters prefers over this ticket's (it takes them first).
    preferred: dict[int, list[int]] = {}
    for counter_id, other in db.execute(
        f"SELECT cs.counter_id, cs.service_id FROM counter_services cs JOIN counter_services"
        f" mine ON mine.counter_id = cs.counter_id AND mine.service_id = ?"
        f" WHERE cs.counter_id IN ({marks}) AND cs.position < mine.position",
        [service, *ids],
    ).fetchall():
        preferred.setdefault(counter_id, []).append(other)
    others = sorted({s for group in preferred.values() for s in group})
    waiting, sharing = {}, {}
    if others:
        omarks = ",".join("?" * len(others))
        waiting = dict(
            db.execute(
                f"SELECT service_id, count(*) FROM tickets WHERE office_id = ? AND status ="
                f" 'waiting' AND target_counter_id IS NULL AND service_id IN ({omarks})"
                " GROUP BY service_id",
                [ticket["office_id"], *others],
            ).fetchall()
        )
        sharing = dict(
            db.execute(
                f"SELECT cs.service_id, count(*) FROM counter_services cs JOIN counters c ON"
                f" c.id = cs.counter_id WHERE c.active AND c.state = 'open' AND cs.service_id"
                f" IN ({omarks}) GROUP BY cs.service_id",
                others,
            ).fetchall()
        )
    targeted = db.execute(
        f"SELECT target_counter_id, service_id, count(*) FROM tickets WHERE status = 'waiting'"
        f" AND target_counter_id IN ({marks}) AND id != ? GROUP BY 1, 2",
        [*ids, ticket["id"]],
    ).fetchall()
    times: dict[int, PerPerson] = {}

    def time_of(service_id: int) -> PerPerson:
        if service_id not in times:
            times[service_id] = per_person(
                db, service_id, ticket["day"], timezone, default_service_s, window
            )
        return times[service_id]

    def work(pick) -> float:
        """Seconds of serving time until the ticket is called, with ``pick`` choosing the
        time per person: each counter starts with what it must do first (the rest of its
        current citizen, its share of the lines it prefers, tickets sent to it), then the
        people ahead go one by one to whichever counter is free first."""
        free = []
        for counter in counters:
            first = 0.0
            if counter["cur_status"] in ("called", "serving") and counter["cur_called"]:
                busy = (at - datetime.fromisoformat(counter["cur_called"])).total_seconds()
                first += max(0.0, pick(time_of(counter["cur_service"])) - busy)
            for other in preferred.get(counter["id"], ()):
                if waiting.get(other):
                    first += waiting[other] * pick(time_of(other)) / max(sharing.get(other, 1), 1)
            for target, other, count in targeted:
                if target == counter["id"] and (
                    ticket.get("target_counter_id") or other != service
                ):
                    first += count * pick(time_of(other))
            free.append(first)
        return kth_slot(free, pick(time_of(service)), ahead + 1)

    spans = opening_spans(hours, timezone, ticket["day"])
    mean_s, past = _through_hours(at, work(lambda p: p.mean), spans)
    thin = any(p.thin for p in times.values())
    low = high = None
    if thin:
        low = _through_hours(at, work(lambda p: p.low), spans)[0]
        high = _through_hours(at, work(lambda p: p.high), spans)[0]
    return Estimate(ahead, len(counters), mean_s, low, high, past)


def kth_slot(free: list[float], per: float, k: int) -> float:
    """When the k-th person of a line is called (k ≥ 1), counters free at ``free`` each
    taking ``per`` seconds a person, whoever is free first calling next.

    Counter i calls at f_i, f_i + per, f_i + 2·per, …; the line is called in the
    order of all those moments, so the k-th person goes at the k-th smallest of
    them. A short line is handed out one by one (a heap). A long one is counted:
    once the last counter is free (L = max f_i) every counter calls once per
    ``per``, in the same order each round, so the k-th moment after those before
    L is found by arithmetic; the cost follows the counters, not the line."""
    if k <= 4 * len(free) or per <= 0:
        heap = list(free)
        heapq.heapify(heap)
        for _ in range(k - 1):
            heapq.heapreplace(heap, heap[0] + per)
        return heap[0]
    last = max(free)
    # moments before L of each counter (a tolerance: f + m·per == L is not before L)
    before = [max(0, math.ceil((last - f) / per - 1e-9)) for f in free]
    if k > sum(before):
        rounds, index = divmod(k - sum(before) - 1, len(free))
        nexts = sorted(f + n * per for f, n in zip(free, before, strict=True))
        return nexts[index] + rounds * per

    def called_by(t: float) -> int:  # a counter busy long before the others: rare
        return sum(int((t - f) // per) + 1 for f in free if f <= t)

    low, high = min(free), last
    for _ in range(100):
        if high - low <= 1e-6:
            break
        mid = (low + high) / 2
        if called_by(mid) >= k:
            high = mid
        else:
            low = mid
    return max(f + math.floor((high - f) / per + 1e-9) * per for f in free if f <= high)


def _through_hours(at: datetime, seconds: float, spans) -> tuple[int, bool]:
    """Wall-clock seconds from ``at`` until ``seconds`` of serving time have passed within
    the day's opening spans (breaks skipped), and whether that runs past the last span."""
    if not spans:
        return int(math.ceil(seconds)), False
    clock, left = at, seconds
    for start, end in spans:
        if end <= clock:
            continue
        clock = max(clock, start)
        room = (end - clock).total_seconds()
        if left <= room:
            return int(math.ceil((clock - at).total_seconds() + left)), False
        left -= room
        clock = end
    return int(math.ceil((clock - at).total_seconds() + left)), True


def keep(db: sqlite_utils.Database, ticket_id: int, found: Estimate) -> None:
    """Store the estimate a ticket was given when it joined the line (its promise)."""
    db.execute(
        "UPDATE tickets SET estimated_wait_s = ?, estimate_low_s = ?, estimate_high_s = ?"
        " WHERE id = ?",
        [found.wait_s, found.low_s, found.high_s, ticket_id],
    )


def promise(
    db: sqlite_utils.Database,
    ticket_id: int,
    default_service_s: float,
    at: datetime,
    office: dict | None = None,
) -> dict:
    """Estimate a ticket that just joined the line, keep the estimate on its row, and return
    the fields its citizen is shown (``for_citizen``); ``office`` as for ``estimate``."""
    ticket = get_ticket(db, ticket_id)
    found = estimate(db, ticket, default_service_s, now=at, office=office)
    keep(db, ticket_id, found)
    return _citizen_fields(db, ticket, found, at)


def _citizen_fields(db, ticket: dict, found: Estimate, now) -> dict:
    fields = found.fields()
    fields["estimate_shown"] = found.wait_s is not None and service_shown(
        db, ticket["office_id"], ticket["service_id"], now
    )
    return fields


def for_citizen(
    db: sqlite_utils.Database, ticket: dict, default_service_s: float = 300, now=None
) -> dict:
    """The estimate fields a citizen's ticket, kiosk screen and tracker carry, with
    ``estimate_shown``: whether the service's track record allows saying "dự kiến"."""
    return _citizen_fields(db, ticket, estimate(db, ticket, default_service_s, now=now), now)


# estimate − actual wait of a called ticket that was given an estimate, in seconds (positive:
# the wait was shorter than promised); the track record and the estimate report read it.
# Rounded to the millisecond: julianday's float arithmetic is off by microseconds, and
# "within ±5 minutes" must count an error of exactly 300 s.
SIGNED_ERROR_S_SQL = (
    "round(t.estimated_wait_s - (julianday(t.called_at) - julianday(t.issued_at)) * 86400.0, 3)"
)
ERROR_S_SQL = f"abs({SIGNED_ERROR_S_SQL})"


def track_record(
    db: sqlite_utils.Database, office_id: int, now: datetime | None = None
) -> dict[int, tuple[int, float | None]]:
    """Per service of an office: (estimates judged, p90 of their error in seconds) over
    the last 7 days' tickets that were given an estimate and were called."""
    at = resolve_now(now)
    errors: dict[int, list[float]] = {}
    for service_id, error in db.execute(
        f"SELECT t.service_id, {ERROR_S_SQL} FROM tickets t WHERE t.office_id = ?"
        " AND t.issued_at >= ? AND t.estimated_wait_s IS NOT NULL AND t.called_at IS NOT NULL",
        [office_id, iso(at - timedelta(days=HISTORY_DAYS))],
    ).fetchall():
        errors.setdefault(service_id, []).append(error)
    return {sid: (len(v), nearest_rank(sorted(v), 0.9)) for sid, v in errors.items()}


def nearest_rank(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (the reports' definition of p90)."""
    if not sorted_values:
        return None
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


def shown(record: tuple[int, float | None] | None, bound_min: int) -> bool:
    """Whether screens may say "dự kiến" for a service with this track record."""
    if record is None or bound_min <= 0:
        return False
    count, p90 = record
    return count >= TRACK_MIN_SAMPLES and p90 is not None and p90 <= bound_min * 60


_RECORDS: dict[tuple[str, int], tuple[datetime, dict]] = {}
_RECORDS_LOCK = threading.Lock()
RECORD_TTL_S = 120.0  # the track record moves slowly: read 7 days of tickets at most this often


def service_shown(db: sqlite_utils.Database, office_id: int, service_id: int, now=None) -> bool:
    """Whether a service's estimates may be shown: its 7-day p90 error within the bound.

    The office's track record is read at most every ``RECORD_TTL_S`` of the
    engine's clock per database and office (a large centre has 20,000 tickets
    in 7 days)."""
    bound = office_setting(db, office_id, "estimate_max_p90_error_min")
    if bound <= 0:
        return False
    at = resolve_now(now)
    key = (file_of(db), office_id)
    with _RECORDS_LOCK:
        cached = _RECORDS.get(key)
    if cached is None or not 0 <= (at - cached[0]).total_seconds() < RECORD_TTL_S:
        cached = (at, track_record(db, office_id, at))
        with _RECORDS_LOCK:
            _RECORDS[key] = cached
    return shown(cached[1].get(service_id), bound)


def forget_track_records() -> None:
    """Drop the cached track records (tests, and after importing history)."""
    with _RECORDS_LOCK:
        _RECORDS.clear()


NO_COUNTER_VI = "Hiện chưa có quầy nào phục vụ dịch vụ này"
NO_COUNTER_EN = "No counter is serving this service right now"
PAST_CLOSING_VI = "có thể không kịp trong giờ làm việc hôm nay"
PAST_CLOSING_EN = "may run past today's opening hours"


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)  # as JavaScript's Math.floor(x + 0.5): the screens agree


def estimate_text(fields: dict) -> tuple[str, str] | None:
    """The estimated wait in words (Vietnamese, English), or None when it is not shown.

    ``static/xephang/util.js`` ``estimateText`` says the same for screens that
    update it live; a test keeps the two equal.
    """
    wait = fields.get("estimated_wait_s")
    if wait is None or not fields.get("estimate_shown"):
        return None
    span = fields.get("estimate_range_s")
    if span:
        low = max(1, _half_up(span[0] / 60))
        high = max(low + 1, _half_up(span[1] / 60))
        vi, en = f"khoảng {low}–{high} phút", f"about {low}–{high} min"
    elif wait < 60:
        vi, en = "dưới 1 phút", "under a minute"
    else:
        minutes = _half_up(wait / 60)
        vi, en = f"khoảng {minutes} phút", f"about {minutes} min"
    if fields.get("past_closing"):
        vi, en = f"{vi} ({PAST_CLOSING_VI})", f"{en} ({PAST_CLOSING_EN})"
    return vi, en


def wait_words(fields: dict) -> dict:
    """What a citizen is told about the wait, for screens and receipts alike:
    ``{"kind": "no_counter" | "estimate" | "none", "vi": ..., "en": ...}``."""
    if fields.get("counters_open") == 0:
        return {"kind": "no_counter", "vi": NO_COUNTER_VI, "en": NO_COUNTER_EN}
    text = estimate_text(fields)
    if text is None:
        return {"kind": "none", "vi": "", "en": ""}
    return {"kind": "estimate", "vi": text[0], "en": text[1]}
