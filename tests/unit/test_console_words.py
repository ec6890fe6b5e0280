"""The access journal's causes, stored in English, read in French (web/words.py)."""

from __future__ import annotations

import pytest

from mailflow.web.words import journal_line


@pytest.mark.parametrize(
    ("cause", "who", "what"),
    [
        ("lea@region.test (coordinator): closed request #12: request #12 closed; mailed: nobody",
         "lea@region.test (coordination)", "a fermé la demande n° 12"),
        ("eva@etudes.test (observer): viewed the timeline of request #3",
         "eva@etudes.test (observation)", "a consulté la chronologie de la demande n° 3"),
        ("lea@region.test (coordinator): listed requests (state=unmatched): 4 shown",
         "lea@region.test (coordination)", "a listé les demandes (state=unmatched) : 4"),
        ("lea@region.test (coordinator): signed in from 198.51.100.7",
         "lea@region.test (coordination)", "s'est connecté (198.51.100.7)"),
        ("sign-in refused for lea@region.test from 198.51.100.7: limits reached",
         "—", "connexion refusée pour « lea@region.test » (198.51.100.7) : trop d'essais manqués"),
        ("console account eva@etudes.test added (observer)", "—",
         "compte eva@etudes.test créé (observer)"),
        ("lea@region.test (coordinator): something a later version records",
         "lea@region.test (coordination)", "something a later version records"),
    ],
)  # fmt: skip
def test_each_console_cause_reads_in_french(cause: str, who: str, what: str) -> None:
    assert journal_line(cause) == (who, what)
