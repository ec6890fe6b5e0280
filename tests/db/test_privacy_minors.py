"""Who is flagged as likely under 15 (`mailflow minors`): an age stated now or before, or a
collégien who gives none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.core.minors import likely_under_15
from mailflow.store.models import Person, Request
from tests.privacy_support import cli, mail, opened, run, write_config

RELAY = "relay@mailflow.test"
NOW = datetime(2026, 3, 2, 9, 0)


@pytest.mark.parametrize(
    ("age", "situation", "earlier", "flagged"),
    [
        (13, None, [], True),  # said so
        (15, "collegien", [], False),  # 15 said: not under 15, whatever the class
        (None, None, [], False),  # nothing known
        (None, "collegien", [], True),  # at collège, no age: likely under 15
        (None, "lyceen", [], False),
        (None, None, [(13, datetime(2025, 7, 2))], True),  # 13 eight months ago: 13.7
        (None, None, [(14, datetime(2025, 3, 10))], True),  # 14 a year ago, less a week
        (None, None, [(14, datetime(2025, 3, 1))], False),  # 14 a year and a day ago
        (None, None, [(12, datetime(2024, 3, 2))], True),  # 12 two years ago: 14
        (17, None, [(13, datetime(2025, 9, 2))], True),  # contradicts: reviewed all the same
    ],
)
def test_the_rule(age: int | None, situation: str | None, earlier: list, flagged: bool) -> None:
    assert likely_under_15(age, situation, earlier, NOW) is flagged


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def ctx(config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    with opened(config) as context:
        yield context


def last_request(address: str) -> Request:
    person = Person.get(Person.email == address)
    return Request.select().where(Request.person == person).order_by(Request.id.desc()).get()


def test_requests_are_flagged_from_earlier_ages_and_from_college(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ask = "Bonjour, je voudrais rencontrer une boulangère près de Caen."
    run(ctx, mail("lea@users.test", RELAY, "J'ai 13 ans. " + ask))
    run(ctx, mail("paul@users.test", RELAY, "J'ai 14 ans. " + ask))
    monkeypatch.setenv("MAILFLOW_NOW", "2026-11-02T09:00:00")  # eight months later
    run(ctx, mail("lea@users.test", RELAY, ask))  # no age now: still 13 and a bit
    run(ctx, mail("zoe@users.test", RELAY, "Je suis en 4e au collège. " + ask))
    run(ctx, mail("tom@users.test", RELAY, "Je suis en terminale. " + ask))
    monkeypatch.setenv("MAILFLOW_NOW", "2027-03-10T09:00:00")  # a year on: Paul is 15
    run(ctx, mail("paul@users.test", RELAY, ask))

    assert last_request("lea@users.test").minor and last_request("zoe@users.test").minor
    assert not last_request("tom@users.test").minor
    assert not last_request("paul@users.test").minor
    code, out, _ = cli(config, capsys, "minors")
    zoe = last_request("zoe@users.test")
    assert code == 0 and f"#{zoe.id} [offered] age ? (collegien)" in out
    code, out, _ = cli(config, capsys, "minors", "--json")
    ages = [(r["age"], r["situation"]) for r in json.loads(out)]
    assert ages == [(13, None), (14, None), (None, None), (None, "collegien")]
