"""Retention on a realistic year: once the period has passed, nobody's address or subject
is left in any column of any table, whatever mail or event quoted it; statistics, statuses
and idempotency keys stay, so that nothing is counted wrong or mailed twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

import mailflow.inbound.pipeline as pipeline
from mailflow.admin.newsletter import past_campaigns, queue_campaign
from mailflow.config import PROJECT_ROOT
from mailflow.context import Context
from mailflow.core.followup_policy import load_policy
from mailflow.followup.digest import daily_digest
from mailflow.privacy.erasure import parse_raw
from mailflow.store.models import Ambassador, Event, InboundMessage, OutboundMail, Request
from mailflow.transport.send import _fail
from tests.db.test_bounces import dsn_for
from tests.mailstack import free_port
from tests.privacy_support import (
    ASK_LEA,
    LEA,
    cli,
    confirmed,
    mail,
    opened,
    row_traces,
    run,
    statistics,
    traces,
    write_config,
)

RELAY = "relay@mailflow.test"
COORDINATOR = "coordinator@mailflow.test"
UNKNOWN_TOKEN = "relay+" + "a" * 24 + "@mailflow.test"
STRANGER = "inconnu@ailleurs.test"  # wrote to a relay address that is nobody's
ZOE = "zoe@users.test"  # her request crashed the pipeline: quarantined
JULIEN = "amb2@pros.test"  # an ambassador whose mailbox refused the newsletter, who left
MARIE = "amb1@pros.test"  # an ambassador still in the network
SUBJECTS = ("Stage en boulangerie", "Photos de vacances", "Mon CV de Zoe")
START = "2026-03-02T09:00:00"
LATER = "2026-04-15T09:00:00"  # 44 days on: retention_days = 30


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, mailbox=f"port = {free_port()}")  # nothing listens there


@pytest.fixture
def ctx(config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", START)
    with opened(config) as context:
        yield context


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def a_year_of_mail(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Léa asks and her request ends; a stranger is refused and the refusal bounces; Zoé's
    mail is quarantined; the coordinator's digest names them; a newsletter goes out, one
    mailbox refuses it, and that ambassador leaves the network."""
    lea = mail(f"Léa Martin <{LEA}>", RELAY, ASK_LEA, SUBJECTS[0])
    assert run(ctx, lea) == {"request-offered": 1}
    Request.update(state="closed", closed_at=at(START)).execute()
    assert run(ctx, mail(STRANGER, UNKNOWN_TOKEN, "Je cherche quelqu'un", SUBJECTS[1])) == {
        "refused-unknown-token": 1
    }
    refusal = OutboundMail.get(OutboundMail.recipient == STRANGER)
    assert run(ctx, dsn_for(refusal)) == {"bounce-recorded": 1}

    def crash(*_: object) -> str:  # what PostgreSQL says, quoting the value
        raise RuntimeError(f"duplicate key value: Key (email)=({ZOE}) already exists")

    with monkeypatch.context() as broken:
        broken.setattr(pipeline, "handle_new_request", crash)
        assert run(ctx, mail(f"Zoé <{ZOE}>", RELAY, ASK_LEA, SUBJECTS[2])) == {"quarantined": 1}

    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-03T08:00:00")
    assert daily_digest(ctx, load_policy(PROJECT_ROOT / "rules"), at("2026-03-03T08:00:00"))
    digest = OutboundMail.get(OutboundMail.purpose == "digest")
    text = parse_raw(bytes(digest.raw)).get_body().get_content()
    assert ZOE in text and STRANGER in text and SUBJECTS[2] in text, text
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-04T08:00:00")  # Zoé's mail still waits
    assert daily_digest(ctx, load_policy(PROJECT_ROOT / "rules"), at("2026-03-04T08:00:00"))
    queue_campaign(ctx.cfg, "exemple", "spring")
    _fail(OutboundMail.get(OutboundMail.recipient == JULIEN), f"552 5.2.2 <{JULIEN}>: Mailbox full")
    assert confirmed(ctx, mail(f"Julien <{JULIEN}>", RELAY, "", "STOP")) == {"ambassador-stop": 1}
    OutboundMail.update(status="sent", sent_at=at("2026-03-04T08:00:00")).where(
        OutboundMail.status == "queued"
    ).execute()  # what the outbox did meanwhile


def test_nothing_personal_outlives_the_period(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a_year_of_mail(ctx, monkeypatch)
    before = statistics(config, capsys)
    kinds = Counter(e.kind for e in Event.select())
    for needle in (LEA, STRANGER, ZOE, *SUBJECTS):
        assert row_traces(needle), needle  # there to be erased

    monkeypatch.setenv("MAILFLOW_NOW", LATER)
    code, out, err = cli(config, capsys, "privacy", "purge")
    assert code == 1, err  # the server's copies stay queued: the mailbox is away

    left = {n: traces(config, n) for n in (LEA, STRANGER, ZOE, *SUBJECTS)}
    # Julien left: only the directory names him, until he is forgotten
    left[JULIEN] = [t for t in row_traces(JULIEN) if t != f"Ambassador.email #{_id(JULIEN)}"]
    assert left == {n: [] for n in left}
    assert statistics(config, capsys) == before
    after = Counter(e.kind for e in Event.select())
    assert {k: n for k, n in after.items() if kinds[k] != n} == {
        "anonymised": after["anonymised"],
        "privacy-purge": 1,
    }


def caused_by_nothing() -> list[OutboundMail]:
    """Outgoing mail of no request and no inbound mail: digests, newsletters."""
    return list(
        OutboundMail.select().where(OutboundMail.request.is_null() & OutboundMail.inbound.is_null())
    )


def _id(address: str) -> int:
    return Ambassador.get(Ambassador.email == address).id


def test_erased_mail_keeps_what_the_daemon_needs(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statuses, keys and the recipients that are ours: the digest's period, a campaign
    finished and never mailed twice, the coordinator and the ambassadors still here."""
    a_year_of_mail(ctx, monkeypatch)
    campaigns = past_campaigns()
    assert [(c.name, c.finished) for c in campaigns] == [("spring", True)]
    keys = {m.id: (m.idempotency_key, m.status) for m in OutboundMail.select()}

    monkeypatch.setenv("MAILFLOW_NOW", LATER)
    code, out, _ = cli(config, capsys, "privacy", "purge", "--dry-run")
    assert "1 request(s) would be anonymised" in out
    # the stranger's, its bounce, Zoé's, Julien's STOP and his reply confirming it
    assert "5 mail(s) linked to no request would be anonymised" in out
    assert len(caused_by_nothing()) == 11  # two digests, the newsletter to 9 ambassadors
    assert "; 11 mail(s) sent on no one's behalf would be erased" in out
    # quoting Zoé (quarantine), the stranger (his refusal bounced), Julien (send failure)
    assert "; 3 event(s) outside any request would be cleared of addresses" in out
    assert all(bytes(m.raw) for m in caused_by_nothing())  # a dry run changes nothing
    code, out, err = cli(config, capsys, "privacy", "purge")
    assert code == 1 and "; 11 mail(s) sent on no one's behalf erased" in out, err
    assert "; 3 event(s) outside any request cleared of addresses" in out

    assert {m.id: (m.idempotency_key, m.status) for m in OutboundMail.select()} == keys
    assert all(not bytes(m.raw) and m.subject == "" for m in caused_by_nothing())
    recipients: dict[str, set[str]] = {}
    for m in caused_by_nothing():
        recipients.setdefault(m.purpose, set()).add(m.recipient)
    assert recipients["digest"] == {COORDINATOR}
    assert MARIE in recipients["newsletter"] and JULIEN not in recipients["newsletter"]
    assert past_campaigns() == campaigns  # finished: not resumed, not started again
    assert queue_campaign(ctx.cfg, "exemple", "spring").queued == 0
    purge = Event.select().where(Event.kind == "privacy-purge").order_by(Event.id)
    assert purge[-1].cause == (
        "retention (30 days): 1 request(s) and 5 mail(s) linked to no request anonymised; "
        "11 mail(s) sent on no one's behalf erased; 3 event(s) outside any request cleared "
        "of addresses"
    )
    quarantined = InboundMessage.get(InboundMessage.outcome == "quarantined")
    assert quarantined.status == "dropped" and ZOE not in (quarantined.reason or "")
