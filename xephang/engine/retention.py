"""Data retention: remove ticket logs and blank rating comments past the office's limits.

``retention_days``: tickets, their events, ratings, visits, print jobs,
messages and (long erased) subscriptions of days older than this are
deleted. The event hash chain stays verifiable: the last deleted event's
hash is kept as the office's anchor in
``log_anchors`` and ``verify_log`` resumes from it. ``keep_figures`` (the
reports' daily tallies, ``reports.purge`` passes it) runs first, so
statistics outlive the logs.

``comment_retention_days``: free-text rating comments older than this are
blanked (the rating level stays).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlite_utils

from ..clock import day_bounds, iso, local_day, resolve_now
from ..storage import write
from .lookups import get_office
from .settings import office_setting


def purge(
    db: sqlite_utils.Database,
    office_id: int,
    now: datetime | None = None,
    dry_run: bool = False,
    keep_figures: Callable[[sqlite_utils.Database, dict, str, str], None] | None = None,
) -> dict:
    """Apply the office's retention settings; return what was (or would be) removed.

    ``keep_figures(db, office, cutoff_day, today)`` runs before anything is
    deleted (not on a dry run).
    """
    at = resolve_now(now)
    office = get_office(db, office_id)
    today = local_day(at, office["timezone"])
    keep_days = int(office_setting(db, office_id, "retention_days"))
    comment_days = int(office_setting(db, office_id, "comment_retention_days"))
    cutoff_day = (today - timedelta(days=keep_days)).isoformat()
    cutoff_at = day_bounds(cutoff_day, office["timezone"])[0]
    comment_cutoff = iso(at - timedelta(days=comment_days))
    if not dry_run and keep_figures is not None:
        keep_figures(db, office, cutoff_day, today.isoformat())
    with write(db):
        comments = db.execute(
            "SELECT count(*) FROM ratings WHERE office_id = ? AND comment != '' AND created_at < ?",
            [office_id, comment_cutoff],
        ).fetchone()[0]
        keep_from = db.execute(
            "SELECT min(e.seq) FROM ticket_events e LEFT JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.office_id = ? AND (t.day >= ? OR (e.ticket_id IS NULL AND e.at >= ?))",
            [office_id, cutoff_day, cutoff_at],
        ).fetchone()[0]
        if keep_from is None:
            keep_from = db.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM ticket_events WHERE office_id = ?",
                [office_id],
            ).fetchone()[0]
        events = db.execute(
            "SELECT count(*) FROM ticket_events WHERE office_id = ? AND seq < ?",
            [office_id, keep_from],
        ).fetchone()[0]
        doomed_sql = (
            "SELECT id FROM tickets t WHERE t.office_id = ? AND t.day < ? AND NOT"
            " EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND"
            " e.seq >= ?)"
        )
        params = [office_id, cutoff_day, keep_from]
        tickets = db.execute(f"SELECT count(*) FROM ({doomed_sql})", params).fetchone()[0]
        result = {
            "office_id": office_id,
            "before_day": cutoff_day,
            "tickets": tickets,
            "events": events,
            "comments_blanked": comments,
            "dry_run": dry_run,
        }
        if dry_run:
            return result
        db.execute(
            "UPDATE ratings SET comment = '' WHERE office_id = ? AND comment != '' AND"
            " created_at < ?",
            [office_id, comment_cutoff],
        )
        if events:
            last = db.execute(
                "SELECT seq, hash FROM ticket_events WHERE office_id = ? AND seq = ?",
                [office_id, keep_from - 1],
            ).fetchone()
            db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM temp.doomed")
            db.execute(f"INSERT INTO temp.doomed {doomed_sql}", params)
            db.execute(
                "DELETE FROM ticket_events WHERE office_id = ? AND seq < ?", [office_id, keep_from]
            )
            db.execute("DELETE FROM ratings WHERE ticket_id IN (SELECT id FROM temp.doomed)")
            db.execute("DELETE FROM print_jobs WHERE ticket_id IN (SELECT id FROM temp.doomed)")
            db.execute("DELETE FROM outbox WHERE ticket_id IN (SELECT id FROM temp.doomed)")
            db.execute(
                "DELETE FROM checkin_failures WHERE ticket_id IN (SELECT id FROM temp.doomed)"
            )
            db.execute(
                "UPDATE counters SET current_ticket_id = NULL WHERE current_ticket_id IN"
                " (SELECT id FROM temp.doomed)"
            )
            # bookings of those days, and the cap claims (their hashes are long gone)
            db.execute(
                "DELETE FROM online_claims WHERE office_id = ? AND day < ?",
                [office_id, cutoff_day],
            )
            db.execute(
                "DELETE FROM outbox WHERE appointment_id IN (SELECT id FROM appointments"
                " WHERE office_id = ? AND day < ?)",
                [office_id, cutoff_day],
            )
            db.execute(
                "DELETE FROM appointments WHERE office_id = ? AND day < ?"
                " AND (ticket_id IS NULL OR ticket_id IN (SELECT id FROM temp.doomed))",
                [office_id, cutoff_day],
            )
            db.execute(
                "UPDATE appointments SET ticket_id = NULL WHERE ticket_id IN"
                " (SELECT id FROM temp.doomed)"
            )
            db.execute("DELETE FROM tickets WHERE id IN (SELECT id FROM temp.doomed)")
            orphan = (
                "visits.office_id = ? AND NOT EXISTS (SELECT 1 FROM tickets t WHERE"
                " t.visit_id = visits.id) AND NOT EXISTS (SELECT 1 FROM appointments a"
                " WHERE a.visit_id = visits.id)"  # a booking's visit waits for its ticket
            )
            db.execute(
                "DELETE FROM outbox WHERE subscription_id IN (SELECT s.id FROM subscriptions s"
                f" JOIN visits ON visits.id = s.visit_id WHERE {orphan})",
                [office_id],
            )
            db.execute(
                "DELETE FROM subscriptions WHERE visit_id IN (SELECT id FROM visits WHERE"
                f" {orphan})",
                [office_id],
            )
            db.execute(f"DELETE FROM visits WHERE {orphan}", [office_id])
            db.execute("DELETE FROM temp.doomed")
            db.execute(
                "INSERT INTO log_anchors (office_id, seq, hash, before_day, purged_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (office_id) DO UPDATE SET seq ="
                " excluded.seq, hash = excluded.hash, before_day = excluded.before_day,"
                " purged_at = excluded.purged_at",
                [office_id, last[0], last[1], cutoff_day, iso(at)],
            )
    return result


def purged_before(db: sqlite_utils.Database, office_id: int) -> str | None:
    """The first day whose logs are still kept, if a purge ran (earlier days are frozen)."""
    row = db.execute(
        "SELECT before_day FROM log_anchors WHERE office_id = ?", [office_id]
    ).fetchone()
    return row[0] if row else None
