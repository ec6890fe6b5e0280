"""Every message of tests/corpus through the real pipeline: the outcome and who gets mail."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.corpus_runner import corpus_files, differences, fresh_context, load_expected, report
from tests.corpus_runner import run_file as run_corpus_file

FILES = corpus_files()


def test_corpus_is_big_and_complete() -> None:
    assert len(FILES) >= 120
    expected = {p.name.removesuffix(".expected.toml") for p in FILES[0].parent.glob("*.toml")}
    assert expected == {p.name.removesuffix(".eml") for p in FILES}
    outcomes = Counter(load_expected(p).outcome for p in FILES)
    for kind in ("auto-reply", "mailing-list", "request-offered", "request-needs-info"):
        assert outcomes[kind] >= 5, outcomes


@pytest.mark.parametrize("eml", FILES, ids=[p.name for p in FILES])
def test_corpus_file(eml: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    expected = load_expected(eml)
    if expected.xfail:  # a known bug elsewhere: still run, so a fix shows up as XPASS
        request.applymarker(pytest.mark.xfail(reason=expected.xfail, strict=False))
    with fresh_context(tmp_path) as ctx:
        actual = run_corpus_file(ctx, eml, expected)
    assert actual.status != "stored"
    assert not differences(expected, actual), report(eml, expected, actual)
