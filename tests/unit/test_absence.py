"""Return dates in ambassadors' ABSENT commands and out-of-office replies (core/absence.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.absence import autoreply_return, command_return, load_date_rules

RULES = load_date_rules(PROJECT_ROOT / "rules")
NOVEMBER = datetime(2026, 11, 20, 9)  # a Friday
BACK_ON_4_JANUARY = date(2027, 1, 4)


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, je suis absente et reviendrai le 4 janvier. Marie",
        "Je serai absent pendant les fêtes, je reviendrai le 4 janvier 2027.",
        "Congés : je reprends le 04/01/2027.",
        "Je reprends lundi 4 janvier.",
        "De retour le lundi 4 janvier.",
        "Je suis en congés. Retour lundi 4/1.",
        "Date de retour : 4 janvier",
        "Reprise le 04.01.27",
        "Je serai joignable à partir du lundi 4 janvier 2027.",
        "Absente, de nouveau disponible le 4 janvier.",
        "Dès le 4 janvier je traiterai votre message.",
        "Absent jusqu'au 3/1",
        "Absente jusqu’au dimanche 3 janvier inclus.",
        "Je suis absente du 19 décembre au 3 janvier.",
    ],
)
def test_out_of_office_return_dates(text: str) -> None:
    assert autoreply_return(text, RULES, NOVEMBER) == BACK_ON_4_JANUARY


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("jusqu'au 3/1", BACK_ON_4_JANUARY),  # inclusive: back the day after
        ("jusqu'au 4/1", date(2027, 1, 5)),
        ("je reprends le 04/01/2027", BACK_ON_4_JANUARY),  # back that day, not the next
        ("reviendrai le 4 janvier", BACK_ON_4_JANUARY),
        ("de retour le lundi 4 janvier", BACK_ON_4_JANUARY),
        ("du 19/12 au 03/01", BACK_ON_4_JANUARY),
    ],
)
def test_absent_command_dates(text: str, back: date) -> None:
    assert command_return(text, RULES, NOVEMBER) == back


@pytest.mark.parametrize(
    ("today", "text", "back"),
    [
        # a date without a year earlier than today is next year's
        (datetime(2026, 12, 30, 9), "de retour le 4 janvier", date(2027, 1, 4)),
        (datetime(2026, 1, 10, 9), "de retour le 4/1", date(2027, 1, 4)),
        (datetime(2026, 1, 4, 9), "de retour le 4/1", date(2026, 1, 4)),  # today: this year
        (datetime(2026, 1, 3, 23), "jusqu'au 3 janvier", date(2026, 1, 4)),
        (datetime(2026, 3, 1, 9), "de retour le 29/02", date(2028, 2, 29)),  # next leap year
        # a year written is kept, even in the past (the caller refuses it)
        (datetime(2026, 1, 10, 9), "de retour le 4/1/2026", date(2026, 1, 4)),
    ],
)
def test_year_inference(today: datetime, text: str, back: date) -> None:
    assert autoreply_return(text, RULES, today) == back


@pytest.mark.parametrize(
    "text",
    [
        "Envoyé le 20/11/2026 depuis mon téléphone",  # a date, but no return phrase
        "Je traiterai des 12 demandes à mon retour.",
        "Je suis absente.\nLe 19/11/2026, Léa a écrit :\n> de retour le 4 janvier",
        "I will be back on 12/15/2026",
        "de retour le 31/02",
    ],
)
def test_no_return_date(text: str) -> None:
    assert autoreply_return(text, RULES, NOVEMBER) is None
