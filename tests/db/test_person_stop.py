"""A person's STOP: their open requests are withdrawn and nobody writes to them any more.

In-process pipeline (no servers); tests/e2e/test_cycle_e2e.py shows it on the real mail stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.store.models import Conversation, Event, OutboundMail, Request
from tests.db.test_ambassador_mail import BAKER, NOW, ask, mail, sent
from tests.db.test_handover import LEA, converse, relay
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

PLUMBER = "amb5@pros.test"  # Thomas, plombier chauffagiste à Bayeux


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path, trusted=True)
    close_context()


def test_stop_to_the_shared_address_withdraws_the_request(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask(ctx, LEA)
    assert run(ctx, mail("STOP", sender=f"Léa <{LEA}>")) == {"person-stop": 1}
    request = Request.get()
    assert request.state == "withdrawn" and request.closed_at is not None
    conv = Conversation.get()
    assert conv.state == "closed" and conv.closed_reason == "person-stopped"
    [(to, text)] = sent("person_stop")
    assert to == LEA and "nous avons arrêté votre demande" in text
    assert "Boulanger" in text and "Nous avons prévenu Marie" in text
    assert "ni rappel, ni demande d'avis" in text
    [(to, text)] = sent("exchange_ended_ambassador")
    assert to == BAKER and "nous a écrit pour arrêter sa demande" in text
    ended = OutboundMail.get(OutboundMail.purpose == "exchange_ended_ambassador")
    assert conv.ambassador_token in bytes(ended.raw).decode()  # in the intro's thread
    ack = OutboundMail.get(OutboundMail.purpose == "ack")
    assert ack.status == "failed" and "cancelled" in ack.last_error  # not sent after STOP
    causes = [e.cause for e in Event.select() if e.new_state == "withdrawn"]
    assert causes == ["the person wrote STOP"]
    # Nothing follows: no reminder, no reassignment, no feedback, ever.
    for day in ("2026-11-25", "2026-12-01", "2026-12-20", "2027-02-01"):
        monkeypatch.setenv("MAILFLOW_NOW", f"{day}T09:00:00")
        run_followups(ctx)
    purposes = {r.purpose for r in OutboundMail.select() if r.recipient_role != "coordinator"}
    assert purposes == {"intro", "ack", "person_stop", "exchange_ended_ambassador"}


def test_stop_through_the_relay_address_is_not_forwarded(ctx: Context) -> None:
    conv = converse(ctx)
    relayed = len(sent("relay"))
    body = "STOP\n\nLe 20/11/2026, Marie a écrit :\n> Avec plaisir"
    assert run(ctx, mail("Re: demande", body, sender=LEA, to=relay(conv.person_token))) == {
        "person-stop": 1
    }
    assert len(sent("relay")) == relayed  # Marie never sees the word
    assert Request.get().state == "withdrawn"
    [(_, text)] = sent("exchange_ended_ambassador")
    assert "Merci pour le temps que vous avez consacré" in text
    # Marie answers anyway: the closed notice says why, nothing reaches Léa.
    run(ctx, mail("Re: demande", "Dommage !", to=relay(conv.ambassador_token)))
    [(_, text)] = sent("relay_closed_ambassador")
    assert "nous a demandé d'arrêter l'échange" in text
    assert len(sent("relay")) == relayed


def test_stop_withdraws_every_open_request_once(ctx: Context) -> None:
    ask(ctx, LEA)
    body = "Je voudrais aussi rencontrer un plombier près de Bayeux."
    assert run(ctx, mail("Autre demande", body, sender=LEA)) == {"request-offered": 1}
    assert run(ctx, mail("Stop merci", sender=LEA)) == {"person-stop": 1}
    assert {r.state for r in Request.select()} == {"withdrawn"}
    assert sorted(to for to, _ in sent("exchange_ended_ambassador")) == [BAKER, PLUMBER]
    [(_, text)] = sent("person_stop")
    assert "vos demandes" in text and "Nous avons prévenu Marie et Thomas" in text
    assert run(ctx, mail("STOP", sender=LEA)) == {"person-stop": 1}  # again: nothing open
    assert len(sent("person_stop")) == 1  # the same answer is not sent twice


def test_stop_through_the_feedback_address_withdraws(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    converse(ctx)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-04T10:00:00")
    assert run_followups(ctx)["feedback-asked"] == 1
    token = Request.get().feedback_token
    assert run(ctx, mail("Re: Votre avis", "STOP", sender=LEA, to=relay(token))) == {
        "person-stop": 1
    }
    assert Request.get().state == "withdrawn"
    assert not sent("feedback_unclear") and not sent("exchange_ended_ambassador")
    monkeypatch.setenv("MAILFLOW_NOW", "2027-01-04T10:00:00")
    assert "closed" not in run_followups(ctx)


def test_stop_from_someone_without_a_request(ctx: Context) -> None:
    """Only recorded: the From may be someone who never wrote (issue 10), whom an answer
    would reach for nothing."""
    assert run(ctx, mail("STOP", sender="tom@users.test")) == {"person-stop": 1}
    assert not sent("person_stop") and not OutboundMail.select().count()
    assert "no open request; recorded, not answered" in Event.get(Event.kind == "person-stop").cause
    assert Request.select().count() == 0


def test_stop_from_a_stranger_on_someone_elses_relay_address_is_refused(ctx: Context) -> None:
    conv = converse(ctx)
    outcome = run(ctx, mail("STOP", sender="intrus@users.test", to=relay(conv.person_token)))
    assert outcome == {"refused-stranger": 1}
    assert Request.get().state == "in_conversation"


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("STOP", {"Auto_Submitted": "auto-replied"}),  # automated: never a command
        ("TR: STOP", {}),  # forwarded: someone else's words
        ("Fwd: Stop", {}),
    ],
)
def test_no_stop_from_automated_or_forwarded_mail(
    ctx: Context, subject: str, headers: dict[str, str]
) -> None:
    ask(ctx, LEA)
    outcome = run(ctx, mail(subject, "STOP", sender=LEA, **headers))
    assert "person-stop" not in outcome
    assert Request.get_by_id(1).state == "offered"
    assert not sent("person_stop")
