"""The ambassadors' charter and the check of adults who meet children: who may get a request.

A programme's ambassadors sign its charter (*charte ambassadeur*): rules/charter.toml names
the version in force, whether it covers requests from children under 15, and whether an
ambassador who has not signed it gets requests at all (`required`). Requests from children
under 15 go only to ambassadors who signed a version covering minors and whose *contrôle
d'honorabilité* (recorded by a coordinator: who checked, when, valid until) is valid on the
day (`[honorability] required_for_minors`). This module decides on data: the rules, what an
ambassador signed and when their check runs out; services/charter.py asks the database the
same question for routing, and reads the acceptance replies with `reply_verdict`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import words

RULES_FILE = "charter.toml"
VERSION_LENGTH = 32  # the stored column (charter_signature.version)


@dataclass(frozen=True)
class HonorabilityRules:
    required_for_minors: bool  # under-15 requests: a minors-covering signature and a valid check
    valid_days: int  # a check recorded without --valid-until is valid this many days


@dataclass(frozen=True)
class CharterRules:
    version: str  # the version in force, as stored with each signature ("2026-1")
    covers_minors: bool  # whether signing this version commits to the rules for minors
    required: bool  # False: ambassadors get adults' requests without having signed
    remind_after_days: int  # days between the welcome mail and each reminder
    reminders: int  # how many reminders at most
    accept: re.Pattern[str]  # on words(): a reply that accepts
    refuse: re.Pattern[str]  # on words(): negations ("pas d'accord") that make it unclear
    honorability: HonorabilityRules

    @property
    def asked(self) -> bool:
        """Whether ambassadors are asked to sign at all (mails, reminders)."""
        return self.required or self.honorability.required_for_minors


def load_charter_rules(path: Path) -> CharterRules:
    """rules/charter.toml (or the file given instead, see context.charter_file)."""
    data = read_toml(Path(path))
    try:
        return build_charter_rules(data)
    except BUILD_ERRORS as exc:
        raise rules_error(Path(path), exc) from exc


def _flag(table: dict, key: str) -> bool:
    value = table[key]
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _days(table: dict, key: str, least: int) -> int:
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{key} must be a whole number, at least {least}")
    return value


def _phrases(items: list[str], key: str) -> re.Pattern[str]:
    keys = sorted({words(str(i)) for i in items if words(str(i))}, key=len, reverse=True)
    if not keys:
        raise ValueError(f"{key} names no word")
    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(re.escape(k) for k in keys)})(?![a-z0-9])")


def build_charter_rules(data: dict) -> CharterRules:
    version = data["version"]
    if not isinstance(version, str) or not version.strip() or len(version) > VERSION_LENGTH:
        raise ValueError(f"version must be a text of 1 to {VERSION_LENGTH} characters")
    honorability = data["honorability"]
    return CharterRules(
        version=version.strip(),
        covers_minors=_flag(data, "covers_minors"),
        required=_flag(data, "required"),
        remind_after_days=_days(data, "remind_after_days", 1),
        reminders=_days(data, "reminders", 0),
        accept=_phrases(data["accept_words"], "accept_words"),
        refuse=_phrases(data["refuse_words"], "refuse_words"),
        honorability=HonorabilityRules(
            required_for_minors=_flag(honorability, "required_for_minors"),
            valid_days=_days(honorability, "valid_days", 1),
        ),
    )


# -- who may get a request ---------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    version: str
    covers_minors: bool


@dataclass(frozen=True)
class Standing:
    """What the directory holds of one ambassador: the versions they accepted, their check."""

    signed: tuple[Signed, ...] = ()
    checked_on: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Requirement:
    """What an ambassador must have to be offered one request (None: nothing more)."""

    version: str | None  # this version accepted (the one in force), or None
    minors: bool  # a version covering minors accepted, and a check valid on the day


class Refusal(StrEnum):
    """Why an ambassador is not offered a request; the values are stored in the log."""

    UNSIGNED = "charter-unsigned"  # the version in force not accepted (maybe an older one)
    MINORS_NOT_COVERED = "charter-not-covering-minors"
    NO_CHECK = "honorability-missing"
    CHECK_EXPIRED = "honorability-expired"


def requirement(rules: CharterRules, minor: bool) -> Requirement | None:
    """What the policy asks for a request from an adult (`minor` False) or a child under 15."""
    minors = minor and rules.honorability.required_for_minors
    version = rules.version if rules.required else None
    if version is None and not minors:
        return None
    return Requirement(version=version, minors=minors)


def check_valid(standing: Standing, today: date) -> bool:
    """A recorded check that has started and not run out on `today` (its last day counts)."""
    return (
        standing.checked_on is not None
        and standing.valid_until is not None
        and standing.checked_on <= today <= standing.valid_until
    )


def refusal(standing: Standing, need: Requirement | None, today: date) -> Refusal | None:
    """Why this ambassador may not be offered the request, or None when they may."""
    if need is None:
        return None
    if need.version is not None and need.version not in {s.version for s in standing.signed}:
        return Refusal.UNSIGNED
    if need.minors:
        if not any(s.covers_minors for s in standing.signed):
            return Refusal.MINORS_NOT_COVERED
        if standing.checked_on is None or standing.valid_until is None:
            return Refusal.NO_CHECK
        if not check_valid(standing, today):
            return Refusal.CHECK_EXPIRED
    return None


def valid_until(checked_on: date, given: date | None, rules: HonorabilityRules) -> date:
    """The last day a check is valid: the date the coordinator gave, else `valid_days` on."""
    return given if given is not None else checked_on + timedelta(days=rules.valid_days)


# -- reading the ambassador's reply --------------------------------------------------------


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    UNCLEAR = "unclear"


def reply_verdict(own_words: str, rules: CharterRules) -> Verdict:
    """An acceptance is a word of `accept_words` in the ambassador's own words (the quoted
    charter cut off) and no negation of `refuse_words`: "je ne suis pas d'accord" is not one."""
    text = words(own_words)
    if rules.accept.search(text) and not rules.refuse.search(text):
        return Verdict.ACCEPTED
    return Verdict.UNCLEAR


def reminder_due(asked_days_ago: float, reminders_sent: int, rules: CharterRules) -> bool:
    """Whether the next reminder is due: `remind_after_days` after the welcome mail, then
    after each reminder, `reminders` times at most."""
    if reminders_sent >= rules.reminders:
        return False
    return asked_days_ago >= rules.remind_after_days * (reminders_sent + 1)
