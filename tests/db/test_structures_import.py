"""`mailflow structures import FILE.csv` and `structures list`: the coordinators' spreadsheet
as French Excel saves it (Windows-1252, ';'), every bad row named by line before anything is
written, and the imported list replacing the rules file's example list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT
from tests.testconfig import write_config

GOOD = (
    "key;name;kind;domains;addresses;aliases;notify\n"
    "ml-lisieux;Mission Locale du Pays d'Auge;Mission Locale;ml-paysdauge.fr;;"
    "ML Lisieux|Mission Locale de Lisieux;oui\n"
    "cio-caen;CIO de Caen;CIO;;cio.caen@ac-normandie.fr;Centre d'information de Caen;\n"
    "lycee-brassens;Lycée Georges Brassens (Écouché);établissement;"
    "lycee-brassens.fr, lp-brassens.fr;;;non\n"
)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    return write_config(tmp_path)


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(config), "structures", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def listed(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, _ = run(config, capsys, "list", "--json")
    assert code == 0
    return json.loads(out)


def test_before_any_import_the_rules_files_example_list_is_in_use(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = listed(config, capsys)
    assert shown["source"] == "rules/structures.toml" and shown["example"] is True
    assert "ml-caen" in {s["key"] for s in shown["structures"]}
    code, text, _ = run(config, capsys)
    assert code == 0 and "example data" in text and "Mission Locale de Caen" in text


def test_a_french_excel_file_in_windows_1252_is_imported_and_replaces_the_example(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "structures.csv"
    path.write_bytes(GOOD.replace("\n", "\r\n").encode("cp1252"))
    code, out, err = run(config, capsys, "import", str(path))
    assert code == 0, err
    assert "3 structure(s)" in out and "Windows-1252" in out and "semicolon" in out
    shown = listed(config, capsys)
    assert shown["source"].startswith("database") and shown["example"] is False
    by_key = {s["key"]: s for s in shown["structures"]}
    assert sorted(by_key) == ["cio-caen", "lycee-brassens", "ml-lisieux"]
    assert by_key["ml-lisieux"]["kind"] == "mission_locale"
    assert by_key["ml-lisieux"]["aliases"] == ["ML Lisieux", "Mission Locale de Lisieux"]
    assert by_key["ml-lisieux"]["notify"] is True
    assert by_key["lycee-brassens"]["name"] == "Lycée Georges Brassens (Écouché)"
    assert by_key["lycee-brassens"]["kind"] == "etablissement"
    assert by_key["lycee-brassens"]["domains"] == ["lycee-brassens.fr", "lp-brassens.fr"]
    assert by_key["cio-caen"]["addresses"] == ["cio.caen@ac-normandie.fr"]
    assert by_key["cio-caen"]["notify"] is False  # empty: the policy's default (false)


def test_a_utf8_file_with_excels_bom_and_commas(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.csv"
    text = 'key,name,kind,domains\ncio-vire,"CIO de Vire, Normandie",cio,cio-vire.fr\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    code, out, err = run(config, capsys, "import", str(path))
    assert code == 0, err
    assert "(UTF-8)" in out  # a comma: no separator said
    [only] = listed(config, capsys)["structures"]
    assert only["name"] == "CIO de Vire, Normandie"


def test_every_bad_row_is_named_by_line_and_nothing_is_written(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.csv"
    first.write_text("key;name;kind;domains\nml-vire;ML de Vire;mission_locale;ml-vire.fr\n")
    assert run(config, capsys, "import", str(first))[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "key;name;kind;domains;addresses;aliases;notify\n"
        "ml-caen;Mission Locale de Caen;mission_locale;ml-caen.fr;;;oui\n"
        "Mission Locale;Mission Locale de Bayeux;mission_locale;ml-bayeux.fr;;;\n"  # 3: key
        "cio-x;CIO X;centre;cio-x.fr;;;\n"  # 4: kind
        "cio-y;CIO Y;cio;;pas une adresse;;\n"  # 5: address
        "ml-bis;ML bis;mission_locale;ml-caen.fr;;;\n"  # 6: domain of line 2
        "asso;Asso;association;asso.fr;;;peut-être\n"  # 7: notify
        "ml-caen;Encore;mission_locale;autre.fr;;;\n",  # 8: key of line 2
        encoding="utf-8",
    )
    code, _, err = run(config, capsys, "import", str(bad))
    assert code != 0 and "Traceback" not in err
    assert str(bad) in err and "6 bad row(s), nothing imported" in err
    for line, words in [
        (3, "key 'mission locale'"),
        (4, "kind of cio-x"),
        (5, "addresses of cio-y"),
        (6, "domain ml-caen.fr already appears on line 2"),
        (7, "column notify"),
        (8, "key ml-caen already appears on line 2"),
    ]:
        assert f"line {line}: {words}" in err, (line, err)
    assert [s["key"] for s in listed(config, capsys)["structures"]] == ["ml-vire"]


@pytest.mark.parametrize(
    "content, said",
    [
        (b"", "the file is empty"),
        (b"key;name\nx;X\n", "line 1: missing column(s): kind"),
        (b"key;name;kind\n", "no structure in the file"),
        (b"key;name;kind\nx;X;cio;extra\n", "line 2: more values than columns"),
    ],
)
def test_a_file_that_is_not_a_list_of_structures(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, said: str
) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(content)
    code, _, err = run(config, capsys, "import", str(path))
    assert code != 0 and said in err, err
    code, _, err = run(config, capsys, "import", str(tmp_path / "missing.csv"))
    assert code != 0 and "file not found" in err


def test_a_wrong_rules_file_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    text = (rules / "structures.toml").read_text(encoding="utf-8")
    (rules / "structures.toml").write_text(text.replace('kind = "cio"', 'kind = "centre"'))
    config = write_config(tmp_path, f'\n[paths]\nrules = "{rules}"\n')
    code, _, err = run(config, capsys, "list")
    assert code != 0 and "Traceback" not in err
    assert "structures.toml" in err and "cio-lisieux" in err and "centre" in err
