"""The understanding evaluation (bench/understanding.py, issue 13) as a regression check: on
the corpus, no figure may fall below the one recorded in tests/understanding/figures.json
(a gain is recorded with `bench/understanding --update`). Times are printed by the command,
never checked here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.understanding import (
    CHECKED,
    CHECKED_LOW,
    FIELDS,
    compare,
    evaluate,
    load_corpus,
    main,
)
from mailflow.core.values import KINDS, SITUATIONS
from tests.shared_rules import shared

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tests" / "understanding"
CORPUS = FOLDER / "corpus.jsonl"
KEYS = {"id", "subject", "body", "kind", "trades", "named", "department", "commune", "age"}
KEYS |= {"situation", "writer", "clear", "lang", "shapes", "written"}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return load_corpus(CORPUS)


def test_the_corpus_is_well_formed(cases: list[dict]) -> None:
    """Every case says every field, with values a coordinator could check: ROME codes that
    exist, départements that exist; ids unique; at least 400 requests."""
    ref = shared(ROOT / "rules").referential
    assert len(cases) >= 400
    assert len({c["id"] for c in cases}) == len(cases)
    for c in cases:
        assert set(c) >= KEYS, (c["id"], KEYS - set(c))
        assert c["kind"] in (*KINDS, None), c["id"]
        assert c["situation"] in (*SITUATIONS, None), c["id"]
        assert all(ref.rome_label(code) for code in c["trades"]), (c["id"], c["trades"])
        assert c["department"] is None or ref.department_name(c["department"]), c["id"]
        assert c["age"] is None or 5 <= c["age"] <= 99, c["id"]


def test_no_figure_drops_below_the_recorded_one(cases: list[dict]) -> None:
    result = evaluate(cases, shared(ROOT / "rules"), FOLDER)
    recorded = json.loads((FOLDER / "figures.json").read_text())
    assert set(recorded) >= set(CHECKED + CHECKED_LOW)
    drops, _ = compare(result.figures(), recorded)
    assert not drops, "understanding got worse: " + "; ".join(drops)


def test_compare_names_drops_and_gains() -> None:
    recorded = {"kind_recall": 0.9, "help_on_clear": 0.05, "trade_precision": 0.8}
    now = {"kind_recall": 0.85, "help_on_clear": 0.02, "trade_precision": 0.8}
    drops, gains = compare({**dict.fromkeys(CHECKED + CHECKED_LOW, 0.5), **now}, recorded)
    assert drops == ["kind_recall: 0.9 recorded, now 0.85"]
    assert gains == ["help_on_clear: 0.05 -> 0.02"]


def test_the_command_prints_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quiet"]) == 0
    out = capsys.readouterr().out
    for name in FIELDS:
        assert f"  {name} " in out, name
    assert "help mail sent to a clear request" in out and "to the wrong trade" in out
