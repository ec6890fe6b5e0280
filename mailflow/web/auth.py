"""Signing in, in pieces that need no server: password hashes (argon2), one-time passwords,
the limits on attempts (rules/console.toml [signin]) and what the console tolerates.

The decisions take data (the failed attempts, now) and return data (a French refusal or
None), so they are tested without a database; accounts.py reads the attempts and applies.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mailflow.core.console_rules import ConsoleRules

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
