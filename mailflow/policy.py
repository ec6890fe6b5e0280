"""The follow-up policy, read from rules/followup.toml into one frozen object."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import RulesError


@dataclass(frozen=True)
class FollowupPolicy:
    first_reminder_after: int
    second_reminder_after: int
    reassign_after: int
    nudge_after_days: int
    feedback_after_days: int
    feedback_close_after_days: int
    needs_info_expire_after_days: int
    unmatched_retry_hour_utc: int
    unmatched_expire_after_days: int
    digest_hour_utc: int
    every_seconds: int


_KEYS = {
    "first_reminder_after": ("ambassador", "first_reminder_after"),
    "second_reminder_after": ("ambassador", "second_reminder_after"),
    "reassign_after": ("ambassador", "reassign_after"),
    "nudge_after_days": ("person", "nudge_after_days"),
    "feedback_after_days": ("feedback", "ask_after_days"),
    "feedback_close_after_days": ("feedback", "close_after_days"),
    "needs_info_expire_after_days": ("needs_info", "expire_after_days"),
    "unmatched_retry_hour_utc": ("unmatched", "retry_hour_utc"),
    "unmatched_expire_after_days": ("unmatched", "expire_after_days"),
    "digest_hour_utc": ("digest", "hour_utc"),
    "every_seconds": ("scheduler", "every_seconds"),
}


@lru_cache(maxsize=4)
def load_policy(rules_dir: Path) -> FollowupPolicy:
    path = rules_dir / "followup.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: {exc}") from exc
    values: dict[str, int] = {}
    for field, (section, key) in _KEYS.items():
        value = data.get(section, {}).get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RulesError(f"{path}: {section}.{key} must be a whole number >= 0, got {value!r}")
        values[field] = value
    policy = FollowupPolicy(**values)
    if not policy.first_reminder_after < policy.second_reminder_after < policy.reassign_after:
        raise RulesError(
            f"{path}: ambassador delays must grow: first_reminder_after < "
            "second_reminder_after < reassign_after"
        )
    hours = {"digest.hour_utc": policy.digest_hour_utc}
    hours["unmatched.retry_hour_utc"] = policy.unmatched_retry_hour_utc
    for key, hour in hours.items():
        if hour > 23:
            raise RulesError(f"{path}: {key} must be 0..23")
    return policy
