"""An office declared in a file: ``xephang setup apply office.toml`` / ``setup export``.

A province rolls out its commune offices from files under version control. The file
declares one office: its details and opening hours, settings, services, counters,
priority categories, targets, devices and users (the shape is ``export_office``'s,
documented in docs/operations.md). ``apply_office`` makes the database say what the
file says, through the same engine functions the setup pages use (validated and
audited the same way), in one transaction: the whole file applies or nothing does.

- Idempotent: applying a file the database already matches changes nothing (and
  writes no audit entry).
- Things are matched by what people call them: the office by ``name`` (or ``id``),
  services by prefix, counters by number, categories by key, targets by (metric,
  service, from), devices by (kind, name), users by username. A display's zone names
  services by prefix and counters by number; a rating tablet names its ``counter``
  by number. (Province users belong to no office: they are not part of a file.)
- What the file leaves out is left alone, unless ``prune``: then services, counters
  and categories are deactivated, devices revoked, users deactivated and targets
  removed.
- New devices get a token and new users a one-time password, reported once.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import sqlite_utils

from ..errors import BadInputError, NotFoundError
from ..storage import one, write
from . import accounts, setup, targets
from .hours import validate_holidays
from .settings import definition, office_settings, set_office_settings

SECTIONS = ("office", "settings", "services", "counters", "priority", "targets", "devices", "users")


@dataclass
class Applied:
    """What applying a file did (or, in a dry run, would do)."""

    office_id: int | None = None
    changes: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # new device tokens, new passwords


class _DryRun(Exception):
    pass


def _rows(db, sql: str, params) -> list[dict]:
    return list(db.query(sql, params))


def _text(value) -> str:
    return "" if value is None else str(value)


def apply_office(
    db: sqlite_utils.Database, spec: dict, prune: bool = False, dry_run: bool = False
) -> Applied:
    """Make the database hold the office ``spec`` declares (see the module's docstring)."""
    unknown = set(spec) - set(SECTIONS)
    if unknown:
        raise BadInputError(
            f"Mục không biết trong tệp: {', '.join(sorted(unknown))}",
            f"Unknown sections: {', '.join(sorted(unknown))}",
        )
    result = Applied()
    try:
        with write(db):
            _apply(db, spec, prune, result)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


def _apply(db, spec: dict, prune: bool, result: Applied) -> None:
    office_spec = dict(spec.get("office") or {})
    if not office_spec.get("name"):
        raise BadInputError("Tệp cần [office] name", "The file needs [office] name")
    values = {
        "name": office_spec["name"],
        "address": office_spec.get("address", ""),
        "timezone": office_spec.get("timezone", "Asia/Ho_Chi_Minh"),
        "hours": office_spec.get("hours") or None,
        "ticket_footer": office_spec.get("ticket_footer", ""),
    }
    if "holidays" in office_spec:  # left out: the office keeps the holidays it has
        values["holidays"] = office_spec["holidays"]
    if office_spec.get("id") is not None:
        office = one(db, "SELECT * FROM offices WHERE id = ?", [office_spec["id"]])
        if office is None:
            raise BadInputError(
                f"Không có văn phòng id {office_spec['id']}", f"No office {office_spec['id']}"
            )
    else:
        found = _rows(db, "SELECT * FROM offices WHERE name = ?", [values["name"].strip()])
        if len(found) > 1:
            raise BadInputError(
                f"Có {len(found)} văn phòng tên '{values['name']}': ghi id",
                "Several offices have this name: give its id",
            )
        office = found[0] if found else None
    if office is None:
        office_id = setup.create_office(db, **values)
        result.changes.append(f"office {values['name']!r}: created (id {office_id})")
    else:
        office_id = office["id"]
        current = {
            "name": office["name"],
            "address": office["address"],
            "timezone": office["timezone"],
            "hours": json.loads(office["hours"]) if office["hours"] else None,
            "ticket_footer": office["ticket_footer"],
        }
        wanted = {**values, "hours": values["hours"]}
        if isinstance(wanted["hours"], str):
            wanted["hours"] = json.loads(wanted["hours"])
        if "holidays" in wanted:
            current["holidays"] = json.loads(office["holidays"] or "[]")
            wanted["holidays"] = json.loads(validate_holidays(wanted["holidays"]))
        if current != {k: (v.strip() if isinstance(v, str) else v) for k, v in wanted.items()}:
            setup.update_office(db, office_id, **values)
            result.changes.append(f"office {values['name']!r}: updated")
    result.office_id = office_id
    _apply_settings(db, office_id, spec.get("settings") or {}, result)
    services = _apply_services(db, office_id, spec.get("services") or [], prune, result)
    _apply_counters(db, office_id, spec.get("counters") or [], services, prune, result)
    _apply_priority(db, office_id, spec.get("priority") or [], prune, result)
    _apply_targets(db, office_id, spec.get("targets") or [], services, prune, result)
    _apply_devices(db, office_id, spec.get("devices") or [], services, prune, result)
    _apply_users(db, office_id, spec.get("users") or [], prune, result)


def _apply_settings(db, office_id: int, declared: dict, result: Applied) -> None:
    current = office_settings(db, office_id)
    changed = {}
    for name, raw in declared.items():
        try:
            parsed = definition(name).parse(raw)
        except KeyError:
            raise BadInputError(f"Không có thiết lập '{name}'", f"No setting '{name}'") from None
        if parsed != current.get(name):
            changed[name] = raw
    if changed:
        set_office_settings(db, office_id, changed)
        result.changes.append(f"settings: {', '.join(sorted(changed))}")


def _apply_services(db, office_id, declared: list, prune: bool, result: Applied) -> dict:
    existing = {
        r["prefix"]: r for r in _rows(db, "SELECT * FROM services WHERE office_id = ?", [office_id])
    }
    seen = set()
    for position, item in enumerate(declared):
        prefix = str(item.get("prefix", "")).strip().upper()
        seen.add(prefix)
        values = {
            "name_vi": item.get("name_vi", ""),
            "name_en": item.get("name_en", ""),
            "field": item.get("field", ""),
            "field_en": item.get("field_en", ""),
            "daily_cap": item.get("daily_cap"),
            "sort_order": item.get("sort_order", position),
        }
        row = existing.get(prefix)
        if row is None:
            sid = setup.add_service(db, office_id, prefix, **values)
            if item.get("active", True) is False:
                setup.update_service(db, sid, **values, active=False)
            result.changes.append(f"service {prefix}: created")
            continue
        active = bool(item.get("active", True))
        now = {k: row[k] for k in values} | {"active": bool(row["active"])}
        if now != {**values, "active": active}:
            setup.update_service(db, row["id"], **values, active=active)
            result.changes.append(f"service {prefix}: updated")
    if prune:
        for prefix, row in existing.items():
            if prefix not in seen and row["active"]:
                keep = {k: row[k] for k in ("name_vi", "name_en", "field", "field_en", "daily_cap")}
                setup.update_service(
                    db, row["id"], **keep, sort_order=row["sort_order"], active=False
                )
                result.changes.append(f"service {prefix}: deactivated")
    return {
        r["prefix"]: r["id"]
        for r in _rows(db, "SELECT id, prefix FROM services WHERE office_id = ?", [office_id])
    }


def _service_ids(services: dict, prefixes, where: str) -> list[int]:
    ids = []
    for prefix in prefixes or []:
        key = str(prefix).strip().upper()
        if key not in services:
            raise BadInputError(
                f"{where}: không có dịch vụ '{prefix}'", f"{where}: no service '{prefix}'"
            )
        ids.append(services[key])
    return ids


def _apply_counters(db, office_id, declared: list, services: dict, prune, result) -> None:
    existing = {
        r["number"]: r for r in _rows(db, "SELECT * FROM counters WHERE office_id = ?", [office_id])
    }
    seen = set()
    for item in declared:
        number = int(item["number"])
        seen.add(number)
        ids = _service_ids(services, item.get("services"), f"quầy {number}")
        active = bool(item.get("active", True))
        row = existing.get(number)
        # a name the file does not give is the engine's default (new) or left as it is
        name = item.get("name", row["name"] if row else "")
        if row is None:
            cid = setup.add_counter(db, office_id, number, ids, name)
            if not active:
                setup.update_counter(db, cid, name, False, ids)
            result.changes.append(f"counter {number}: created")
            continue
        now_ids = [
            r[0]
            for r in db.execute(
                "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
                [row["id"]],
            )
        ]
        if (row["name"], bool(row["active"]), now_ids) != (name, active, ids):
            setup.update_counter(db, row["id"], name, active, ids)
            result.changes.append(f"counter {number}: updated")
    if prune:
        for number, row in existing.items():
            if number not in seen and row["active"]:
                ids = [
                    r[0]
                    for r in db.execute(
                        "SELECT service_id FROM counter_services WHERE counter_id = ?"
                        " ORDER BY position",
                        [row["id"]],
                    )
                ]
                setup.update_counter(db, row["id"], row["name"], False, ids)
                result.changes.append(f"counter {number}: deactivated")


def _apply_priority(db, office_id, declared: list, prune, result) -> None:
    existing = {
        r["key"]: r
        for r in _rows(db, "SELECT * FROM priority_categories WHERE office_id = ?", [office_id])
    }
    seen = set()
    for position, item in enumerate(declared):
        key = str(item["key"]).strip()
        seen.add(key)
        values = {
            "name_vi": item.get("name_vi", ""),
            "name_en": item.get("name_en", ""),
            "rank": int(item.get("rank", position)),
        }
        active = bool(item.get("active", True))
        row = existing.get(key)
        if row is None:
            cid = setup.add_priority_category(db, office_id, key, **values)
            if not active:
                setup.update_priority_category(db, cid, **values, active=False)
            result.changes.append(f"priority {key}: created")
        elif {k: row[k] for k in values} | {"active": bool(row["active"])} != {
            **values,
            "active": active,
        }:
            setup.update_priority_category(db, row["id"], **values, active=active)
            result.changes.append(f"priority {key}: updated")
    if prune:
        for key, row in existing.items():
            if key not in seen and row["active"]:
                keep = {k: row[k] for k in ("name_vi", "name_en", "rank")}
                setup.update_priority_category(db, row["id"], **keep, active=False)
                result.changes.append(f"priority {key}: deactivated")


def _apply_targets(db, office_id, declared: list, services: dict, prune, result) -> None:
    by_id = {v: k for k, v in services.items()}
    existing = {
        (r["metric"], by_id.get(r["service_id"]), r["effective_from"]): r
        for r in _rows(db, "SELECT * FROM targets WHERE office_id = ?", [office_id])
    }
    seen = set()
    for item in declared:
        prefix = str(item["service"]).strip().upper() if item.get("service") else None
        key = (item["metric"], prefix, str(item["from"]))
        seen.add(key)
        service_id = _service_ids(services, [prefix], "chỉ tiêu")[0] if prefix else None
        row = existing.get(key)
        if row is not None and float(row["value"]) == float(item["value"]):
            continue
        # a target's value changes as a new row first, then the old one goes: an office
        # always keeps a wait target
        targets.set_target(
            db, office_id, item["metric"], float(item["value"]), key[2], service_id=service_id
        )
        if row is not None:
            targets.delete_target(db, row["id"])
        result.changes.append(f"target {key[0]} {prefix or '*'} from {key[2]}: {item['value']}")
    if prune:
        for key, row in existing.items():
            if key not in seen:
                targets.delete_target(db, row["id"])
                result.changes.append(f"target {key[0]} {key[1] or '*'} from {key[2]}: removed")


def _counter_ids(db, office_id: int, numbers, where: str) -> list[int]:
    ids = dict(db.execute("SELECT number, id FROM counters WHERE office_id = ?", [office_id]))
    found = []
    for number in numbers or []:
        if int(number) not in ids:
            raise BadInputError(f"{where}: không có quầy {number}", f"{where}: no counter {number}")
        found.append(ids[int(number)])
    return found


def _apply_devices(db, office_id, declared: list, services: dict, prune, result) -> None:
    existing = {
        (r["kind"], r["name"]): r
        for r in _rows(
            db, "SELECT * FROM devices WHERE office_id = ? AND revoked_at IS NULL", [office_id]
        )
    }
    seen = set()
    for item in declared:
        key = (item["kind"], item.get("name") or item["kind"])
        seen.add(key)
        where = f"thiết bị {key[1]}"
        counter = None
        if item.get("counter") is not None:  # a rating tablet's counter, by number
            counter = _counter_ids(db, office_id, [item["counter"]], where)[0]
        row = existing.get(key)
        if row is None:
            device_id, token = accounts.add_device(
                db, office_id, key[0], key[1], counter_id=counter
            )
            result.changes.append(f"device {key[0]} {key[1]!r}: paired")
            result.secrets.append(f"device {key[0]} {key[1]!r}: token {token}")
        else:
            device_id = row["id"]
            if counter is not None and counter != row["counter_id"]:
                accounts.rename_device(db, device_id, key[1], counter_id=counter)
                result.changes.append(f"device {key[0]} {key[1]!r}: moved to its counter")
        if "zone" in item:  # a display's zone: services by prefix, counters by number
            zone = item.get("zone") or {}
            wanted = {
                "services": _service_ids(services, zone.get("services"), where),
                "counters": _counter_ids(db, office_id, zone.get("counters"), where),
            }
            now = json.loads((row or {}).get("zone") or "{}") if row else {}
            if {k: now.get(k, []) for k in wanted} != wanted:
                accounts.set_device_zone(db, device_id, wanted)
                result.changes.append(f"device {key[0]} {key[1]!r}: zone")
    if prune:
        for key, row in existing.items():
            if key not in seen:
                accounts.revoke_device(db, row["id"])
                result.changes.append(f"device {key[0]} {key[1]!r}: revoked")


def _apply_users(db, office_id, declared: list, prune, result) -> None:
    seen = set()
    for item in declared:
        username = str(item["username"]).strip()
        seen.add(username)
        role = item.get("role", "officer")
        active = bool(item.get("active", True))
        row = one(db, "SELECT * FROM users WHERE username = ?", [username])
        display = item.get("display_name", row["display_name"] if row else "")
        if row is None:
            password = secrets.token_urlsafe(12)
            accounts.add_user(db, username, role, office_id, password, display)
            result.changes.append(f"user {username}: created ({role})")
            result.secrets.append(f"user {username}: one-time password {password}")
            if not active:
                uid = one(db, "SELECT id FROM users WHERE username = ?", [username])["id"]
                accounts.update_user(db, uid, role, office_id, display, False)
            continue
        now = (row["role"], row["office_id"], row["display_name"], bool(row["active"]))
        if now != (role, office_id, display, active):
            accounts.update_user(db, row["id"], role, office_id, display, active)
            result.changes.append(f"user {username}: updated")
    if prune:
        for row in _rows(db, "SELECT * FROM users WHERE office_id = ? AND active", [office_id]):
            if row["username"] not in seen:
                accounts.update_user(
                    db, row["id"], row["role"], office_id, row["display_name"], False
                )
                result.changes.append(f"user {row['username']}: deactivated")


# --- the other way: an office as a file ------------------------------------------------


def export_office(db: sqlite_utils.Database, office_id: int) -> dict:
    """The declaration of an office as it is (what ``apply_office`` takes back)."""
    office = one(db, "SELECT * FROM offices WHERE id = ?", [office_id])
    if office is None:
        raise NotFoundError(f"Không có văn phòng {office_id}", f"No office {office_id}")
    head = {
        "name": office["name"],
        "address": office["address"],
        "timezone": office["timezone"],
        "ticket_footer": office["ticket_footer"],
    }
    if office["hours"]:
        head["hours"] = json.loads(office["hours"])
    if json.loads(office["holidays"] or "[]"):
        head["holidays"] = json.loads(office["holidays"])
    prefixes = {}
    services = []
    for r in _rows(
        db, "SELECT * FROM services WHERE office_id = ? ORDER BY sort_order, id", [office_id]
    ):
        prefixes[r["id"]] = r["prefix"]
        item = {
            "prefix": r["prefix"],
            "name_vi": r["name_vi"],
            "name_en": r["name_en"],
            "field": r["field"],
            "field_en": r["field_en"],
            "sort_order": r["sort_order"],
            "active": bool(r["active"]),
        }
        if r["daily_cap"] is not None:
            item["daily_cap"] = r["daily_cap"]
        services.append(item)
    counters = []
    for r in _rows(db, "SELECT * FROM counters WHERE office_id = ? ORDER BY number", [office_id]):
        served = db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [r["id"]],
        )
        counters.append(
            {
                "number": r["number"],
                "name": r["name"],
                "services": [prefixes[s[0]] for s in served],
                "active": bool(r["active"]),
            }
        )
    priority = [
        {
            "key": r["key"],
            "name_vi": r["name_vi"],
            "name_en": r["name_en"],
            "rank": r["rank"],
            "active": bool(r["active"]),
        }
        for r in _rows(
            db,
            "SELECT * FROM priority_categories WHERE office_id = ? ORDER BY rank, id",
            [office_id],
        )
    ]
    target_rows = []
    for r in _rows(
        db,
        "SELECT * FROM targets WHERE office_id = ? ORDER BY metric, effective_from, id",
        [office_id],
    ):
        item = {"metric": r["metric"], "value": r["value"], "from": r["effective_from"]}
        if r["service_id"] is not None:
            item["service"] = prefixes.get(r["service_id"])
        target_rows.append(item)
    numbers = dict(db.execute("SELECT id, number FROM counters WHERE office_id = ?", [office_id]))
    devices = []
    for r in _rows(
        db,
        "SELECT * FROM devices WHERE office_id = ? AND revoked_at IS NULL ORDER BY id",
        [office_id],
    ):
        item = {"kind": r["kind"], "name": r["name"]}
        if r["counter_id"] is not None:
            item["counter"] = numbers.get(r["counter_id"])
        zone = json.loads(r["zone"] or "{}")
        if zone.get("services") or zone.get("counters"):
            item["zone"] = {
                "services": [prefixes[i] for i in zone.get("services", []) if i in prefixes],
                "counters": [numbers[i] for i in zone.get("counters", []) if i in numbers],
            }
        devices.append(item)
    users = [
        {
            "username": r["username"],
            "display_name": r["display_name"],
            "role": r["role"],
            "active": bool(r["active"]),
        }
        for r in _rows(db, "SELECT * FROM users WHERE office_id = ? ORDER BY id", [office_id])
    ]
    stored = {
        name: json.loads(value)
        for name, value in db.execute(
            "SELECT name, value FROM settings WHERE office_id = ? ORDER BY name", [office_id]
        )
    }
    return {
        "office": head,
        "settings": stored,
        "services": services,
        "counters": counters,
        "priority": priority,
        "targets": target_rows,
        "devices": devices,
        "users": users,
    }


# --- TOML out (the standard library reads TOML, it does not write it) -----------------


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return (
        key
        if key.replace("_", "").replace("-", "").isalnum() and key.isascii()
        else json.dumps(key)
    )


def to_toml(spec: dict) -> str:
    """The declaration as a TOML document (``tomllib`` reads it back to ``spec``)."""
    lines = [
        "# xephang office declaration: `xephang setup apply` this file (docs/operations.md).",
        "",
    ]
    for section in ("office", "settings"):
        lines.append(f"[{section}]")
        for key, value in spec.get(section, {}).items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        lines.append("")
    for section in ("services", "counters", "priority", "targets", "devices", "users"):
        for item in spec.get(section, []):
            lines.append(f"[[{section}]]")
            for key, value in item.items():
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
            lines.append("")
    return "\n".join(lines)
