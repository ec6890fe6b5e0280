"""The merge of what a later mail says into the stored request (core/completion.py)."""

from __future__ import annotations

from mailflow.core.completion import completed

FIRST = {
    "kind": None,
    "trade_text": None,
    "code_rome": None,
    "rome_label": None,
    "department": "14",
    "region": "28",
    "commune": "Caen",
    "insee": "14118",
    "postcode": None,
    "age": None,
    "situation": None,
    "first_name": "Léa",
    "message": "je sais pas trop quoi faire",
    "minor": False,
}
NOTHING = {key: None for key in FIRST} | {"message": "", "minor": False}


def test_a_field_given_in_the_reply_completes_a_missing_one() -> None:
    said = NOTHING | {"age": 17, "situation": "lyceen"}
    assert completed(FIRST, said) == {"age": 17, "situation": "lyceen"}


def test_what_the_reply_does_not_say_is_kept() -> None:
    assert completed(FIRST, NOTHING) == {}


def test_the_reply_corrects_what_it_says_again() -> None:
    assert completed(FIRST | {"age": 15}, NOTHING | {"age": 16}) == {"age": 16}


def test_a_new_place_replaces_the_whole_place() -> None:
    said = NOTHING | {"department": "50", "region": "28"}
    assert completed(FIRST, said) == {
        "department": "50",
        "commune": None,
        "insee": None,
    }  # never Caen in the Manche


def test_a_new_trade_comes_with_its_code() -> None:
    stored = FIRST | {"trade_text": "boulangerie", "code_rome": "D1102", "rome_label": "B"}
    said = NOTHING | {"trade_text": "développeur", "code_rome": "M1855", "rome_label": "Dév"}
    assert completed(stored, said) == {
        "trade_text": "développeur",
        "code_rome": "M1855",
        "rome_label": "Dév",
    }


def test_the_message_and_the_minor_flag_are_left_to_the_caller() -> None:
    said = NOTHING | {"message": "j'aime l'informatique", "minor": True}
    assert completed(FIRST, said) == {}


def test_a_value_only_quoted_fills_what_the_request_lacks() -> None:
    said = NOTHING | {"age": 15, "department": "76", "region": "28", "commune": "Rouen"}
    # the age was missing: the quoted one fills it; the place was stored: it stays Caen
    assert completed(FIRST, said, frozenset({"age", "place"})) == {"age": 15}


def test_a_coordinators_trade_is_not_undone_by_the_persons_quoted_words() -> None:
    stored = FIRST | {"trade_text": "pâtissier", "code_rome": "D1104", "rome_label": "P"}
    said = NOTHING | {"trade_text": "boulanger", "code_rome": "D1102", "rome_label": "B"}
    assert completed(stored, said, frozenset({"trade"})) == {}
    assert completed(stored, said) == {  # said in the new text, it is a correction
        "trade_text": "boulanger",
        "code_rome": "D1102",
        "rome_label": "B",
    }
