"""Who writes (issue 14): adults writing for a young person are recognised by their role,
and the age and situation read are the young person's; young people who mention an adult
("ma mère est infirmière", "mon prof m'a dit", "ma conseillère m'a conseillé de vous écrire")
stay the writers, and so do adults asking for themselves ("je suis éducatrice spécialisée et
je voudrais faire une VAE").

The mails are in tests/understanding/writers.jsonl: one a line, with the role a coordinator
would write ("writer": one of core.values.WRITER_ROLES, null when the person writes for
themselves), and the age, situation and young person's own address when the mail says them
(null: not checked)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.values import SITUATIONS, WRITER_ROLES
from mailflow.errors import RulesError
from mailflow.understand.mail import understand
from mailflow.understand.rules import load_understanding_rules
from tests.shared_rules import shared

ROOT = PROJECT_ROOT
CASES = [
    json.loads(line)
    for line in (ROOT / "tests" / "understanding" / "writers.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
DAY = date(2026, 12, 7)


@pytest.fixture(scope="module")
def rules():  # noqa: ANN201
    return shared(ROOT / "rules")


def _read(rules, case: dict):  # noqa: ANN001, ANN202
    return understand(case["subject"], case["body"], rules.referential, rules.understanding, DAY)


def test_the_corpus_holds_enough_of_each() -> None:
    adults = [c for c in CASES if c["writer"]]
    assert len(adults) >= 40 and len(CASES) - len(adults) >= 20
    assert {c["writer"] for c in adults} == set(WRITER_ROLES)  # every role, at least once
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert all(c["situation"] in (*SITUATIONS, None) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_who_wrote_and_for_whom(rules, case: dict) -> None:  # noqa: ANN001
    parsed = _read(rules, case)
    assert parsed.writer_role == case["writer"], parsed.notes
    if case["age"] is not None:
        assert parsed.age == case["age"], parsed.notes
    if case["situation"] is not None:
        assert parsed.situation == case["situation"], parsed.notes
    if case["address"] is not None:
        assert parsed.young_address == case["address"]
    if case["writer"] is None:
        assert parsed.young_address is None
        assert not any(note.startswith("writer:") for note in parsed.notes)


def test_the_writers_job_is_neither_the_trade_nor_the_situation(rules) -> None:  # noqa: ANN001
    [case] = [c for c in CASES if c["id"] == "maman-fille-13"]  # "je suis infirmière et ..."
    parsed = _read(rules, case)
    assert parsed.writer_role == "parent" and parsed.trade.code_rome == "A1504"  # vétérinaire
    assert (parsed.age, parsed.situation) == (13, "collegien")


def test_a_teacher_writing_for_a_class_is_one_request_noted(rules) -> None:  # noqa: ANN001
    for name in ("prof-principale-classe", "prof-lettres-classe"):
        [case] = [c for c in CASES if c["id"] == name]
        parsed = _read(rules, case)
        assert parsed.writer_role == "enseignant"
        assert any("several pupils, one request" in note for note in parsed.notes), name
    [one] = [c for c in CASES if c["id"] == "prof-techno-eleve"]  # one pupil: no class
    assert not any("several pupils" in n for n in _read(rules, one).notes)


def test_the_young_persons_address_is_read_only_where_the_adult_gives_it(rules) -> None:  # noqa: ANN001
    [case] = [c for c in CASES if c["id"] == "ml-caen-17"]
    assert _read(rules, case).young_address == "enzo.lemaire@laposte.net"
    signed = {**case, "body": case["body"].replace("Il vous écrira de son adresse", "Voici")}
    assert _read(rules, signed).young_address is None  # an address alone says nothing


def test_an_unknown_role_in_the_rules_is_named(tmp_path: Path) -> None:
    for name in ("understanding.toml", "english.toml"):
        (tmp_path / name).write_text((ROOT / "rules" / name).read_text("utf-8"), "utf-8")
    path = tmp_path / "understanding.toml"
    path.write_text(
        path.read_text("utf-8").replace('name = "animateur"', 'name = "moniteur"', 1), "utf-8"
    )
    with pytest.raises(RulesError, match="understanding.toml") as info:
        load_understanding_rules(tmp_path)
    assert "moniteur" in str(info.value)


def test_a_later_mail_keeps_who_wrote() -> None:
    """The role stays when a reply (details) or the same request again (join) says none,
    and a later mail that names one fills a request that had none."""
    from mailflow.core.completion import completed
    from mailflow.core.duplicates import completion

    stored = {"writer_role": "conseiller_insertion", "age": None}
    assert completed(stored, {"writer_role": None, "age": 17}) == {"age": 17}
    assert completion(stored, {"writer_role": None, "age": 17}) == {"age": 17}
    assert completion({"writer_role": None}, {"writer_role": "parent"}) == {"writer_role": "parent"}
