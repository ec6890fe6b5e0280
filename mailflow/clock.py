"""The one source of 'now', so that MAILFLOW_NOW can drive every time decision."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from mailflow.errors import ConfigError


def now() -> datetime:
    """Current time as an aware UTC datetime; MAILFLOW_NOW (ISO 8601) overrides it."""
    override = os.environ.get("MAILFLOW_NOW", "").strip()
    if not override:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(override.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"MAILFLOW_NOW={override!r} is not an ISO 8601 date-time (e.g. 2026-03-02T09:00:00)"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def stamp() -> datetime:
    """Naive UTC 'now' as stored in the database (both SQLite and PostgreSQL agree on it)."""
    return now().replace(tzinfo=None)


def local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored naive UTC time as the naive wall-clock time of `zone`."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def from_local(wall: datetime, zone: tzinfo) -> datetime:
    """A naive wall-clock time of `zone` as a stored naive UTC time (a time that does not
    exist, in the spring gap, is read with the offset before the change; one that exists
    twice, in autumn, is the first)."""
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def local_now(zone: tzinfo) -> datetime:
    """'now' (MAILFLOW_NOW included) as the naive wall-clock time of `zone`."""
    return local(stamp(), zone)


def local_today(zone: tzinfo) -> date:
    return local_now(zone).date()


def zone_name(zone: tzinfo) -> str:
    """The name people know a zone by ("Europe/Paris"), to say which clock a page shows."""
    return str(getattr(zone, "key", None) or zone)


def day_bounds(
    since: date | None, until: date | None, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Days of `zone` as stored naive UTC bounds [start, end): `since`'s local midnight and
    the local midnight after `until`, so a day is 23 or 25 hours long when clocks change."""
    start = from_local(datetime.combine(since, time()), zone) if since else None
    end = from_local(datetime.combine(until + timedelta(days=1), time()), zone) if until else None
    return start, end


def wall(moment: datetime | None, zone: tzinfo, pattern: str = "%Y-%m-%d %H:%M:%S") -> str | None:
    """A stored naive UTC time as people read it: `zone`'s wall clock, formatted."""
    return local(moment, zone).strftime(pattern) if moment is not None else None


def utc_iso(moment: datetime | None) -> str | None:
    """A stored naive UTC time as a machine's ISO text ('2026-05-04T10:00:00Z'): what
    `--json` gives, to the second, and what wall_iso reads back."""
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def wall_iso(iso: str | None, zone: tzinfo, pattern: str = "%Y-%m-%d %H:%M:%S") -> str | None:
    """The same for a machine's ISO text ('2026-05-04T10:00:00Z', as `--json` gives it)."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso.removesuffix("Z"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return wall(moment, zone, pattern)
