"""Counting time in business days, so deadlines never fall due over a weekend or a holiday.

The calendar is data (`rules/holidays.toml`): weekend days, fixed-date public holidays,
holidays relative to Easter and one-off closures.

Rules, chosen so that adding and counting agree:

- `add_business_days(start, n)` keeps the clock time: Monday 10:00 + 3 = Thursday 10:00.
  A start on a non-business day first moves to the *start* (00:00) of the next business day,
  then counts: Saturday 11:00 + 1 = Tuesday 00:00 (Monday 00:00 is "day 0"), and
  Saturday 11:00 + 0 = Monday 00:00.
- `business_days_between(a, b)` is the number of whole business days elapsed from `a` to `b`:
  the largest `n` with `add_business_days(a, n) <= b` (0 when `b` is not after `a`).
  Hence `business_days_between(a, add_business_days(a, n)) == n`.

Days are those of the datetimes given (naive UTC as stored, or aware): the caller picks the
clock. Arithmetic is on the wall clock, the time zone (if any) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from mailflow.core.rules_file import read_toml
from mailflow.errors import RulesError

HOLIDAYS_FILE = "holidays.toml"
ONE_DAY = timedelta(days=1)
_KEYS = frozenset({"weekend", "fixed", "easter_offsets", "extra"})


@lru_cache(maxsize=512)
def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian / Meeus-Jones-Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * shift) // 451
    month, day = divmod(h + shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def _closed_days(
    year: int,
    fixed: tuple[tuple[int, int], ...],
    easter_offsets: tuple[int, ...],
    extra: frozenset[date],
) -> frozenset[date]:
    """Holidays and closures of one year; cached since every day test asks for them."""
    days = {date(year, month, day) for month, day in fixed if _exists(year, month, day)}
    easter = easter_sunday(year)
    days |= {easter + timedelta(days=offset) for offset in easter_offsets}
    days |= {d for d in extra if d.year == year}
    return frozenset(days)


def _exists(year: int, month: int, day: int) -> bool:
    """'02-29' is a holiday only in leap years."""
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days count; see the module docstring for the adding and counting rules."""

    weekend: frozenset[int]
    fixed: tuple[tuple[int, int], ...]  # (month, day)
    easter_offsets: tuple[int, ...]
    extra: frozenset[date]

    def holidays(self, year: int) -> frozenset[date]:
        """Public holidays and one-off closures of `year` (weekends not included)."""
        return _closed_days(year, self.fixed, self.easter_offsets, self.extra)

    def is_business_day(self, d: date) -> bool:
        return d.weekday() not in self.weekend and d not in self.holidays(d.year)

    def next_business_day(self, d: date) -> date:
        """The first business day strictly after `d`."""
        d += ONE_DAY
        while not self.is_business_day(d):
            d += ONE_DAY
        return d

    def business_start(self, moment: datetime) -> datetime:
        """`moment` itself on a business day, else 00:00 of the next business day."""
        if self.is_business_day(moment.date()):
            return moment
        return datetime.combine(self.next_business_day(moment.date()), time(), moment.tzinfo)

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """`start` moved `n` business days ahead, same clock time (see module docstring)."""
        if n < 0:
            raise ValueError(f"add_business_days needs n >= 0, got {n}")
        moment = self.business_start(start)
        day = moment.date()
        for _ in range(n):
            day = self.next_business_day(day)
        return datetime.combine(day, moment.timetz())

    def business_days_between(self, a: datetime, b: datetime) -> int:
        """Whole business days elapsed from `a` to `b`; 0 when `b` is not after `a`."""
        start = self.business_start(a)
        if b <= start:
            return 0
        count, day, end = 0, start.date(), b.date()
        while day < end:
            day += ONE_DAY
            count += self.is_business_day(day)
        if count and self.is_business_day(end) and b < datetime.combine(end, start.timetz()):
            count -= 1  # the last business day has started but is not complete yet
        return count


def load_calendar(rules_dir: Path) -> BusinessCalendar:
    """Read `rules_dir/holidays.toml`; a wrong key or value is reported by file and key."""
    path = Path(rules_dir) / HOLIDAYS_FILE
    data = read_toml(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise RulesError(f"{path}: unknown key {unknown[0]!r} (expected one of {sorted(_KEYS)})")
    return BusinessCalendar(
        weekend=frozenset(_weekdays(path, _list(path, data, "weekend"))),
        fixed=tuple(_month_day(path, v) for v in _list(path, data, "fixed")),
        easter_offsets=tuple(_offset(path, v) for v in _list(path, data, "easter_offsets")),
        extra=frozenset(_iso_date(path, v) for v in _list(path, data, "extra", required=False)),
    )


def _list(path: Path, data: dict[str, Any], key: str, *, required: bool = True) -> list[Any]:
    if key not in data:
        if required:
            raise RulesError(f"{path}: key {key!r} is missing")
        return []
    value = data[key]
    if not isinstance(value, list):
        raise RulesError(f"{path}: key {key!r} must be a list, got {value!r}")
    return value


def _weekdays(path: Path, values: list[Any]) -> list[int]:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 6:
            raise RulesError(f"{path}: key 'weekend': {v!r} is not a weekday number 0..6")
    if len(set(values)) == 7:
        raise RulesError(f"{path}: key 'weekend': every day of the week cannot be a weekend")
    return values


def _month_day(path: Path, value: Any) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        date(2000, month, day)  # a leap year, so "02-29" is accepted
    except ValueError as exc:
        raise RulesError(f"{path}: key 'fixed': {value!r} is not a MM-DD date") from exc
    return month, day


def _offset(path: Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -366 < value < 366:
        raise RulesError(f"{path}: key 'easter_offsets': {value!r} is not a number of days")
    return value


def _iso_date(path: Path, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # TOML local date: extra = [2026-12-24]
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise RulesError(f"{path}: key 'extra': {value!r} is not a YYYY-MM-DD date") from exc
