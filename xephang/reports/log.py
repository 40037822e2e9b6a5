"""The wait-time log: every ticket of a period with its waits, filters and event timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import sqlite_utils

from ..clock import utc_offset
from ..engine.calls import KEPT_SQL
from ..engine.lookups import fold, get_office
from ..engine.states import STATUS_VI
from ..engine.targets import Targets
from ..errors import BadInputError
from ..queries.office import counters, priority_categories, services
from ..queries.people import user_names
from .report import check_range

EVENT_VI = {
    "issued": "Lấy số",
    "printed": "In phiếu",
    "print_failed": "In phiếu lỗi",
    "called": "Gọi số",
    "recalled": "Gọi lại",
    "started": "Bắt đầu phục vụ",
    "finished": "Hoàn thành",
    "no_show": "Vắng mặt",
    "transferred": "Chuyển tiếp",
    "returned": "Trả về hàng chờ",
    "cancelled": "Hủy số",
    "expired": "Hết hạn",
    "rated": "Đánh giá",
    "undone": "Hoàn tác",
    "dossier_set": "Ghi mã hồ sơ",
    "checked_in": "Xác nhận có mặt",
}
LOG_SQL = (
    "SELECT t.id, t.visit_id, t.from_ticket_id, t.day, t.code, t.service_id, t.priority,"
    " t.status, t.counter_id, t.officer_id, t.issued_at, t.called_at, t.started_at,"
    " t.finished_at, t.left_at, t.recalls, t.dossier_code, t.channel, t.slot_at,"
    " t.awaiting_checkin, r.level AS rating"
    " FROM tickets t LEFT JOIN ratings r ON r.ticket_id = t.id"
    f" WHERE t.office_id = ? AND t.day BETWEEN ? AND ? AND {KEPT_SQL}"
)


class Names:
    """Display names of an office's services, counters, officers and priority categories."""

    def __init__(self, db: sqlite_utils.Database, office_id: int) -> None:
        self.services = {r["id"]: r for r in services(db, office_id, active_only=False)}
        self.counters = {r["id"]: r for r in counters(db, office_id, active_only=False)}
        self.users = user_names(db)
        self.priorities = priority_names(db, office_id)


def priority_names(db: sqlite_utils.Database, office_id: int) -> dict[str, str]:
    """Each priority key of the office ("elderly") by the Vietnamese name people read."""
    return {r["key"]: r["name_vi"] for r in priority_categories(db, office_id)}


def log_rows(
    db: sqlite_utils.Database, office_id: int, first: str, last: str, names: Names | None = None
) -> list[dict]:
    """Every ticket of [first, last] (but those an undone transfer withdrew) with its own
    wait, its visit's wait and the target."""
    office = get_office(db, office_id)
    first, last = check_range(first, last)
    names = names or Names(db, office_id)
    targets = Targets(db, office_id)
    offsets: dict[str, timedelta] = {}
    parse = datetime.fromisoformat
    cursor = db.execute(LOG_SQL, [office_id, first, last])
    columns = [c[0] for c in cursor.description]
    raw = []
    for values in cursor:
        r = dict(zip(columns, values, strict=True))
        offset = offsets.get(r["day"])
        if offset is None:
            offset = offsets[r["day"]] = utc_offset(office["timezone"], r["day"])
        r["times"] = {
            key: _local_naive(parse, r[key], offset)
            for key in ("issued_at", "called_at", "started_at", "finished_at", "left_at", "slot_at")
        }
        raw.append(r)
    codes = {r["id"]: r["code"] for r in raw}
    visits: dict[int, dict] = {}
    for r in raw:
        t = r["times"]
        r["left"] = not r["called_at"] and bool(r["left_at"])  # left the line uncalled
        # an online number that left without ever checking in never came: no wait
        r["never_came"] = r["left"] and bool(r["awaiting_checkin"])
        r["left"] = r["left"] and not r["never_came"]
        # an appointment waits from the later of check-in and its slot's start
        since = max(t["issued_at"], t["slot_at"]) if t["slot_at"] else t["issued_at"]
        wait = None if r["never_came"] else _span(since, t["called_at"] or t["left_at"])
        r["wait_s"] = None if wait is None else max(0.0, wait)
        visit = visits.setdefault(
            r["visit_id"], {"wait": 0.0, "root": None, "open": False, "left": False}
        )
        if r["wait_s"] is None:
            visit["open"] = True  # still waiting: no visit wait yet
        else:
            visit["wait"] = round(visit["wait"] + r["wait_s"], 1)
        visit["left"] = visit["left"] or r["left"]
        if r["from_ticket_id"] is None:
            visit["root"] = r
    for visit in visits.values():
        if visit["open"]:
            visit["wait"] = None
    rows = []
    for r in raw:
        visit = visits[r["visit_id"]]
        root = visit["root"] or r
        target = targets.on("avg_wait_s", root["day"], root["service_id"])
        service = names.services.get(r["service_id"], {})
        counter = names.counters.get(r["counter_id"]) if r["counter_id"] else None
        t = r["times"]
        rows.append(
            {
                "id": r["id"],
                "day": r["day"],
                "code": r["code"],
                "visit_id": r["visit_id"],
                "service_id": r["service_id"],
                "service": service.get("name_vi", ""),
                "prefix": service.get("prefix", ""),
                "priority": r["priority"],
                "priority_vi": names.priorities.get(r["priority"], r["priority"])
                if r["priority"]
                else "",
                "status": r["status"],
                "status_vi": STATUS_VI[r["status"]],
                "counter_id": r["counter_id"],
                "counter": counter["number"] if counter else None,
                "officer_id": r["officer_id"],
                "officer": names.users.get(r["officer_id"], ""),
                "issued_at": t["issued_at"],
                "called_at": t["called_at"],
                "started_at": t["started_at"],
                "finished_at": t["finished_at"],
                "wait_s": r["wait_s"],
                "service_s": _span(t["started_at"], t["finished_at"])
                if r["status"] == "done"
                else None,
                "visit_wait_s": visit["wait"],
                "left_unserved": visit["left"],
                "never_came": r["never_came"],  # an online number that never checked in
                "awaiting_checkin": bool(r["awaiting_checkin"]) and r["status"] == "waiting",
                "target_wait_s": target,
                "over_target": visit["wait"] is not None
                and target is not None
                and visit["wait"] > target,
                "recalls": r["recalls"],
                "dossier_code": r["dossier_code"] or "",
                "from_code": codes.get(r["from_ticket_id"], "") if r["from_ticket_id"] else "",
                "rating": r["rating"],
            }
        )
    rows.sort(key=lambda row: (row["day"], row["issued_at"] or "", row["id"]))
    return rows


def _local_naive(parse, text: str | None, offset: timedelta) -> datetime | None:
    """A stored UTC time as the office's wall-clock time (naive, for tables and Excel)."""
    if not text:
        return None
    if text.endswith("+00:00"):  # the engine's form: parse the naive part, faster
        return parse(text[:-6]) + offset
    return parse(text).astimezone(UTC).replace(tzinfo=None) + offset


def _span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


def _local(text: str | None, tz: ZoneInfo) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(tz).replace(tzinfo=None) if text else None


def _int_or_none(value, label_vi: str):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{label_vi} không hợp lệ", f"Invalid {label_vi}") from None


def wait_log(
    db: sqlite_utils.Database,
    office_id: int,
    first: str,
    last: str,
    *,
    service=None,
    counter=None,
    officer=None,
    status=None,
    over_target=False,
    q: str = "",
    limit: int | None = 100,
    offset: int = 0,
) -> dict:
    """The filtered log: matching rows (a page of them) and how many match in all. ``q``
    searches codes, dossier codes, officers and services, whatever the diacritics and case."""
    service = _int_or_none(service, "dịch vụ")
    counter = _int_or_none(counter, "quầy")
    officer = _int_or_none(officer, "cán bộ")
    if status and status not in STATUS_VI:
        raise BadInputError("Trạng thái không hợp lệ", "Invalid status")
    words = fold(q).split()
    rows = log_rows(db, office_id, first, last)
    matched = [
        r
        for r in rows
        if (service is None or r["service_id"] == service)
        and (counter is None or r["counter_id"] == counter)
        and (officer is None or r["officer_id"] == officer)
        and (not status or r["status"] == status)
        and (not over_target or r["over_target"])
        and (not words or _matches(r, words))
    ]
    page = matched[offset : offset + limit] if limit else matched[offset:]
    return {"total": len(matched), "rows": page, "offset": offset, "limit": limit}


def _matches(row: dict, words: list[str]) -> bool:
    """Whether every word typed is the row's code (whole: "a023" is not A0231) or is in its
    dossier code, officer or service, ignoring diacritics and case ("nguyen van an" finds
    "Nguyễn Văn An")."""
    code = fold(row["code"])
    text = fold(" ".join((row["dossier_code"], row["officer"], row["service"])))
    return all(word == code or word in text for word in words)


def timelines(
    db: sqlite_utils.Database, office_id: int, ticket_ids: list[int]
) -> dict[int, list[dict]]:
    """The events of some tickets in order: what, when (office time), which counter, who."""
    if not ticket_ids:
        return {}
    office = get_office(db, office_id)
    tz = ZoneInfo(office["timezone"])
    priorities = priority_names(db, office_id)
    marks = ",".join("?" * len(ticket_ids))
    out: dict[int, list[dict]] = {tid: [] for tid in ticket_ids}
    for e in db.query(
        "SELECT e.ticket_id, e.seq, e.type, e.at, e.details, c.number AS counter,"
        " coalesce(u.display_name, u.username) AS who FROM ticket_events e"
        " LEFT JOIN counters c ON c.id = e.counter_id LEFT JOIN users u ON u.id = e.user_id"
        f" WHERE e.office_id = ? AND e.ticket_id IN ({marks}) ORDER BY e.seq",
        [office_id, *ticket_ids],
    ):
        details = json.loads(e["details"] or "{}")
        out[e["ticket_id"]].append(
            {
                "seq": e["seq"],
                "type": e["type"],
                "type_vi": EVENT_VI.get(e["type"], e["type"]),
                "at": _local(e["at"], tz),
                "counter": e["counter"],
                "who": e["who"] or "",
                "note": _note(e["type"], details, priorities),
            }
        )
    return out


def _note(kind: str, details: dict, priorities: dict[str, str]) -> str:
    """A short Vietnamese note of what an event's details say."""
    parts = []
    if details.get("reason"):
        parts.append(f"lý do: {details['reason']}")
    if details.get("out_of_order"):
        parts.append("gọi không theo thứ tự")
    if kind in ("finished", "dossier_set") and details.get("dossier_code"):
        parts.append(f"mã hồ sơ {details['dossier_code']}")
    if kind == "rated" and "level" in details:
        parts.append(f"mức {details['level']}")
    if kind == "issued" and details.get("priority"):
        parts.append(f"ưu tiên: {priorities.get(details['priority'], details['priority'])}")
    if details.get("recall"):
        parts.append(f"lần {details['recall']}")
    if kind == "undone" and details.get("undid"):
        parts.append(f"hoàn tác: {EVENT_VI.get(details['undid'], details['undid']).lower()}")
    return "; ".join(parts)


def as_json(row: dict, timezone: str) -> dict:
    """A log row (or timeline event) with its office-local times as ISO 8601 with the offset."""
    out = dict(row)
    offset = utc_offset(timezone, row["day"]) if "day" in row else None
    for key, value in row.items():
        if isinstance(value, datetime):
            moment_offset = offset or utc_offset(timezone, value.date().isoformat())
            out[key] = value.replace(tzinfo=dt_timezone(moment_offset)).isoformat(
                timespec="seconds"
            )
    return out
