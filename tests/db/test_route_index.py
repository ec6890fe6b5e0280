"""Routing's in-memory trade index (route_index): the same choice as `route.choose` over the
whole directory, and never stale after the directory changes (import, a new ambassador),
even when the clock does not move."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.admin.directory import AmbassadorRow, import_rows
from mailflow.core.route import Want, choose
from mailflow.services.intake import best_choice, candidates
from mailflow.store.db import open_database
from mailflow.store.models import Ambassador, database


@pytest.fixture
def db(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T10:00:00Z")  # every import at one instant
    handle = open_database(database_url, tmp_path)
    yield
    handle.close()
    database.initialize(None)


def row(n: int, title: str, code: str | None, department: str, **changes: object) -> AmbassadorRow:
    base = AmbassadorRow(
        line=n, email=f"a{n}@pros.test", first_name="A", last_name="B", kind="metier",
        title=title, code_rome=code, sector="", department=department, region=None,
        city="", insee=None, postcode="", capacity=3, active=None,
    )  # fmt: skip
    return replace(base, **changes)


BAKER = Want("metier", "D1102", "boulanger", "75", None, None)
DIRECTORY = [
    row(1, "Boulanger", "D1102", "14"),
    row(2, "Fleuriste", "D1209", "75"),
    row(3, "Pâtissier", "D1104", "75"),  # same domain as a baker
    row(4, "BTS Fluides énergies domotique", None, "75"),
]


def test_the_same_choice_as_choose_over_the_whole_directory(db: None) -> None:
    import_rows(DIRECTORY, "test")
    wants = [
        BAKER,
        Want("metier", "D1209", None, "14", None, None),
        Want("formation", None, "fluides énergies", "14", None, None),
        Want("metier", "D1199", "boulangerie", "75", None, None),  # the domain only
        Want("metier", "K2111", "formateur", "75", None, None),  # nobody
        Want(None, None, None, "75", None, None),  # nothing asked
    ]
    for want in wants:
        assert best_choice(want) == choose(want, candidates()), want
    assert best_choice(BAKER).candidate.id == 1
    assert best_choice(BAKER, exclude=frozenset({1})).candidate.id == 3  # domain, same dept


def test_an_import_at_the_same_instant_is_seen(db: None) -> None:
    import_rows(DIRECTORY, "test")
    assert best_choice(BAKER).candidate.id == 1
    changed = [*DIRECTORY[:1], row(2, "Boulanger", "D1102", "75"), *DIRECTORY[2:]]
    import_rows(changed, "test")  # the florist is now a baker in Paris: nearer
    assert best_choice(BAKER).candidate.id == 2
    import_rows([row(1, "Maçon", "F1703", "14"), *changed[1:]], "test")
    assert best_choice(BAKER, exclude=frozenset({2})).candidate.id == 3  # no other baker


def test_an_ambassador_created_directly_is_seen(db: None) -> None:
    import_rows(DIRECTORY[1:], "test")
    assert best_choice(BAKER).trade_tier == 1  # the pâtissier: same domain
    at = datetime(2026, 3, 2, 10)
    Ambassador.create(
        email="new@pros.test", first_name="N", last_name="B", kind="metier", title="Boulanger",
        title_words="boulanger", code_rome="D1102", department="75", capacity=1,
        created_at=at, updated_at=at,
    )  # fmt: skip
    choice = best_choice(BAKER)
    assert choice.trade_tier == 0 and choice.candidate.title_words == "boulanger"


def test_too_many_ids_reads_everyone_available_with_the_same_choice(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_rows(DIRECTORY, "test")
    expected = [best_choice(BAKER), best_choice(BAKER, exclude=frozenset({1}))]
    monkeypatch.setattr("mailflow.services.intake.MAX_IDS", 0)
    assert [best_choice(BAKER), best_choice(BAKER, exclude=frozenset({1}))] == expected
