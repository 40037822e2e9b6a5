"""Generate a year of a large one-stop centre into a fresh SQLite file, fast.

    python bench/gen_year.py --db /tmp/xephang-year.db [--tickets 1000000] [--end 2026-11-25]
    python bench/gen_year.py --db /tmp/xephang-province.db --offices 100 --days 35 --tickets 5000

With ``--offices N`` it generates N offices of one province, each over the
same ``--days`` days ending on ``--end``: every tenth a provincial centre at
four times the average (``--tickets`` per office over the period), the others
commune/ward offices at two thirds of it; each office is sized and simulated
as below, with its own hash chain.

A provincial centre: 12 services, counters sized to the load (about 65 for
a million tickets), one officer each; open Monday to Friday 07:30–11:30 and
13:30–17:00 and Saturday mornings, closed on public holidays; heavier on
Mondays, mornings and before Tết. Each service is a multi-counter FIFO queue
simulated per day, so waits grow with load. About 4% no-shows, 8% recalls,
3% transfers (a new ticket of the same visit), 1% cancellations, tickets
left at closing expire, 8% priority tickets, 30% of served tickets rated.

Rows are bulk-inserted (executemany, synchronous=OFF while generating, one
transaction per day), and every event gets its per-office sequence number
and the real hash chain (the engine's own hash function), so
``xephang verify-log`` passes on the result. Receipt "printed" events are
not generated. Keep the file outside the repository.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xephang import engine  # noqa: E402
from xephang.engine.log import GENESIS_HASH, event_hash  # noqa: E402
from xephang.storage import (
    connect,  # noqa: E402
    migrate,  # noqa: E402
)

TZ_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh, no DST
SERVICES = (  # prefix, name, English, field, share of arrivals, mean service minutes, (unused)
    ("A", "Hộ tịch", "Civil status", "Tư pháp - Hộ tịch", 0.16, 7, 6),
    ("B", "Chứng thực", "Certification", "Tư pháp - Chứng thực", 0.20, 4, 6),
    ("C", "Đất đai", "Land", "Tài nguyên - Môi trường", 0.14, 14, 6),
    ("D", "Đăng ký kinh doanh", "Business registration", "Kế hoạch - Đầu tư", 0.09, 11, 3),
    ("E", "Xây dựng", "Construction", "Xây dựng", 0.06, 12, 3),
    ("F", "Lao động - Thương binh và Xã hội", "Labour", "Lao động - Xã hội", 0.07, 8, 3),
    ("G", "Tư pháp", "Justice", "Tư pháp", 0.05, 9, 2),
    ("H", "Giao thông vận tải", "Transport", "Giao thông", 0.07, 6, 3),
    ("K", "Công an - Cư trú", "Residence", "Công an", 0.06, 6, 3),
    ("L", "Y tế", "Health", "Y tế", 0.03, 8, 1),
    ("M", "Giáo dục", "Education", "Giáo dục", 0.03, 7, 2),
    ("N", "Thuế", "Tax", "Tài chính", 0.04, 10, 2),
)
HOURLY = {7: 0.6, 8: 1.6, 9: 1.5, 10: 1.1, 11: 0.3, 13: 0.5, 14: 1.2, 15: 1.0, 16: 0.5}
OPEN = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))
SATURDAY = ((7 * 60 + 30, 11 * 60 + 30),)
WEEKDAY_LOAD = (1.25, 1.05, 1.0, 0.95, 1.0, 0.5, 0.0)
HOLIDAYS = {"01-01", "04-30", "05-01", "09-02", "09-03"}


def fmt(moment: datetime) -> str:
    """The engine's stored time format (UTC, milliseconds, offset)."""
    return moment.isoformat(timespec="milliseconds")


def open_spans(day: date):
    if day.weekday() == 6 or day.strftime("%m-%d") in HOLIDAYS:
        return ()
    return SATURDAY if day.weekday() == 5 else OPEN


def office_hours() -> dict:
    """OPEN and SATURDAY as the office's stored hours (what the engine closes the day by)."""

    def clock(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    weekday = [[clock(a), clock(b)] for a, b in OPEN]
    return {
        **{d: weekday for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [[clock(a), clock(b)] for a, b in SATURDAY],
    }


def day_load(day: date, base: float) -> float:
    """Expected tickets on a day: weekday pattern, pre-Tết rush, summer lull, noise."""
    factor = WEEKDAY_LOAD[day.weekday()]
    if day.month == 1:
        factor *= 1.2
    if day.month == 2 and day.day < 12:
        factor *= 0.5  # Tết
    if day.month in (7, 8):
        factor *= 0.9
    return base * factor


def arrival_minutes(rng: random.Random, spans, count: int) -> list[float]:
    """Arrival minutes since local midnight, following the hourly profile within open spans."""
    slots = []
    for start, end in spans:
        for minute in range(start, end):
            slots.append((minute, HOURLY.get(minute // 60, 0.2)))
    weights = [w for _m, w in slots]
    picks = rng.choices([m for m, _w in slots], weights=weights, k=count)
    # Nobody arrives in the last 10 minutes before a span closes.
    return sorted(m + rng.random() for m in picks)


def next_open(minute: float, spans) -> float | None:
    """The same or the next minute the office is open; None after closing."""
    for start, end in spans:
        if minute < start:
            return start
        if minute < end:
            return minute
    return None


class Generator:
    def __init__(self, db, seed: int, first_ticket: int = 0, first_visit: int = 0) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.ticket_id = first_ticket  # ids continue across the offices of one file
        self.visit_id = first_visit
        self.seq = 0
        self.prev_hash = GENESIS_HASH

    def setup(self, per_day: float, name: str = "", user_prefix: str = "") -> None:
        """The office, its services, counters sized for ``per_day`` tickets, officers."""
        db = self.db
        self.office = engine.create_office(
            db,
            name or "Trung tâm Phục vụ hành chính công tỉnh (benchmark)",
            address="Số 1 Đường Lê Lợi",
            hours=office_hours(),
            now=datetime(2020, 1, 1, tzinfo=UTC),
        )
        self.services = []
        number = 0
        for order, (prefix, vi, en, fld, share, mean, _counters) in enumerate(SERVICES):
            sid = engine.add_service(db, self.office, prefix, vi, en, fld, sort_order=order)
            # Enough counters for an ordinary day at 95% load: busy days queue up.
            counters = max(1, math.ceil(share * per_day * mean / 450 / 0.95))
            cids = []
            for _ in range(counters):
                number += 1
                cids.append(engine.add_counter(db, self.office, number, [sid]))
            self.services.append(
                {"id": sid, "prefix": prefix, "share": share, "mean": mean, "counters": cids}
            )
        from xephang.engine import accounts

        self.officer = {}
        for s in self.services:
            for cid in s["counters"]:
                n = len(self.officer) + 1
                self.officer[cid] = accounts.add_user(
                    db,
                    f"{user_prefix}canbo{n:02d}",
                    "officer",
                    self.office,
                    None,
                    f"Cán bộ {n:02d}",
                )
        engine.add_priority_category(db, self.office, "elderly", "Người cao tuổi", "Elderly")

    def day(self, day: date, expected: float) -> tuple[list, list, list, list]:
        """Simulate one day; return rows of visits, tickets, events and ratings."""
        rng = self.rng
        spans = open_spans(day)
        if not spans:
            return [], [], [], []
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - TZ_OFFSET
        at = lambda minute: midnight + timedelta(minutes=minute)  # noqa: E731
        count = max(0, int(rng.gauss(expected, expected * 0.08)))
        tickets: list[dict] = []
        events: list[tuple] = []  # (minute, order, ticket index, type, counter, user, details)
        arrivals = arrival_minutes(rng, spans, count)
        by_service: dict[int, list] = {}
        for minute in arrivals:
            s = rng.choices(self.services, weights=[x["share"] for x in self.services])[0]
            by_service.setdefault(s["id"], []).append(minute)
        closing = spans[-1][1]
        transfers = []
        for s in self.services:
            free = [(spans[0][0] + rng.random() * 3, cid) for cid in s["counters"]]
            heapq.heapify(free)
            for minute in by_service.get(s["id"], []):
                tickets.append(self._ticket(s, minute, None))
                self._serve(tickets, len(tickets) - 1, s, free, spans, closing, events, transfers)
        for index, minute in transfers:  # the next ticket of the same visit
            origin = tickets[index]
            target = rng.choice([x for x in self.services if x["id"] != origin["service"]])
            tickets.append(self._ticket(target, minute, index))
            j = len(tickets) - 1
            wait = rng.uniform(1, 12)
            cid = rng.choice(target["counters"])
            self._call_and_serve(
                tickets, j, target, minute + wait, cid, events, None, closing, allow_transfer=False
            )
        return self._rows(day, at, tickets, events, closing)

    def _ticket(self, s, minute, from_index) -> dict:
        return {
            "service": s["id"],
            "prefix": s["prefix"],
            "issued": minute,
            "from": from_index,
            "priority": "elderly" if self.rng.random() < 0.08 else None,
            "status": "waiting",
            "counter": None,
            "called": None,
            "last_called": None,
            "started": None,
            "finished": None,
            "recalls": 0,
            "dossier": None,
            "rating": None,
        }

    def _serve(self, tickets, i, s, free, spans, closing, events, transfers) -> None:
        rng = self.rng
        t = tickets[i]
        events.append(
            (
                t["issued"],
                0,
                i,
                "issued",
                None,
                None,
                {"priority": t["priority"], "device_id": None},
            )
        )
        if rng.random() < 0.01:  # gives up and cancels
            t["status"], t["finished"] = "cancelled", t["issued"] + rng.uniform(5, 40)
            t["left"] = t["finished"]
            events.append((t["finished"], 9, i, "cancelled", None, None, {"reason": None}))
            return
        ready, cid = heapq.heappop(free)
        call = next_open(max(ready, t["issued"]), spans)
        if call is None or call >= closing - 2:
            heapq.heappush(free, (ready, cid))
            t["status"], t["finished"] = "expired", closing + 5
            t["left"] = closing  # left the line when the office's hours ended
            events.append((t["finished"], 9, i, "expired", None, None, {}))
            return
        done_at = self._call_and_serve(tickets, i, s, call, cid, events, transfers, closing)
        heapq.heappush(free, (done_at + rng.uniform(0.1, 0.8), cid))

    def _call_and_serve(
        self, tickets, i, s, call, cid, events, transfers, closing, allow_transfer=True
    ) -> float:
        rng = self.rng
        t = tickets[i]
        user = self.officer[cid]
        t.update(counter=cid, called=call, last_called=call, officer=user)
        events.append((call, 1, i, "called", cid, user, {"counter_number": cid}))
        moment = call
        if rng.random() < 0.08:
            moment += rng.uniform(0.3, 1.0)
            t["recalls"], t["last_called"] = 1, moment
            events.append(
                (moment, 2, i, "recalled", cid, user, {"counter_number": cid, "recall": 1})
            )
        if rng.random() < 0.04:
            moment += 1.0
            t["status"], t["finished"] = "no_show", moment
            events.append((moment, 3, i, "no_show", cid, user, {}))
            return moment
        moment += rng.uniform(0.2, 1.0)
        t["started"] = moment
        events.append((moment, 4, i, "started", cid, user, {}))
        moment += min(rng.lognormvariate(math.log(s["mean"]), 0.5), s["mean"] * 5)
        t["finished"] = moment
        if (
            allow_transfer
            and transfers is not None
            and rng.random() < 0.03
            and moment < closing - 20
        ):
            t["status"] = "transferred"
            transfers.append((i, moment))
            events.append(
                (
                    moment,
                    5,
                    i,
                    "transferred",
                    cid,
                    user,
                    {"to_ticket_id": None, "reason": "chuyển lĩnh vực"},
                )
            )
            return moment
        t["status"] = "done"
        t["dossier"] = f"H{self.ticket_id + i:08d}" if rng.random() < 0.6 else None
        events.append(
            (moment, 6, i, "finished", cid, user, {"dossier_code": t["dossier"], "outcome": None})
        )
        if rng.random() < 0.3:
            t["rating"] = rng.choices((3, 2, 1), weights=(60, 35, 5))[0]
            events.append(
                (
                    moment + rng.uniform(0.2, 2),
                    7,
                    i,
                    "rated",
                    None,
                    None,
                    {"level": t["rating"], "has_comment": False},
                )
            )
        return moment

    def _rows(self, day, at, tickets, events, closing):
        """Ids, numbers, codes and the hash-chained events of a simulated day."""
        iso_day = day.isoformat()
        order = sorted(range(len(tickets)), key=lambda i: (tickets[i]["issued"], i))
        ids, numbers, per_service = {}, {}, {}
        visits, visit_of = [], {}
        for i in order:
            self.ticket_id += 1
            ids[i] = self.ticket_id
            t = tickets[i]
            per_service[t["service"]] = per_service.get(t["service"], 0) + 1
            numbers[i] = per_service[t["service"]]
            if t["from"] is None:
                self.visit_id += 1
                visit_of[i] = self.visit_id
                visits.append(
                    (self.visit_id, self.office, f"gen{self.visit_id:09d}", fmt(at(t["issued"])))
                )
        for i in order:
            if tickets[i]["from"] is not None:
                visit_of[i] = visit_of[tickets[i]["from"]]
        first_issue = {}
        for i in order:
            first_issue.setdefault(visit_of[i], tickets[i]["issued"])
        ticket_rows = []
        for i in order:
            t = tickets[i]
            ticket_rows.append(
                (
                    ids[i],
                    self.office,
                    t["service"],
                    visit_of[i],
                    ids[t["from"]] if t["from"] is not None else None,
                    iso_day,
                    numbers[i],
                    f"{t['prefix']}{numbers[i]:03d}",
                    t["priority"],
                    t["status"],
                    None,
                    t["counter"],
                    t.get("officer"),
                    None,
                    fmt(at(t["issued"])),
                    fmt(at(first_issue[visit_of[i]])),
                    _t(at, t["called"]),
                    _t(at, t["last_called"]),
                    _t(at, t["started"]),
                    _t(at, t["finished"]),
                    t["recalls"],
                    t["dossier"],
                    None,
                    _t(at, t.get("left")),
                )
            )
        transfer_to = {t["from"]: j for j, t in enumerate(tickets) if t["from"] is not None}
        events.append(
            (
                closing + 5,
                10,
                None,
                "day_closed",
                None,
                None,
                {"day": iso_day, "expired": sum(t["status"] == "expired" for t in tickets)},
            )
        )
        events.sort(key=lambda e: (e[0], e[1], ids.get(e[2], 0)))
        event_rows = []
        for minute, _o, i, kind, cid, user, details in events:
            if kind == "transferred":
                j = transfer_to[i]
                details = {
                    **details,
                    "to_ticket_id": ids[j],
                    "to_service_id": tickets[j]["service"],
                    "to_counter_id": None,
                }
            elif kind == "issued" and i is not None and tickets[i]["from"] is not None:
                details = {
                    "from_ticket_id": ids[tickets[i]["from"]],
                    "priority": tickets[i]["priority"],
                }
            self.seq += 1
            event = {
                "office_id": self.office,
                "seq": self.seq,
                "ticket_id": ids[i] if i is not None else None,
                "counter_id": cid,
                "user_id": user,
                "type": kind,
                "at": fmt(at(minute)),
                "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
            }
            event["prev_hash"] = self.prev_hash
            event["hash"] = self.prev_hash = event_hash(self.prev_hash, event)
            event_rows.append(tuple(event[k] for k in EVENT_COLUMNS))
        ratings = [  # as engine.rate_ticket records them: whom and what each rates
            (
                self.office,
                ids[i],
                t["rating"],
                "",
                _t(at, t["finished"] + 1),
                visit_of[i],
                t["dossier"],
                t.get("officer"),
                t["counter"],
                t["service"],
                "tablet" if ids[i] % 3 else "tracker",
            )
            for i, t in enumerate(tickets)
            if t["rating"] is not None
        ]
        return visits, ticket_rows, event_rows, ratings


EVENT_COLUMNS = (
    "office_id",
    "seq",
    "ticket_id",
    "counter_id",
    "user_id",
    "type",
    "at",
    "details",
    "prev_hash",
    "hash",
)


def _t(at, minute):
    return fmt(at(minute)) if minute is not None else None


def generate(
    path: str, tickets: int, end: date, seed: int = 1, offices: int = 1, length: int = 365
) -> dict:
    """Write ``length`` days ending on ``end`` with about ``tickets`` tickets (per office,
    on average) into a new file, for one office or ``offices`` of them."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = connect(path)
    migrate(db)
    start = end - timedelta(days=length - 1)
    days = [start + timedelta(days=n) for n in range(length)]
    weight = sum(day_load(d, 1.0) for d in days if open_spans(d))
    db.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    totals = {"tickets": 0, "events": 0, "visits": 0, "offices": []}
    gen = None
    for k in range(offices):
        scale = 1.0 if offices == 1 else (4.0 if k % 10 == 0 else 2 / 3)
        base = tickets * scale / weight  # transfers then add about 1.5% on top
        gen = Generator(db, seed + k, gen.ticket_id if gen else 0, gen.visit_id if gen else 0)
        if offices == 1:
            gen.setup(base)
        else:
            kind = "Trung tâm Phục vụ hành chính công" if k % 10 == 0 else "UBND xã"
            gen.setup(base, f"{kind} số {k + 1:03d} (benchmark)", f"o{k + 1:03d}_")
        _write_days(db, gen, days, base, totals)
        totals["offices"].append(gen.office)
    db.execute("PRAGMA synchronous=FULL")
    # No ANALYZE: xephang never runs it, so the benches plan queries as production does
    # (with statistics the dashboard looked fast while it walked the office's history).
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    totals["seconds"] = round(time.perf_counter() - started, 1)
    totals["office_id"] = totals["offices"][0]
    totals["offices"] = len(totals["offices"])
    if offices == 1:
        del totals["offices"]
    totals["first"], totals["last"] = start.isoformat(), end.isoformat()
    return totals


def _write_days(db, gen: Generator, days: list[date], base: float, totals: dict) -> None:
    """Simulate and bulk-insert each day of one office (one transaction per day)."""
    for day in days:
        visits, ticket_rows, event_rows, ratings = gen.day(day, day_load(day, base))
        if not ticket_rows:
            continue
        conn = db.conn
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO visits (id, office_id, token, created_at) VALUES (?, ?, ?, ?)", visits
        )
        conn.executemany(
            "INSERT INTO tickets (id, office_id, service_id, visit_id, from_ticket_id, day,"
            " number, code, priority, status, target_counter_id, counter_id, officer_id,"
            " device_id, issued_at, queue_at, called_at, last_called_at, started_at,"
            " finished_at, recalls, dossier_code, outcome, left_at) VALUES"
            f" ({','.join('?' * 24)})",
            ticket_rows,
        )
        conn.executemany(
            f"INSERT INTO ticket_events ({','.join(EVENT_COLUMNS)}) VALUES"
            f" ({','.join('?' * len(EVENT_COLUMNS))})",
            event_rows,
        )
        conn.executemany(
            "INSERT INTO ratings (office_id, ticket_id, level, comment, created_at, visit_id,"
            " dossier_code, officer_id, counter_id, service_id, channel)"
            f" VALUES ({','.join('?' * 11)})",
            ratings,
        )
        conn.execute("COMMIT")
        totals["tickets"] += len(ticket_rows)
        totals["events"] += len(event_rows)
        totals["visits"] += len(visits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/xephang-year.db")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--end", default=None, help="Last day (default: yesterday, UTC+7)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--offices", type=int, default=1, help="How many offices (default 1)")
    parser.add_argument("--days", type=int, default=365, help="Days generated (default 365)")
    args = parser.parse_args()
    end = (
        date.fromisoformat(args.end)
        if args.end
        else (datetime.now(UTC) + TZ_OFFSET).date() - timedelta(days=1)
    )
    totals = generate(args.db, args.tickets, end, args.seed, args.offices, args.days)
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
