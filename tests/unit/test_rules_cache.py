"""The built referential kept in a cache file (context.py): read back instead of built, built
again when a rules file or mailflow's code changes, and never read from a file another user
could have written (unpickling runs code). No database, no server."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from mailflow import context
from mailflow.understand.referential import Referential

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def built() -> Referential:
    return context.load_referential(RULES)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, built: Referential, tmp_path: Path) -> list[Path]:
    """Each build of the referential, counted (the real one, built once for the module)."""
    calls: list[Path] = []

    def build(rules_dir: Path) -> Referential:
        calls.append(Path(rules_dir))
        return built

    monkeypatch.setattr(context, "load_referential", build)
    monkeypatch.setenv(context.CACHE_ENV, str(tmp_path / "cache"))
    return calls


def _files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("referential-*.pickle"))


def test_built_once_then_read_back_the_same(builds: list[Path], tmp_path: Path) -> None:
    first = context._referential(RULES)
    [cached] = _files(tmp_path)
    assert cached.stat().st_mode & 0o777 == 0o600
    again = context._referential(RULES)
    assert builds == [RULES]  # the second came from the file
    assert again is not first and isinstance(again, Referential)
    for words in ("boulangère", "développeur web", "aide-soignante", "CAP pâtisserie"):
        assert again.find_trades(words) == first.find_trades(words), words
        assert again.find_trades(words), words
    for place in ("Caen", "Cherbourg", "Lisieux", "Rouen"):
        assert again.match_place(place) == first.match_place(place) is not None, place


def test_an_edited_rules_file_builds_it_again(builds: list[Path], tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    context._referential(rules)
    context._referential(rules)
    assert len(builds) == 1
    places = rules / "place_names.toml"
    places.write_text(places.read_text() + "\n# une ligne de plus\n")
    context._referential(rules)
    assert len(builds) == 2 and len(_files(tmp_path)) == 2


def test_a_cache_others_could_write_is_not_read(
    builds: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context._referential(RULES)
    [cached] = _files(tmp_path)
    cached.chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="mailflow.context"):
        context._referential(RULES)
    assert len(builds) == 2 and "writable by others" in caplog.text
    assert cached.stat().st_mode & 0o777 == 0o600  # written again, as this user's alone


def test_a_torn_file_is_built_again_and_off_means_no_file(
    builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context._referential(RULES)
    [cached] = _files(tmp_path)
    cached.write_bytes(cached.read_bytes()[:1000])  # a crash while another process wrote
    assert isinstance(context._referential(RULES), Referential)
    assert len(builds) == 2 and cached.stat().st_size > 1000
    shutil.rmtree(tmp_path / "cache")
    monkeypatch.setenv(context.CACHE_ENV, "off")
    context._referential(RULES)
    assert len(builds) == 3 and not (tmp_path / "cache").exists()


def test_only_the_newest_files_are_kept(
    builds: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "CACHE_KEPT", 2)  # 8 in use: fewer writes of 7 MB here
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    for n in range(context.CACHE_KEPT + 2):
        (rules / "extra.txt").write_text(str(n))  # another rules directory each time
        context._referential(rules)
    assert len(builds) == context.CACHE_KEPT + 2
    assert len(_files(tmp_path)) == context.CACHE_KEPT
