"""Satisfaction as QĐ 766/QĐ-TTg counts it: per dossier (mã hồ sơ), for one office or many.

Definitions (docs/reports.md, "Satisfaction per dossier (QĐ 766)"):

- the **dossiers** of a period are the distinct dossier codes recorded on
  the office's tickets of that period's days (the code an officer scanned
  or typed at the counter; an office's codes are compared trimmed, ignoring
  case);
- a dossier is **rated** when a visit of one of its tickets was rated (a
  visit is rated once, on whichever of its tickets, by the tablet or the
  tracker page);
- a dossier is **rated at the lowest level** when one of those ratings is
  at the lowest level of the office's scale (a later, happier rating of the
  same dossier does not cancel it);
- **share (766)** = (dossiers − rated at the lowest level) ÷ dossiers. The
  decision also subtracts dossiers with a complaint and dossiers returned
  late; neither is known to a queue system, so the province's one-stop
  system subtracts them from its own records.

Grouping by officer, service, lĩnh vực or office: a dossier belongs to
the group of each of its tickets (received by one officer, its result
returned by another: it counts for both); within a group only the ratings of
that group's tickets' visits count. The total counts each dossier once, so
rows may add up to more than the total.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlite_utils

from ..clock import day_bounds, local_iso, resolve_now, to_local
from ..engine.lookups import get_office
from ..engine.settings import office_setting
from ..engine.targets import Targets
from ..errors import BadInputError
from ..queries.office import counters, services
from . import xlsx_writer as xw
from .exports import BOM, inert
from .report import check_range

GROUPS = ("officer", "service", "field", "office")
GROUP_VI = {"officer": "Cán bộ", "service": "Dịch vụ", "field": "Lĩnh vực", "office": "Văn phòng"}
NONE_LABEL = {
    "officer": "(không ghi cán bộ)",
    "service": "—",
    "field": "(chưa ghi lĩnh vực)",
    "office": "—",
}

DOSSIER_SQL = (
    "SELECT t.id, t.visit_id, t.day, t.code, t.dossier_code, t.service_id, t.counter_id,"
    " t.officer_id, t.finished_at, t.issued_at FROM tickets t"
    " WHERE t.office_id = ? AND t.day BETWEEN ? AND ? AND t.dossier_code IS NOT NULL"
)
VISIT_RATINGS_SQL = (
    "SELECT r.id, r.visit_id, r.ticket_id, r.level, r.comment, r.created_at, r.channel,"
    " r.attributes FROM ratings r WHERE r.visit_id IN (SELECT t.visit_id FROM tickets t"
    " WHERE t.office_id = ? AND t.day BETWEEN ? AND ? AND t.dossier_code IS NOT NULL)"
)


@dataclass
class OfficeNames:
    """What rows show of an office: its services (with lĩnh vực), counters, officers, scale."""

    office: dict
    services: dict
    counters: dict
    scale: list
    attributes: list
    lowest: int | None
    target: float | None

    @classmethod
    def load(cls, db: sqlite_utils.Database, office_id: int, on_day: str) -> OfficeNames:
        office = get_office(db, office_id)
        scale = office_setting(db, office_id, "rating_scale")
        return cls(
            office=office,
            services={s["id"]: s for s in services(db, office_id, active_only=False)},
            counters={c["id"]: c for c in counters(db, office_id, active_only=False)},
            scale=scale,
            attributes=office_setting(db, office_id, "rating_attributes"),
            lowest=scale[-1]["level"] if scale else None,
            target=Targets(db, office_id).on("satisfied_share", on_day),
        )

    def level_vi(self, level) -> str:
        return next((lv["vi"] for lv in self.scale if lv["level"] == level), str(level))

    def rank(self, level) -> float:
        """Position in the scale, best first; a level no longer on it sits just above the
        lowest (it was not the lowest when given, as far as we know)."""
        levels = [lv["level"] for lv in self.scale]
        return levels.index(level) if level in levels else len(levels) - 1.5

    def attribute_words(self, answers: dict) -> list[str]:
        """The answers in words (Vietnamese), in the office's order; unknown keys as keys."""
        words = []
        known = {a["key"]: a for a in self.attributes}
        for key, good in answers.items():
            a = known.get(key)
            words.append((a["good_vi"] if good else a["bad_vi"]) if a else f"{key}={int(good)}")
        return words


@dataclass
class Dossier:
    """One dossier of one office in the period: its tickets and its visits' ratings."""

    office_id: int
    code: str
    tickets: list = field(default_factory=list)
    ratings: dict = field(default_factory=dict)  # rating id -> rating row

    def ratings_of(self, tickets) -> list[dict]:
        visits = {t["visit_id"] for t in tickets}
        return [r for r in self.ratings.values() if r["visit_id"] in visits]


def fold(code: str) -> str:
    """A dossier code as dossiers are told apart: trimmed, ASCII letters upper-cased (what
    SQLite's ``upper(trim(...))`` does in COUNT_SQL; codes are ASCII by TT 01/2018)."""
    return "".join(c.upper() if c.isascii() else c for c in code.strip(" "))


def _users(db) -> dict[int, dict]:
    return {r["id"]: r for r in db.query("SELECT id, username, display_name FROM users")}


def load_dossiers(
    db: sqlite_utils.Database, office_ids: list[int], first: str, last: str
) -> tuple[list[Dossier], dict[int, OfficeNames]]:
    """The dossiers of [first, last] of each office (by code), and each office's names."""
    first, last = check_range(first, last)
    dossiers: list[Dossier] = []
    names: dict[int, OfficeNames] = {}
    for office_id in office_ids:
        names[office_id] = office = OfficeNames.load(db, office_id, last)
        by_code: dict[str, Dossier] = {}
        visits: dict[int, list[Dossier]] = {}
        for t in db.query(DOSSIER_SQL, [office_id, first, last]):
            code = t["dossier_code"].strip()
            key = fold(code)
            dossier = by_code.get(key)
            if dossier is None:
                dossier = by_code[key] = Dossier(office_id, code)
            service = office.services.get(t["service_id"], {})
            t["field"] = service.get("field") or ""
            dossier.tickets.append(t)
            visits.setdefault(t["visit_id"], []).append(dossier)
        for r in db.query(VISIT_RATINGS_SQL, [office_id, first, last]):
            r["attributes"] = json.loads(r["attributes"] or "{}")
            for dossier in visits.get(r["visit_id"], ()):
                dossier.ratings[r["id"]] = r
        dossiers.extend(by_code.values())
    return dossiers, names


class Count:
    """Dossiers, rated, rated at the lowest level of one group; the office targets of its
    dossiers (averaged, weighted by dossiers)."""

    def __init__(self) -> None:
        self.dossiers = self.rated = self.lowest = 0
        self.target_sum = 0.0
        self.targets = 0

    def add(self, dossiers: int, rated: int, lowest: int, target: float | None) -> None:
        self.dossiers += dossiers
        self.rated += rated
        self.lowest += lowest
        if target is not None:
            self.target_sum += target * dossiers
            self.targets += dossiers

    def figures(self) -> dict:
        share = (self.dossiers - self.lowest) / self.dossiers if self.dossiers else None
        target = self.target_sum / self.targets if self.targets else None
        return {
            "dossiers": self.dossiers,
            "rated": self.rated,
            "not_rated": self.dossiers - self.rated,
            "rated_lowest": self.lowest,
            "rated_share": round(self.rated / self.dossiers, 4) if self.dossiers else None,
            "share_766": round(share, 4) if share is not None else None,
            "target_share": round(target, 4) if target is not None else None,
            "pass": (share >= target - 1e-9) if share is not None and target is not None else None,
        }


# The group a ticket puts its dossier in; lĩnh vực is one across offices (Đất đai is Đất đai).
GROUP_SQL = {
    "officer": "t.officer_id",
    "service": "t.service_id",
    "field": "trim(s.field)",
    "office": "t.office_id",
    None: "'all'",  # the total
}
# Per group and dossier: rated when a visit of one of its tickets (in the group) was rated,
# at the lowest level when one of those ratings is; then counted per group. One pass of
# SQLite over the period's tickets that carry a code (tickets_dossier_day) and their
# visits' ratings (ratings_visit); the index named, as ``engine/lookups.DAY_TICKETS`` says why.
COUNT_SQL = """
SELECT g, count(*), sum(rated), sum(lowest) FROM (
    SELECT {group} AS g, upper(trim(t.dossier_code)) AS dossier,
        max(r.id IS NOT NULL) AS rated, coalesce(max(r.level = ?), 0) AS lowest
    FROM tickets t INDEXED BY tickets_dossier_day {join}
    LEFT JOIN ratings r ON r.visit_id = t.visit_id
    WHERE t.office_id = ? AND t.day BETWEEN ? AND ? AND t.dossier_code IS NOT NULL
    GROUP BY g, dossier
) GROUP BY g
"""


def _counts(db, group, office: OfficeNames, first: str, last: str):
    """(group key, dossiers, rated, rated at the lowest level) of one office's period."""
    join = "JOIN services s ON s.id = t.service_id" if group == "field" else ""
    sql = COUNT_SQL.format(group=GROUP_SQL[group], join=join)
    return db.execute(sql, [office.lowest, office.office["id"], first, last]).fetchall()


def _label(group: str, key, names: dict[int, OfficeNames], users: dict, many: bool) -> tuple:
    """(sort key, label) of a group; with several offices the office name is added."""
    if group == "office":
        return (names[key].office["name"],), names[key].office["name"]
    if key is None or key == "":
        return (1, ""), NONE_LABEL[group]
    if group == "officer":
        user = users.get(key) or {}
        name = user.get("display_name") or user.get("username") or f"#{key}"
        return (0, name), name
    if group == "field":
        return (0, key), key
    for office_id, office in names.items():
        service = office.services.get(key)
        if service:
            suffix = f" · {office.office['name']}" if many else ""
            label = f"{service['prefix']} — {service['name_vi']}{suffix}"
            return (0, office_id, service["sort_order"], service["prefix"]), label
    return (0, key), f"#{key}"


def satisfaction_report(
    db: sqlite_utils.Database,
    office_ids: list[int],
    first: str,
    last: str,
    group: str = "officer",
    now=None,
) -> dict:
    """The 766 satisfaction report of a period: one row per group and the total."""
    if group not in GROUPS:
        raise BadInputError("Cách nhóm không hợp lệ", "Invalid grouping")
    first, last = check_range(first, last)
    names = {office_id: OfficeNames.load(db, office_id, last) for office_id in office_ids}
    groups: dict = {}
    total = Count()
    unlinked = 0
    for office_id, office in names.items():
        counts = _counts(db, group, office, first, last)
        # By office, an office's one row is its total; otherwise each dossier once more.
        for _key, dossiers, rated, lowest in (
            counts if group == "office" else _counts(db, None, office, first, last)
        ):
            total.add(dossiers, rated, lowest, office.target)
        if group == "office":  # every office chosen has its row, dossiers or none
            groups.setdefault(office_id, Count())
        for key, dossiers, rated, lowest in counts:
            groups.setdefault(key, Count()).add(dossiers, rated, lowest, office.target)
        unlinked += _ratings_without_dossier(db, office_id, first, last, office.office["timezone"])
    users = _users(db) if group == "officer" else {}
    many = len(office_ids) > 1
    rows = []
    for key, count in groups.items():
        order, label = _label(group, key, names, users, many)
        rows.append((order, {"group": label, "key": key, **count.figures()}))
    rows.sort(key=lambda r: r[0])
    return {
        "offices": [{"id": o, "name": names[o].office["name"]} for o in office_ids],
        "from": first,
        "to": last,
        "group": group,
        "group_vi": GROUP_VI[group],
        "rows": [r for _o, r in rows],
        "total": {"group": "Tổng cộng", "key": None, **total.figures()},
        "ratings_without_dossier": unlinked,
        "generated_at": resolve_now(now).isoformat(timespec="seconds"),
    }


def _ratings_without_dossier(db, office_id: int, first: str, last: str, timezone: str) -> int:
    """Ratings given in the period that no dossier code ties to any dossier (a code the
    officer did not record): they move the satisfaction share, not the 766 figure."""
    start, end = day_bounds(first, timezone)[0], day_bounds(last, timezone)[1]
    return db.execute(
        "SELECT count(*) FROM ratings WHERE office_id = ? AND created_at >= ? AND created_at < ?"
        " AND dossier_code IS NULL",
        [office_id, start, end],
    ).fetchone()[0]


# --- one row per dossier: what a province's one-stop system imports -----------------------

DOSSIER_COLUMNS = (
    # key, Vietnamese header, kind, width (XLSX)
    ("dossier_code", "Mã hồ sơ", "text", 30),
    ("office_id", "Mã văn phòng", "int", 8),
    ("office", "Văn phòng", "text", 28),
    ("first_day", "Ngày đầu", "text", 11),
    ("last_day", "Ngày cuối", "text", 11),
    ("tickets", "Số lượt vé", "int", 8),
    ("ticket_codes", "Số thứ tự", "text", 14),
    ("service_prefix", "Ký hiệu dịch vụ", "text", 8),
    ("service", "Dịch vụ", "text", 24),
    ("field", "Lĩnh vực", "text", 22),
    ("officer_username", "Tài khoản cán bộ", "text", 14),
    ("officer", "Cán bộ", "text", 20),
    ("counter", "Quầy", "int", 6),
    ("rated", "Đã đánh giá", "int", 8),
    ("ratings", "Số đánh giá", "int", 8),
    ("level", "Mức", "int", 6),
    ("level_vi", "Mức đánh giá", "text", 16),
    ("rated_lowest", "Không hài lòng (mức thấp nhất)", "int", 10),
    ("counts_766", "Tính là hài lòng (766)", "int", 10),
    ("rated_at", "Đánh giá lúc", "text", 20),
    ("channel", "Kênh", "text", 9),
    ("attributes", "Tiêu chí", "text", 28),
    ("comment", "Góp ý", "text", 40),
)
DOSSIER_KEYS = tuple(key for key, *_ in DOSSIER_COLUMNS)


def dossier_rows(
    db: sqlite_utils.Database, office_ids: list[int], first: str, last: str
) -> list[dict]:
    """One row per dossier of the period (see DOSSIER_COLUMNS and docs/reports.md).

    The service, officer and counter are those of the ticket whose visit gave
    the dossier's deciding rating (its worst by the office's scale; the latest
    of equals), or of the dossier's latest ticket when it is unrated.
    """
    dossiers, names = load_dossiers(db, office_ids, first, last)
    users = _users(db)
    out = []
    for d in dossiers:
        office = names[d.office_id]
        tz = office.office["timezone"]
        ratings = d.ratings_of(d.tickets)
        worst = (
            max(ratings, key=lambda r: (office.rank(r["level"]), r["created_at"]))
            if ratings
            else None
        )
        tickets = sorted(d.tickets, key=lambda t: (t["day"], t["issued_at"], t["id"]))
        ticket = tickets[-1]
        if worst is not None:
            ticket = next((t for t in tickets if t["visit_id"] == worst["visit_id"]), ticket)
        service = office.services.get(ticket["service_id"], {})
        counter = office.counters.get(ticket["counter_id"])
        user = users.get(ticket["officer_id"]) or {}
        lowest = any(r["level"] == office.lowest for r in ratings)
        out.append(
            {
                "dossier_code": d.code,
                "office_id": d.office_id,
                "office": office.office["name"],
                "first_day": tickets[0]["day"],
                "last_day": tickets[-1]["day"],
                "tickets": len(tickets),
                "ticket_codes": " ".join(t["code"] for t in tickets),
                "service_prefix": service.get("prefix", ""),
                "service": service.get("name_vi", ""),
                "field": service.get("field", ""),
                "officer_username": user.get("username", ""),
                "officer": user.get("display_name") or user.get("username", ""),
                "counter": counter["number"] if counter else None,
                "rated": int(bool(ratings)),
                "ratings": len(ratings),
                "level": worst["level"] if worst else None,
                "level_vi": office.level_vi(worst["level"]) if worst else "",
                "rated_lowest": int(lowest),
                "counts_766": int(not lowest),
                "rated_at": local_iso(worst["created_at"], tz) if worst else "",
                "channel": worst["channel"] if worst else "",
                "attributes": _answers_text(worst["attributes"]) if worst else "",
                "comment": worst["comment"] if worst else "",
            }
        )
    out.sort(key=lambda r: (r["office_id"], r["first_day"], r["dossier_code"]))
    return out


def _answers_text(answers: dict) -> str:
    """Attribute answers as machine text: ``on_time=1;clear=0`` (1: the good answer)."""
    return ";".join(f"{key}={int(good)}" for key, good in answers.items())


# --- the ratings list (comments) -------------------------------------------------------------

RATING_COLUMNS = (
    ("created_at", "Lúc", "text", 20),
    ("code", "Số thứ tự", "text", 8),
    ("service", "Dịch vụ", "text", 24),
    ("officer", "Cán bộ", "text", 20),
    ("counter", "Quầy", "int", 6),
    ("level", "Mức", "int", 6),
    ("level_vi", "Mức đánh giá", "text", 16),
    ("channel_vi", "Kênh", "text", 12),
    ("attributes_vi", "Tiêu chí", "text", 30),
    ("comment", "Góp ý", "text", 50),
    ("dossier_code", "Mã hồ sơ", "text", 28),
)
RATING_KEYS = (
    "id",
    "day",
    "created_at",
    "code",
    "service",
    "officer",
    "counter",
    "level",
    "level_vi",
    "lowest",
    "channel",
    "attributes",
    "comment",
    "dossier_code",
)
CHANNEL_VI = {"tablet": "Máy tại quầy", "tracker": "Điện thoại"}


def ratings_list(
    db: sqlite_utils.Database,
    office_id: int,
    first: str,
    last: str,
    *,
    service=None,
    officer=None,
    level=None,
    with_comment: bool = False,
    limit: int | None = 100,
    offset: int = 0,
) -> dict:
    """The office's ratings given on the days [first, last] (office time), newest first:
    with the ticket, service, officer, counter, level, attributes, comment, dossier code.

    Comments blanked by retention (``comment_retention_days``) show as empty.
    """
    first, last = check_range(first, last)
    names = OfficeNames.load(db, office_id, last)
    tz = names.office["timezone"]
    users = _users(db)
    sql = (
        "SELECT r.id, r.level, r.comment, r.created_at, r.channel, r.attributes,"
        " r.dossier_code, r.officer_id, r.counter_id, r.service_id, t.code FROM ratings r"
        " JOIN tickets t ON t.id = r.ticket_id WHERE r.office_id = ?"
        " AND r.created_at >= ? AND r.created_at < ?"
    )
    params: list = [office_id, day_bounds(first, tz)[0], day_bounds(last, tz)[1]]
    for column, value, label in (
        ("r.service_id", service, "dịch vụ"),
        ("r.officer_id", officer, "cán bộ"),
        ("r.level", level, "mức đánh giá"),
    ):
        if value not in (None, ""):
            try:
                params.append(int(value))
            except (TypeError, ValueError):
                raise BadInputError(f"{label} không hợp lệ", f"Invalid {label}") from None
            sql += f" AND {column} = ?"
    if with_comment:
        sql += " AND r.comment != ''"
    total = db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
    sql += " ORDER BY r.created_at DESC, r.id DESC"
    if limit:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    rows = []
    for r in db.query(sql, params):
        answers = json.loads(r["attributes"] or "{}")
        service_row = names.services.get(r["service_id"], {})
        counter = names.counters.get(r["counter_id"])
        user = users.get(r["officer_id"]) or {}
        created = to_local(r["created_at"], tz)
        rows.append(
            {
                "id": r["id"],
                "day": created.date().isoformat(),
                "created_at": created.isoformat(timespec="seconds"),
                "code": r["code"],
                "service": service_row.get("name_vi", ""),
                "officer": user.get("display_name") or user.get("username", ""),
                "counter": counter["number"] if counter else None,
                "level": r["level"],
                "level_vi": names.level_vi(r["level"]),
                "lowest": r["level"] == names.lowest,
                "channel": r["channel"],
                "channel_vi": CHANNEL_VI.get(r["channel"], r["channel"]),
                "attributes": _answers_text(answers),
                "attributes_vi": "; ".join(names.attribute_words(answers)),
                "comment": r["comment"],
                "dossier_code": r["dossier_code"] or "",
            }
        )
    return {"total": total, "rows": rows, "offset": offset, "limit": limit, "scale": names.scale}


# --- files ---------------------------------------------------------------------------------


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return inert(value)


def table_csv(rows: list[dict], keys) -> str:
    """Rows as CSV with machine headers (the JSON names), a BOM for Excel, no live formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    for row in rows:
        writer.writerow([_csv_value(row.get(k)) for k in keys])
    return BOM + out.getvalue()


def table_xlsx(
    rows: list[dict], columns, title: str, lines: list[str], timezone: str | None = None
) -> bytes:
    """Rows as a workbook: a summary sheet (title, lines, when it was made in the office's
    ``timezone``), then the table with Vietnamese headers, frozen header and filters."""
    summary = xw.Sheet("Tóm tắt", widths=[90])
    summary.append([title], xw.BOLD)
    for line in lines:
        summary.append([inert(line)])
    made = datetime.now(ZoneInfo(timezone or "Asia/Ho_Chi_Minh"))  # office time, not UTC
    summary.append([f"Lập lúc {made:%d/%m/%Y %H:%M}"])
    table = xw.Sheet(
        "Dữ liệu", widths=[w for *_x, w in columns], freeze="B2", autofilter=True, timezone=timezone
    )
    table.append([header for _k, header, *_x in columns], xw.HEADER)
    for row in rows:
        table.append([inert(row.get(key)) for key, *_x in columns])
    return xw.workbook_bytes([summary, table])


def report_lines(report: dict) -> list[str]:
    """The summary sheet's lines of a satisfaction report: period, totals, the formula."""
    t = report["total"]
    share = "—" if t["share_766"] is None else f"{t['share_766'] * 100:.1f}%"
    return [
        ", ".join(o["name"] for o in report["offices"]),
        f"Từ {report['from']} đến {report['to']}",
        f"Hồ sơ: {t['dossiers']} · đã đánh giá: {t['rated']} · không hài lòng: {t['rated_lowest']}",
        f"Tỷ lệ hài lòng theo QĐ 766: {share}",
        *DEFINITIONS_766,
    ]


DEFINITIONS_766 = (
    "Tỷ lệ (766) = (số hồ sơ − số hồ sơ bị đánh giá mức thấp nhất) ÷ số hồ sơ, tính theo mã hồ"
    " sơ cán bộ ghi tại quầy.",
    "Quyết định 766/QĐ-TTg còn trừ hồ sơ bị phản ánh, kiến nghị và hồ sơ trả kết quả trễ hẹn:"
    " hệ thống xếp hàng không có các thông tin này; hệ thống một cửa của tỉnh trừ theo dữ liệu"
    " của mình.",
    "Một hồ sơ được đánh giá khi lượt có số thứ tự mang mã hồ sơ đó đã được đánh giá (tại máy ở"
    " quầy hoặc trên điện thoại); mỗi lượt chỉ được đánh giá một lần.",
)
