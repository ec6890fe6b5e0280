"""Issue 10, item 2, without a mail stack: the first-name rule, the request text as an
ambassador reads it, and the templates' no-name wording."""

from __future__ import annotations

import re

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.masking.leaks import find_leaks
from mailflow.masking.request_text import shown_text
from mailflow.masking.scrub import MASK, Secret
from mailflow.services.compose import render
from mailflow.services.intake import first_name_from_display
from mailflow.understand.first_names import first_name_or_none
from mailflow.understand.mail import load_understanding_rules, understand
from tests.shared_rules import shared

RULES = PROJECT_ROOT / "rules"
TEMPLATES = PROJECT_ROOT / "templates" / "mails"
RELAY = "relay@mailflow.test"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zoé", "Zoé"),
        ("Zoe\u0301", "Zoé"),  # decomposed accent, as some clients send it
        ("Jean-Baptiste", "Jean-Baptiste"),
        ("N'Golo", "N'Golo"),
        ("N’Golo", "N’Golo"),
        ("Marie Claire", "Marie Claire"),
        ("  Marie   Claire ", "Marie Claire"),
        ("Anne Marie Louise Jeanne", "Anne Marie Louise Jeanne"),
        ("dave@x", None),
        ("dave@evil.test", None),
        ("Dave@evil.test", None),
        ("Léa2010", None),
        ("x" * 200, None),
        ("Léa " * 50, None),
        ("Anne Marie Louise Jeanne Sophie", None),  # five words: a sentence, not a name
        ("Léa <lea@x.fr>", None),
        ("Léa\u200bMartin", None),  # an invisible character
        ("-Léa", None),
        ("Léa--Rose", None),
        ("L", None),
        ("", None),
        (None, None),
    ],
)
def test_a_first_name_is_a_name_or_nothing(value: str | None, expected: str | None) -> None:
    assert first_name_or_none(value) == expected


def test_the_display_name_gives_no_address_and_keeps_names() -> None:
    assert first_name_from_display("Léa Martin") == "Léa"
    assert first_name_from_display("Jean-Baptiste Durand") == "Jean-Baptiste"
    assert first_name_from_display("dave@evil.test") is None
    assert first_name_from_display("Léa2010") is None


@pytest.fixture(scope="module")
def understanding():  # noqa: ANN201 - (referential, rules)
    return shared(RULES).referential, load_understanding_rules(RULES)


def test_a_form_line_with_an_address_is_no_first_name(understanding) -> None:  # noqa: ANN001
    ref, rules = understanding
    body = "Prénom : dave@evil.test\nJe voudrais rencontrer une boulangère près de Caen."
    parsed = understand("Demande", body, ref, rules)
    assert parsed.understood and parsed.first_name is None
    body = "Prénom : zoé\nJe voudrais rencontrer une boulangère près de Caen."
    assert understand("Demande", body, ref, rules).first_name == "Zoé"


OWN = "person1@users.test"
THIRD = ("sophie.x@maman.test", "eleve.perso@ailleurs.test", "paul.durand@famille.test")
WRITTEN = [
    "Vous pouvez joindre ma mère : sophie.x@maman.test",
    "mon autre adresse : eleve.perso@ailleurs.test.",
    "mon cousin : paul point durand arobase famille point test",
    "ou paul.durand at famille.test",
    "ou PAUL.DURAND [at] famille [dot] test",
    "ou paul.durand(at)famille(dot)test",
    "ou sophie.x＠maman.test",
    "ou sophie.x&#64;maman.test",
    "ou so\u00adphie.x@maman.test",
    "moi : person1 chez users point test",
    "moi : person1 @ users . test",
]


@pytest.mark.parametrize("line", WRITTEN)
def test_any_address_in_the_persons_text_is_masked(line: str) -> None:
    shown = shown_text(f"Bonjour,\n{line}\nMerci", OWN, keep=(RELAY,))
    assert not find_leaks(shown, [Secret(a, "x") for a in (OWN, *THIRD)]), shown
    assert MASK in shown and shown.startswith("Bonjour,\n") and shown.endswith("\nMerci")


def test_prose_and_the_relay_address_stay() -> None:
    text = (
        "Je fais un stage chez Orange.fr et j'ai un point de vue sur le métier.\n"
        "Ça coûte 2.50 euros, à 8 h 30. J'ai écrit à relay@mailflow.test hier.\n"
        "Mon point fort : la patience, arobase ou pas."
    )
    assert shown_text(text, OWN, keep=(RELAY,)) == text


def test_no_address_stored_still_masks_every_address() -> None:
    assert shown_text("écrire à sophie.x@maman.test", None) == f"écrire à {MASK}"
    assert shown_text("", None) == ""


def test_dot_words_without_an_at_word_mask_nothing() -> None:
    """'a point a point ...' is no address (and, the words joined by dot words being
    bounded, each start looks a few words ahead only: 20,000 of them stay quick)."""
    text = "a point " * 20_000
    assert shown_text(text, OWN) == text


def _render(name: str, first_name: str | None) -> str:
    who = first_name or "Une personne"
    request = {
        "id": 1,
        "kind": "metier",
        "code_rome": "D1102",
        "trade_label": "Boulanger",
        "place": "Caen (14)",
        "age": 15,
        "age_band": "10-15 ans",
        "situation": "collegien",
        "first_name": first_name,
        "who": who,
        "who_short": first_name or "cette personne",
        "message": "Bonjour",
    }
    ambassador = {"first_name": "Marie", "title": "boulangère", "city": "Caen"}
    relay = type("Relay", (), {"display_name": "Ambassadeurs", "address": RELAY})()
    data = {"request": request, "ambassador": ambassador, "relay": relay, "number": 1}
    rendered = render(TEMPLATES, name, data)
    return f"Subject: {rendered.subject}\n{rendered.text}"


@pytest.mark.parametrize("name", ["intro", "ack", "reminder_ambassador"])
def test_templates_read_well_without_a_name(name: str) -> None:
    text = _render(name, None)
    assert "None" not in text and "{{" not in text and "{%" not in text
    assert not re.search(r"Bonjour ,|Bonjour\s+,", text)
    if name == "intro":
        assert "Une personne aimerait échanger" in text
        assert "cette personne ne verra que l'adresse du réseau" in text
    if name == "ack":
        assert "Bonjour,\n" in text
    assert "Zoé" in _render(name, "Zoé")
