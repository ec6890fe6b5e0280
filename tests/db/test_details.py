"""A reply to the help mail completes the request waiting for details (needs_info -> offered)
instead of opening a second one. In-process pipeline; tests/e2e/test_cycle_e2e.py shows it on
the real mail stack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.store.models import Conversation, Event, OutboundMail, Request
from tests.db.test_ambassador_mail import BAKER, NOW, mail, sent
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

LEA = "Léa Martin <lea@users.test>"
VAGUE = "Bonjour, j'ai 14 ans et j'habite à Caen. Je voudrais rencontrer quelqu'un."
FORM = "Métier ou formation : boulangère\n\nLe 20/11/2026, Ambassadeurs a écrit :\n> Bonjour"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def help_mail() -> OutboundMail:
    return OutboundMail.get(OutboundMail.purpose == "help")


def states(request: Request) -> list[tuple[str | None, str | None]]:
    events = request.events.where(Event.kind == "state").order_by(Event.id)
    return [(e.old_state, e.new_state) for e in events]


def test_a_reply_to_the_help_mail_completes_the_request(ctx: Context) -> None:
    assert run(ctx, mail("Demande", VAGUE, sender=LEA)) == {"request-needs-info": 1}
    asked = help_mail()
    reply = mail("Re: " + asked.subject, FORM, sender=LEA, In_Reply_To=asked.message_id)
    assert run(ctx, reply) == {"request-offered": 1}
    [request] = Request.select()
    assert states(request) == [(None, "new"), ("new", "needs_info"), ("needs_info", "offered")]
    assert request.code_rome == "D1102" and request.commune == "Caen"
    assert request.age == 14 and request.minor  # said in the first mail, kept
    assert Conversation.get().ambassador.email == BAKER
    [(_, intro)] = sent("intro")
    assert "j'habite à Caen" in intro and "boulangère" in intro  # both mails, no quote
    assert "Ambassadeurs a écrit" not in intro
    [(to, ack)] = sent("ack")
    assert to == "lea@users.test" and "Boulanger" in ack
    assert "request completed" in Event.get(Event.kind == "details").cause


def test_a_new_mail_without_threading_completes_it_too(ctx: Context) -> None:
    run(ctx, mail("Demande", VAGUE, sender=LEA))
    body = "Pardon, je voulais dire une boulangère."
    assert run(ctx, mail("Précision", body, sender=LEA)) == {"request-offered": 1}
    assert Request.select().count() == 1


def test_still_not_understood_stays_one_request(ctx: Context) -> None:
    run(ctx, mail("Demande", VAGUE, sender=LEA))
    assert run(ctx, mail("Re: demande", "Je ne sais pas trop.", sender=LEA)) == {
        "request-needs-info": 1
    }
    [request] = Request.select()
    assert request.state == "needs_info" and "Je ne sais pas trop." in request.message
    assert len(sent("help")) == 1  # not the same help twice
    run(ctx, mail("Re: demande", "Boulangère !", sender=LEA))
    assert Request.get().state == "offered" and Request.select().count() == 1


def test_the_help_mail_answered_decides_between_two_waiting_requests(ctx: Context) -> None:
    run(ctx, mail("Demande", VAGUE, sender=LEA))
    first = Request.get()
    first.state = "unmatched"  # set aside, so that a second one waits too (older data)
    first.created_at -= timedelta(days=60)  # older than the duplicates' window
    first.save()
    run(ctx, mail("Autre", "Bonjour, une question pour ma fille.", sender=LEA))
    second = Request.get(Request.id != first.id)
    Request.update(state="needs_info").where(Request.id == first.id).execute()
    first_help = OutboundMail.get(OutboundMail.request == first)
    reply = mail("Re: aide", FORM, sender=LEA, In_Reply_To=first_help.message_id)
    assert run(ctx, reply) == {"request-offered": 1}
    assert Request.get_by_id(first.id).state == "offered"
    assert Request.get_by_id(second.id).state == "needs_info"


def test_an_expired_request_is_not_reopened(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    run(ctx, mail("Demande", VAGUE, sender=LEA))
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-21T09:00:00")
    assert run_followups(ctx)["expired"] == 1
    assert run(ctx, mail("Re: demande", "Boulangère", sender=LEA)) == {"request-offered": 1}
    assert [r.state for r in Request.select().order_by(Request.id)] == ["expired", "offered"]


def test_someone_elses_request_is_never_completed(ctx: Context) -> None:
    run(ctx, mail("Demande", VAGUE, sender=LEA))
    asked = help_mail()
    other = mail("Re: aide", FORM, sender="tom@users.test", In_Reply_To=asked.message_id)
    assert run(ctx, other) == {"request-offered": 1}
    assert [r.state for r in Request.select().order_by(Request.id)] == ["needs_info", "offered"]
