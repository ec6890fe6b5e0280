"""The local year ('YYYY') and month ('YYYY-MM') of a stored time, in SQL, for `mailflow stats`.

Stored times are naive UTC; the statistics file each one under the year and month of its
wall-clock time in `[schedule] timezone`.

- PostgreSQL has a zone database: `to_char((t AT TIME ZONE 'UTC') AT TIME ZONE 'zone', ..)`.
- SQLite has none. The zone's offsets over the period are worked out here with zoneinfo:
  its UTC offset is constant between changes, so within each such piece the wall-clock
  time is `t + offset` and the label (year or month) changes only at the UTC instant
  `wall start of a month - offset`. That gives a sorted list of UTC instants, each opening
  a label, and the SQL looks the stored text up in it with a balanced tree of
  `CASE WHEN t < '2025-03-31 22:00:00' THEN .. ELSE .. END` (plain text comparisons,
  about log2(months) per value, no function call). Built for the span of the stored times
  to be read (the year asked for, or the earliest to the latest request); a time outside
  it (a conversation after the last request) goes through a Python function registered
  on the connection, as exact and rare enough not to cost. Exact for any
  zone (no DST, half-hour offsets, historical changes, even a wall clock set back over a
  month start) as long as the offset does not change twice within `STEP` (offsets are
  sampled every `STEP` and each change found to the second): tzdata's closest changes
  since 1900 are 4 days apart (Africa/Freetown, 1939).
- UTC (a zone named so: UTC, Etc/UTC, GMT...) keeps the plain prefix of the stored text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from peewee import SQL, Case, NodeList, Value, fn

from mailflow.clock import local

STEP = timedelta(days=1)
SECOND = timedelta(seconds=1)
_PG_PATTERN = {4: "YYYY", 7: "YYYY-MM"}
UTC_NAMES = {
    f"{prefix}{name}"
    for prefix in ("", "Etc/")
    for name in ("UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich")
}


def zone_name(zone: tzinfo) -> str:
    """The zone's tz database name (for PostgreSQL), 'UTC' for datetime.UTC."""
    if zone is UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if not key:
        raise ValueError(f"{zone!r}: a time zone of the tz database is needed (ZoneInfo)")
    return key


def _offset(zone: tzinfo, moment: datetime) -> timedelta:
    return moment.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)


def offsets(zone: tzinfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """[(since, offset)] over [start, end] (naive UTC): `start` first, then each UTC instant
    (to the second) where the offset changes."""
    start = start.replace(microsecond=0)  # changes fall on whole seconds
    if end.microsecond:
        end = end.replace(microsecond=0) + SECOND
    pieces = [(start, _offset(zone, start))]
    at = start
    while at < end:
        nxt = min(at + STEP, end)
        if _offset(zone, nxt) != pieces[-1][1]:
            lo, hi = at, nxt  # offset(lo) is the piece's, offset(hi) is not
            while hi - lo > SECOND:
                mid = (lo + (hi - lo) / 2).replace(microsecond=0)
                if _offset(zone, mid) == pieces[-1][1]:
                    lo = mid
                else:
                    hi = mid
            pieces.append((hi, _offset(zone, hi)))
            at = hi
        else:
            at = nxt
    return pieces


def _next_start(wall: datetime, width: int) -> datetime:
    """The first wall-clock year (width 4) or month (7) start after `wall`."""
    if width == 4:
        return datetime(wall.year + 1, 1, 1)
    return datetime(wall.year + wall.month // 12, wall.month % 12 + 1, 1)


def labels(zone: tzinfo, start: datetime, end: datetime, width: int) -> list[tuple[datetime, str]]:
    """[(since, label)]: from `since` (naive UTC) on, until the next one, the wall-clock
    time of every instant of [start, end] in `zone` begins with `label` (width 4: 'YYYY',
    7: 'YYYY-MM'). The first entry also holds before `start`, the last after `end`."""
    pieces = offsets(zone, start, end)
    out: list[tuple[datetime, str]] = []
    for i, (since, offset) in enumerate(pieces):
        until = pieces[i + 1][0] if i + 1 < len(pieces) else end + SECOND
        wall = since + offset
        new = [(since, str(wall)[:width])]
        boundary = _next_start(wall, width)
        while boundary - offset < until:
            new.append((boundary - offset, str(boundary)[:width]))
            boundary = _next_start(boundary, width)
        for entry in new:
            if not out or out[-1][1] != entry[1]:
                out.append(entry)
    return out


def lookup(column: Any, table: list[tuple[datetime, str | None]], outside: str) -> Any:
    """SQL: the label of `column` (stored text) in `table` (sorted), a balanced CASE tree;
    where the label is None, the SQL function `outside`(column)."""

    def tree(lo: int, hi: int) -> Any:
        if hi - lo == 1:
            label = table[lo][1]
            return getattr(fn, outside)(column) if label is None else Value(label)
        mid = (lo + hi) // 2
        bound = table[mid][0].isoformat(sep=" ")
        return Case(None, [(column < Value(bound), tree(lo, mid))], tree(mid, hi))

    return tree(0, len(table))


class LocalTime:
    """Year and month expressions of a stored time for one zone: `year(col)`, `month(col)`.

    On SQLite the labels are looked up for the stored times of [start, end] (naive UTC);
    a time outside it (a conversation after the last request...) is converted by a Python
    function registered on the connection: exact, and rare enough not to cost.
    """

    def __init__(self, zone: tzinfo, start: datetime, end: datetime, connection: Any) -> None:
        self.postgres = connection is None
        self.name = zone_name(zone)
        self.utc = self.name in UTC_NAMES  # the stored time as it is
        self.tables: dict[int, list[tuple[datetime, str | None]]] = {}
        if self.postgres or self.utc:
            return
        start = start.replace(microsecond=0)
        after = end + timedelta(microseconds=1)  # the first stored time past `end`
        for width in (4, 7):
            table: list[tuple[datetime, str | None]] = [(datetime.min, None)]
            table += labels(zone, start, end, width) + [(after, None)]
            self.tables[width] = table

            def outside(text: str | None, width: int = width) -> str | None:
                if text is None:
                    return None
                return str(local(datetime.fromisoformat(text), zone))[:width]

            connection.create_function(f"mailflow_local_{width}", 1, outside, deterministic=True)

    def _prefix(self, column: Any, width: int) -> Any:
        if self.postgres:
            if not self.utc:
                utc = NodeList((column, SQL("AT TIME ZONE 'UTC'")), parens=True)
                column = NodeList((utc, SQL("AT TIME ZONE"), Value(self.name)), parens=True)
            return fn.to_char(column, _PG_PATTERN[width]).coerce(False)
        if self.utc:
            return fn.substr(column, 1, width).coerce(False)  # SQLite stores ISO text
        return lookup(column, self.tables[width], f"mailflow_local_{width}")

    def year(self, column: Any) -> Any:
        return self._prefix(column, 4)

    def month(self, column: Any) -> Any:
        return self._prefix(column, 7)
