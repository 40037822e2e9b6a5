"""Ratings that move the 766 score, in the engine: one rating per visit whatever the channel,
what a rating records, the counter tablet's limits, dossier codes before and after finishing;
the province role and rating tablets in the accounts; the schema step that made room."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.helpers import MONDAY_9AM
from xephang import engine
from xephang.engine import accounts
from xephang.errors import BadInputError, ConflictError, ForbiddenError, NotFoundError
from xephang.queries import people
from xephang.queries import ratings as rating_queries
from xephang.storage import connect, migrate

T0 = datetime.fromisoformat(MONDAY_9AM)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def served(q, counter=1, prefix="A", minutes=0, dossier=None, officer=None) -> dict:
    """A ticket issued, called, started and finished at a counter."""
    ticket = engine.issue_ticket(q.db, q.office, prefix, now=at(minutes)).ticket
    cid = q.counters[counter]
    engine.call_ticket(q.db, cid, ticket["id"], "test", user_id=officer, now=at(minutes + 1))
    engine.start(q.db, ticket["id"], user_id=officer, now=at(minutes + 2))
    engine.finish(q.db, ticket["id"], user_id=officer, dossier_code=dossier, now=at(minutes + 5))
    return engine.get_ticket(q.db, ticket["id"])


def rating_row(db, ticket_id) -> dict:
    cursor = db.execute("SELECT * FROM ratings WHERE ticket_id = ?", [ticket_id])
    names = [c[0] for c in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_a_rating_records_ticket_visit_dossier_officer_counter_service(queue):
    officer = accounts.add_user(queue.db, "canbo", "officer", queue.office, None, "Chị Lan")
    ticket = served(queue, dossier="000.00.12.H40-260302-0001", officer=officer)
    engine.rate_ticket(
        queue.db,
        ticket["id"],
        3,
        " Rất tốt ",
        now=at(6),
        attributes={"on_time": True, "attitude": False},
        channel="tablet",
        counter_id=queue.counters[1],
        within_s=600,
    )
    row = rating_row(queue.db, ticket["id"])
    assert {k: row[k] for k in ("visit_id", "dossier_code", "officer_id", "counter_id")} == {
        "visit_id": ticket["visit_id"],
        "dossier_code": "000.00.12.H40-260302-0001",
        "officer_id": officer,
        "counter_id": queue.counters[1],
    }
    assert row["service_id"] == ticket["service_id"] and row["channel"] == "tablet"
    assert json.loads(row["attributes"]) == {"attitude": False, "on_time": True}
    assert row["comment"] == "Rất tốt" and row["level"] == 3
    event = queue.db.execute(
        "SELECT counter_id, details FROM ticket_events WHERE type = 'rated'"
    ).fetchone()
    assert event[0] == queue.counters[1]  # its counter's tablet hears of it
    assert json.loads(event[1]) == {"channel": "tablet", "has_comment": True, "level": 3}
    assert "Rất tốt" not in event[1]  # the comment never enters the log


def test_one_rating_per_visit_whatever_the_channel(queue):
    ticket = served(queue)
    engine.rate_ticket(queue.db, ticket["id"], 2, now=at(6))  # the tracker page
    with pytest.raises(ConflictError, match="đã được đánh giá"):
        engine.rate_ticket(
            queue.db,
            ticket["id"],
            3,
            now=at(7),
            channel="tablet",
            counter_id=queue.counters[1],
            within_s=600,
        )
    assert queue.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 1


def test_a_visit_rated_on_any_ticket_counts_as_rated(queue):
    """A dossier code recorded before a transfer ties the visit's one rating to it."""
    ticket = engine.issue_ticket(queue.db, queue.office, "A", now=at(0)).ticket
    engine.call_ticket(queue.db, queue.counters[1], ticket["id"], "test", now=at(1))
    engine.start(queue.db, ticket["id"], now=at(2))
    engine.set_dossier_code(queue.db, ticket["id"], "HS-01", now=at(3))
    moved = engine.transfer(queue.db, ticket["id"], service="C", now=at(4)).ticket
    engine.call_ticket(queue.db, queue.counters[3], moved["id"], "test", now=at(5))
    engine.start(queue.db, moved["id"], now=at(6))
    engine.finish(queue.db, moved["id"], now=at(9))
    engine.rate_ticket(queue.db, moved["id"], 1, now=at(10))
    assert rating_row(queue.db, moved["id"])["dossier_code"] == "HS-01"
    assert rating_queries.visit_rating(queue.db, ticket["visit_id"])["ticket_id"] == moved["id"]


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"level": 9}, BadInputError, "Mức đánh giá"),
        ({"attributes": {"speed": True}}, BadInputError, "Tiêu chí"),
        ({"attributes": {"on_time": "yes"}}, BadInputError, "Tiêu chí"),
        ({"comment": "x" * 1001}, BadInputError, "quá dài"),
        ({"counter": 2}, NotFoundError, "Không có vé"),  # another counter's tablet
        ({"minutes": 16}, ConflictError, "hết thời gian"),  # past the tablet's window
    ],
)
def test_refused_ratings_change_nothing(queue, change, error, message):
    ticket = served(queue)
    before = queue.db.execute("SELECT count(*) FROM ticket_events").fetchone()[0]
    with pytest.raises(error, match=message):
        engine.rate_ticket(
            queue.db,
            ticket["id"],
            change.get("level", 3),
            change.get("comment", ""),
            now=at(5 + change.get("minutes", 1)),
            attributes=change.get("attributes"),
            channel="tablet",
            counter_id=queue.counters[change.get("counter", 1)],
            within_s=600,
        )
    assert queue.db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 0
    assert queue.db.execute("SELECT count(*) FROM ticket_events").fetchone()[0] == before


def test_the_office_configures_the_attributes(queue):
    engine.set_office_settings(
        queue.db, queue.office, {"rating_attributes": "speed | Nhanh | Chậm | Fast | Slow"}
    )
    ticket = served(queue)
    with pytest.raises(BadInputError):
        engine.rate_ticket(queue.db, ticket["id"], 3, now=at(6), attributes={"on_time": True})
    engine.rate_ticket(queue.db, ticket["id"], 3, now=at(6), attributes={"speed": False})
    assert json.loads(rating_row(queue.db, ticket["id"])["attributes"]) == {"speed": False}
    engine.set_office_settings(queue.db, queue.office, {"rating_attributes": ""})
    assert engine.office_setting(queue.db, queue.office, "rating_attributes") == []


@pytest.mark.parametrize(
    "raw, message",
    [
        ("On Time | Đúng hẹn | Trễ hẹn", "chữ thường"),
        ("on_time | Đúng hẹn", "cần"),
        ("a | x | y\na | x | y", "bị lặp"),
        ("a | " + "x" * 41 + " | y", "tối đa 40"),
        ("\n".join(f"k{n} | x | y" for n in range(9)), "Tối đa 8"),
    ],
)
def test_attribute_lines_are_checked(raw, message):
    with pytest.raises(BadInputError, match=message):
        engine.settings.definition("rating_attributes").parse(raw)


# --- the dossier code, before and after finishing ------------------------------------------


def test_a_dossier_code_scanned_while_serving_survives_finishing(queue):
    ticket = engine.issue_ticket(queue.db, queue.office, "A", now=at(0)).ticket
    engine.call_next(queue.db, queue.counters[1], now=at(1))
    with pytest.raises(ConflictError, match="đang phục vụ hoặc đã xong"):
        engine.set_dossier_code(queue.db, ticket["id"], "HS-1", now=at(1))  # only called
    engine.start(queue.db, ticket["id"], now=at(2))
    out = engine.set_dossier_code(queue.db, ticket["id"], " HS-1 ", user_id=None, now=at(3))
    assert out.ticket["dossier_code"] == "HS-1"
    assert out.events[0]["type"] == "dossier_set"
    assert out.events[0]["counter_id"] == queue.counters[1]
    engine.call_next(queue.db, queue.counters[1], now=at(4))  # finishes it, with no code given
    assert engine.get_ticket(queue.db, ticket["id"])["dossier_code"] == "HS-1"
    finished = queue.db.execute(
        "SELECT details FROM ticket_events WHERE ticket_id = ? AND type = 'finished'",
        [ticket["id"]],
    ).fetchone()[0]
    assert json.loads(finished)["dossier_code"] == "HS-1"


def test_a_dossier_code_typed_after_the_rating_ties_the_rating_to_it(queue):
    ticket = served(queue)
    engine.rate_ticket(queue.db, ticket["id"], 1, now=at(6))
    assert rating_row(queue.db, ticket["id"])["dossier_code"] is None
    engine.set_dossier_code(queue.db, ticket["id"], "HS-2", now=at(7))
    engine.set_dossier_code(queue.db, ticket["id"], "HS-3", now=at(8))  # a correction
    assert rating_row(queue.db, ticket["id"])["dossier_code"] == "HS-3"
    types = [
        r[0]
        for r in queue.db.execute(
            "SELECT type FROM ticket_events WHERE ticket_id = ? ORDER BY seq", [ticket["id"]]
        )
    ]
    assert types[-3:] == ["rated", "dossier_set", "dossier_set"]
    assert engine.verify_log(queue.db) == []
    with pytest.raises(BadInputError):
        engine.set_dossier_code(queue.db, ticket["id"], "   ")


# --- the tablet's state ---------------------------------------------------------------------


def test_the_tablet_state_asks_for_the_ticket_its_counter_just_finished(queue):
    officer = accounts.add_user(queue.db, "lan", "officer", queue.office, None, "Chị Lan")
    first = served(queue, officer=officer)
    state = rating_queries.tablet_state(queue.db, queue.counters[1], 600, now=at(6))
    assert state["pending"]["ticket_id"] == first["id"] and state["officer"] == "Chị Lan"
    assert (
        rating_queries.tablet_state(queue.db, queue.counters[2], 600, now=at(6))["pending"] is None
    )
    assert (
        rating_queries.tablet_state(queue.db, queue.counters[1], 600, now=at(20))["pending"] is None
    )  # past the window
    engine.rate_ticket(queue.db, first["id"], 3, now=at(6))  # rated on the phone
    assert (
        rating_queries.tablet_state(queue.db, queue.counters[1], 600, now=at(6))["pending"] is None
    )
    ticket = engine.issue_ticket(queue.db, queue.office, "A", now=at(7)).ticket
    engine.call_next(queue.db, queue.counters[1], user_id=officer, now=at(8))
    shown = rating_queries.tablet_state(queue.db, queue.counters[1], 600, now=at(8))["ticket"]
    assert shown["code"] == ticket["code"] and shown["priority"] is False
    assert not {"dossier_code", "outcome", "tracker_token"} & set(shown)


# --- accounts: the province role, rating tablets ------------------------------------------


def test_a_province_user_reads_the_offices_it_is_given(queue):
    other = engine.create_office(queue.db, "Xã khác")
    third = engine.create_office(queue.db, "Phường thứ ba")
    user = accounts.add_user(queue.db, "tinh", "province", None, None, offices=[queue.office])
    assert accounts.set_user_offices(queue.db, user, [other, queue.office, other]) == sorted(
        [queue.office, other]
    )
    principal = people.user_principal(
        people.find_user(queue.db, "tinh"), people.user_offices(queue.db, user)
    )
    assert principal.may_access_office(queue.office) and principal.may_access_office(other)
    assert not principal.may_access_office(third)
    assert principal.read_only and not principal.is_global_admin
    revoked = queue.db.execute("SELECT count(*) FROM revocations WHERE kind = 'user'").fetchone()
    assert revoked[0] >= 1  # its sockets reconnect with the new set


def test_province_users_belong_to_no_office_and_change_nothing(queue):
    with pytest.raises(BadInputError, match="không thuộc một văn phòng"):
        accounts.add_user(queue.db, "tinh2", "province", queue.office, None)
    user = accounts.add_user(queue.db, "tinh", "province", None, None, offices=[queue.office])
    province = people.user_principal(
        people.find_user(queue.db, "tinh"), people.user_offices(queue.db, user)
    )
    attempts = [
        lambda: accounts.add_user(queue.db, "x1", "officer", queue.office, None, actor=province),
        lambda: accounts.add_device(queue.db, queue.office, "kiosk", "K", actor=province),
        lambda: accounts.add_user_token(queue.db, "tinh", actor=province),
        lambda: accounts.set_user_offices(queue.db, user, [], actor=province),
    ]
    for attempt in attempts:
        with pytest.raises(ForbiddenError):
            attempt()
    manager = people.user_principal(
        {"id": 99, "role": "manager", "office_id": queue.office, "display_name": "m"}
    )
    with pytest.raises(ForbiddenError):
        accounts.set_user_offices(queue.db, user, [queue.office], actor=manager)
    officer = accounts.add_user(queue.db, "cb", "officer", queue.office, None)
    with pytest.raises(BadInputError, match="Chỉ tài khoản cấp tỉnh"):
        accounts.set_user_offices(queue.db, officer, [queue.office])
    accounts.update_user(queue.db, user, "admin", None)  # no longer province: no offices
    assert people.user_offices(queue.db, user) == frozenset()


def test_a_rating_tablet_names_a_counter_of_its_office(queue):
    other = engine.create_office(queue.db, "Xã khác")
    service = engine.add_service(queue.db, other, "A", "Hộ tịch")
    foreign = engine.add_counter(queue.db, other, 1, [service])
    with pytest.raises(BadInputError, match="gắn với một quầy"):
        accounts.add_device(queue.db, queue.office, "rating", "Máy 1")
    with pytest.raises(BadInputError, match="Không có quầy"):
        accounts.add_device(queue.db, queue.office, "rating", "Máy 1", counter_id=foreign)
    device, token = accounts.add_device(
        queue.db, queue.office, "rating", "Máy 1", counter_id=queue.counters[1]
    )
    assert people.principal_for_token(queue.db, token).counter_id == queue.counters[1]
    accounts.rename_device(queue.db, device, "Máy quầy 2", counter_id=queue.counters[2])
    assert people.principal_for_token(queue.db, token).counter_id == queue.counters[2]
    kiosk, _ = accounts.add_device(
        queue.db, queue.office, "kiosk", "K", counter_id=queue.counters[1]
    )
    assert queue.db.execute("SELECT counter_id FROM devices WHERE id = ?", [kiosk]).fetchone() == (
        None,
    )


# --- the schema step ----------------------------------------------------------------------


def test_the_step_widens_the_checks_and_fills_existing_ratings(tmp_path):
    """On a file made before the step: old ratings get their visit, officer, counter,
    service and dossier code from their ticket; the wider CHECKs hold; nothing breaks."""
    db = connect(tmp_path / "old.db")
    migrate(db, stop_before="0013_ratings_tablets_province")
    office = engine.create_office(db, "Văn phòng cũ")
    service = engine.add_service(db, office, "A", "Hộ tịch")
    counter = engine.add_counter(db, office, 1, [service])
    # A served ticket as that schema stored it (by hand: today's engine writes the columns
    # of later steps too).
    at = "2026-03-02T02:00:00+00:00"
    visit = db.execute(
        "INSERT INTO visits (office_id, token, created_at) VALUES (?, 'old-visit', ?)",
        [office, at],
    ).lastrowid
    ticket = db.execute(
        "INSERT INTO tickets (office_id, service_id, visit_id, day, number, code, status,"
        " issued_at, queue_at, counter_id, called_at, started_at, finished_at, dossier_code)"
        " VALUES (?, ?, ?, '2026-03-02', 1, 'A001', 'done', ?, ?, ?, ?, ?, ?, 'HS-OLD')",
        [office, service, visit, at, at, counter, at, at, at],
    ).lastrowid
    db.execute(
        "INSERT INTO ratings (office_id, ticket_id, level, comment, created_at)"
        " VALUES (?, ?, 1, '', '2026-03-02T02:00:00+00:00')",
        [office, ticket],
    )
    db.execute(
        "INSERT INTO users (username, role, office_id, created_at) VALUES ('x', 'admin', ?, '')",
        [office],
    )
    with pytest.raises(Exception, match="CHECK"):
        db.execute("INSERT INTO users (username, role, created_at) VALUES ('y', 'province', '')")
    migrate(db)
    row = rating_row(db, ticket)
    assert (row["dossier_code"], row["counter_id"], row["service_id"], row["channel"]) == (
        "HS-OLD",
        counter,
        service,
        "tracker",
    )
    assert row["visit_id"] == engine.get_ticket(db, ticket)["visit_id"]
    db.execute("INSERT INTO users (username, role, created_at) VALUES ('y', 'province', '')")
    with pytest.raises(Exception, match="CHECK"):
        db.execute("INSERT INTO users (username, role, created_at) VALUES ('z', 'king', '')")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    again = connect(tmp_path / "old.db")  # another connection reads the new schema
    accounts.add_device(again, office, "rating", "Máy", counter_id=counter)
    again.close()
