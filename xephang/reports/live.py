"""Today, live: the manager's dashboard (queues now, counters, today's figures, devices,
alerts) and the board's "average wait today", both from the tally the reports use."""

from __future__ import annotations

import json
from datetime import datetime

import sqlite_utils

from .. import formats
from ..clock import day_bounds, iso, local_day, resolve_now, shown
from ..engine.log import last_seq
from ..engine.lookups import get_office
from ..engine.settings import office_settings
from ..engine.targets import Targets
from ..queries.messages import outbox_status
from ..queries.office import lowest_rating_level, snapshot
from ..queries.office import services as office_services
from .facts import NONE_KEY, day_tallies
from .stats import Tally

DEVICE_OFFLINE_S = 120  # a device not seen for this long shows as offline
# What a connected display reported that the dashboard warns about.
DISPLAY_PROBLEMS = (
    ("audio", "blocked", "chưa bật âm thanh"),
    ("voice_pack", "missing", "thiếu gói giọng đọc"),
)
KIND_VI = {"kiosk": "Kiosk", "display": "Màn hình", "printer": "Máy in", "rating": "Máy đánh giá"}
STATE_VI = {"open": "Đang mở", "paused": "Tạm dừng", "closed": "Đóng"}


def minutes_vi(seconds: float) -> str:
    """Minutes to a tenth, as every figure of the dashboard and reports shows them
    ("10,5 phút": a 10.5-minute target is not "10 phút"; ``formats.minutes``)."""
    return f"{formats.minutes(seconds)} phút"


def device_label(kind: str, name: str) -> str:
    """A device as people call it: its name ("TV phòng chờ", "Kiosk sảnh chính"; never
    "Kiosk Kiosk sảnh chính"), its kind only when it has no name."""
    return (name or "").strip() or KIND_VI.get(kind, kind)


def _age_s(text: str | None, now: datetime) -> float | None:
    return (now - datetime.fromisoformat(text)).total_seconds() if text else None


def dashboard(db: sqlite_utils.Database, office_id: int, now=None) -> dict:
    """Everything the manager's live dashboard shows, as of ``now``."""
    now = resolve_now(now)
    office = get_office(db, office_id)
    today = local_day(now, office["timezone"]).isoformat()
    targets = Targets(db, office_id)
    target_wait = targets.on("avg_wait_s", today)
    services = [
        {k: s[k] for k in ("id", "prefix", "name_vi", "name_en", "sort_order")}
        for s in office_services(db, office_id)
    ]
    waiting = waiting_now(db, office_id, now, targets, today)
    alerts = []
    serving_now = dict(
        db.execute(
            "SELECT cs.service_id, count(*) FROM counter_services cs JOIN counters c"
            " ON c.id = cs.counter_id WHERE c.office_id = ? AND c.active AND c.state = 'open'"
            " GROUP BY cs.service_id",
            [office_id],
        ).fetchall()
    )
    # Online numbers not checked in yet are counted apart: in line, but no counter can call
    # them, so no clock of theirs is the counters' to beat (nor an alert).
    here = [w for w in waiting if not w["not_arrived"]]
    for s in services:
        mine = [w for w in waiting if w["service_id"] == s["id"]]
        s["not_arrived"] = sum(w["not_arrived"] for w in mine)
        s["counters_open"] = serving_now.get(s["id"], 0)
        if mine and not s["counters_open"]:
            alerts.append(
                {
                    "level": "danger",
                    "kind": "no_counter",
                    "text": f"{len(mine)} người đang chờ dịch vụ {s['prefix']} — {s['name_vi']}"
                    " nhưng không có quầy nào đang mở phục vụ dịch vụ này",
                }
            )
        s["target_wait_s"] = targets.on("avg_wait_s", today, s["id"])
        s["waiting"] = len(mine)
        mine = [w for w in mine if not w["not_arrived"]]
        s["longest_wait_s"] = max((w["wait_s"] for w in mine), default=None)
        s["longest_code"] = max(mine, key=lambda w: w["wait_s"])["code"] if mine else None
        s["over_target"] = sum(w["over_target"] for w in mine)
    for w in sorted(here, key=lambda w: -w["wait_s"]):
        if w["over_target"] and len(alerts) < 10:
            alerts.append(
                {
                    "level": "danger",
                    "kind": "wait",
                    "code": w["code"],
                    "text": f"Số {w['code']} đã chờ {minutes_vi(w['wait_s'])},"
                    f" vượt chỉ tiêu {minutes_vi(w['target_wait_s'])}",
                }
            )
    today_figures = today_tally(
        db, office, today, targets, lowest_rating_level(db, office_id)
    ).figures(target_wait, targets.on("satisfied_share", today))
    if today_figures["wait_pass"] is False:
        alerts.append(
            {
                "level": "danger",
                "kind": "average",
                "text": f"Thời gian chờ trung bình hôm nay"
                f" {minutes_vi(today_figures['avg_wait_s'])} vượt chỉ"
                f" tiêu {minutes_vi(target_wait)}",
            }
        )
    counters = counters_now(db, office_id, now)
    for c in counters:
        if c["state"] == "paused":
            alerts.append(
                {
                    "level": "warning",
                    "kind": "paused",
                    "text": f"Quầy {c['number']} tạm dừng: {c['pause_reason'] or ''}",
                }
            )
    devices = devices_now(db, office_id, now, today)
    for d in devices["devices"]:
        if d["problem"]:
            alerts.append(
                {"level": "warning", "kind": "device", "text": f"{d['label']}: {d['problem']}"}
            )
    for p in devices["printers"]:
        if p["state"] != "ok":
            alerts.append(
                {
                    "level": "warning",
                    "kind": "printer",
                    "text": f"Máy in {p['printer']}: {p['problem'] or p['state']}",
                }
            )
    messages = outbox_status(db, office_id, now)
    if messages["alert"]:
        alerts.append({"level": "warning", "kind": "outbox", "text": messages["message_vi"]})
    return {
        "office": {"id": office["id"], "name": office["name"]},
        "day": today,
        "now": now.isoformat(timespec="seconds"),
        "target_wait_s": target_wait,
        "target_satisfied_share": targets.on("satisfied_share", today),
        "services": services,
        "waiting_total": len(waiting),
        "not_arrived_total": len(waiting) - len(here),
        "longest": max(here, key=lambda w: w["wait_s"]) if here else None,
        "counters": counters,
        "today": today_figures,
        "devices": devices["devices"],
        "printers": devices["printers"],
        "print_jobs": devices["jobs"],
        "outbox": messages,
        "bookings": bookings_today(db, office_id, today, now),
        "alerts": alerts,
        "seq": last_seq(db, office_id),
    }


def bookings_today(db, office_id: int, day: str, now: datetime) -> dict:
    """Today's appointments by status, and those booked whose slot has started but who have
    not checked in yet (``late``)."""
    counts = dict.fromkeys(("booked", "checked_in", "cancelled", "missed"), 0)
    for status, n in db.execute(
        "SELECT status, count(*) FROM appointments WHERE office_id = ? AND day = ? GROUP BY status",
        [office_id, day],
    ).fetchall():
        counts[status] = n
    counts["late"] = db.execute(
        "SELECT count(*) FROM appointments WHERE office_id = ? AND day = ? AND status = 'booked'"
        " AND slot_start <= ?",
        [office_id, day, iso(now)],
    ).fetchone()[0]
    return counts


def today_tally(db, office: dict, day: str, targets: Targets, lowest_level) -> Tally:
    """The office's tally of one day: the reports' own definitions (``facts.day_tallies``)."""
    return day_tallies(db, office, day, targets, lowest_level, dims=("office",)).get(
        ("office", NONE_KEY), Tally()
    )


def waiting_now(db, office_id: int, now: datetime, targets: Targets, today: str) -> list[dict]:
    """Waiting tickets with their visit's wait so far (earlier tickets' waits included),
    and whether each is an online number not checked in yet (``not_arrived``).

    A ticket back in the line after a call (a no-show brought back, or returned) waited
    until its first call, as in the reports: a recall does not restart a wait."""
    rows = db.execute(
        "SELECT id, code, service_id, visit_id, from_ticket_id,"
        " max(issued_at, coalesce(slot_at, issued_at)), day, priority, called_at,"
        " awaiting_checkin FROM tickets WHERE office_id = ? AND status = 'waiting'",
        [office_id],
    ).fetchall()
    earlier: dict[int, float] = {}
    transferred = [r[3] for r in rows if r[4] is not None]
    if transferred:
        marks = ",".join("?" * len(transferred))
        for visit_id, called, issued in db.execute(
            f"SELECT visit_id, called_at, issued_at FROM tickets WHERE visit_id IN ({marks})"
            " AND called_at IS NOT NULL",
            transferred,
        ).fetchall():
            earlier[visit_id] = (
                earlier.get(visit_id, 0)
                + (datetime.fromisoformat(called) - datetime.fromisoformat(issued)).total_seconds()
            )
    out = []
    for tid, code, service_id, visit_id, _from, issued, day, priority, called, away in rows:
        # ``issued``: when the wait began (an appointment's slot start, if later)
        until = datetime.fromisoformat(called) if called else now
        wait = max(0.0, (until - datetime.fromisoformat(issued)).total_seconds())
        wait += earlier.get(visit_id, 0)
        target = targets.on("avg_wait_s", day, service_id)
        out.append(
            {
                "id": tid,
                "code": code,
                "service_id": service_id,
                "priority": priority,
                "wait_s": round(wait),
                "target_wait_s": target,
                "over_target": target is not None and wait > target,
                "not_arrived": bool(away),
            }
        )
    return out


def counters_now(db, office_id: int, now: datetime) -> list[dict]:
    """Each active counter: open / paused (why) / closed, who is there, what it serves."""
    counters = []
    for r in db.query(
        "SELECT c.id, c.number, c.name, c.state, c.pause_reason,"
        " coalesce(u.display_name, u.username) AS officer, t.code, t.status,"
        " coalesce(t.started_at, t.last_called_at) AS since"
        " FROM counters c LEFT JOIN users u ON u.id = c.officer_id"
        " LEFT JOIN tickets t ON t.id = c.current_ticket_id"
        " WHERE c.office_id = ? AND c.active ORDER BY c.number",
        [office_id],
    ):
        serving = r["code"] if r["status"] in ("called", "serving") else None
        counters.append(
            {
                "id": r["id"],
                "number": r["number"],
                "name": r["name"],
                "state": r["state"],
                "state_vi": STATE_VI.get(r["state"], r["state"]),
                "pause_reason": r["pause_reason"],
                "officer": r["officer"] if r["state"] != "closed" else None,
                "ticket": serving,
                "ticket_status": r["status"] if serving else None,
                "since_s": round(_age_s(r["since"], now)) if serving and r["since"] else None,
            }
        )
    return counters


def devices_now(db, office_id: int, now: datetime, today: str) -> dict:
    """Paired devices (last seen, status), printer states and today's print jobs; each
    time also as the office's clock shows it (``*_shown``: the browser's zone is not the
    office's)."""
    office = get_office(db, office_id)
    devices = []
    for r in db.query(
        "SELECT id, kind, name, last_seen_at, status FROM devices"
        " WHERE office_id = ? AND revoked_at IS NULL ORDER BY kind, name",
        [office_id],
    ):
        status = json.loads(r["status"] or "{}")
        age = _age_s(r["last_seen_at"], now)
        problem = ""
        if age is None:
            problem = "chưa từng kết nối"
        elif age > DEVICE_OFFLINE_S:
            problem = f"mất kết nối {formats.duration(age)}"
        if status.get("paper") in ("out", "empty") or status.get("paper_out"):
            problem = (problem + "; " if problem else "") + "hết giấy"
        if status.get("error"):
            problem = (problem + "; " if problem else "") + str(status["error"])
        if r["kind"] == "display" and age is not None and age <= DEVICE_OFFLINE_S:
            # a TV that cannot speak calls works half: a warning, in words
            for key, value, words in DISPLAY_PROBLEMS:
                if status.get(key) == value:
                    problem = (problem + "; " if problem else "") + words
        devices.append(
            {
                "id": r["id"],
                "kind": r["kind"],
                "name": r["name"],
                "last_seen_at": r["last_seen_at"],
                "last_seen_shown": shown(r["last_seen_at"], office["timezone"]),
                "age_s": round(age) if age else age,
                "online": age is not None and age <= DEVICE_OFFLINE_S,
                "status": status,
                "status_vi": device_status_vi(status),
                "problem": problem,
                "label": device_label(r["kind"], r["name"]),
            }
        )
    start, end = day_bounds(today, office["timezone"])
    jobs = dict(
        db.execute(
            "SELECT state, count(*) FROM print_jobs WHERE office_id = ? AND created_at >= ?"
            " AND created_at < ? GROUP BY state",
            [office_id, start, end],
        ).fetchall()
    )
    printers = [
        {**r, "checked_shown": shown(r["checked_at"], office["timezone"])}
        for r in db.query(
            "SELECT printer, state, problem, detail, checked_at, last_ok_at FROM"
            " printer_status WHERE printer IN (SELECT DISTINCT printer FROM print_jobs"
            " WHERE office_id = ? AND created_at >= ?)",
            [office_id, start],
        )
    ]
    return {"devices": devices, "printers": printers, "jobs": jobs}


BOARD_SETTINGS = (
    "announce_template",
    "number_reading",
    "number_dialect",
    "board_message",
    "voice_enabled",
)


def today_wait(db: sqlite_utils.Database, office_id: int, now=None) -> dict:
    """Today's average wait per visit against the target in force: the dashboard's figure.

    The same tally as the manager's dashboard and reports (visits that left
    unserved included), so the board never shows a different number from the
    one the office is judged by.
    """
    office = get_office(db, office_id)
    day = local_day(resolve_now(now), office["timezone"]).isoformat()
    targets = Targets(db, office_id)
    target = targets.on("avg_wait_s", day)
    figures = today_tally(db, office, day, targets, lowest_rating_level(db, office_id)).figures(
        target, targets.on("satisfied_share", day)
    )
    return {
        "day": day,
        "visits": figures["visits_waited"],
        "avg_s": figures["avg_wait_s"],
        "target_s": target,
    }


def board_snapshot(db: sqlite_utils.Database, office_id: int, now=None) -> dict:
    """The office snapshot plus what boards show: today's wait vs target and board settings."""
    snap = snapshot(db, office_id, now=now)
    settings = office_settings(db, office_id)
    snap["wait_today"] = today_wait(db, office_id, now=now)
    snap["board"] = {name: settings[name] for name in BOARD_SETTINGS}
    return snap


AUDIO_VI = {"on": "đã bật âm thanh", "blocked": "chưa bật âm thanh", "off": "đã tắt tiếng"}


def device_status_vi(status: dict | str | None) -> str:
    """What a device last reported, in words (setup and dashboard), never raw JSON."""
    if isinstance(status, str):
        try:
            status = json.loads(status or "{}")
        except ValueError:
            status = {}
    status = status if isinstance(status, dict) else {}
    words = []
    if status.get("audio") in AUDIO_VI:
        words.append(AUDIO_VI[status["audio"]])
    if status.get("voice_pack") == "missing":
        words.append("thiếu gói giọng đọc")
    if status.get("paper") in ("out", "empty") or status.get("paper_out"):
        words.append("hết giấy")
    if status.get("screen"):
        words.append("màn hình " + str(status["screen"]).replace("x", "×"))
    return "; ".join(words).capitalize() if words else "—"
