"""`mailflow log`: people read [schedule] timezone, tools read UTC.

The text timelines and the actions listing show local times under a line naming the zone;
`--since` / `--until` are local days (23 or 25 hours when clocks change); `--json` keeps the
stored UTC with a "Z". Expected local times are worked out by hand here: Paris is UTC+1 in
winter, UTC+2 from the last Sunday of March to the last Sunday of October.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import Event, Person, Request
from tests.inprocess import close_context, open_context, write_config

UTC_ZONE = '\n[schedule]\ntimezone = "UTC"\n'


def request_at(at: datetime) -> int:
    """A request created at `at` (naive UTC), with its first state change then."""
    person = Person.create(email=f"p{at:%Y%m%d%H%M}@users.test", first_name="Léa", created_at=at)
    request = Request.create(person=person, state="new", created_at=at, updated_at=at)
    Event.create(at=at, kind="state", request=request, new_state="new", cause="created")
    return request.id


def action_at(at: datetime, cause: str) -> None:
    Event.create(at=at, kind="import", cause=cause)


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["--config", str(config), "log", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def ids(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[int]:
    return [r["id"] for r in json.loads(run(config, capsys, "--json", *args))["requests"]]


def causes(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    rows = json.loads(run(config, capsys, "--actions", "--json", *args))["actions"]
    return [r["cause"] for r in rows]


@pytest.fixture
def paris(tmp_path: Path) -> Iterator[Path]:
    open_context(tmp_path, directory=False)  # no import event among the actions
    yield write_config(tmp_path)
    close_context()


@pytest.fixture
def utc(tmp_path: Path) -> Iterator[Path]:
    open_context(tmp_path, UTC_ZONE, directory=False)
    yield write_config(tmp_path, UTC_ZONE)
    close_context()


def test_new_years_eve_in_utc_is_new_years_day_in_paris(
    paris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """23:30 UTC on 31 December 2026 is 00:30 on 1 January 2027 in Paris."""
    late = request_at(datetime(2026, 12, 31, 23, 30))
    before = request_at(datetime(2026, 12, 31, 22, 59))  # 23:59 in Paris: still 2026
    assert ids(paris, capsys, "--since", "2027-01-01") == [late]
    assert ids(paris, capsys, "--until", "2026-12-31") == [before]
    assert ids(paris, capsys, "--since", "2026-12-31", "--until", "2026-12-31") == [before]
    action_at(datetime(2026, 12, 31, 23, 30), "late")
    action_at(datetime(2026, 12, 31, 22, 59), "before")
    assert causes(paris, capsys, "--since", "2027-01-01") == ["late"]
    assert causes(paris, capsys, "--until", "2026-12-31") == ["before"]


@pytest.mark.parametrize(
    ("day", "first", "last", "outside"),
    [
        # 29 March 2026, clocks go forward at 02:00: the day is 23 hours,
        # 28 March 23:00 UTC to 29 March 22:00 UTC.
        ("2026-03-29", datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 21, 59),
         (datetime(2026, 3, 28, 22, 59), datetime(2026, 3, 29, 22, 0))),
        # 25 October 2026, clocks go back at 03:00: the day is 25 hours,
        # 24 October 22:00 UTC to 25 October 23:00 UTC.
        ("2026-10-25", datetime(2026, 10, 24, 22, 0), datetime(2026, 10, 25, 22, 59),
         (datetime(2026, 10, 24, 21, 59), datetime(2026, 10, 25, 23, 0))),
    ],
)  # fmt: skip
def test_a_day_when_the_clocks_change(
    paris: Path,
    capsys: pytest.CaptureFixture[str],
    day: str,
    first: datetime,
    last: datetime,
    outside: tuple[datetime, datetime],
) -> None:
    inside = [request_at(first), request_at(last)]
    for at in outside:
        request_at(at)
    assert ids(paris, capsys, "--since", day, "--until", day) == inside
    for at in (first, last, *outside):
        action_at(at, f"{at:%d %H:%M}")
    assert causes(paris, capsys, "--since", day, "--until", day) == [
        f"{first:%d %H:%M}",
        f"{last:%d %H:%M}",
    ]


def test_text_names_the_zone_once_and_shows_its_times(
    paris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    winter = request_at(datetime(2026, 1, 15, 10, 0))  # 11:00 in Paris (UTC+1)
    summer = request_at(datetime(2026, 5, 15, 10, 0))  # 12:00 in Paris (UTC+2)
    out = run(paris, capsys).splitlines()
    assert out[0] == "Times in Europe/Paris"
    assert sum("Times in" in line for line in out) == 1
    assert out[1].startswith(f"Request #{winter} [new]")
    assert out[2] == "  2026-01-15 11:00:00  STATE - -> new (created)"
    assert out[4].startswith(f"Request #{summer} [new]")
    assert out[5] == "  2026-05-15 12:00:00  STATE - -> new (created)"
    action_at(datetime(2026, 1, 15, 23, 30), "imported")  # 00:30 the next day in Paris
    assert run(paris, capsys, "--actions").splitlines() == [
        "Times in Europe/Paris",
        "Actions outside any request:",
        "  2026-01-16 00:30:00  IMPORT imported",
    ]


def test_json_keeps_utc_with_z(paris: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request_at(datetime(2026, 5, 15, 10, 0, 7))
    action_at(datetime(2026, 12, 31, 23, 30), "late")
    [r] = json.loads(run(paris, capsys, "--json"))["requests"]
    assert r["created_at"] == "2026-05-15T10:00:07Z"
    assert r["timeline"][0]["at"] == "2026-05-15T10:00:07Z"
    [a] = json.loads(run(paris, capsys, "--actions", "--json"))["actions"]
    assert a["at"] == "2026-12-31T23:30:00Z"


def test_a_utc_configuration_shows_and_filters_utc(
    utc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = request_at(datetime(2026, 12, 31, 23, 30))
    assert ids(utc, capsys, "--until", "2026-12-31") == [late]
    assert ids(utc, capsys, "--since", "2027-01-01") == []
    out = run(utc, capsys).splitlines()
    assert out[0] == "Times in UTC"
    assert out[2] == "  2026-12-31 23:30:00  STATE - -> new (created)"
