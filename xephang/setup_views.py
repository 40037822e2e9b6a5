"""Read-only queries the manager's setup pages need: an office's rows as the forms list them.

Plain functions over a sqlite_utils.Database. No writes: changes go through
``xephang.engine`` and ``xephang.accounts``.
"""

from __future__ import annotations

import sqlite_utils

from .db import one, scalar

# Office-scoped tables whose rows a manager may change through the setup pages.
OWNED_TABLES = frozenset({"services", "counters", "devices", "priority_categories", "targets"})


def first_office_id(db: sqlite_utils.Database) -> int | None:
    """The lowest office id (an admin's default office), or None when there is none."""
    return scalar(db, "SELECT min(id) FROM offices")


def list_offices(db: sqlite_utils.Database) -> list[dict]:
    """Every office's id and name, by name."""
    return list(db.query("SELECT id, name FROM offices ORDER BY name"))


def owned_row(db: sqlite_utils.Database, table: str, row_id: int) -> dict | None:
    """One row of an office-scoped setup table (it carries ``office_id``), or None."""
    if table not in OWNED_TABLES:
        raise ValueError(f"not an office-scoped setup table: {table}")
    return one(db, f"SELECT * FROM {table} WHERE id = ?", [row_id])


def list_services(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's services (active or not) in display order."""
    return list(db.query("SELECT * FROM services WHERE office_id = ? ORDER BY sort_order,"
                         " prefix", [office_id]))


def service_ids_by_prefix(db: sqlite_utils.Database, office_id: int) -> dict[str, int]:
    """An office's service ids keyed by prefix letter(s)."""
    return {r["prefix"]: r["id"] for r in db.query(
        "SELECT id, prefix FROM services WHERE office_id = ?", [office_id])}


def list_counters_with_services(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's counters by number, each with ``services`` (ids in order) and ``prefixes``."""
    counters = list(db.query("SELECT * FROM counters WHERE office_id = ? ORDER BY number",
                             [office_id]))
    prefix = {sid: p for p, sid in service_ids_by_prefix(db, office_id).items()}
    for c in counters:
        c["services"] = [r[0] for r in db.execute(
            "SELECT service_id FROM counter_services WHERE counter_id = ? ORDER BY position",
            [c["id"]]).fetchall()]
        c["prefixes"] = ", ".join(prefix[sid] for sid in c["services"])
    return counters


def list_users(db: sqlite_utils.Database, office_id: int | None = None) -> list[dict]:
    """Users with their ``office_name``: of one office, or all of them when None."""
    sql = "SELECT u.*, o.name AS office_name FROM users u LEFT JOIN offices o ON o.id = u.office_id"
    params: list = []
    if office_id is not None:
        sql += " WHERE u.office_id = ?"
        params.append(office_id)
    return list(db.query(sql + " ORDER BY u.office_id, u.role, u.username", params))


def office_officers(db: sqlite_utils.Database, office_id: int) -> list[tuple[int, str]]:
    """(id, display name) of an office's officers."""
    return [(r["id"], r["display_name"] or r["username"]) for r in db.query(
        "SELECT id, username, display_name FROM users WHERE office_id = ? AND role ="
        " 'officer'", [office_id])]


def list_devices(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's devices: live ones first, then by kind and name."""
    return list(db.query("SELECT * FROM devices WHERE office_id = ? ORDER BY"
                         " revoked_at IS NOT NULL, kind, name", [office_id]))


def list_priority_categories(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's priority categories (active or not) by rank and key."""
    return list(db.query("SELECT * FROM priority_categories WHERE office_id = ?"
                         " ORDER BY rank, key", [office_id]))


def list_targets(db: sqlite_utils.Database, office_id: int) -> list[dict]:
    """An office's targets with their service's ``prefix`` and ``name_vi`` (None office-wide)."""
    return list(db.query(
        "SELECT t.*, s.prefix, s.name_vi FROM targets t LEFT JOIN services s ON"
        " s.id = t.service_id WHERE t.office_id = ? ORDER BY t.metric, t.service_id IS NOT NULL,"
        " s.prefix, t.effective_from", [office_id]))


def setup_audit(db: sqlite_utils.Database, office_id: int, limit: int = 20) -> list[dict]:
    """The latest setup changes of an office and of no office, newest first, with ``who``."""
    return list(db.query(
        "SELECT a.at, a.action, a.details, coalesce(u.display_name, u.username) AS who FROM"
        " setup_audit a LEFT JOIN users u ON u.id = a.user_id WHERE a.office_id = ? OR"
        " a.office_id IS NULL ORDER BY a.id DESC LIMIT ?", [office_id, limit]))
