"""What a person reads: numbers the Vietnamese way (formats.py), times and dates on the
office's clock (clock.py), and the template filters every room uses for both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xephang import clock, formats


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (1.6, 1, "1,6"),
        (95, 1, "95,0"),
        (1234, 0, "1.234"),
        (1234567.5, 1, "1.234.567,5"),
        (0.05, 1, "0,1"),  # half away from zero
        (-0.04, 1, "0,0"),  # no "-0,0"
        (-2.25, 1, "-2,3"),
        (None, 1, "—"),
    ],
)
def test_numbers_have_a_decimal_comma_and_dots_between_thousands(value, places, shown):
    assert formats.number(value, places) == shown


def test_minutes_and_percentages():
    assert formats.minutes(96) == "1,6"
    assert formats.minutes(None) == "—"
    assert formats.percent(0.95) == "95,0 %"
    assert formats.percent(0.9567) == "95,7 %"
    assert formats.number(12345.6, 1, grouping=False) == "12345,6"  # a spreadsheet cell


def test_a_long_silence_is_said_in_hours_or_days_not_thousands_of_minutes():
    assert formats.duration(30 * 60) == "30 phút"
    assert formats.duration(5 * 3600) == "5 giờ"
    assert formats.duration(183.2 * 86400) == "183 ngày"


def test_days_and_times_as_a_person_reads_them():
    assert clock.shown_day("2023-01-05") == "05/01/2023"
    assert clock.shown_day(None) == ""
    # 21:22 UTC is 04:22 the next morning in Hà Nội.
    assert clock.shown("2026-06-01T21:22:00.000+00:00", "Asia/Ho_Chi_Minh") == "02/06/2026 04:22"
    seen = datetime(2026, 6, 1, 21, 22, 5, 123456, tzinfo=UTC)
    assert clock.file_stamp("Asia/Ho_Chi_Minh", seen) == "20260602T042205123456"
    assert clock.local_now("Asia/Ho_Chi_Minh", seen).hour == 4


@pytest.mark.parametrize(
    ("day", "written"),
    [
        ("2026-03-05", "ngày 05 tháng 3 năm 2026"),  # a day below 10 takes a zero
        ("2026-02-15", "ngày 15 tháng 02 năm 2026"),  # so do the months 1 and 2
        ("2026-12-31", "ngày 31 tháng 12 năm 2026"),
    ],
)
def test_a_printed_date_line_follows_the_decree_on_administrative_documents(day, written):
    assert clock.written_day(day) == written


def test_every_room_has_the_filters_and_the_manager_macros_use_them(app):
    render = app.jinja_env.from_string
    assert render("{{ 96|minutes }} · {{ 0.95|percent }} · {{ 12345|number }}").render() == (
        "1,6 · 95,0 % · 12.345"
    )
    assert render("{{ '2023-01-05'|localday }} · {{ '2023-01-05'|writtenday }}").render() == (
        "05/01/2023 · ngày 05 tháng 01 năm 2023"
    )
    macros = render(
        '{% from "manager/_macros.html" import minutes, pct %}{{ minutes(96) }}|{{ pct(0.95) }}'
        "|{{ minutes(none) }}"
    )
    assert macros.render() == "1,6|95,0 %|—"


def test_the_printer_test_ticket_says_the_office_time():
    from printers.cli import test_receipt

    seen = datetime(2026, 6, 1, 21, 22, tzinfo=UTC)
    assert test_receipt("http://x/", "Asia/Ho_Chi_Minh", seen).issued_at == "02/06/2026 04:22"
