"""Who may be offered a request under the charter's policy (core/charter.py), and how an
ambassador's answer to the welcome mail is read: pure decisions, on the shipped rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.charter import (
    Refusal,
    Requirement,
    Signed,
    Standing,
    Verdict,
    build_charter_rules,
    load_charter_rules,
    refusal,
    reminder_due,
    reply_verdict,
    requirement,
    valid_until,
)
from mailflow.core.feedback_answer import load_feedback_rules, own_words
from mailflow.core.rules_file import read_toml
from mailflow.errors import RulesError

RULES = load_charter_rules(PROJECT_ROOT / "rules" / "charter.toml")  # the default policy
FEEDBACK = load_feedback_rules(PROJECT_ROOT / "rules")
TODAY = date(2026, 3, 10)
CURRENT = Signed(RULES.version, covers_minors=True)
OLD = Signed("2025-1", covers_minors=True)
ADULTS_ONLY = Signed(RULES.version, covers_minors=False)
CHECKED = {"checked_on": date(2026, 1, 5), "valid_until": date(2029, 1, 5)}


def test_the_shipped_policy_requires_the_charter_and_vetting_for_children() -> None:
    assert RULES.required and RULES.covers_minors and RULES.asked
    assert RULES.honorability.required_for_minors
    assert requirement(RULES, minor=False) == Requirement(RULES.version, minors=False)
    assert requirement(RULES, minor=True) == Requirement(RULES.version, minors=True)


@pytest.mark.parametrize(
    ("standing", "adult", "child"),
    [
        (Standing(), Refusal.UNSIGNED, Refusal.UNSIGNED),
        (Standing(signed=(OLD,), **CHECKED), Refusal.UNSIGNED, Refusal.UNSIGNED),
        (Standing(signed=(CURRENT,)), None, Refusal.NO_CHECK),
        (Standing(signed=(ADULTS_ONLY,), **CHECKED), None, Refusal.MINORS_NOT_COVERED),
        (Standing(signed=(OLD, ADULTS_ONLY), **CHECKED), None, None),  # covered before
        (Standing(signed=(CURRENT,), **CHECKED), None, None),
        (
            Standing(signed=(CURRENT,), checked_on=date(2023, 1, 1), valid_until=date(2026, 3, 9)),
            None,
            Refusal.CHECK_EXPIRED,
        ),
        (
            Standing(signed=(CURRENT,), checked_on=date(2026, 3, 11), valid_until=date(2029, 1, 1)),
            None,
            Refusal.CHECK_EXPIRED,  # recorded ahead of the day it was done: not valid yet
        ),
    ],
)
def test_who_may_get_an_adults_and_a_childs_request(standing, adult, child) -> None:  # noqa: ANN001
    assert refusal(standing, requirement(RULES, minor=False), TODAY) == adult
    assert refusal(standing, requirement(RULES, minor=True), TODAY) == child


def test_a_check_is_valid_through_its_last_day() -> None:
    standing = Standing(signed=(CURRENT,), checked_on=date(2026, 1, 1), valid_until=TODAY)
    need = requirement(RULES, minor=True)
    assert refusal(standing, need, TODAY) is None
    assert refusal(standing, need, date(2026, 3, 11)) == Refusal.CHECK_EXPIRED


def test_not_required_lets_adults_requests_through_but_not_childrens() -> None:
    lenient = replace(RULES, required=False)
    assert requirement(lenient, minor=False) is None
    assert refusal(Standing(), requirement(lenient, minor=False), TODAY) is None
    need = requirement(lenient, minor=True)
    assert need == Requirement(None, minors=True)
    assert refusal(Standing(signed=(OLD,), **CHECKED), need, TODAY) is None  # any covering one
    assert refusal(Standing(), need, TODAY) == Refusal.MINORS_NOT_COVERED
    nothing = replace(lenient, honorability=replace(RULES.honorability, required_for_minors=False))
    assert requirement(nothing, minor=True) is None and not nothing.asked


def test_a_check_without_an_end_lasts_valid_days() -> None:
    rules = RULES.honorability
    last = valid_until(date(2026, 3, 2), None, rules)
    assert (last - date(2026, 3, 2)).days == rules.valid_days
    assert valid_until(date(2026, 3, 2), date(2027, 1, 1), rules) == date(2027, 1, 1)


def test_reminders_are_spaced_and_counted() -> None:
    every, most = RULES.remind_after_days, RULES.reminders
    assert not reminder_due(every - 0.5, 0, RULES)
    assert reminder_due(every, 0, RULES)
    assert not reminder_due(every * 2 - 0.5, 1, RULES)
    assert reminder_due(every * 2, 1, RULES)
    assert not reminder_due(every * 50, most, RULES)


# As ambassadors answer, from a phone, a laptop, in a hurry; the charter quoted below.
QUOTED = "\n\nLe lun. 2 mars 2026 à 09:00, Ambassadeurs <relay+abc@mailflow.test> a écrit :\n> "
ACCEPTED = [
    "J'ACCEPTE",
    "j’accepte",
    "Oui",
    "oui j'accepte la charte, merci !",
    "D'accord pour moi. Bonne journée\nMarc",
    "Bonjour,\n\nLu et approuvé.\n\nCordialement,\nSophie Leroy",
    "ok 👍\n\nEnvoyé de mon iPhone",
    "J accepte",
    "Oui, pas de souci !",
]
UNCLEAR = [
    "Je ne suis pas d'accord avec le point 4.",
    "Bonjour, je n'accepte pas de rencontrer des jeunes seuls.",
    "C'est quoi le contrôle d'honorabilité ?",
    "Je regarde ça ce week-end",
    "non merci",
    "",
    "Je vous réponds plus tard, oui",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_an_acceptance_as_people_write_it(text: str) -> None:
    body = text + QUOTED + "CHARTE DES AMBASSADEURS\n> 1. Parler de mon métier ... oui"
    assert reply_verdict(own_words(body, FEEDBACK), RULES) == Verdict.ACCEPTED


@pytest.mark.parametrize("text", UNCLEAR)
def test_anything_else_is_unclear_even_above_a_quoted_charter_that_says_oui(text: str) -> None:
    body = text + QUOTED + "Pour l'accepter, répondez J'ACCEPTE\n> oui d'accord"
    assert reply_verdict(own_words(body, FEEDBACK), RULES) == Verdict.UNCLEAR


def test_a_wrong_value_is_named_by_key(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "rules" / "charter.toml").read_text(encoding="utf-8")
    for old, new, said in [
        ("required = true", 'required = "oui"', "required must be true or false"),
        ("reminders = 2", "reminders = -1", "reminders must be a whole number"),
        ('version = "2026-1"', 'version = ""', "version must be a text"),
        ("valid_days = 1095", "", "honorability.valid_days"),
    ]:
        path = tmp_path / "charter.toml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(RulesError) as refused:
            load_charter_rules(path)
        assert str(path) in str(refused.value) and said in str(refused.value)


def test_the_tests_policy_differs_from_the_default_only_in_its_two_switches() -> None:
    """The suite's opt-in (tests/conftest.py) is the shipped policy with nothing filtered."""
    fixture = PROJECT_ROOT / "tests" / "fixtures" / "charter_signed_on_paper.toml"
    lenient = build_charter_rules(read_toml(fixture))
    assert not lenient.required and not lenient.honorability.required_for_minors
    honorability = replace(lenient.honorability, required_for_minors=True)
    assert replace(lenient, required=True, honorability=honorability) == RULES
