"""The business-day calendar: French holidays from rules/holidays.toml, adding and counting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.business_days import BusinessCalendar, easter_sunday, load_calendar
from mailflow.errors import RulesError


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return load_calendar(PROJECT_ROOT / "rules")


def write_rules(tmp_path: Path, text: str) -> Path:
    (tmp_path / "holidays.toml").write_text(text, encoding="utf-8")
    return tmp_path


MINIMAL = 'weekend = [5, 6]\nfixed = ["01-01"]\neaster_offsets = [1]\n'


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # the latest possible date
        (2285, date(2285, 3, 22)),  # the earliest possible date
    ],
)
def test_easter_sunday(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def test_the_eleven_public_holidays_of_2026(cal: BusinessCalendar) -> None:
    assert cal.holidays(2026) == {
        date(2026, 1, 1),  # Jour de l'an
        date(2026, 4, 6),  # Lundi de Pâques
        date(2026, 5, 1),  # Fête du travail
        date(2026, 5, 8),  # Victoire 1945
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Lundi de Pentecôte
        date(2026, 7, 14),  # Fête nationale
        date(2026, 8, 15),  # Assomption
        date(2026, 11, 1),  # Toussaint
        date(2026, 11, 11),  # Armistice
        date(2026, 12, 25),  # Noël
    }


def test_easter_holidays_of_2024(cal: BusinessCalendar) -> None:
    moving = {date(2024, 4, 1), date(2024, 5, 9), date(2024, 5, 20)}
    assert moving <= cal.holidays(2024)
    assert len(cal.holidays(2024)) == 11


def test_is_business_day(cal: BusinessCalendar) -> None:
    assert cal.is_business_day(date(2026, 3, 2))  # a Monday
    assert not cal.is_business_day(date(2026, 3, 7))  # Saturday
    assert not cal.is_business_day(date(2026, 3, 8))  # Sunday
    assert not cal.is_business_day(date(2026, 5, 8))  # Friday, holiday
    assert cal.is_business_day(date(2026, 12, 24))  # no closure shipped for Christmas Eve


def test_keeps_the_clock_time(cal: BusinessCalendar) -> None:
    monday = datetime(2026, 3, 2, 10, 0)
    assert cal.add_business_days(monday, 0) == monday
    assert cal.add_business_days(monday, 3) == datetime(2026, 3, 5, 10, 0)  # Thursday


def test_weekends_are_skipped(cal: BusinessCalendar) -> None:
    thursday = datetime(2026, 3, 5, 16, 30)
    assert cal.add_business_days(thursday, 1) == datetime(2026, 3, 6, 16, 30)  # Friday
    assert cal.add_business_days(thursday, 2) == datetime(2026, 3, 9, 16, 30)  # Monday
    assert cal.add_business_days(thursday, 7) == datetime(2026, 3, 16, 16, 30)


def test_a_holiday_is_skipped(cal: BusinessCalendar) -> None:
    # 8 May 2026 is a Friday and a holiday: Thu 7 -> Mon 11, Tue 12, Wed 13.
    thursday = datetime(2026, 5, 7, 10, 0)
    assert cal.add_business_days(thursday, 3) == datetime(2026, 5, 13, 10, 0)


def test_ascension_week(cal: BusinessCalendar) -> None:
    # Wed 13 May 2026 + 1: Thursday 14 is Ascension -> Friday 15.
    assert cal.add_business_days(datetime(2026, 5, 13, 9), 1) == datetime(2026, 5, 15, 9)


def test_christmas_and_new_year(cal: BusinessCalendar) -> None:
    # Thu 24 Dec 2026: Fri 25 (Noël), Sat, Sun, Mon 28, Tue 29, Wed 30, Thu 31, Fri 1 Jan (Jour
    # de l'an), Sat, Sun, Mon 4 Jan 2027.
    start = datetime(2026, 12, 24, 8, 15)
    assert cal.add_business_days(start, 1) == datetime(2026, 12, 28, 8, 15)
    assert cal.add_business_days(start, 4) == datetime(2026, 12, 31, 8, 15)
    assert cal.add_business_days(start, 5) == datetime(2027, 1, 4, 8, 15)


def test_start_on_a_saturday_counts_from_monday_midnight(cal: BusinessCalendar) -> None:
    saturday = datetime(2026, 3, 7, 11, 0)
    assert cal.add_business_days(saturday, 0) == datetime(2026, 3, 9, 0, 0)
    assert cal.add_business_days(saturday, 1) == datetime(2026, 3, 10, 0, 0)
    assert cal.business_days_between(saturday, datetime(2026, 3, 9, 23, 59)) == 0
    assert cal.business_days_between(saturday, datetime(2026, 3, 10, 0, 0)) == 1


def test_start_on_a_holiday(cal: BusinessCalendar) -> None:
    # Easter Monday 6 April 2026, 14:00 -> counting starts Tuesday 7 at 00:00.
    assert cal.add_business_days(datetime(2026, 4, 6, 14), 2) == datetime(2026, 4, 9, 0, 0)


def test_aware_datetimes_keep_their_zone(cal: BusinessCalendar) -> None:
    start = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)  # Friday
    assert cal.add_business_days(start, 1) == datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
    assert cal.add_business_days(saturday, 0) == datetime(2026, 3, 9, tzinfo=UTC)


def test_between_counts_whole_days_only(cal: BusinessCalendar) -> None:
    monday = datetime(2026, 3, 2, 10, 0)
    assert cal.business_days_between(monday, monday) == 0
    assert cal.business_days_between(monday, datetime(2026, 3, 3, 9, 59)) == 0
    assert cal.business_days_between(monday, datetime(2026, 3, 3, 10, 0)) == 1
    assert cal.business_days_between(monday, datetime(2026, 3, 8, 23, 0)) == 4  # Sunday
    assert cal.business_days_between(monday, datetime(2026, 3, 9, 10, 0)) == 5
    assert cal.business_days_between(monday, datetime(2026, 2, 27)) == 0  # before the start


def test_negative_n_is_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="n >= 0"):
        cal.add_business_days(datetime(2026, 3, 2), -1)


def test_round_trip_over_two_years_of_starts(cal: BusinessCalendar) -> None:
    """between(a, add(a, n)) == n, and one microsecond earlier is still n - 1."""
    start = datetime(2025, 12, 1, 0, 0)
    tick = timedelta(microseconds=1)
    for step in range(0, 2 * 366 * 24, 7):  # every 7 hours: all clock times and weekdays
        a = start + timedelta(hours=step)
        for n in (0, 1, 2, 3, 5, 10, 23):
            b = cal.add_business_days(a, n)
            assert b >= a
            assert cal.is_business_day(b.date()), (a, n)
            assert cal.business_days_between(a, b) == n, (a, n, b)
            if n:
                assert cal.business_days_between(a, b - tick) == n - 1, (a, n, b)


def test_extra_closures_from_the_file(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, MINIMAL + 'extra = ["2026-12-24", 2026-12-31]\n')
    cal = load_calendar(rules)
    assert cal.extra == {date(2026, 12, 24), date(2026, 12, 31)}
    assert date(2026, 12, 24) in cal.holidays(2026)
    assert date(2026, 12, 24) not in cal.holidays(2027)
    # Wed 23 Dec + 1: Thu 24 (closure) -> Fri 25 (no Noël in this minimal file).
    assert cal.add_business_days(datetime(2026, 12, 23, 9), 1) == datetime(2026, 12, 25, 9)


def test_alsace_moselle_variant(tmp_path: Path) -> None:
    text = 'weekend = [5, 6]\nfixed = ["12-25", "12-26"]\neaster_offsets = [-2, 1]\n'
    cal = load_calendar(write_rules(tmp_path, text))
    assert cal.holidays(2026) == {
        date(2026, 4, 3),  # Vendredi saint
        date(2026, 4, 6),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }
    assert cal.extra == frozenset()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('fixed = ["01-01"]\neaster_offsets = [1]\n', "'weekend' is missing"),
        ('weekend = [5, 7]\nfixed = ["01-01"]\neaster_offsets = [1]\n', "key 'weekend'"),
        ('weekend = 5\nfixed = ["01-01"]\neaster_offsets = [1]\n', "key 'weekend'"),
        ('weekend = [5, 6]\nfixed = ["13-01"]\neaster_offsets = [1]\n', "key 'fixed'"),
        ('weekend = [5, 6]\nfixed = ["01-01"]\neaster_offsets = ["lundi"]\n', "'easter_offsets'"),
        (MINIMAL + 'extra = ["24/12/2026"]\n', "key 'extra'"),
        (MINIMAL + "extras = []\n", "unknown key 'extras'"),
        (MINIMAL + "weekend = [5]\n", "holidays.toml"),  # duplicate key: invalid TOML
    ],
)
def test_bad_file_names_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    rules = write_rules(tmp_path, text)
    with pytest.raises(RulesError, match="holidays.toml") as info:
        load_calendar(rules)
    assert key in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="holidays.toml"):
        load_calendar(tmp_path)
