"""The ambassador directory: validated, all-or-nothing CSV import, updated by email."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailflow.cli import main
from mailflow.config import PROJECT_ROOT

HEADER = "email,first_name,last_name,kind,title,sector,department,city,postcode,capacity\n"
GOOD = (
    "marie@pros.test,Marie,Lefèvre,metier,Boulangère,Alimentation,14,Caen,14000,3\n"
    "ines@pros.test,Inès,Marie,formation,CAP Pâtissier,Alimentation,14,Caen,14000,2\n"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    text = (PROJECT_ROOT / "mailflow.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "mailflow.toml"
    path.write_text(text.replace("db/mailflow.sqlite3", "test.sqlite3"), encoding="utf-8")
    return path


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def listing(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    code, out, _ = run(config, capsys, "ambassadors", "list", "--json")
    assert code == 0
    return json.loads(out)


def csv_file(tmp_path: Path, text: str, name: str = "amb.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_list_and_reimport_updates_by_email(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        config, capsys, "ambassadors", "import", str(csv_file(tmp_path, HEADER + GOOD))
    )
    assert code == 0 and "2 created" in out
    rows = {r["email"]: r for r in listing(config, capsys)}
    assert rows["marie@pros.test"]["code_rome"] == "D1102"
    assert rows["ines@pros.test"]["kind"] == "formation"
    assert rows["marie@pros.test"]["capacity"] == 3

    changed = GOOD.replace(",3\n", ",5\n").replace("marie@pros.test", "MARIE@pros.test")
    code, out, _ = run(
        config, capsys, "ambassadors", "import", str(csv_file(tmp_path, HEADER + changed, "v2.csv"))
    )
    assert code == 0 and "0 created, 1 updated, 1 unchanged" in out
    rows = {r["email"]: r for r in listing(config, capsys)}
    assert len(rows) == 2 and rows["marie@pros.test"]["capacity"] == 5
    code, out, _ = run(config, capsys, "ambassadors", "list")
    assert "Lefèvre" in out and "0/5" in out


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("nobody-at-all,A,B,metier,Boulanger,,14,Caen,14000,1", "line 4: column email"),
        ("x@pros.test,A,B,plombier,Boulanger,,14,Caen,14000,1", "line 4: column kind"),
        ("x@pros.test,A,B,metier,Boulanger,,99,Caen,14000,1", "line 4: column department"),
        ("x@pros.test,A,B,metier,Boulanger,,14,Caen,14000,deux", "line 4: column capacity"),
        ("x@pros.test,A,B,metier,,,14,Caen,14000,1", "line 4: column title"),
        ("marie@pros.test,A,B,metier,Boulanger,,14,Caen,14000,1", "line 4: marie@pros.test"),
    ],
)
def test_bad_row_names_its_line_and_imports_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_line: str, expected: str
) -> None:
    path = csv_file(tmp_path, HEADER + GOOD + bad_line + "\n")
    code, out, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert listing(config, capsys) == []


def test_missing_column_and_quoted_multiline_line_numbers(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        config,
        capsys,
        "ambassadors",
        "import",
        str(csv_file(tmp_path, "email,first_name\nx@y.test,A\n")),
    )
    assert code == 2 and "missing column(s): last_name" in err
    text = (
        HEADER
        + '"a@pros.test",A,B,metier,"Boulanger\nde nuit",,14,Caen,14000,1\n'
        + "b@pros.test,A,B,metier,Boulanger,,14,Caen,14000,-1\n"
    )
    code, _, err = run(config, capsys, "ambassadors", "import", str(csv_file(tmp_path, text)))
    assert code == 2 and "line 4: column capacity" in err


def test_department_by_name_and_sample_directory(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = "z@pros.test,Zoé,Y,vae,Aide-soignante,Santé,Calvados,Caen,14000,1\n"
    code, _, err = run(
        config, capsys, "ambassadors", "import", str(csv_file(tmp_path, HEADER + line))
    )
    assert code == 0, err
    [row] = listing(config, capsys)
    assert row["department"] == "14" and row["code_rome"] == "J1501"
    code, out, _ = run(
        config, capsys, "ambassadors", "import", str(PROJECT_ROOT / "examples" / "ambassadors.csv")
    )
    assert code == 0 and "9 created" in out


def test_reimport_without_active_column_keeps_who_left_out(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailflow.models import Ambassador

    path = csv_file(tmp_path, HEADER + GOOD)
    assert run(config, capsys, "ambassadors", "import", str(path))[0] == 0
    Ambassador.update(active=False).where(Ambassador.email == "marie@pros.test").execute()
    code, out, _ = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 0 and "0 updated, 2 unchanged" in out
    rows = {r["email"]: r for r in listing(config, capsys)}
    assert rows["marie@pros.test"]["active"] is False  # STOP is not undone by a re-import
    explicit = csv_file(
        tmp_path, HEADER.rstrip("\n") + ",active\n" + GOOD.replace("\n", ",oui\n"), "v3.csv"
    )
    assert run(config, capsys, "ambassadors", "import", str(explicit))[0] == 0
    assert {r["email"]: r for r in listing(config, capsys)}["marie@pros.test"]["active"] is True
