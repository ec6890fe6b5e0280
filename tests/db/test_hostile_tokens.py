"""Mail lost without a word (issue 10, item 4), without servers.

(a) Every relay token a mail was addressed to is read; it goes to each conversation once,
or the sender is told which address did not get it. (b) A person's mail over the hourly
relay cap is held in quarantine, its sender told, and passed on later exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.admin.quarantine import list_quarantine, retry
from mailflow.config import PROJECT_ROOT
from mailflow.context import Context
from mailflow.core.addresses import relay_tokens
from mailflow.core.followup_policy import load_policy
from mailflow.followup.digest import collect_digest
from mailflow.inbound.pipeline import parse, process_pending, release_calm
from mailflow.store.models import Conversation, Event, InboundMessage, OutboundMail
from tests.inprocess import close_context, mail_bytes, open_context
from tests.inprocess import store_and_process as run

LEA, TOM = "Léa <lea@users.test>", "Tom <tom@users.test>"
BAKER = "amb1@pros.test"
ASK = "Je voudrais rencontrer une boulangère près de Caen."
UNKNOWN = "relay+abcdefghijklmnopqrstuvwx@mailflow.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path, "\n[limits]\nmax_relayed_per_conversation_per_hour = 1\n")
    close_context()


def at(monkeypatch: pytest.MonkeyPatch, moment: str) -> datetime:
    monkeypatch.setenv("MAILFLOW_NOW", moment)
    return datetime.fromisoformat(moment)


def two_conversations(ctx: Context) -> tuple[str, str]:
    """Léa's and Tom's requests, both offered to Marie: the addresses she writes them at."""
    assert run(ctx, mail_bytes(ASK, LEA), mail_bytes(ASK, TOM)) == {"request-offered": 2}
    convs = list(Conversation.select().order_by(Conversation.id))
    assert [c.ambassador.email for c in convs] == [BAKER, BAKER]
    return tuple(ctx.cfg.relay.token_address(c.ambassador_token) for c in convs)  # type: ignore[return-value]


def to_both(to: str, *, cc: str = "", delivered: str = "", body: str = "Samedi 9h.") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Marie <{BAKER}>", to, "Rendez-vous"
    if cc:
        msg["Cc"] = cc
    msg["Message-ID"] = "<rdv.1@pros.test>"
    msg.set_content(body)
    raw = bytes(msg)
    return f"Delivered-To: {delivered}\n".encode() + raw if delivered else raw


def relays_to(address: str) -> int:
    return (
        OutboundMail.select()
        .where((OutboundMail.purpose == "relay") & (OutboundMail.recipient == address))
        .count()
    )


def notice_text(purpose: str, to: str = BAKER) -> list[str]:
    rows = OutboundMail.select().where(
        (OutboundMail.purpose == purpose) & (OutboundMail.recipient == to)
    )
    return [parse(bytes(r.raw)).get_body(("plain",)).get_content() for r in rows]


# -- (a) several relay addresses -------------------------------------------------------------


def test_every_relay_token_is_read_each_once_delivery_first(ctx: Context) -> None:
    a, b = "a" * 24, "b" * 24
    raw = to_both(
        f"relay+{a}@mailflow.test",
        cc=f"x@y.test, {b}@relay.mailflow.test",
        delivered=f"relay+{b}@mailflow.test",
    )
    assert relay_tokens(parse(raw), ctx.cfg.relay) == [b, a]
    assert relay_tokens(parse(to_both("relay@mailflow.test")), ctx.cfg.relay) == []


def test_to_and_cc_two_conversations_each_get_it_once(ctx: Context) -> None:
    lea, tom = two_conversations(ctx)
    first = to_both(lea, cc=tom, delivered=lea)
    again = to_both(lea, cc=tom, delivered=tom)  # the Cc's own delivery: a duplicate
    assert run(ctx, first, again) == {"relayed": 1}
    assert relays_to("lea@users.test") == 1 and relays_to("tom@users.test") == 1
    assert [
        r.outcome
        for r in InboundMessage.select()
        .where(InboundMessage.message_id == "<rdv.1@pros.test>")
        .order_by(InboundMessage.id)
    ] == ["relayed", "duplicate"]
    for row in OutboundMail.select().where(OutboundMail.purpose == "relay"):
        assert b"amb1@pros.test" not in bytes(row.raw)
    assert notice_text("relay_not_delivered") == []
    conv_lea, conv_tom = Conversation.select().order_by(Conversation.id)
    assert conv_lea.ambassador_last_at and conv_tom.ambassador_last_at


def test_a_bcc_copy_goes_to_its_conversation_and_not_twice_to_the_other(ctx: Context) -> None:
    lea, tom = two_conversations(ctx)
    to_copy = to_both(lea, delivered=lea)
    bcc_copy = to_both(lea, delivered=tom)  # only its Delivered-To names Tom's address
    assert run(ctx, to_copy, bcc_copy) == {"relayed": 2}
    assert relays_to("lea@users.test") == 1 and relays_to("tom@users.test") == 1
    # the same two copies the other way round: the first one goes to both
    assert run(ctx, to_copy, bcc_copy) == {}  # identical bytes: not even stored again


def test_the_bcc_copy_first_then_the_to_copy_is_a_duplicate(ctx: Context) -> None:
    lea, tom = two_conversations(ctx)
    assert run(ctx, to_both(lea, delivered=tom), to_both(lea, delivered=lea)) == {"relayed": 1}
    assert relays_to("lea@users.test") == 1 and relays_to("tom@users.test") == 1


def test_a_later_copy_after_a_crash_replay_relays_nothing_twice(ctx: Context) -> None:
    """Two copies that both name both addresses (no delivery header to tell them apart
    in ingest, e.g. Received only): the second finds both conversations served."""
    lea, tom = two_conversations(ctx)
    first = b"Received: from a by b\n" + to_both(lea, cc=tom)
    second = b"Received: from c by d\n" + to_both(lea, cc=tom, delivered=UNKNOWN)
    outcomes = run(ctx, first, second)
    assert outcomes == {"relayed": 1, "duplicate": 1}, outcomes
    assert relays_to("lea@users.test") == 1 and relays_to("tom@users.test") == 1


def test_an_unknown_address_among_the_recipients_is_named_to_the_sender(ctx: Context) -> None:
    lea, _ = two_conversations(ctx)
    assert run(ctx, to_both(lea, cc=UNKNOWN)) == {"relayed": 1}
    assert relays_to("lea@users.test") == 1
    [text] = notice_text("relay_not_delivered")
    assert "bien été transmis" in text and UNKNOWN in text and "n'existe pas" in text
    assert "lea@users.test" not in text
    assert Event.select().where(Event.cause.contains("(unknown)")).count() == 1


def test_a_closed_conversation_and_one_of_another_ambassador_are_named(ctx: Context) -> None:
    lea, tom = two_conversations(ctx)
    assert run(
        ctx,
        mail_bytes("Je voudrais rencontrer une aide-soignante à Saint-Lô.", "Zoé <zoe@users.test>"),
    ) == {"request-offered": 1}
    other = Conversation.get(Conversation.ambassador != Conversation.get_by_id(1).ambassador)
    not_mine = ctx.cfg.relay.token_address(other.ambassador_token)
    Conversation.update(state="closed", closed_reason="coordinator").where(
        Conversation.id == 2
    ).execute()
    assert run(ctx, to_both(lea, cc=f"{tom}, {not_mine}")) == {"relayed": 1}
    assert relays_to("lea@users.test") == 1
    assert relays_to("tom@users.test") == 0 and relays_to("zoe@users.test") == 0
    [text] = notice_text("relay_not_delivered")
    assert tom in text and "terminé" in text
    assert not_mine in text and "vous ne faites pas partie" in text


def test_all_addresses_wrong_keeps_todays_refusal(ctx: Context) -> None:
    two_conversations(ctx)
    other = "relay+" + "c" * 24 + "@mailflow.test"
    assert run(ctx, to_both(UNKNOWN, cc=other)) == {"refused-unknown-token": 1}
    assert OutboundMail.select().where(OutboundMail.purpose == "stranger_refused").count() == 1
    assert notice_text("relay_not_delivered") == []


def test_the_person_writing_to_two_addresses_of_their_own_conversation_gets_one_copy(
    ctx: Context,
) -> None:
    """Both tokens name one conversation: it is relayed once, nobody is told of a problem."""
    lea, _ = two_conversations(ctx)
    conv = Conversation.get_by_id(1)
    to_marie = ctx.cfg.relay.token_address(conv.person_token)
    raw = mail_bytes("Merci !", LEA, f"{to_marie}, {lea}", subject="Re: Demande")
    assert run(ctx, raw) == {"relayed": 1}
    assert relays_to(BAKER) == 1 and notice_text("relay_not_delivered", "lea@users.test") == []


# -- (b) held by the hourly cap ----------------------------------------------------------------


def _answers(ctx: Context, lea: str, *bodies: str) -> dict[str, int]:
    return run(
        ctx, *(mail_bytes(b, f"Marie <{BAKER}>", lea, subject="Re: Demande") for b in bodies)
    )


def test_over_the_cap_a_persons_mail_is_held_and_the_sender_told_once(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lea, _ = two_conversations(ctx)
    assert _answers(ctx, lea, "Un.", "Deux.", "Trois.") == {"relayed": 1, "rate-limited": 2}
    held = list(InboundMessage.select().where(InboundMessage.outcome == "rate-limited"))
    assert [m.status for m in held] == ["quarantined", "quarantined"]
    assert all("held" in m.reason and "quarantine retry" in m.reason for m in held)
    [told] = notice_text("rate_limited_sender")
    assert "pas perdu" in told
    assert [e.id for e in list_quarantine()] == [m.id for m in held]
    now = datetime(2026, 3, 2, 9, 0)
    digest = collect_digest(now, load_policy(PROJECT_ROOT / "rules").digest_age_bands)
    assert [q.inbound_id for q in digest.quarantined] == [m.id for m in held]
    assert all(q.reason.startswith("rate-limited: ") for q in digest.quarantined)
    at(monkeypatch, "2026-03-02T09:30:00")
    assert release_calm(ctx, datetime(2026, 3, 2, 9, 30)) == {}  # not calm yet
    at(monkeypatch, "2026-03-03T09:30:00")  # the next day: told again, at most once
    assert _answers(ctx, lea, "Quatre.") == {"relayed": 1}
    assert _answers(ctx, lea, "Cinq.") == {"rate-limited": 1}
    assert len(notice_text("rate_limited_sender")) == 1  # within auto_reply_interval_days


def test_quarantine_retry_relays_a_held_mail_once_without_the_cap(ctx: Context) -> None:
    lea, _ = two_conversations(ctx)
    assert _answers(ctx, lea, "Un.", "Deux.") == {"relayed": 1, "rate-limited": 1}
    held = InboundMessage.get(InboundMessage.outcome == "rate-limited")
    retry(held.id)
    assert process_pending(ctx) == {"relayed": 1}  # still within the hour
    assert relays_to("lea@users.test") == 2
    assert InboundMessage.get_by_id(held.id).status == "processed"
    assert Event.select().where(Event.kind == "rate-limit-waived").count() == 1
    assert release_calm(ctx, datetime(2026, 3, 2, 12, 0)) == {}
    assert relays_to("lea@users.test") == 2


def test_held_mail_goes_by_itself_once_calm_oldest_first_within_the_cap(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lea, _ = two_conversations(ctx)
    assert _answers(ctx, lea, "Un.", "Deux.", "Trois.") == {"relayed": 1, "rate-limited": 2}
    first, second = (
        InboundMessage.select()
        .where(InboundMessage.outcome == "rate-limited")
        .order_by(InboundMessage.id)
    )
    now = at(monkeypatch, "2026-03-02T10:30:00")
    assert release_calm(ctx, now) == {"released-relayed": 1}  # room for one (cap 1)
    assert InboundMessage.get_by_id(first.id).outcome == "relayed"
    assert InboundMessage.get_by_id(second.id).status == "quarantined"
    assert release_calm(ctx, now) == {}  # the hour is full again
    now = at(monkeypatch, "2026-03-02T11:31:00")
    assert release_calm(ctx, now) == {"released-relayed": 1}
    assert release_calm(ctx, at(monkeypatch, "2026-03-02T14:00:00")) == {}
    bodies = [bytes(r.raw) for r in OutboundMail.select().where(OutboundMail.purpose == "relay")]
    assert [len(re.findall(rb"Deux\.", b)) + len(re.findall(rb"Trois\.", b)) for b in bodies] == [
        0,
        1,
        1,
    ]
    assert Event.select().where(Event.kind == "rate-limit-release").count() == 2


def test_over_the_cap_in_one_of_two_conversations_holds_it_for_both_then_both_get_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lea, tom = two_conversations(ctx)
    assert _answers(ctx, lea, "Un.") == {"relayed": 1}
    assert run(ctx, to_both(lea, cc=tom)) == {"rate-limited": 1}
    assert relays_to("tom@users.test") == 0
    now = at(monkeypatch, "2026-03-02T11:00:00")
    assert release_calm(ctx, now) == {"released-relayed": 1}
    assert relays_to("lea@users.test") == 2 and relays_to("tom@users.test") == 1


def test_a_conversation_flooding_again_after_a_release_waits_a_day(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two robots the classifier missed would otherwise loop at the cap's pace, released and
    held again every other hour: after one release, a new flood is left to the coordinator
    (quarantine retry) until a day has passed."""
    lea, _ = two_conversations(ctx)
    assert _answers(ctx, lea, "Un.", "Deux.", "Trois.") == {"relayed": 1, "rate-limited": 2}
    now = at(monkeypatch, "2026-03-02T10:30:00")
    assert release_calm(ctx, now) == {"released-relayed": 1}
    at(monkeypatch, "2026-03-02T10:31:00")
    assert _answers(ctx, lea, "Quatre.") == {"rate-limited": 1}  # held again after the release
    assert release_calm(ctx, at(monkeypatch, "2026-03-02T12:00:00")) == {}
    assert release_calm(ctx, at(monkeypatch, "2026-03-02T23:59:00")) == {}
    assert release_calm(ctx, at(monkeypatch, "2026-03-03T10:31:00")) == {"released-relayed": 1}
