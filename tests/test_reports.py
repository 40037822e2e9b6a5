"""Report figures equal an independent computation from the raw event log.

A month (2022-12-19 .. 2023-01-13, spanning the 30 → 15 minute target
change on 2023-01-01, plus a service target set mid-period) is generated
through the real engine functions with an injected clock: transfers,
recalls, returns, no-shows, cancellations, priority tickets, ratings and
tickets left to expire (``tests.helpers.fill_month``, built once per session as
``month_template``; the ``month`` fixture is a fresh copy of it).
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import date, datetime, time

import pytest

from tests.helpers import FIRST, LAST, MONTH_HOURS, NOW, SERVICE_TARGET, TZ
from xephang import engine, reports
from xephang.errors import QueueError

# ---------------------------------------------------------------- independent computation


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def expected_target(day: str, service_prefix: str | None) -> float:
    if service_prefix == SERVICE_TARGET[0] and day >= SERVICE_TARGET[2]:
        return SERVICE_TARGET[1]
    return 1800 if day < "2023-01-01" else 900


def replay(db, office_id: int) -> dict[int, dict]:
    """Per ticket, rebuilt from ticket_events alone (service from the ticket row)."""
    tickets: dict[int, dict] = {}
    for e in db.query(
        "SELECT * FROM ticket_events WHERE office_id = ? AND ticket_id IS NOT NULL ORDER BY seq",
        [office_id],
    ):
        details = json.loads(e["details"])
        t = tickets.setdefault(
            e["ticket_id"],
            {
                "id": e["ticket_id"],
                "start": None,
                "service_s": None,
                "counter": None,
                "officer": None,
                "rating": None,
            },
        )
        kind, at = e["type"], _at(e["at"])
        if kind == "issued":
            t["issued"] = at
            t["from"] = details.get("from_ticket_id")
            t["status"] = "waiting"
        elif kind in ("called", "recalled"):
            if kind == "called" and "first_call" not in t:
                t["first_call"] = at
            t["counter"] = e["counter_id"]
            t["officer"] = e["user_id"] if kind == "called" else t["officer"]
            t["status"] = "called"
        elif kind == "started":
            t["start"] = at
            t["officer"] = e["user_id"] or t["officer"]
            t["status"] = "serving"
        elif kind == "finished":
            t["service_s"] = (at - t["start"]).total_seconds()
            t["status"] = "done"
        elif kind == "returned":
            t["counter"], t["start"], t["status"] = None, None, "waiting"
        elif kind in ("no_show", "transferred", "cancelled", "expired"):
            if kind in ("cancelled", "expired") and "first_call" not in t:
                t["left_at"] = at  # left the line uncalled (capped at closing below)
            t["status"] = kind
        elif kind == "rated":
            t["rating"] = details["level"]
    prefix = {
        r["id"]: r["prefix"]
        for r in db.query(
            "SELECT t.id, s.prefix FROM tickets t JOIN services s ON s.id = t.service_id"
        )
    }
    for t in tickets.values():
        t["service"] = prefix[t["id"]]
        t["left"] = "left_at" in t
        if "first_call" in t:
            t["wait_s"] = (t["first_call"] - t["issued"]).total_seconds()
        elif t["left"]:
            left = t["left_at"]
            if t["status"] == "expired":  # the office's hours that weekday end at 16:00
                local = t["issued"].astimezone(TZ)
                closes = datetime.combine(local.date(), time(16, 0), TZ)
                assert MONTH_HOURS[local.strftime("%a").lower()][-1][1] == "16:00"
                left = min(left, closes)
            t["wait_s"] = (left - t["issued"]).total_seconds()
        else:
            t["wait_s"] = None
    for t in tickets.values():  # the visit root and its local day
        root = t
        while root["from"]:
            root = tickets[root["from"]]
        t["root"] = root["id"]
        t["day"] = root["issued"].astimezone(TZ).date().isoformat()
    return tickets


def expected_rows(tickets: dict[int, dict], key) -> dict:
    """Figures per group, with ``key(ticket)`` naming the group of a ticket."""
    groups: dict = {}
    for t in tickets.values():
        g = groups.setdefault(key(t), {"tickets": [], "visits": {}})
        g["tickets"].append(t)
    visits: dict[int, list] = {}
    for t in tickets.values():
        visits.setdefault(t["root"], []).append(t)
    for root_id, members in visits.items():
        groups.setdefault(key(tickets[root_id]), {"tickets": [], "visits": {}})
        groups[key(tickets[root_id])]["visits"][root_id] = members
    out = {}
    for name, g in groups.items():
        waits, within, judged, left_unserved, target_sum = [], 0, 0, 0, 0.0
        for root_id, members in g["visits"].items():
            if any(m["wait_s"] is None for m in members):
                continue  # still waiting somewhere: no visit wait yet
            wait = sum(m["wait_s"] for m in members)
            root = tickets[root_id]
            target = expected_target(root["day"], root["service"])
            waits.append(wait)
            target_sum += target
            if any(m["left"] for m in members):
                left_unserved += 1
                judged += wait > target  # left after the target had passed: a miss
            else:
                judged += 1
                within += wait <= target
        waits.sort()
        served = [t for t in g["tickets"] if t["status"] == "done"]
        rated = [t for t in g["tickets"] if t["rating"] is not None]
        out[name] = {
            "issued": len(g["tickets"]),
            "served": len(served),
            "no_show": sum(t["status"] == "no_show" for t in g["tickets"]),
            "cancelled": sum(t["status"] == "cancelled" for t in g["tickets"]),
            "expired": sum(t["status"] == "expired" for t in g["tickets"]),
            "visits": len(g["visits"]),
            "visits_waited": len(waits),
            "left_unserved": left_unserved,
            "visits_judged": judged,
            "within_target": within,
            "avg_wait_s": statistics.mean(waits) if waits else None,
            "median_wait_s": statistics.median(waits) if waits else None,
            "p90_wait_s": waits[math.ceil(0.9 * len(waits)) - 1] if waits else None,
            "max_wait_s": max(waits) if waits else None,
            "within_target_share": within / judged if judged else None,
            "target_wait_s": target_sum / len(waits) if waits else None,
            "avg_service_s": statistics.mean(t["service_s"] for t in served) if served else None,
            "ratings": len(rated),
            "satisfied_share": sum(t["rating"] != 1 for t in rated) / len(rated) if rated else None,
        }
    return out


def assert_rows_match(actual_rows: list[dict], expected: dict, label) -> None:
    actual = {label(r): r for r in actual_rows}
    assert set(actual) == set(expected)
    for name, exp in expected.items():
        row = actual[name]
        for field, value in exp.items():
            if value is None:
                if field != "target_wait_s":  # without waits the row shows the day's target
                    assert row[field] is None, (name, field)
            elif isinstance(value, float):
                tolerance = 0.002 if field.endswith("share") else 0.06
                assert row[field] == pytest.approx(value, abs=tolerance), (name, field)
            else:
                assert row[field] == value, (name, field)


# ---------------------------------------------------------------- tests


def test_month_has_the_situations_the_report_must_handle(month):
    db, info, _ = month
    types = dict(db.execute("SELECT type, count(*) FROM ticket_events GROUP BY type").fetchall())
    for kind in ("transferred", "recalled", "no_show", "returned", "cancelled", "expired", "rated"):
        assert types.get(kind, 0) > 0, kind
    assert db.execute("SELECT count(*) FROM tickets WHERE priority IS NOT NULL").fetchone()[0]
    # Tickets that left the line uncalled: cancelled while waiting, expired after closing.
    assert db.execute(
        "SELECT count(*) FROM tickets WHERE status = 'cancelled' AND called_at IS NULL"
    ).fetchone()[0]
    assert db.execute(
        "SELECT count(*) FROM tickets WHERE status = 'expired'"
        " AND time(finished_at, '+7 hours') > '16:00'"
    ).fetchone()[0]
    assert engine.verify_log(db) == []


@pytest.mark.parametrize(
    "group", ["office", "service", "day", "counter", "officer", "weekday", "hour"]
)
def test_report_equals_independent_computation_from_events(month, group):
    db, info, _ = month
    tickets = replay(db, info["office_id"])
    names = {
        "service": {
            r["id"]: f"{r['prefix']} — {r['name_vi']}" for r in db.query("SELECT * FROM services")
        },
    }
    counter_no = {r["id"]: r["number"] for r in db.query("SELECT * FROM counters")}
    user_name = {r["id"]: r["display_name"] for r in db.query("SELECT * FROM users")}
    service_id = {p: i for i, p in info["services"].items()} | info["services"]
    key = {
        "office": lambda t: "Toàn văn phòng",
        "service": lambda t: names["service"][service_id[t["service"]]],
        "day": lambda t: (
            t["day"]
            if t["root"] == t["id"]
            else _at(str(t["issued"])).astimezone(TZ).date().isoformat()
        ),
        "counter": lambda t: (
            f"Quầy {counter_no[t['counter']]}" if t["counter"] else "(chưa gọi tại quầy nào)"
        ),
        "officer": lambda t: user_name[t["officer"]] if t["officer"] else "(không ghi cán bộ)",
        "weekday": lambda t: reports.WEEKDAYS_VI[date.fromisoformat(t["day"]).weekday()],
        "hour": lambda t: "{:02d}:00–{:02d}:00".format(
            t["issued"].astimezone(TZ).hour, t["issued"].astimezone(TZ).hour + 1
        ),
    }[group]
    if group == "day":  # tickets count on the day they were issued, visits on their first
        key = lambda t: t["issued"].astimezone(TZ).date().isoformat()  # noqa: E731
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, group, now=NOW)
    expected = expected_rows(tickets, key)
    assert_rows_match(report["rows"], expected, lambda r: r["group"])


def test_total_row_and_target_change(month):
    db, info, _ = month
    tickets = replay(db, info["office_id"])
    report = reports.wait_report(db, info["office_id"], FIRST, LAST, "service", now=NOW)
    expected = expected_rows(tickets, lambda t: "Tổng cộng")
    assert_rows_match([report["total"]], expected, lambda r: r["group"])
    assert report["target_changes"] == [
        {"from": FIRST, "target_wait_s": 1800},
        {"from": "2023-01-01", "target_wait_s": 900},
    ]
    by_day = reports.wait_report(db, info["office_id"], FIRST, LAST, "day", now=NOW)
    for row in by_day["rows"]:
        if row["key"] < "2023-01-01":
            assert row["target_wait_s"] == 1800
        elif row["target_wait_s"] is not None:
            assert 600 <= row["target_wait_s"] <= 900


def test_stored_days_equal_live_computation_and_follow_late_events(month):
    db, info, _ = month
    office = info["office_id"]
    stored = reports.wait_report(db, office, FIRST, LAST, "service", now=NOW)
    # The same period seen as "today" everywhere: nothing stored, all live.
    db.execute("DELETE FROM report_rollup")
    db.execute("DELETE FROM report_days")
    again = reports.wait_report(db, office, FIRST, LAST, "service", now=NOW)
    assert again["rows"] == stored["rows"]
    # A late rating of an unrated finished ticket changes the stored day.
    ticket = db.execute(
        "SELECT t.id FROM tickets t LEFT JOIN ratings r ON r.ticket_id = t.id"
        " WHERE t.status = 'done' AND r.id IS NULL LIMIT 1"
    ).fetchone()[0]
    before = reports.wait_report(db, office, FIRST, LAST, "office", now=NOW)["total"]
    engine.rate_ticket(db, ticket, 1, now=NOW)
    after = reports.wait_report(db, office, FIRST, LAST, "office", now=NOW)["total"]
    assert after["ratings"] == before["ratings"] + 1
    # A new target rebuilds the days it covers.
    engine.set_target(db, office, "avg_wait_s", 60, "2023-01-10")
    late = reports.wait_report(db, office, "2023-01-10", LAST, "service", now=NOW)
    by_prefix = {row["group"][0]: row for row in late["rows"]}
    assert by_prefix["B"]["target_wait_s"] == 60  # the new office target
    assert by_prefix["C"]["target_wait_s"] == 600  # C's own target still wins


def _target_in_force(db, office_id, metric, day, service_id):
    """The rule written out as one SQL query: a service's own target, then the latest."""
    row = db.execute(
        "SELECT value FROM targets WHERE office_id = ? AND metric = ? AND effective_from <= ?"
        " AND (service_id IS NULL OR service_id = ?) ORDER BY service_id IS NULL,"
        " effective_from DESC, id DESC LIMIT 1",
        [office_id, metric, day, service_id],
    ).fetchone()
    return row[0] if row else None


def test_target_lookup_matches_the_rule_written_in_sql(month):
    db, info, _ = month
    from xephang.engine.targets import Targets

    targets = Targets(db, info["office_id"])
    for day in ("2021-06-01", "2022-12-31", "2023-01-01", "2023-01-09", "2024-01-01"):
        for sid in [None, *info["services"].values()]:
            assert targets.on("avg_wait_s", day, sid) == _target_in_force(
                db, info["office_id"], "avg_wait_s", day, sid
            )


def test_heatmap_counts_every_ticket(month):
    db, info, _ = month
    grid = reports.heatmap(db, info["office_id"], FIRST, LAST, now=NOW)
    total = sum(c["issued"] for row in grid["rows"] for c in row["cells"])
    assert total == db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert grid["rows"][5]["open_days"] == 0  # no Saturdays in the generated month


@pytest.mark.parametrize(
    "period,ref,expected",
    [
        ("day", "2023-01-04", ("2023-01-04", "2023-01-04")),
        ("week", "2023-01-04", ("2023-01-02", "2023-01-08")),
        ("month", "2023-02-14", ("2023-02-01", "2023-02-28")),
        ("year", "2023-02-14", ("2023-01-01", "2023-12-31")),
    ],
)
def test_period_bounds(period, ref, expected):
    assert reports.period_bounds(period, ref) == expected


@pytest.mark.parametrize(
    "first,last", [("2023-01-05", "2023-01-01"), ("x", "2023-01-01"), ("2020-01-01", "2023-12-31")]
)
def test_bad_ranges_are_refused(first, last):
    with pytest.raises(QueueError):
        reports.check_range(first, last)
