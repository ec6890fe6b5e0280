"""`mailflow request assign` and `request close`, on the in-process pipeline; the commands
themselves run in tests/e2e/test_cycle_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin import request as request_admin
from mailflow.context import Context
from mailflow.errors import MailflowError
from mailflow.store.models import Ambassador, Conversation, Event, Request
from tests.db.test_ambassador_mail import BAKER, NOW, OTHER_BAKER, ask, mail, sent
from tests.db.test_handover import LEA, converse, relay
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

PLUMBER = "amb5@pros.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def unmatched(ctx: Context) -> Request:
    Ambassador.update(paused=True).execute()
    assert run(ctx, mail("Demande", "Je voudrais rencontrer une boulangère.", sender=LEA)) == {
        "request-unmatched": 1
    }
    return Request.get()


def test_assign_an_unmatched_request(ctx: Context) -> None:
    request = unmatched(ctx)
    with pytest.raises(MailflowError, match="is paused: add --force"):
        request_admin.assign(ctx, request.id, BAKER)
    summary = request_admin.assign(ctx, request.id, "Amb1@Pros.test", force=True)
    assert summary == f"request #{request.id} offered to ambassador #1 (amb1@pros.test); " + (
        "the person gets the found mail"
    )
    assert Request.get_by_id(request.id).state == "offered"
    [(to, _)] = sent("intro")
    assert to == BAKER
    [(to, text)] = sent("found")
    assert to == LEA and "transmis votre demande à Marie" in text
    [event] = Event.select().where(Event.kind == "assigned")
    assert event.cause == "assigned by the coordinator to ambassador #1 (forced: paused)"


def test_assign_takes_the_request_from_a_silent_ambassador(ctx: Context) -> None:
    ask(ctx, LEA)
    first = Conversation.get()
    request_admin.assign(ctx, first.request_id, OTHER_BAKER)
    assert Conversation.get_by_id(first.id).state == "closed"
    states = [(e.old_state, e.new_state) for e in Event.select() if e.kind == "state"][-2:]
    assert states == [("offered", "reassigned"), ("reassigned", "offered")]
    [(to, text)] = sent("reassigned")
    assert to == LEA and "L'équipe de coordination a choisi de confier votre demande" in text
    run(ctx, mail("Re: demande", "Je suis là !", to=relay(first.ambassador_token)))
    [(_, notice)] = sent("relay_closed_ambassador")
    assert "l'équipe de coordination a confié la demande" in notice


def test_assign_during_a_conversation_hands_it_over(ctx: Context) -> None:
    conv = converse(ctx)
    request_admin.assign(ctx, conv.request_id, OTHER_BAKER)
    [(to, text)] = sent("handover")
    assert to == LEA and "L'équipe de coordination a confié la suite" in text
    assert Request.get().state == "offered"


def test_assign_refuses_what_cannot_work(ctx: Context) -> None:
    ask(ctx, LEA)
    request = Request.get()
    with pytest.raises(MailflowError, match="^no request #99$"):
        request_admin.assign(ctx, 99, BAKER)
    with pytest.raises(MailflowError, match="^no ambassador with the address x@pros.test$"):
        request_admin.assign(ctx, request.id, "x@pros.test")
    with pytest.raises(MailflowError, match="is not an email address"):
        request_admin.assign(ctx, request.id, "not an address")
    with pytest.raises(MailflowError, match="already with ambassador #1"):
        request_admin.assign(ctx, request.id, BAKER)
    Ambassador.update(active=False, left_at=NOW).where(Ambassador.email == PLUMBER).execute()
    with pytest.raises(MailflowError, match="left the network"):
        request_admin.assign(ctx, request.id, PLUMBER)
    Ambassador.update(bounce_state="failing").where(Ambassador.email == OTHER_BAKER).execute()
    with pytest.raises(MailflowError, match="clear-bounce amb2@pros.test"):
        request_admin.assign(ctx, request.id, OTHER_BAKER)
    Ambassador.update(capacity=1).where(Ambassador.email == BAKER).execute()
    # Inès as a professional: a pastry cook for a baker is another trade, which the default
    # policy allows alone (rules/matching.toml), not with another kind (her CAP) as well.
    Ambassador.update(kind="metier").where(Ambassador.email == "amb3@pros.test").execute()
    ask(ctx, "tom@users.test")  # to Inès: Julien bounces, Marie is full
    other = Request.select().order_by(Request.id.desc()).get()
    with pytest.raises(MailflowError, match=r"at capacity \(1 open of 1\): add --force"):
        request_admin.assign(ctx, other.id, BAKER)
    request_admin.close(ctx, request.id)
    with pytest.raises(MailflowError, match="is closed: only a request needs_info"):
        request_admin.assign(ctx, request.id, "amb3@pros.test")
    assert Conversation.select().where(Conversation.state == "open").count() == 1


def test_close_quietly_by_default(ctx: Context) -> None:
    conv = converse(ctx)
    summary = request_admin.close(ctx, conv.request_id, reason="doublon de la demande 3")
    assert summary == f"request #{conv.request_id} closed; mailed: nobody"
    request = Request.get()
    assert request.state == "closed" and request.closed_at is not None
    [event] = [e for e in request.events if e.new_state == "closed"]
    assert event.cause == "closed by the coordinator: doublon de la demande 3"
    assert not sent("request_closed_person") and not sent("exchange_ended_ambassador")
    run(ctx, mail("Re: demande", "Et alors ?", sender=LEA, to=relay(conv.person_token)))
    [(_, notice)] = sent("relay_closed_person")
    assert "votre demande sur Boulanger / Boulangère est close" in notice
    assert "doublon" not in notice
    with pytest.raises(MailflowError, match="is already closed"):
        request_admin.close(ctx, conv.request_id)


def test_close_withdrawn_and_notified(ctx: Context) -> None:
    conv = converse(ctx)
    summary = request_admin.close(ctx, conv.request_id, withdrawn=True, notify=True)
    assert summary == f"request #{conv.request_id} withdrawn; mailed: the person and Marie"
    assert Request.get().state == "withdrawn"
    [(to, text)] = sent("request_closed_person")
    assert to == LEA and "Comme convenu, nous avons arrêté votre demande" in text
    [(to, text)] = sent("exchange_ended_ambassador")
    assert to == BAKER and "L'équipe de coordination a clos la demande" in text
    assert Conversation.get_by_id(conv.id).closed_reason == "request-closed"
