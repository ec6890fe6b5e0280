"""How long mail waits after a failure: one row after a 4xx, the whole outbox while the
SMTP server cannot be reached (see send.py's docstring).

The outbox-wide wait is kept in `Setting`, so cron runs and the daemon alike honour it, and
it uses up none of the rows' attempts: they wait as long as the server is away.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from mailflow.clock import stamp
from mailflow.store.models import Setting, database

log = logging.getLogger(f"{__package__}.send")  # its lines keep the name they had in send.py
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1200, 3600)
SERVER_RETRY_AT = "smtp_retry_at"  # Setting: no connection attempt before this instant
SERVER_FAILURES = "smtp_failures"  # Setting: consecutive connection failures


def backoff(attempt: int) -> int:
    """Seconds to wait after the `attempt`-th failure in a row: 30 s up to an hour."""
    return BACKOFF_SECONDS[min(max(attempt, 1) - 1, len(BACKOFF_SECONDS) - 1)]


def _setting(key: str) -> str | None:
    found = Setting.get_or_none(Setting.key == key)
    return found.value if found else None


def _put(key: str, value: str) -> None:
    """Insert or update (an upsert PostgreSQL and SQLite both understand)."""
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}
    ).execute()


def server_retry_at() -> datetime | None:
    value = _setting(SERVER_RETRY_AT)
    return datetime.fromisoformat(value) if value else None


def server_down(why: str) -> None:
    failures = int(_setting(SERVER_FAILURES) or 0) + 1
    delay = backoff(failures)
    retry_at = stamp() + timedelta(seconds=delay)
    with database.atomic():
        _put(SERVER_FAILURES, str(failures))
        _put(SERVER_RETRY_AT, retry_at.isoformat())
    log.warning("SMTP server unreachable (%s); outbox waits %ss (failure %s)", why, delay, failures)


def server_up() -> None:
    if _setting(SERVER_FAILURES) is not None:
        Setting.delete().where(Setting.key.in_([SERVER_FAILURES, SERVER_RETRY_AT])).execute()
        log.info("SMTP server reachable again")
