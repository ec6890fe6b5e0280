"""The pure decisions of a child's consent (core/consent.py) and the adult's address read
from a child's reply (understand/adult_address.py), on the real rules/minors.toml."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core import consent as cs
from mailflow.core import lifecycle as lc
from mailflow.core.consent import Answer, Ask, Step, consent_plan, due_step, read_answer
from mailflow.errors import RulesError
from mailflow.understand.adult_address import addresses_in

POLICY = cs.load_minors_policy(PROJECT_ROOT / "rules")
WORDS = POLICY.words
assert WORDS is not None
CHILD = "lea.martin2014@gmail.com"


def test_the_real_rules_hold_a_child_for_a_guardian_and_ask_about_a_copy() -> None:
    assert POLICY.consent == cs.GUARDIAN and POLICY.holds
    assert POLICY.guardian_copy == cs.ASK
    assert POLICY.remind_after_days == (3, 7) and POLICY.expire_after_days == 14


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('consent = "parent"', "minors.consent"),
        ('guardian_copy = "sometimes"', "minors.guardian_copy"),
        ("expire_after_days = 5", "expire_after_days"),
        ("remind_after_days = [7, 3]", "remind_after_days"),
    ],
)
def test_a_wrong_value_is_named_by_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    source = (PROJECT_ROOT / "rules" / "minors.toml").read_text(encoding="utf-8")
    key = text.split(" =")[0]
    lines = [text if line.startswith(f"{key} =") else line for line in source.splitlines()]
    (tmp_path / "minors.toml").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RulesError, match=rf"minors\.toml.*{where}"):
        cs.load_minors_policy(tmp_path)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "minors.toml").write_text('[minors]\nconsent = "guardian"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="minors.guardian_copy"):
        cs.load_minors_policy(tmp_path)


# -- whom to ask -----------------------------------------------------------------------------


def test_a_child_alone_is_asked_for_an_adult() -> None:
    plan = consent_plan(cs.GUARDIAN, CHILD)
    assert plan.ask == Ask.CHILD and plan.adult is None and plan.child_mail
    assert not plan.writer_is_adult


def test_an_adult_in_copy_is_asked_and_the_child_told() -> None:
    plan = consent_plan(cs.GUARDIAN, CHILD, ("Sophie.Martin@orange.fr", CHILD))
    assert plan.ask == Ask.CC and plan.adult == "sophie.martin@orange.fr"
    assert plan.with_child and plan.child_mail


@pytest.mark.parametrize("role", sorted(cs.ADULT_WRITERS))
def test_an_adult_who_wrote_for_the_child_is_asked_directly(role: str) -> None:
    plan = consent_plan(cs.GUARDIAN, "m.dupont@ac-caen.fr", (), writer_role=role)
    assert plan.ask == Ask.WRITER and plan.adult == "m.dupont@ac-caen.fr"
    assert plan.writer_is_adult and not plan.child_mail  # no child's address to write to


def test_an_unknown_role_is_the_young_person() -> None:
    assert consent_plan(cs.GUARDIAN, CHILD, (), writer_role=None).ask == Ask.CHILD
    assert consent_plan(cs.GUARDIAN, CHILD, (), writer_role="eleve").ask == Ask.CHILD


def test_review_asks_nobody_but_the_coordinator() -> None:
    plan = consent_plan(cs.REVIEW, CHILD, ("maman@free.fr",), writer_role="parent")
    assert plan.ask == Ask.COORDINATOR and plan.adult is None


# -- the adult's answer ----------------------------------------------------------------------

SUBJECT = "Re: Votre accord pour un échange avec un professionnel"


@pytest.mark.parametrize(
    ("text", "expected", "copy"),
    [
        ("OUI", Answer.YES, False),
        ("oui", Answer.YES, False),
        ("Bonjour, oui bien sûr, je suis d'accord. Cordialement, Sophie Martin", Answer.YES, False),
        ("Oui copie svp", Answer.YES, True),
        ("OUI COPIE", Answer.YES, True),
        ("ok pour moi, mettez-moi en copie", Answer.YES, True),
        ("NON", Answer.NO, False),
        ("Non merci, elle est trop jeune.", Answer.NO, False),
        ("Je ne suis pas d'accord.", Answer.NO, False),
        ("je refuse", Answer.NO, False),
        ("STOP", Answer.NO, False),
        ("C'est gratuit ? Qui sont ces gens ?", Answer.UNCLEAR, False),
        ("oui... enfin non, je ne sais pas", Answer.UNCLEAR, False),
        ("", Answer.UNCLEAR, False),
    ],
)
def test_before_consenting(text: str, expected: Answer, copy: bool) -> None:
    read = read_answer(text, SUBJECT, WORDS, given=False)
    assert read.answer == expected and read.copy == copy


def test_our_subject_quoted_back_is_not_their_answer() -> None:
    """ "Re: Votre accord ..." names our word, not theirs."""
    assert read_answer("Qui êtes-vous ?", SUBJECT, WORDS, False).answer == Answer.UNCLEAR
    assert read_answer("", "oui", WORDS, False).answer == Answer.YES  # their own subject


@pytest.mark.parametrize(
    ("text", "expected", "copy"),
    [
        ("RETIRER", Answer.WITHDRAW, False),
        ("Je retire mon accord, merci", Answer.WITHDRAW, False),
        ("stop", Answer.WITHDRAW, False),
        ("non finalement", Answer.WITHDRAW, False),
        ("COPIE", Answer.UNCLEAR, True),
        ("merci beaucoup !", Answer.UNCLEAR, False),
        ("oui", Answer.UNCLEAR, False),
    ],
)
def test_after_consenting(text: str, expected: Answer, copy: bool) -> None:
    read = read_answer(text, SUBJECT, WORDS, given=True)
    assert read.answer == expected and read.copy == copy


def test_the_copy_follows_the_policy() -> None:
    assert cs.keeps_copy(cs.ASK, True) and not cs.keeps_copy(cs.ASK, False)
    assert cs.keeps_copy(cs.ALWAYS, False)
    assert not cs.keeps_copy(cs.NEVER, True)


# -- reminders and expiry --------------------------------------------------------------------

ASKED = datetime(2026, 3, 2, 9, 0)


@pytest.mark.parametrize(
    ("days", "sent", "step"),
    [
        (2, 0, Step.WAIT),
        (3, 0, Step.REMIND),
        (3, 1, Step.WAIT),
        (6, 1, Step.WAIT),
        (7, 1, Step.REMIND),
        (8, 0, Step.REMIND),  # a daemon stopped for days: one reminder, then the next
        (13, 2, Step.WAIT),
        (14, 2, Step.EXPIRE),
        (30, 0, Step.EXPIRE),
    ],
)
def test_reminders_then_expiry(days: int, sent: int, step: Step) -> None:
    assert due_step(ASKED, sent, ASKED + timedelta(days=days), POLICY) == step


# -- the adult's address in a child's reply --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("cest ma maman son adresse c sophie.martin@orange.fr", ["sophie.martin@orange.fr"]),
        ("Voilà l'adresse de mon père : Jean.Martin@Free.fr.", ["jean.martin@free.fr"]),
        ("mon prof : m.dupont@ac-caen.fr merci", ["m.dupont@ac-caen.fr"]),
        (f"moi c'est {CHILD} et maman c'est maman@wanadoo.fr", ["maman@wanadoo.fr"]),
        ("je demande a ma mere ce soir", []),
        ("relay+abcdefghijklmnopqrstuvwx@mailflow.test", []),
        ("sophie..martin@orange.fr", []),
    ],
)
def test_an_address_in_a_childs_words(text: str, found: list[str]) -> None:
    assert addresses_in(text, frozenset({CHILD}), "mailflow.test") == found


def test_every_place_that_names_states_names_awaiting_consent() -> None:
    """The digest's labels (digest.txt) and the report's and stats' (labels.toml [states])."""
    digest = (PROJECT_ROOT / "templates" / "mails" / "digest.txt").read_text(encoding="utf-8")
    labels = (PROJECT_ROOT / "rules" / "labels.toml").read_text(encoding="utf-8")
    for state in lc.TRANSITIONS:
        assert f'"{state}":' in digest.splitlines()[0], state
        assert f"\n{state} = " in labels, state
