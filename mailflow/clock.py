"""The one source of 'now', so that MAILFLOW_NOW can drive every time decision."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, tzinfo

from .errors import ConfigError


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
