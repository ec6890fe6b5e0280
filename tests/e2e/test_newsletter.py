"""The newsletter's pace and its choice of campaign, without waiting for either.

The pace is checked on the real mail stack with the clock in the test's hands: the sender's
waits advance a fake monotonic clock and MAILFLOW_NOW together, so each mail's recorded
sending time is the instant the pace allowed it, and the slots the outbox is given for the
daemon can be read before anything leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailflow.admin.directory import import_file
from mailflow.admin.newsletter import PastCampaign, choose_campaign, send_newsletter
from mailflow.config import Config, load_config
from mailflow.errors import MailflowError
from mailflow.store.db import open_database
from mailflow.store.models import OutboundMail, database
from mailflow.transport.send import flush_outbox
from tests.deployment import SAMPLE_DIRECTORY, write_config
from tests.mailstack import MailStack
from tests.shared_rules import shared

START = datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture
def cfg(mail: MailStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    """The deployment's configuration with `[newsletter] per_minute = 20`, in this process."""
    path = write_config(tmp_path, mail)
    path.write_text(path.read_text() + "\n[newsletter]\nper_minute = 20\n", encoding="utf-8")
    monkeypatch.setenv("MAILFLOW_NOW", START.isoformat())
    config = load_config(path)
    open_database(config.database.url, tmp_path)
    import_file(SAMPLE_DIRECTORY, shared(config.paths.rules).referential)
    yield config
    database.obj.close()
    database.initialize(None)


class FakeTime:
    """A monotonic clock and MAILFLOW_NOW that move only when the sender waits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.elapsed = 0.0
        self.waits: list[float] = []
        self.slots_seen: list[datetime] | None = None
        self.monkeypatch = monkeypatch

    def clock(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        if self.slots_seen is None:  # before the second mail leaves: the outbox's slots
            rows = OutboundMail.select().where(OutboundMail.purpose == "newsletter")
            self.slots_seen = sorted(r.next_attempt_at for r in rows)
        self.waits.append(seconds)
        self.elapsed += seconds
        now = START + timedelta(seconds=self.elapsed)
        self.monkeypatch.setenv("MAILFLOW_NOW", now.isoformat())


def sent_times(campaign: str) -> list[datetime]:
    rows = [
        r
        for r in OutboundMail.select().where(OutboundMail.purpose == "newsletter")
        if r.idempotency_key.startswith(f"newsletter:{campaign}:")
    ]
    assert len(rows) == 9 and {r.status for r in rows} == {"sent"}
    return sorted(r.sent_at for r in rows)


def test_the_configured_pace_is_kept(
    cfg: Config, mail: MailStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTime(monkeypatch)
    queued, delivery = send_newsletter(cfg, "exemple", sleep=fake.sleep, clock=fake.clock)
    assert (queued.queued, delivery.sent) == (9, 9)
    step = timedelta(seconds=3)  # 20 a minute
    assert fake.slots_seen == [START + i * step for i in range(9)]
    assert sent_times(queued.name) == [START + i * step for i in range(9)]
    assert sum(fake.waits) == pytest.approx(24.0) and all(w > 0 for w in fake.waits)
    for n in range(1, 10):
        mail.wait_for(f"amb{n}@pros.test")


def test_per_minute_overrides_the_configuration_and_zero_does_not_wait(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTime(monkeypatch)
    send_newsletter(cfg, "exemple", "fast", per_minute=30, sleep=fake.sleep, clock=fake.clock)
    assert sent_times("fast") == [START + i * timedelta(seconds=2) for i in range(9)]
    fake = FakeTime(monkeypatch)
    monkeypatch.setenv("MAILFLOW_NOW", START.isoformat())
    send_newsletter(cfg, "exemple", "free", per_minute=0, sleep=fake.sleep, clock=fake.clock)
    assert fake.waits == [] and sent_times("free") == [START] * 9


def test_a_killed_sender_leaves_the_daemon_the_same_pace(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(_: float) -> None:
        raise KeyboardInterrupt  # the process dies while waiting for the second slot

    with pytest.raises(KeyboardInterrupt):
        send_newsletter(cfg, "exemple", sleep=killed, clock=lambda: 0.0)
    monkeypatch.setenv("MAILFLOW_NOW", (START + timedelta(seconds=7)).isoformat())
    flush_outbox(cfg.smtp)  # what the daemon does at its next cycle, 7 s later
    rows = OutboundMail.select().where(OutboundMail.purpose == "newsletter")
    assert sorted(r.status for r in rows) == ["queued"] * 6 + ["sent"] * 3  # slots 0, 3, 6 s


# -- which campaign a run without --campaign belongs to (data in, data out) -----------------


def past(name: str, started: str, in_outbox: int, last: str, template: str = "newsletter_ex"):
    return PastCampaign(
        name=name,
        template=template,
        started_at=datetime.fromisoformat(started),
        in_outbox=in_outbox,
        last_at=datetime.fromisoformat(last),
    )


def test_an_unfinished_campaign_of_the_template_is_resumed_whatever_the_date() -> None:
    crashed = past("ex-2026-03-02", "2026-03-02T23:59", 6, "2026-03-02T23:59:03")
    other = past("spring", "2026-03-03T00:00", 2, "2026-03-03T00:00", template="printemps")
    now = datetime(2026, 3, 9, 8, 0)
    assert choose_campaign("newsletter_ex", "ex-2026-03-09", [crashed, other], now) == (
        "ex-2026-03-02",
        crashed,
    )
    named = past("ex-special", "2026-03-01T10:00", 1, "2026-03-01T10:00")  # --campaign earlier
    assert choose_campaign("newsletter_ex", "ex-2026-03-09", [named], now)[0] == "ex-special"


def test_a_finished_campaign_is_not_sent_again_within_24_hours() -> None:
    done = past("ex-2026-03-02", "2026-03-02T23:59", 0, "2026-03-03T00:01")
    for now in (datetime(2026, 3, 3, 0, 5), datetime(2026, 3, 4, 0, 0, 59)):
        with pytest.raises(MailflowError, match=r"ex-2026-03-02 is finished .* --campaign NAME"):
            choose_campaign("newsletter_ex", f"ex-{now:%Y-%m-%d}", [done], now)
    now = datetime(2026, 3, 4, 0, 1)
    assert choose_campaign("newsletter_ex", "ex-2026-03-04", [done], now) == ("ex-2026-03-04", None)
    other = past("printemps-2026-03-03", "2026-03-03T00:00", 0, "2026-03-03T00:00", "printemps")
    now = datetime(2026, 3, 3, 8, 0)
    assert choose_campaign("newsletter_ex", "ex-2026-03-03", [other], now) == (
        "ex-2026-03-03",
        None,
    )


def test_a_new_campaign_never_takes_a_name_already_used() -> None:
    used = past("ex-2026-04-02", "2026-03-01T09:00", 0, "2026-03-01T09:00", template="other")
    now = datetime(2026, 4, 2, 9, 0)
    assert choose_campaign("newsletter_ex", "ex-2026-04-02", [used], now) == (
        "ex-2026-04-02-2",
        None,
    )


def test_a_campaign_name_with_an_underscore_or_capitals_is_not_another_campaign(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQL LIKE reads '_' as any character and may ignore case: 'spring_1' must not find
    'springx1' done, nor 'spring' find 'Spring' done (each mails everyone once)."""
    for name in ("springx1", "spring_1", "Spring", "spring"):
        queued, delivered = send_newsletter(
            cfg, "exemple", name, per_minute=0, sleep=FakeTime(monkeypatch).sleep
        )
        assert (queued.queued, queued.already, delivered.sent) == (9, 0, 9), name
    rows = OutboundMail.select().where(OutboundMail.purpose == "newsletter")
    assert len({r.idempotency_key for r in rows}) == 36
