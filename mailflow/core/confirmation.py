"""Which commands from unproven mail wait for their sender's confirmation
(rules/confirmation.toml); asking and confirming is services/confirm.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error

RULES_FILE = "confirmation.toml"


@dataclass(frozen=True)
class ConfirmationRules:
    ambassador_commands: frozenset[str]
    person_stop: bool
    feedback: bool
    expire_after: timedelta


def load_confirmation_rules(rules_dir: Path) -> ConfirmationRules:
    path = Path(rules_dir) / RULES_FILE
    data = read_toml(path)
    try:
        days = int(data["expire_after_days"])
        if days < 1:
            raise ValueError("expire_after_days must be at least 1")
        return ConfirmationRules(
            ambassador_commands=frozenset(str(c) for c in data["ambassador_commands"]),
            person_stop=bool(data["person_stop"]),
            feedback=bool(data["feedback"]),
            expire_after=timedelta(days=days),
        )
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc
