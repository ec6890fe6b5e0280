"""`mailflow log --actions`: what was done outside any request, RGPD actions first of all.

Exports, erasures, the minors' review, purges, quarantine decisions and imports are events
of no request: the request timelines never show them, this listing does, in text and JSON,
bounded by --since / --until.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT
from mailflow.inbound.pipeline import quarantine
from mailflow.store.models import database
from mailflow.transport.ingest import store
from tests.db.test_log_filters import build, mail


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield build(tmp_path, monkeypatch)
    database.obj.close()
    database.initialize(None)


def cli(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def act(config: Path, capsys, monkeypatch, day: str, *args: str) -> None:  # noqa: ANN001
    monkeypatch.setenv("MAILFLOW_NOW", f"{day}T10:00:00")
    code, _, err = cli(config, capsys, *args)
    assert code == 0, err


@pytest.fixture
def acted(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """One coordinator action a day, 1 to 6 May 2026, after the requests."""
    act(config, capsys, monkeypatch, "2026-05-01", "person", "export", "lea@users.test")
    act(config, capsys, monkeypatch, "2026-05-02", "minors")
    act(config, capsys, monkeypatch, "2026-05-03", "privacy", "purge", "--dry-run")
    monkeypatch.setenv("MAILFLOW_NOW", "2026-05-04T10:00:00")
    code, _, err = cli(config, capsys, "person", "forget", "tom@users.test")
    # No mail server in this test: the database part is done, the command says the server
    # copies remain (exit 1); the erasure is recorded all the same.
    assert code == 1 and "copies of this mail remain on the server" in err, err
    monkeypatch.setenv("MAILFLOW_NOW", "2026-05-05T09:00:00")
    stuck = store(mail("Bonjour", "Zoé <zoe@users.test>"), "INBOX", 1, 40)
    quarantine(stuck.id, "RuntimeError: disk on fire")
    act(config, capsys, monkeypatch, "2026-05-05", "quarantine", "drop", str(stuck.id))
    sample = str(PROJECT_ROOT / "examples" / "ambassadors.csv")
    act(config, capsys, monkeypatch, "2026-05-06", "ambassadors", "import", sample)
    return config


def actions(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    code, out, err = cli(config, capsys, "log", "--actions", "--json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["actions"]
    return data["actions"]


def test_rgpd_and_administrative_actions_are_listed(
    acted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = actions(acted, capsys, "--since", "2026-05-01", "--until", "2026-05-06")
    assert [(r["at"][:10], r["kind"]) for r in rows] == [
        ("2026-05-01", "privacy-export"),
        ("2026-05-02", "minors-review"),
        ("2026-05-03", "privacy-purge"),
        ("2026-05-04", "person-forgotten"),
        ("2026-05-05", "stored"),  # the daemon's events outside a request are there too
        ("2026-05-05", "quarantine"),
        ("2026-05-05", "quarantine-drop"),
        ("2026-05-06", "import"),
    ]
    assert rows[0]["at"] == "2026-05-01T10:00:00Z"
    assert "personal data of person #1 exported" in rows[0]["cause"]
    assert "request(s) from people under 15" in rows[1]["cause"]
    assert rows[3]["cause"].startswith("person forgotten: person #2, 1 request(s) anonymised")
    assert rows[6]["inbound"] == rows[4]["inbound"] and "disk on fire" in rows[6]["cause"]
    assert "0 created, 0 updated, 9 unchanged" in rows[7]["cause"]
    later = actions(acted, capsys, "--since", "2026-05-04", "--until", "2026-05-04")
    assert [r["kind"] for r in later] == ["person-forgotten"]


def test_every_event_outside_a_request_and_none_inside(
    acted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = actions(acted, capsys)
    kinds = {r["kind"] for r in rows}
    assert {"privacy-export", "person-forgotten", "import", "bounce", "stored"} <= kinds
    assert "state" not in kinds and "offered" not in kinds  # those belong to a request
    assert [(r["at"], r["id"]) for r in rows] == sorted((r["at"], r["id"]) for r in rows)
    code, out, _ = cli(acted, capsys, "log", "--json")
    assert code == 0 and "privacy-export" not in out  # the timelines keep their shape


def test_text_listing(acted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(acted, capsys, "log", "--actions", "--since", "2026-05-04")
    lines = out.splitlines()
    # People read Paris time, named once: 10:00 UTC in May (summer time, UTC+2) is 12:00.
    assert code == 0 and lines[:2] == ["Times in Europe/Paris", "Actions outside any request:"]
    assert lines[2].startswith("  2026-05-04 12:00:00  PERSON-FORGOTTEN person forgotten: ")
    assert lines[3].startswith("  2026-05-05 11:00:00  STORED inbound message stored")
    assert lines[5].startswith("  2026-05-05 12:00:00  QUARANTINE-DROP dropped from quarantine")
    assert lines[5].endswith(lines[3][lines[3].index("[inbound #") :])
    code, out, _ = cli(acted, capsys, "log", "--actions", "--since", "2027-01-01")
    assert (code, out) == (0, "No action recorded in these dates.\n")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--request", "1"), "--request"),
        (("--person", "lea@users.test"), "--person"),
        (("--state", "new"), "--state"),
    ],
)
def test_request_filters_do_not_go_with_actions(
    config: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], named: str
) -> None:
    code, out, err = cli(config, capsys, "log", "--actions", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"mailflow: {named} is about requests; --actions lists")
    assert len(err.splitlines()) == 1


def test_kind_chooses_actions_by_kind_or_first_word(
    acted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = actions(acted, capsys, "--kind", "privacy")  # privacy-export, privacy-purge
    assert [r["kind"] for r in rows] == ["privacy-export", "privacy-purge"]
    rows = actions(
        acted,
        capsys,
        "--kind",
        "quarantine,import",
        "--since",
        "2026-05-05",
        "--until",
        "2026-05-06",
    )
    assert [r["kind"] for r in rows] == ["quarantine", "quarantine-drop", "import"]
    rows = actions(acted, capsys, "--kind", "QUARANTINE-DROP")  # as the text listing shows it
    assert [r["kind"] for r in rows] == ["quarantine-drop"]
    code, out, _ = cli(
        acted, capsys, "log", "--actions", "--kind", "import", "--until", "2026-05-01"
    )
    assert (code, out) == (0, "No action of kind import recorded in these dates.\n")


def test_a_wrong_kind_is_named_with_the_recorded_ones(
    acted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(acted, capsys, "log", "--actions", "--kind", "privacy-expor")
    assert (code, out) == (2, "")
    assert err.startswith("mailflow: --kind 'privacy-expor': no such action recorded (recorded: ")
    assert "privacy-export" in err and len(err.splitlines()) == 1
    code, out, err = cli(acted, capsys, "log", "--kind", "import")  # not with the timelines
    assert (code, out) == (2, "")
    assert err == "mailflow: --kind chooses among the actions: use it with --actions\n"
