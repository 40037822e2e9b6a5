"""Print jobs in SQLite: enqueue, claim, finish, and what the manager sees.

States::

    queued --claim--> claimed --before any byte--> sending --all bytes, status ok--> done
       ^                 |                            |
       +--retry (backoff)+ nothing sent               +--bytes sent, then an error--> failed
                         +--N tries, or too old-----------------------------------> failed

The spooler owns these two tables (``print_jobs``, ``printer_status``);
every change is one BEGIN IMMEDIATE transaction and the ``claimed`` →
``sending`` → ``done`` steps are conditional updates, so two workers never
print the same job and a job is never resent once its bytes may have left.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlite_utils

from xephang.clock import iso, resolve_now
from xephang.errors import NotFoundError
from xephang.storage import one, scalar, write

from .layout import Receipt

QUEUED, CLAIMED, SENDING, DONE, FAILED = "queued", "claimed", "sending", "done", "failed"


def enqueue(
    db: sqlite_utils.Database,
    office_id: int,
    receipt: Receipt,
    printer: str,
    paper_mm: int,
    ticket_id: int | None = None,
    device_id: int | None = None,
    copy: int = 1,
    now: datetime | None = None,
) -> int:
    """Store a print job (idempotent per ticket and copy); return its id."""
    at = iso(resolve_now(now))
    with write(db):
        if ticket_id is not None:
            existing = scalar(
                db, "SELECT id FROM print_jobs WHERE ticket_id = ? AND copy = ?", [ticket_id, copy]
            )
            if existing:
                return existing
        return db.execute(
            "INSERT INTO print_jobs (office_id, ticket_id, copy, device_id, printer, paper_mm,"
            " payload, state, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                office_id,
                ticket_id,
                copy,
                device_id,
                printer,
                paper_mm,
                json.dumps(receipt.to_dict(), ensure_ascii=False),
                QUEUED,
                at,
                at,
            ],
        ).lastrowid


def next_copy(db: sqlite_utils.Database, ticket_id: int | None) -> int:
    """The copy number a ticket's next receipt gets (1 for the first)."""
    if ticket_id is None:
        return 1
    return (
        scalar(db, "SELECT max(copy) FROM print_jobs WHERE ticket_id = ?", [ticket_id]) or 0
    ) + 1


def reprint(db: sqlite_utils.Database, job_id: int, now: datetime | None = None) -> int:
    """Queue one more copy of a job's receipt (a manager's deliberate reprint); its id."""
    job = get_job(db, job_id)
    if job is None:
        raise NotFoundError(f"Không có lệnh in {job_id}", f"No print job {job_id}")
    copy = next_copy(db, job["ticket_id"])
    return enqueue(
        db,
        job["office_id"],
        Receipt.from_dict(json.loads(job["payload"])),
        job["printer"],
        job["paper_mm"],
        ticket_id=job["ticket_id"],
        device_id=job["device_id"],
        copy=copy,
        now=now,
    )


def withdraw(db: sqlite_utils.Database, ticket_id: int) -> int:
    """Forget a ticket's receipts no worker has taken yet (the citizen cancelled it at the
    kiosk); one already printing or printed stays. Returns how many were withdrawn."""
    return db.execute(
        "DELETE FROM print_jobs WHERE ticket_id = ? AND state = 'queued'", [ticket_id]
    ).rowcount


def get_job(db: sqlite_utils.Database, job_id: int) -> dict | None:
    return one(db, "SELECT * FROM print_jobs WHERE id = ?", [job_id])


def job_view(job: dict | None) -> dict | None:
    """The public state of a job for the kiosk page (no payload)."""
    if job is None:
        return None
    return {
        "id": job["id"],
        "state": job["state"],
        "attempts": job["attempts"],
        "ticket_id": job["ticket_id"],
        "error": job["last_error"] if job["state"] == FAILED else None,
    }


def claim_next(db: sqlite_utils.Database, printer: str, now: datetime | None = None) -> dict | None:
    """Take the oldest due job of a printer for this worker, or None."""
    at = iso(resolve_now(now))
    with write(db):
        job = one(
            db,
            "SELECT * FROM print_jobs WHERE printer = ? AND state = 'queued' AND"
            " next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1",
            [printer, at],
        )
        if job is None:
            return None
        db.execute(
            "UPDATE print_jobs SET state = 'claimed', attempts = attempts + 1,"
            " claimed_at = ? WHERE id = ? AND state = 'queued'",
            [at, job["id"]],
        )
        return get_job(db, job["id"])


def next_due(db: sqlite_utils.Database, printer: str) -> str | None:
    """When the printer's next queued job becomes due (ISO UTC), if any."""
    return scalar(
        db,
        "SELECT min(next_attempt_at) FROM print_jobs WHERE printer = ? AND state = 'queued'",
        [printer],
    )


def mark_sending(db: sqlite_utils.Database, job_id: int, now: datetime | None = None) -> bool:
    """Record, before the first byte leaves, that this job's bytes may reach the printer."""
    with write(db):
        return (
            db.execute(
                "UPDATE print_jobs SET state = 'sending', claimed_at = ? WHERE id = ?"
                " AND state = 'claimed'",
                [iso(resolve_now(now)), job_id],
            ).rowcount
            == 1
        )


def requeue(
    db: sqlite_utils.Database, job_id: int, error: str, delay_s: float, now: datetime | None = None
) -> None:
    """Put a job whose bytes never left back in the queue, due after ``delay_s``."""
    at = resolve_now(now)
    with write(db):
        db.execute(
            "UPDATE print_jobs SET state = 'queued', next_attempt_at = ?, last_error = ?"
            " WHERE id = ? AND state IN ('claimed', 'sending')",
            [iso(at + timedelta(seconds=delay_s)), error, job_id],
        )


def finish_job(
    db: sqlite_utils.Database,
    job_id: int,
    ok: bool,
    error: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Mark a job done or failed, inside the caller's transaction; False if already final."""
    return (
        db.execute(
            "UPDATE print_jobs SET state = ?, finished_at = ?, last_error = ? WHERE id = ? AND"
            " state NOT IN ('done', 'failed')",
            [DONE if ok else FAILED, iso(resolve_now(now)), error, job_id],
        ).rowcount
        == 1
    )


def stale_jobs(
    db: sqlite_utils.Database, printer: str, lease_s: float, now: datetime | None = None
) -> list[dict]:
    """Jobs a worker claimed longer ago than the lease: their worker died or hung."""
    cutoff = iso(resolve_now(now) - timedelta(seconds=lease_s))
    return list(
        db.query(
            "SELECT * FROM print_jobs WHERE printer = ? AND state IN ('claimed',"
            " 'sending') AND claimed_at < ?",
            [printer, cutoff],
        )
    )


def set_printer_status(
    db: sqlite_utils.Database,
    printer: str,
    state: str,
    problem: str = "",
    detail: str = "",
    now: datetime | None = None,
) -> str | None:
    """Record a printer's latest known state; return the previous state (None if new)."""
    at = iso(resolve_now(now))
    with write(db):
        before = scalar(db, "SELECT state FROM printer_status WHERE printer = ?", [printer])
        db.execute(
            "INSERT INTO printer_status (printer, state, problem, detail, checked_at, last_ok_at,"
            " last_error_at) VALUES (:p, :s, :problem, :detail, :at, :ok, :err)"
            " ON CONFLICT (printer) DO UPDATE SET state = :s, problem = :problem,"
            " detail = :detail, checked_at = :at, last_ok_at = coalesce(:ok, last_ok_at),"
            " last_error_at = coalesce(:err, last_error_at)",
            {
                "p": printer,
                "s": state,
                "problem": problem,
                "detail": detail[:500],
                "at": at,
                "ok": at if state == "ok" else None,
                "err": at if state == "error" else None,
            },
        )
    return before


def printer_state(db: sqlite_utils.Database, printer: str) -> dict:
    """A printer's last known state ('ok' when nothing is known yet) and its problem."""
    row = one(db, "SELECT state, problem FROM printer_status WHERE printer = ?", [printer])
    return dict(row) if row else {"state": "ok", "problem": ""}


PROBLEM_TEXT = {
    "paper_out": ("Máy in hết giấy", "Printer out of paper"),
    "paper_low": ("Máy in sắp hết giấy", "Printer paper low"),
    "cover_open": ("Nắp máy in đang mở", "Printer cover open"),
    "offline": ("Máy in không sẵn sàng", "Printer offline"),
    "unreachable": ("Không kết nối được máy in", "Printer unreachable"),
    "partial": ("Máy in lỗi khi đang in một vé", "Printer failed while printing a ticket"),
    "too_late": ("Vé quá hạn in (công dân đã rời kiosk)", "Too late to print"),
    "error": ("Máy in lỗi", "Printer error"),
}


def status(db: sqlite_utils.Database, office_id: int, now: datetime | None = None) -> dict:
    """The print system as the manager dashboard shows it: printers, queue, recent failures.

    ``alert`` is true when a printer the office used in the last day is in
    error, or a job failed in the last hour; ``message_vi``/``message_en``
    say why.
    """
    at = resolve_now(now)
    day_ago, hour_ago = iso(at - timedelta(days=1)), iso(at - timedelta(hours=1))
    printers = []
    for row in db.query(
        "SELECT ps.* FROM printer_status ps WHERE ps.printer IN (SELECT DISTINCT printer FROM"
        " print_jobs WHERE office_id = ? AND created_at >= ?) ORDER BY ps.printer",
        [office_id, day_ago],
    ):
        vi, en = PROBLEM_TEXT.get(row["problem"], ("", ""))
        printers.append({**row, "problem_vi": vi, "problem_en": en})
    counts = dict(
        db.execute(
            "SELECT state, count(*) FROM print_jobs WHERE office_id = ? AND created_at >= ?"
            " GROUP BY state",
            [office_id, day_ago],
        ).fetchall()
    )
    failures = [
        {
            "job_id": r["id"],
            "ticket_id": r["ticket_id"],
            "code": r["code"],
            "printer": r["printer"],
            "error": r["last_error"],
            "at": r["finished_at"],
            "attempts": r["attempts"],
        }
        for r in db.query(
            "SELECT j.*, t.code FROM print_jobs j LEFT JOIN tickets t ON t.id = j.ticket_id"
            " WHERE j.office_id = ? AND j.state = 'failed' AND j.finished_at >= ?"
            " ORDER BY j.finished_at DESC LIMIT 20",
            [office_id, hour_ago],
        )
    ]
    broken = [p for p in printers if p["state"] == "error"]
    alert = bool(broken or failures)
    if broken:
        message_vi = "; ".join(p["problem_vi"] or "Máy in lỗi" for p in broken)
        message_en = "; ".join(p["problem_en"] or "Printer error" for p in broken)
    elif failures:
        message_vi = f"{len(failures)} vé in lỗi trong giờ qua"
        message_en = f"{len(failures)} tickets failed to print in the last hour"
    else:
        message_vi = message_en = ""
    return {
        "alert": alert,
        "message_vi": message_vi,
        "message_en": message_en,
        "printers": printers,
        "jobs_last_day": {s: counts.get(s, 0) for s in (QUEUED, CLAIMED, SENDING, DONE, FAILED)},
        "failures_last_hour": failures,
    }
