"""rules/console.toml: the coordinators' console's limits (sign-in attempts, links) and
what its *À traiter* page counts as stalled. Read with every rule file at start-up
(context.load_rules), so a wrong value is named by file and key before anything serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error


@dataclass(frozen=True)
class ConsoleRules:
    """rules/console.toml, read once when the console starts."""

    account_failures: int = 10
    account_lock: timedelta = timedelta(minutes=15)
    address_failures: int = 30
    address_window: timedelta = timedelta(minutes=15)
    link_lifetime: timedelta = timedelta(minutes=15)
    link_interval: timedelta = timedelta(minutes=1)
    stalled: timedelta = timedelta(days=3)
    alert_age: timedelta = timedelta(days=14)


def load_console_rules(rules_dir: Path) -> ConsoleRules:
    path = rules_dir / "console.toml"
    data = read_toml(path, optional=True)
    if not data:
        return ConsoleRules()
    try:
        signin, todo = data["signin"], data["todo"]
        numbers = {
            "signin.account_failures": signin["account_failures"],
            "signin.account_lock_minutes": signin["account_lock_minutes"],
            "signin.address_failures": signin["address_failures"],
            "signin.address_window_minutes": signin["address_window_minutes"],
            "signin.link_minutes": signin["link_minutes"],
            "signin.link_interval_minutes": signin["link_interval_minutes"],
            "todo.stalled_days": todo["stalled_days"],
            "todo.alert_days": todo["alert_days"],
        }
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a whole number of at least 1, got {value!r}")
        return ConsoleRules(
            account_failures=numbers["signin.account_failures"],
            account_lock=timedelta(minutes=numbers["signin.account_lock_minutes"]),
            address_failures=numbers["signin.address_failures"],
            address_window=timedelta(minutes=numbers["signin.address_window_minutes"]),
            link_lifetime=timedelta(minutes=numbers["signin.link_minutes"]),
            link_interval=timedelta(minutes=numbers["signin.link_interval_minutes"]),
            stalled=timedelta(days=numbers["todo.stalled_days"]),
            alert_age=timedelta(days=numbers["todo.alert_days"]),
        )
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc
