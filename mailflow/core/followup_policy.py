"""The follow-up policy, read from rules/followup.toml into one frozen object."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mailflow.core.rules_file import read_toml
from mailflow.errors import RulesError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowupPolicy:
    first_reminder_after: int
    second_reminder_after: int
    reassign_after: int
    nudge_after_days: int
    feedback_after_days: int
    feedback_close_after_days: int
    needs_info_expire_after_days: int
    unmatched_retry_hour: int  # local time, like the digest's
    unmatched_expire_after_days: int
    digest_hour: int  # local time ([schedule] timezone of the configuration)
    every_seconds: int
    # The digest's age bands of open requests: (first whole day since the request, label),
    # first day 0 then growing; a band runs up to the next one's first day.
    digest_age_bands: tuple[tuple[int, str], ...] = ()
    # [alerts] (core/alerts.py): a pending alert waits this long, so that a burst makes one
    # mail; the coordinator gets at most one mail per kind in each interval.
    alert_batch_minutes: int = 5
    alert_interval_minutes: int = 60
    # The same person asking again for the same trade within this many days, while their
    # first request is open, joins it (core/duplicates.py) instead of opening another.
    duplicate_window_days: int = 30


DEFAULT_AGE_BANDS = [
    {"from_day": 0, "label": "moins de 3 jours"},
    {"from_day": 3, "label": "3 à 7 jours"},
    {"from_day": 8, "label": "8 à 14 jours"},
    {"from_day": 15, "label": "plus de 14 jours"},
]

_KEYS = {
    "first_reminder_after": ("ambassador", "first_reminder_after"),
    "second_reminder_after": ("ambassador", "second_reminder_after"),
    "reassign_after": ("ambassador", "reassign_after"),
    "nudge_after_days": ("person", "nudge_after_days"),
    "feedback_after_days": ("feedback", "ask_after_days"),
    "feedback_close_after_days": ("feedback", "close_after_days"),
    "needs_info_expire_after_days": ("needs_info", "expire_after_days"),
    "unmatched_retry_hour": ("unmatched", "retry_hour"),
    "unmatched_expire_after_days": ("unmatched", "expire_after_days"),
    "digest_hour": ("digest", "hour"),
    "every_seconds": ("scheduler", "every_seconds"),
}


def load_policy(rules_dir: Path) -> FollowupPolicy:
    path = Path(rules_dir) / "followup.toml"
    data = read_toml(path)
    digest = data.get("digest", {})
    if "hour" not in digest and "hour_utc" in digest:
        # Rules written before [schedule] timezone: the hour is now read as local time.
        log.warning("%s: digest.hour_utc is read as digest.hour, in local time", path)
        digest["hour"] = digest["hour_utc"]
    values: dict[str, int] = {}
    for field, (section, key) in _KEYS.items():
        value = data.get(section, {}).get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RulesError(f"{path}: {section}.{key} must be a whole number >= 0, got {value!r}")
        values[field] = value
    window = data.get("duplicates", {}).get("window_days", 30)  # older rules lack it
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        raise RulesError(f"{path}: duplicates.window_days must be a whole number >= 0")
    policy = FollowupPolicy(
        **values,
        digest_age_bands=_age_bands(path, data),
        **_alert_delays(path, data),
        duplicate_window_days=window,
    )
    if not policy.first_reminder_after < policy.second_reminder_after < policy.reassign_after:
        raise RulesError(
            f"{path}: ambassador delays must grow: first_reminder_after < "
            "second_reminder_after < reassign_after"
        )
    hours = {"digest.hour": policy.digest_hour, "unmatched.retry_hour": policy.unmatched_retry_hour}
    for key, hour in hours.items():
        if hour > 23:
            raise RulesError(f"{path}: {key} must be 0..23")
    return policy


def _alert_delays(path: Path, data: dict) -> dict[str, int]:
    """[alerts] batch_minutes and interval_minutes; rules written before them get the
    defaults."""
    section = data.get("alerts", {})
    values = {}
    for key in ("batch_minutes", "interval_minutes"):
        value = section.get(key, getattr(FollowupPolicy, f"alert_{key}"))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RulesError(f"{path}: alerts.{key} must be a whole number >= 0, got {value!r}")
        values[f"alert_{key}"] = value
    return values


def _age_bands(path: Path, data: dict) -> tuple[tuple[int, str], ...]:
    """[digest] age_bands: a list of {from_day, label}, from day 0, days growing."""
    bands = data.get("digest", {}).get("age_bands", DEFAULT_AGE_BANDS)  # older rules lack it
    where = f"{path}: digest.age_bands"
    if not isinstance(bands, list) or not bands:
        raise RulesError(f"{where} must be a non-empty list of {{from_day, label}}")
    found: list[tuple[int, str]] = []
    for band in bands:
        if not isinstance(band, dict) or set(band) != {"from_day", "label"}:
            raise RulesError(f'{where}: each band is {{from_day = N, label = "..."}}, got {band!r}')
        day, label = band["from_day"], band["label"]
        if not isinstance(day, int) or isinstance(day, bool) or day < 0:
            raise RulesError(f"{where}: from_day must be a whole number >= 0, got {day!r}")
        if not isinstance(label, str) or not label.strip():
            raise RulesError(f"{where}: label must be a non-empty text, got {label!r}")
        found.append((day, label.strip()))
    days = [day for day, _ in found]
    if days[0] != 0 or days != sorted(set(days)):
        raise RulesError(f"{where}: from_day must start at 0 and grow, got {days}")
    if len({label for _, label in found}) != len(found):
        raise RulesError(f"{where}: two bands have the same label")
    return tuple(found)
