"""`ambassadors list` shows each ambassador's activity and availability, text and JSON."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT
from tests.testconfig import write_config

NOW = "2026-03-02T09:00:00"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    path = write_config(tmp_path)
    sample = str(PROJECT_ROOT / "examples" / "ambassadors.csv")
    assert main(["--config", str(path), "ambassadors", "import", sample]) == 0
    return path


def listing(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), "ambassadors", "list", *extra]) == 0
    return capsys.readouterr().out


def seed() -> None:
    """Marie: two conversations, one answered and still open; others paused, away, gone."""
    from mailflow.store.models import Ambassador, Conversation, Person, Request

    at = datetime.fromisoformat(NOW)
    person = Person.create(email="p@users.test", created_at=at)
    marie = Ambassador.get(Ambassador.email == "amb1@pros.test")
    for n, (state, answered) in enumerate([("open", at), ("closed", None)]):
        request = Request.create(person=person, state="offered", created_at=at, updated_at=at)
        Conversation.create(
            request=request,
            ambassador=marie,
            ambassador_token=f"a{n}",
            person_token=f"p{n}",
            state=state,
            created_at=at,
            ambassador_answered_at=answered,
        )
    marie.last_contacted_at = at
    marie.save()
    Ambassador.update(paused=True).where(Ambassador.email == "amb2@pros.test").execute()
    Ambassador.update(absent_until=datetime(2026, 3, 20)).where(
        Ambassador.email == "amb3@pros.test"
    ).execute()
    Ambassador.update(active=False, left_at=datetime(2026, 2, 1)).where(
        Ambassador.email == "amb4@pros.test"
    ).execute()
    Ambassador.update(bounce_state="failing", bounced_at=at).where(
        Ambassador.email == "amb5@pros.test"
    ).execute()
    Ambassador.update(absent_until=datetime(2026, 1, 1)).where(
        Ambassador.email == "amb6@pros.test"
    ).execute()


def test_activity_columns_in_json_and_text(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing(config, capsys)  # opens the database
    seed()
    rows = {r["email"]: r for r in json.loads(listing(config, capsys, "--json"))}
    marie = rows["amb1@pros.test"]
    assert (marie["open"], marie["offered"], marie["answered"]) == (1, 2, 1)
    assert marie["last_contacted_at"] == NOW and marie["availability"] == "available"
    assert rows["amb2@pros.test"]["paused"] is True
    assert rows["amb2@pros.test"]["availability"] == "paused"
    assert rows["amb3@pros.test"]["absent_until"] == "2026-03-20T00:00:00"
    assert rows["amb3@pros.test"]["availability"] == "absent until 2026-03-20"
    assert rows["amb4@pros.test"]["left_at"] == "2026-02-01T00:00:00"
    assert rows["amb4@pros.test"]["availability"] == "left 2026-02-01"
    assert rows["amb5@pros.test"]["bounce_state"] == "failing"
    assert rows["amb5@pros.test"]["availability"] == "bouncing"
    assert rows["amb6@pros.test"]["availability"] == "available"  # the absence is over
    assert rows["amb7@pros.test"]["last_contacted_at"] is None

    text = listing(config, capsys)
    zone_line, header, *lines = text.splitlines()
    assert zone_line == "Times in Europe/Paris"
    for column in ("open/cap", "answered", "last contacted", "bounce", "status"):
        assert column in header
    [marie_line] = [line for line in lines if "amb1@pros.test" in line]
    assert (
        "1/3" in marie_line and "1/2" in marie_line and "2026-03-02 10:00" in marie_line
    )  # 09:00 UTC, UTC+1
    assert "absent until 2026-03-20" in text and "left 2026-02-01" in text
    assert "failing" in text and "paused" in text


def test_ambassadors_alone_is_the_list(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_listing = listing(config, capsys)
    seed()
    capsys.readouterr()
    assert main(["--config", str(config), "ambassadors"]) == 0
    text = capsys.readouterr().out
    assert text == listing(config, capsys) != seed_listing
    assert "amb1@pros.test" in text and "absent until 2026-03-20" in text
    assert main(["--config", str(config), "ambassadors", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(listing(config, capsys, "--json"))
    code = main(["--config", str(config), "ambassadors", "--json", "clear-bounce", "x@y.test"])
    err = capsys.readouterr().err
    assert (
        code == 2
        and err == "mailflow: --json goes with the list, not with `ambassadors clear-bounce`\n"
    )


def test_clear_bounce_makes_the_ambassador_available_again_and_is_logged(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailflow.store.models import Event

    listing(config, capsys)
    seed()
    capsys.readouterr()
    assert main(["--config", str(config), "ambassadors", "clear-bounce", "AMB5@pros.test"]) == 0
    assert "available for new requests" in capsys.readouterr().out
    rows = {r["email"]: r for r in json.loads(listing(config, capsys, "--json"))}
    assert rows["amb5@pros.test"]["bounce_state"] == "ok"
    assert rows["amb5@pros.test"]["availability"] == "available"
    [event] = Event.select().where(Event.cause.contains("bounce state cleared"))
    assert "failing since 2026-03-02" in event.cause


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("amb1@pros.test", "the address is not failing"),
        ("nobody@pros.test", "no ambassador with the address nobody@pros.test"),
        ("not-an-address", "is not an email address"),
    ],
)
def test_clear_bounce_refuses_what_it_cannot_do_in_one_line(
    config: Path, capsys: pytest.CaptureFixture[str], address: str, error: str
) -> None:
    listing(config, capsys)
    seed()
    capsys.readouterr()
    assert main(["--config", str(config), "ambassadors", "clear-bounce", address]) == 2
    err = capsys.readouterr().err
    assert error in err and "Traceback" not in err and len(err.splitlines()) == 1
