"""Days begin at midnight in `[schedule] timezone` (default Europe/Paris): business days,
the end of an absence and the digest's hour; stored times stay naive UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.cli.main import main
from mailflow.clock import from_local, local
from mailflow.config import load_config
from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.errors import ConfigError
from mailflow.store.models import Ambassador, OutboundMail
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process
from tests.inprocess import write_config as write_inprocess_config

BAKER = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


@pytest.fixture
def paris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-06T23:30:00")  # Friday; Saturday in Paris
    yield open_context(tmp_path, trusted=True)
    close_context()


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("MAILFLOW_NOW", when)


def reminders() -> int:
    return OutboundMail.select().where(OutboundMail.purpose == "reminder_ambassador").count()


# -- the configuration ---------------------------------------------------------------------


def test_default_zone_and_a_chosen_one(tmp_path: Path) -> None:
    assert str(load_config(write_inprocess_config(tmp_path)).schedule.zone) == "Europe/Paris"
    chosen = write_inprocess_config(tmp_path, '\n[schedule]\ntimezone = "America/Cayenne"\n')
    assert str(load_config(chosen).schedule.zone) == "America/Cayenne"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ('"Europe/Pariss"', "schedule.timezone 'Europe/Pariss' is not a known time zone"),
        ('"../../etc/passwd"', "is not a known time zone"),
        ('""', "is not a known time zone"),
        ("1", "schedule.timezone must be str"),
    ],
)
def test_wrong_zone_is_named(tmp_path: Path, value: str, error: str) -> None:
    path = write_inprocess_config(tmp_path, f"\n[schedule]\ntimezone = {value}\n")
    with pytest.raises(ConfigError, match=error):
        load_config(path)


def test_wrong_zone_on_the_command_line_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_inprocess_config(tmp_path, '\n[schedule]\ntimezone = "Nowhere/Land"\n')
    assert main(["--config", str(path), "ambassadors", "list"]) == 2
    err = capsys.readouterr().err
    assert "schedule.timezone" in err and "Traceback" not in err


def test_local_and_back_across_daylight_saving() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert local(datetime(2026, 3, 28, 23, 0), paris) == datetime(2026, 3, 29, 0, 0)  # CET
    assert local(datetime(2026, 3, 29, 22, 0), paris) == datetime(2026, 3, 30, 0, 0)  # CEST
    assert from_local(datetime(2026, 12, 16), paris) == datetime(2026, 12, 15, 23)
    assert from_local(datetime(2026, 7, 1), paris) == datetime(2026, 6, 30, 22)


# -- business days ---------------------------------------------------------------------------


def test_business_days_begin_at_local_midnight(
    paris: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offered Friday 23:30 UTC, that is Saturday 00:30 in Paris: the count starts on
    Monday, and 3 business days end at Thursday 00:00 Paris, Wednesday 23:00 UTC (a UTC
    count would end at Wednesday 23:30 UTC)."""
    assert store_and_process(paris, mail_bytes(BAKER)) == {"request-offered": 1}
    at(monkeypatch, "2026-03-11T22:59:00")
    run_followups(paris)
    assert reminders() == 0
    at(monkeypatch, "2026-03-11T23:00:00")
    assert run_followups(paris)["reminder1"] == 1


# -- absences --------------------------------------------------------------------------------


def test_absence_ends_at_midnight_in_paris(paris: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2026-11-20T09:00:00")
    absent = mail_bytes("\n", "amb1@pros.test", subject="ABSENT jusqu'au 15/12/2026")
    assert store_and_process(paris, absent) == {"ambassador-absent": 1}
    marie = Ambassador.get(Ambassador.email == "amb1@pros.test")
    assert marie.absent_until == datetime(2026, 12, 15, 23)  # 16/12 00:00 in Paris


def test_absence_ends_at_midnight_of_another_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, "2026-11-20T09:00:00")
    ctx = open_context(tmp_path, '\n[schedule]\ntimezone = "UTC"\n', trusted=True)
    try:
        absent = mail_bytes("\n", "amb1@pros.test", subject="ABSENT jusqu'au 15/12/2026")
        assert store_and_process(ctx, absent) == {"ambassador-absent": 1}
        marie = Ambassador.get(Ambassador.email == "amb1@pros.test")
        assert marie.absent_until == datetime(2026, 12, 16)
    finally:
        close_context()


def test_today_is_the_local_day(paris: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 23:30 UTC on 15 December it is already the 16th in Paris: "until the 15th" is
    in the past, and the ambassador is told so."""
    at(monkeypatch, "2026-12-15T23:30:00")
    absent = mail_bytes("\n", "amb1@pros.test", subject="ABSENT jusqu'au 15/12/2026")
    assert store_and_process(paris, absent) == {"ambassador-absent-invalid": 1}


# -- the digest's hour -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "early", "on_time"),
    [
        ("Europe/Paris", "2026-07-01T05:59:00", "2026-07-01T06:00:00"),  # 08:00 CEST
        ("Europe/Paris", "2026-01-05T06:59:00", "2026-01-05T07:00:00"),  # 08:00 CET
        ("UTC", "2026-07-01T07:59:00", "2026-07-01T08:00:00"),
    ],
)
def test_digest_hour_is_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str, early: str, on_time: str
) -> None:
    at(monkeypatch, early)
    ctx = open_context(tmp_path, f'\n[schedule]\ntimezone = "{zone}"\n', trusted=True)
    try:
        assert "digest" not in run_followups(ctx)
        at(monkeypatch, on_time)
        assert run_followups(ctx)["digest"] == 1
        [digest] = OutboundMail.select().where(OutboundMail.purpose == "digest")
        assert digest.idempotency_key == f"digest:{on_time[:10]}"
        assert "Synthèse du " in digest.subject
    finally:
        close_context()


def test_digest_day_is_the_local_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """23:30 UTC on 1 July is 01:30 on 2 July in Paris: before that day's hour, and the
    1 July digest was already sent."""
    at(monkeypatch, "2026-07-01T06:00:00")
    ctx = open_context(tmp_path, trusted=True)
    try:
        assert run_followups(ctx)["digest"] == 1
        at(monkeypatch, "2026-07-01T23:30:00")
        assert "digest" not in run_followups(ctx)
        at(monkeypatch, "2026-07-02T06:00:00")
        assert run_followups(ctx)["digest"] == 1
        keys = [m.idempotency_key for m in OutboundMail.select().order_by(OutboundMail.id)]
        assert keys == ["digest:2026-07-01", "digest:2026-07-02"]
    finally:
        close_context()
