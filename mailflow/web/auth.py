"""Signing in, in pieces that need no server: password hashes (argon2), one-time passwords,
the limits on attempts (rules/console.toml [signin]) and what the console tolerates.

The decisions take data (the failed attempts, now) and return data (a French refusal or
None), so they are tested without a database; accounts.py reads the attempts and applies.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error

ROLES = ("coordinator", "observer")
MIN_PASSWORD_LENGTH = 12
# argon2id with the library's defaults (RFC 9106's second recommended set): ~50 ms a check,
# which is also what slows a guesser down between the limits below.
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(stored: str | None, given: str) -> bool:
    """Whether `given` is the password `stored` hashes; never raises (a damaged or missing
    hash is a wrong password)."""
    if not stored or not given:
        return False
    try:
        return _HASHER.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A one-time password to hand over (16 characters, ~96 bits)."""
    return secrets.token_urlsafe(12)


def password_problem(password: str) -> str | None:
    """Why a chosen password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"le mot de passe doit faire au moins {MIN_PASSWORD_LENGTH} caractères"
    return None


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


def _minutes(left: timedelta) -> str:
    n = max(1, math.ceil(left.total_seconds() / 60))
    return f"{n} minute{'s' if n > 1 else ''}"


def refusal(
    account_failures: Sequence[datetime],
    address_failures: Sequence[datetime],
    now: datetime,
    rules: ConsoleRules,
) -> str | None:
    """Why a sign-in is refused before its password is even checked, in French, or None.

    `account_failures`: the account's failed attempts since its last good one, oldest
    first; `address_failures`: the client address's failed attempts within the window."""
    if len(account_failures) >= rules.account_failures:
        left = account_failures[-1] + rules.account_lock - now
        if left > timedelta(0):
            return (
                "Trop de mots de passe erronés pour ce compte : il est bloqué pendant encore "
                f"{_minutes(left)}. Réessayez plus tard, ou demandez à un coordinateur."
            )
    recent = [t for t in address_failures if now - t < rules.address_window]
    if len(recent) >= rules.address_failures:
        left = recent[0] + rules.address_window - now
        return (
            "Trop d'essais de connexion manqués depuis votre adresse : "
            f"réessayez dans {_minutes(left)}."
        )
    return None
