"""Anonymising a request reaches the log too: the events of the request and of its
conversations keep their kind, time and states (statistics read those) but no longer quote
the person's address, a third party's (a friend in Cc), the subjects of the exchange, nor
an SMTP error naming the person; the errors of its outgoing mail neither."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.privacy.log import Quoted, subject_pattern
from mailflow.store.models import Conversation, Event, InboundMessage, OutboundMail, Request
from mailflow.transport.send import _fail
from tests.db.test_bounces import dsn_for
from tests.inprocess import mail_bytes
from tests.mailstack import free_port
from tests.privacy_support import (
    ASK_LEA,
    ASK_TOM,
    BAKER,
    LEA,
    cli,
    confirmed,
    opened,
    relay,
    run,
    statistics,
    traces,
    write_config,
)

RELAY = "relay@mailflow.test"
FRIEND = "camille.amie@copains.test"  # in Cc of Léa's mails: never wrote to mailflow on purpose
SUBJECT = "Projet Zéphyrine, classe de 4e B"
WORDS = ("Zéphyrine", "classe de 4e B")
START = "2026-03-02T09:00:00"
FEEDBACK = "2026-03-16T10:00:00"  # two weeks on: feedback asked
LATER = "2026-05-01T09:00:00"  # more than retention_days = 30 after the request closed


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, mailbox=f"port = {free_port()}")  # nothing listens there


@pytest.fixture
def ctx(config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", START)
    with opened(config) as context:
        yield context


def an_exchange(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Request:
    """Léa asks (her friend in Cc); Marie's out-of-office quotes the subject, then Marie
    answers; Léa answers (friend in Cc), the friend answers all and is refused; feedback;
    a mail to Léa bounces quoting her address, another fails at SMTP quoting it."""
    lea = f"Léa Martin <{LEA}>"
    ask = mail_bytes(ASK_LEA, lea, RELAY, SUBJECT, Cc=f"Camille <{FRIEND}>")
    assert run(ctx, ask) == {"request-offered": 1}
    conv = Conversation.get()
    to_lea, to_marie = relay(ctx, conv.ambassador_token), relay(ctx, conv.person_token)
    away = mail_bytes(
        "Bonjour,\nJe suis absente jusqu'au 04/03/2026 inclus (congés en Bretagne).\nMarie",
        f"Marie <{BAKER}>",
        to_lea,
        f"Réponse automatique : {SUBJECT}",
        Auto_Submitted="auto-replied",
    )
    assert run(ctx, away) == {"auto-reply": 1}
    answer = mail_bytes("Avec plaisir, Léa !", f"Marie <{BAKER}>", to_lea, f"Re: {SUBJECT}")
    assert run(ctx, answer) == {"relayed": 1}
    thanks = mail_bytes("Merci !\nLéa", lea, to_marie, f"Re: Re: {SUBJECT}", Cc=FRIEND)
    assert run(ctx, thanks) == {"relayed": 1}
    reply_all = mail_bytes(
        "Trop bien !", f"Camille <{FRIEND}>", to_marie, f"Re: Re: Re: {SUBJECT}", Cc=LEA
    )
    assert run(ctx, reply_all) == {"refused-stranger": 1}
    monkeypatch.setenv("MAILFLOW_NOW", FEEDBACK)
    assert run_followups(ctx)["feedback-asked"] == 1
    request = Request.get()
    opinion = mail_bytes("5, oui\nLéa", lea, relay(ctx, request.feedback_token), "Re: avis")
    assert confirmed(ctx, opinion) == {"feedback-recorded": 1}
    relayed = OutboundMail.get(
        (OutboundMail.purpose == "relay") & (OutboundMail.recipient == LEA.lower())
    )
    assert run(ctx, dsn_for(relayed)) == {"bounce-recorded": 1}
    thanks_mail = OutboundMail.get(OutboundMail.purpose == "feedback_thanks")
    _fail(thanks_mail, f"550 5.1.1 <{LEA.lower()}>: Recipient address rejected")
    return Request.get_by_id(request.id)


def kept_of_the_log() -> dict[int, tuple]:
    """What the log keeps through an erasure: each event's kind, time, states and links."""
    return {
        e.id: (e.kind, e.at, e.old_state, e.new_state, e.request_id, e.conversation_id)
        for e in Event.select()
    }


def needles() -> tuple[str, ...]:
    return (LEA, FRIEND, *WORDS, "Léa")


def anonymise(how: str, config: Path, capsys: pytest.CaptureFixture[str], mp: Any) -> None:
    if how == "retention":
        mp.setenv("MAILFLOW_NOW", LATER)
        code, out, err = cli(config, capsys, "privacy", "purge")
        assert "1 request(s) anonymised" in out, (out, err)
    else:
        code, out, err = cli(config, capsys, "person", "forget", LEA)
        assert "forgotten: 1 request(s) anonymised" in out, (out, err)
    assert code == 1, err  # the server's copies wait for the mailbox, which is away


@pytest.mark.parametrize("how", ["retention", "forget"])
def test_anonymising_clears_the_log_of_what_the_exchange_quoted(
    how: str,
    ctx: Context,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = an_exchange(ctx, monkeypatch)
    assert request.state == "closed"
    before, log = statistics(config, capsys), kept_of_the_log()
    kinds = {e.kind for e in Event.select().where(Event.request == request)}
    assert {"auto-reply", "bounce", "person-bounced", "feedback", "send-failed"} <= kinds
    for needle in needles():
        assert traces(config, needle), needle  # there to be erased

    anonymise(how, config, capsys, monkeypatch)

    left = {needle: traces(config, needle) for needle in needles()}
    assert left == {needle: [] for needle in needles()}, left
    assert statistics(config, capsys) == before
    after = kept_of_the_log()
    assert {i: after[i] for i in log} == log  # nothing of the log went, nor changed kind
    auto_reply = Event.get((Event.request == request) & (Event.kind == "auto-reply"))
    assert "[objet effacé]" in auto_reply.cause and "return date 2026-03-05" in auto_reply.cause
    failed = OutboundMail.get(OutboundMail.purpose == "feedback_thanks")
    assert failed.last_error.startswith("550 5.1.1 <") and "@users.test" not in failed.last_error
    # Marie is still in the network: the log and her mail may go on naming her.
    assert InboundMessage.select().where(InboundMessage.sender == BAKER).exists()


def test_retention_clears_the_log_of_a_person_who_is_still_here(
    ctx: Context,
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Léa asked again since: she is not forgotten, her new request keeps her address, but
    the old one's log and errors no longer quote it, nor her friend, nor its subjects."""
    old = an_exchange(ctx, monkeypatch)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-25T09:00:00")
    again = mail_bytes(ASK_TOM.replace("Tom", "Léa"), f"Léa <{LEA}>", RELAY, "Autre idée")
    assert run(ctx, again) == {"request-offered": 1}
    before = statistics(config, capsys)

    anonymise("retention", config, capsys, monkeypatch)

    assert Request.get_by_id(old.id).message == ""
    assert "plombier" in Request.get(Request.id != old.id).message  # live: kept whole
    convs = [c.id for c in Conversation.select().where(Conversation.request == old)]
    causes = [
        e.cause
        for e in Event.select().where((Event.request == old) | (Event.conversation << convs))
    ]
    errors = [
        m.last_error or ""
        for m in OutboundMail.select().where(
            (OutboundMail.request == old) | (OutboundMail.conversation << convs)
        )
    ]
    quoting = {n: [c for c in causes + errors if n.lower() in c.lower()] for n in needles()}
    assert quoting == {n: [] for n in needles()}, quoting
    left = {n: traces(config, n) for n in (FRIEND, *WORDS)}
    assert left == {n: [] for n in left}, left
    assert statistics(config, capsys) == before


def test_a_subject_is_recognised_whole_and_as_an_event_cuts_it() -> None:
    long = "Stage de 3e " + "chez Zéphyrine et son équipe " * 5
    quoted = Quoted(subject_pattern({" ".join(long.split()), "Projet Zéphyrine"}), None, no_one)
    cut = " ".join(long.split())[:99] + "…"  # inbound/automated.py quotes a long subject so
    assert quoted.clean(f"auto-reply: {cut!r}, no return date") == (
        "auto-reply: '[objet effacé]', no return date"
    )
    assert quoted.clean("re: PROJET  zéphyrine") == "re: [objet effacé]"
    assert quoted.clean("Projet Zéphyrines, <a@b.test>") == (
        "Projet Zéphyrines, <[adresse effacée]>"
    )  # another word: not that subject; the address goes all the same
    assert subject_pattern({"Re: Projet Zéphyrine"}).sub("", "Re: projet zéphyrine") == ""
    assert subject_pattern([]) is None


def no_one(address: str) -> bool:
    return False
