"""No mail is ever written with a stand-in where a value is missing (issue 12, item 3):
every template that shows a request is rendered for a request of which nothing is known
(no trade, kind, place, age, situation or first name), with any None printed made an
error, and the text read for the stand-ins seen ("votre demande" where the trade goes,
"None", a dangling colon, a doubled space)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, meta

from mailflow.config import PROJECT_ROOT
from mailflow.services.compose import OPTIONS

TEMPLATES = PROJECT_ROOT / "templates" / "mails"
UNKNOWN = {
    "id": 4,
    "kind": None,
    "code_rome": None,
    "trade_label": None,
    "place": None,
    "age": None,
    "age_band": None,
    "situation": None,
    "first_name": None,
    "who": "Une personne",
    "who_short": "cette personne",
    "message": "je sais pas trop quoi faire",
}
KNOWN = UNKNOWN | {"kind": "metier", "code_rome": "D1102", "trade_label": "Boulanger"}
AMBASSADOR = {"first_name": "Lucas", "title": "développeur web", "city": "Cherbourg"}
RELAY = type("Relay", (), {"display_name": "Ambassadeurs", "address": "relay@x.test"})()


def _no_none(value: object) -> object:
    if value is None:
        raise AssertionError("a missing value (None) would be printed in the mail")
    return value


ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), finalize=_no_none, **OPTIONS)


def _showing_a_request() -> list[str]:
    names = []
    for path in sorted(TEMPLATES.glob("*.txt")):
        if path.name.startswith("_"):  # a part included by the others, read within them
            continue
        used = meta.find_undeclared_variables(ENV.parse(path.read_text(encoding="utf-8")))
        if used & {"request", "withdrawn"} and "profile" not in used:  # profile: its own test
            names.append(path.stem)
    return names


def _data(request: dict[str, Any], why: str, with_ambassador: bool) -> dict[str, Any]:
    return {
        "request": request,
        "withdrawn": [request],
        "told": ["Lucas"],
        "profile": {"open": [request]},
        "ambassador": AMBASSADOR if with_ambassador else None,
        "previous": AMBASSADOR,
        "current": AMBASSADOR,
        "relay": RELAY,
        "why": why,
        "number": 1,
        "cause": "no answer",
        "answered": True,
        "outcome": "closed",
        "coordinator": "coordinator@x.test",
        "commands": {},
        "domain": None,
        "trades": [],
        "domains": ["la santé"],
        "first_name": None,
        "asked_on": "02/12/2026",  # already_open
        "added": [],
        "inbound_id": 7,  # late_answer_coordinator
        "earlier": AMBASSADOR,  # offer_withdrawn_ambassador
    }


def _render(name: str, data: dict[str, Any]) -> str:
    source = (TEMPLATES / f"{name}.txt").read_text(encoding="utf-8")
    if data["ambassador"] is None and "{% if ambassador %}" not in source:
        pytest.skip(f"{name} is only written with an ambassador")
    return ENV.get_template(f"{name}.txt").render(**data)


# Their trade's words ("sur\nBoulanger") span a line break: without them, a line less.
FLOWING = {"exchange_ended_ambassador", "feedback_request", "handover", "relay_closed_ambassador"}
WHY = ("left", "unreachable", "coordinator", "silent", "stop")


@pytest.mark.parametrize("name", _showing_a_request())
@pytest.mark.parametrize("why", WHY)
@pytest.mark.parametrize("with_ambassador", [True, False])
def test_a_request_of_which_nothing_is_known_reads_well(
    name: str, why: str, with_ambassador: bool
) -> None:
    text = _render(name, _data(UNKNOWN, why, with_ambassador))
    subject = text.splitlines()[0]
    assert subject.startswith("Subject:")
    assert re.match(r"Subject: [^\n]*\n(\n|Bonjour)", text), text  # no line glued to it
    assert not subject.rstrip().endswith(":") and "( )" not in subject and "()" not in subject
    assert not re.search(r"[:,] votre demande\b", text), text  # the old stand-in for a trade
    assert not re.search(r"\bsur votre demande\b|\bsur\s*\n\s*à\b|« »", text), text
    assert "None" not in text and "  " not in subject and "Bonjour" not in subject
    if name not in FLOWING:  # the same lines, the trade's words left out: none glued on
        known = _render(name, _data(KNOWN, why, with_ambassador))
        assert len(known.splitlines()) == len(text.splitlines()), text


@pytest.mark.parametrize("name", ["intro", "ack", "unmatched_coordinator"])
def test_a_known_trade_still_shows(name: str) -> None:
    text = _render(name, _data(KNOWN, "coordinator", True))
    assert "Boulanger" in text.splitlines()[0]
    assert re.match(r"Subject: [^\n]*\n(\n|Bonjour)", text), text


@pytest.mark.parametrize("name", ["unmatched_coordinator", "escalation_coordinator"])
def test_the_coordinator_reads_words_not_codes(name: str) -> None:
    """Issue 12, item 8: "Type : metier", "Situation : collegien" were seen."""
    request = KNOWN | {"situation": "demandeur_emploi"}
    text = _render(name, _data(request, "coordinator", True))
    assert "Situation : demandeur·se d'emploi" in text
    assert "demandeur_emploi" not in text and "metier" not in text
    if name == "unmatched_coordinator":
        assert "Type : métier" in text
