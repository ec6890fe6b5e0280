"""Routing's condition (services/charter.vetted, SQL) says of every ambassador what the pure
decision (core/charter.refusal) says of them: for an adult's and a child's request, on both
backends, over every mix of versions signed and honorability dates."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from mailflow.context import CHARTER_ENV, Context
from mailflow.core.charter import refusal, requirement
from mailflow.services.charter import standing_of, vetted
from mailflow.services.intake import candidates
from mailflow.store.models import Ambassador, CharterSignature
from tests.inprocess import close_context, open_context

TODAY = date(2026, 3, 10)
SIGNED = [(), ("2026-1",), ("2025-1",), ("2026-1-adults",), ("2025-1", "2026-1-adults")]
CHECKS = [(None, None), (date(2026, 1, 1), date(2029, 1, 1)), (date(2023, 1, 1), TODAY),
          (date(2023, 1, 1), date(2026, 3, 9)), (date(2026, 3, 11), date(2029, 1, 1))]  # fmt: skip


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv(CHARTER_ENV, "")  # the default policy, rules/charter.toml
    yield open_context(tmp_path, directory=False)
    close_context()


def _directory() -> None:
    now = datetime(2026, 3, 1)
    for n, (signed, (on, until)) in enumerate(itertools.product(SIGNED, CHECKS)):
        a = Ambassador.create(
            email=f"a{n}@pros.test", first_name="A", last_name=str(n), kind="metier",
            title="Boulanger", title_words="boulanger", department="14", capacity=3,
            honorability_on=on, honorability_until=until, created_at=now, updated_at=now,
        )  # fmt: skip
        for version in signed:
            CharterSignature.create(
                ambassador_id=a.id, version=version.removesuffix("-adults"),
                covers_minors=not version.endswith("-adults"), accepted_at=now, how="mail",
                created_at=now,
            )  # fmt: skip
    # asked and never accepted: no signature at all
    CharterSignature.create(ambassador_id=1, version="2026-2", covers_minors=True, created_at=now)


@pytest.mark.parametrize("required", [True, False])
@pytest.mark.parametrize("minor", [False, True])
def test_the_sql_condition_is_the_decision(ctx: Context, required: bool, minor: bool) -> None:
    _directory()
    rules = replace(ctx.rules.charter, required=required)
    need = requirement(rules, minor)
    expected = {a.id for a in Ambassador.select() if refusal(standing_of(a), need, TODAY) is None}
    chosen = {c.id for c in candidates(None, vetted(need, TODAY))}
    assert chosen == expected
    everyone = len(SIGNED) * len(CHECKS)
    assert 0 < len(expected) < everyone if need is not None else len(expected) == everyone
