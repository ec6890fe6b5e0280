"""The ambassador directory: validated, all-or-nothing CSV import, updated by email."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT
from tests.testconfig import write_config

HEADER = "email,first_name,last_name,kind,title,sector,department,city,postcode,capacity\n"
GOOD = (
    "marie@pros.test,Marie,Lefèvre,metier,Boulangère,Alimentation,14,Caen,14000,3\n"
    "ines@pros.test,Inès,Marie,formation,CAP Pâtissier,Alimentation,14,Caen,14000,2\n"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, database="test.sqlite3")


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
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Caen,14000,99999999999999999999999",
            "line 4: column capacity: 99999999999999999999999 is above the maximum of 1000",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Caen,14000,1001",
            "line 4: column capacity: 1001 is above the maximum of 1000",
        ),
        ("x@pros.test,A,B,metier,Boulanger,,14,Caen,14000,٣", "line 4: column capacity"),
        ("x@pros.test,A,B,metier,Boulanger,,14,Caen,14000,", "line 4: column capacity"),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Rouen,76000,1",
            "line 4: department 14 does not match Rouen 76000: Rouen is in département 76",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Rouen,,1",
            "line 4: department 14 does not match Rouen: Rouen is in département 76",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Nowhereville,14000,1",
            "line 4: city 'Nowhereville' is not a commune of postcode 14000 (14000 is Caen)",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Nowhereville,,1",
            "line 4: column city: 'Nowhereville' is not a French commune",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Rouen,14000,1",
            "line 4: city Rouen and postcode 14000 do not match: 14000 is Caen; Rouen (76)",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,Caen,14999,1",
            "line 4: column postcode: 14999 is not a French postcode",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger,,14,,14000,1",
            "line 4: column city: is empty (postcode 14000 is Caen)",
        ),
        (
            "x@pros.test," + "A" * 101 + ",B,metier,Boulanger,,14,Caen,14000,1",
            "line 4: column first_name: is 101 characters long, 100 at most",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger," + "x" * 201 + ",14,Caen,14000,1",
            "line 4: column sector: is 201 characters long, 200 at most",
        ),
        (
            "x@pros.test,A\x00,B,metier,Boulanger,,14,Caen,14000,1",
            "line 4: column first_name: contains a control character (NUL)",
        ),
        (
            "x@pros.test,A,B,metier,Boulanger\x0c,,14,Caen,14000,1",
            "line 4: column title: contains a control character ('\\x0c')",
        ),
    ],
)
def test_bad_row_names_its_line_and_imports_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_line: str, expected: str
) -> None:
    path = csv_file(tmp_path, HEADER + GOOD + bad_line + "\n")
    code, out, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 2
    assert err.startswith(f"mailflow: {path}: {expected}") and err.count("\n") == 1, err
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
    from mailflow.store.models import Ambassador

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


def test_places_named_the_way_people_write_them(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Arrondissements, CEDEX, a missing article, an abbreviation, or no place at all (an
    ambassador of the whole département) are fine; the commune found is the one stored."""
    from mailflow.store.models import Ambassador

    lines = [
        "p@pros.test,A,B,metier,Boulanger,,75,Paris 15e,75015,1",
        "c@pros.test,A,B,metier,Boulanger,,14,Caen Cedex 9,14000,1",
        "h@pros.test,A,B,metier,Boulanger,,76,Havre,76600,1",
        "s@pros.test,A,B,metier,Boulanger,,Manche,St Lo,50000,1",
        "d@pros.test,A,B,metier,Boulanger,,61,,,1",
        "v@pros.test,A,B,metier,Boulanger,,14,Vaux-sur-Aure,14400,1",  # shares 14400 with Bayeux
    ]
    path = csv_file(tmp_path, HEADER + "\n".join(lines) + "\n")
    code, out, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 0, err
    insee = {a.email: a.insee for a in Ambassador.select()}
    assert insee == {
        "p@pros.test": "75056",
        "c@pros.test": "14118",
        "h@pros.test": "76351",
        "s@pros.test": "50502",
        "d@pros.test": None,
        "v@pros.test": "14732",
    }


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_empty_file_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    code, _, err = run(config, capsys, "ambassadors", "import", str(path))
    assert (code, err) == (2, f"mailflow: {path}: the file is empty\n")


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolon ';'"), ("\t", "tab")])
def test_semicolon_or_tab_separated_file_is_read_and_said(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    separator: str,
    name: str,
) -> None:
    """French Excel saves "CSV" with ';' (and a BOM with "CSV UTF-8"): read it, and say so."""
    text = (HEADER + GOOD).replace(",", separator)
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    code, out, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 0, err
    assert (
        out == f"imported {path} (columns separated by {name}): 2 created, 0 updated, 0 unchanged\n"
    )
    rows = {r["email"]: r for r in listing(config, capsys)}
    marie = rows["marie@pros.test"]
    assert (marie["name"], marie["city"], marie["capacity"]) == ("Marie Lefèvre", "Caen", 3)
    short = tmp_path / "short.csv"
    short.write_text("email;first_name;last_name\nx@pros.test;A;B\n", encoding="utf-8")
    code, _, err = run(config, capsys, "ambassadors", "import", str(short))
    assert code == 2
    assert err == (
        f"mailflow: {short}: line 1: missing column(s): kind, title, sector, department, city, "
        "postcode, capacity (columns separated by semicolon ';')\n"
    )


def test_utf8_bom_is_accepted_and_other_encodings_name_the_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD).encode("utf-8"))
    code, out, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 0 and "2 created" in out, err
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + GOOD).encode("latin-1"))
    code, _, err = run(config, capsys, "ambassadors", "import", str(latin1))
    assert (code, err) == (
        2,
        f"mailflow: {latin1}: line 2: not valid UTF-8 (save the file as CSV UTF-8)\n",
    )


def test_unreadable_path_is_one_line(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "nope.csv"
    assert run(config, capsys, "ambassadors", "import", str(missing))[1:] == (
        "",
        f"mailflow: {missing}: file not found\n",
    )
    assert run(config, capsys, "ambassadors", "import", str(tmp_path))[1:] == (
        "",
        f"mailflow: {tmp_path}: is a folder, not a CSV file\n",
    )
    path = csv_file(tmp_path, HEADER + GOOD)
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:  # root reads any file: the refusal is simulated
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, _, err = run(config, capsys, "ambassadors", "import", str(path))
    assert (code, err) == (2, f"mailflow: {path}: cannot read: Permission denied\n")


def test_header_naming_a_column_twice(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = csv_file(tmp_path, HEADER.replace("sector", "email") + GOOD)
    code, _, err = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 2 and "line 1: missing column(s): sector" in err
    path = csv_file(tmp_path, HEADER.rstrip("\n") + ",city\n" + GOOD.replace("\n", ",Caen\n"))
    code, _, err = run(config, capsys, "ambassadors", "import", str(path))
    assert (code, err) == (2, f"mailflow: {path}: line 1: column city appears twice\n")


def test_a_title_without_a_rome_code_is_a_warning_with_its_line_or_an_error_with_strict(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: a title that gets no ROME code is said, with its line and the nearest
    ROME titles (nobody could be routed to it by trade), never silently imported."""
    # "Paysagiste créatrice" was the example until rules/diplomas.toml and the synonyms placed
    # it (A1208, test_placed_titles below); an astronaut is still in no ROME sheet
    odd = "zoe@pros.test,Zoé,Durand,metier,Astronaute créatrice,Espace,14,Caen,14000,2\n"
    path = csv_file(tmp_path, HEADER + GOOD + odd)
    code, out, err = run(config, capsys, "ambassadors", "import", "--strict", str(path))
    assert code == 2 and "nothing imported (--strict)" in err and "line 4:" in err
    assert listing(config, capsys) == []

    code, out, _ = run(config, capsys, "ambassadors", "import", str(path))
    assert code == 0 and "3 created" in out
    [warning] = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: line 4: 'Astronaute créatrice' (zoe@pros.test)")
    assert "gets no ROME code; nearest ROME titles: " in warning and "Créatrice" in warning
    assert "Boulangère" not in out and "CAP Pâtissier" not in out  # placed: nothing to say


def test_placed_titles_diplomas_and_trade_words(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: titles named as people name them get a ROME code on import (the diplomas
    of rules/diplomas.toml, the words of the synonyms), so they can be routed by trade."""
    rows = (
        "lea@pros.test,Léa,Roux,formation,BTS MCO,Commerce,14,Caen,14000,2\n"
        "sam@pros.test,Sam,Roux,formation,Bac pro ASSP,Social,14,Caen,14000,2\n"
        "zoe@pros.test,Zoé,Durand,metier,Paysagiste,Espaces verts,14,Caen,14000,2\n"
    )
    path = csv_file(tmp_path, HEADER + rows)
    code, out, err = run(config, capsys, "ambassadors", "import", "--strict", str(path))
    assert code == 0 and "warning" not in out + err, out + err
    codes = {a["email"]: a["code_rome"] for a in listing(config, capsys)}
    assert codes == {"lea@pros.test": "D1503", "sam@pros.test": "K1302", "zoe@pros.test": "A1208"}
