"""A demo office: Vietnamese services, six counters, demo users and devices."""

from __future__ import annotations

import sqlite_utils

from .. import engine
from ..engine import accounts
from ..queries import office as office_queries
from ..queries import people

DEMO_PASSWORD = "xephang-demo"
OFFICE_NAME = "Trung tâm Phục vụ hành chính công (Demo)"
KIOSK_NAME = "Kiosk sảnh chính"
DISPLAY_NAME = "TV phòng chờ"
TABLET_NAME = "Máy đánh giá quầy 1"

SERVICES = (
    ("A", "Hộ tịch", "Civil status", "Tư pháp - Hộ tịch"),
    ("B", "Chứng thực", "Certification", "Tư pháp - Chứng thực"),
    ("C", "Đất đai", "Land", "Tài nguyên - Môi trường"),
    ("D", "Đăng ký kinh doanh", "Business registration", "Kinh tế"),
    ("E", "Xây dựng", "Construction permits", "Xây dựng"),
    ("F", "Lao động - Thương binh và Xã hội", "Labour and social affairs", "Lao động - Xã hội"),
)
# Each lĩnh vực's English name (the kiosk's English mode).
FIELDS_EN = {
    "Tư pháp - Hộ tịch": "Justice - Civil status",
    "Tư pháp - Chứng thực": "Justice - Certification",
    "Tài nguyên - Môi trường": "Natural resources and environment",
    "Kinh tế": "Economy",
    "Xây dựng": "Construction",
    "Lao động - Xã hội": "Labour and social affairs",
}
# counter number -> services served, in order of preference
COUNTERS = {1: "AB", 2: "BA", 3: "C", 4: "DE", 5: "ED", 6: "FA"}
PRIORITY = (
    ("elderly", "Người cao tuổi", "Elderly", 0),
    ("disability", "Người khuyết tật", "People with disabilities", 0),
    ("pregnant", "Phụ nữ mang thai", "Pregnant women", 0),
    ("merit", "Người có công với cách mạng", "Persons with meritorious service", 0),
    ("child", "Người đi cùng trẻ dưới 6 tuổi", "With a child under 6", 1),
)


def seed_demo(db: sqlite_utils.Database) -> dict:
    """Create the demo office once; return its ids, users and fresh device tokens."""
    existing = [o["id"] for o in office_queries.offices(db) if o["name"] == OFFICE_NAME]
    if existing:
        office_id = existing[0]
    else:
        office_id = engine.create_office(
            db,
            OFFICE_NAME,
            address="Số 1 Đường Trần Hưng Đạo, Phường Demo",
            ticket_footer="Cảm ơn quý khách!",  # the receipt says how to scan its QR code
        )
        ids = {}
        for order, (prefix, vi, en, field) in enumerate(SERVICES):
            ids[prefix] = engine.add_service(
                db, office_id, prefix, vi, en, field, sort_order=order, field_en=FIELDS_EN[field]
            )
        for number, prefixes in COUNTERS.items():
            engine.add_counter(db, office_id, number, [ids[p] for p in prefixes])
        for key, vi, en, rank in PRIORITY:
            engine.add_priority_category(db, office_id, key, vi, en, rank)
        # The demo password is published and on the common-passwords list: only the
        # demo's own accounts may have it.
        accounts.add_user(
            db, "admin", "admin", None, DEMO_PASSWORD, "Quản trị hệ thống", check=False
        )
        accounts.add_user(
            db, "quanly", "manager", office_id, DEMO_PASSWORD, "Trưởng bộ phận", check=False
        )
        for n in range(1, 7):
            accounts.add_user(
                db,
                f"canbo{n}",
                "officer",
                office_id,
                DEMO_PASSWORD,
                f"Cán bộ quầy {n}",
                check=False,
            )
        accounts.add_user(
            db,
            "tinh",
            "province",
            None,
            DEMO_PASSWORD,
            "Văn phòng UBND tỉnh",
            check=False,
            offices=[office_id],
        )
    # Tokens are stored hashed and cannot be shown again: each run pairs fresh
    # demo devices and revokes the ones an earlier run printed.
    for kind, name in (("kiosk", KIOSK_NAME), ("display", DISPLAY_NAME), ("rating", TABLET_NAME)):
        for row in people.list_devices(db, office_id):
            if row["kind"] == kind and row["name"] == name and row["revoked_at"] is None:
                accounts.revoke_device(db, row["id"])
    _, kiosk_token = accounts.add_device(db, office_id, "kiosk", KIOSK_NAME)
    _, display_token = accounts.add_device(db, office_id, "display", DISPLAY_NAME)
    counter_1 = next(c["id"] for c in office_queries.counters(db, office_id) if c["number"] == 1)
    _, rating_token = accounts.add_device(
        db, office_id, "rating", TABLET_NAME, counter_id=counter_1
    )
    board_id = engine.get_office(db, office_id)["board_id"]
    return {
        "office_id": office_id,
        "kiosk_token": kiosk_token,
        "display_token": display_token,
        "rating_token": rating_token,
        "board_id": board_id,
        "users": {
            "admin": "admin",
            "quanly": "manager",
            **{f"canbo{n}": "officer" for n in range(1, 7)},
            "tinh": "province",
        },
        "password": DEMO_PASSWORD,
    }
