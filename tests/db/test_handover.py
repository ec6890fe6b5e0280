"""An ambassador who leaves or stops receiving mail hands their requests on, honestly.

In-process pipeline (no servers): what each side is told, what the request becomes, and
what a later mail through a closed relay address gets back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.store.models import Conversation, Event, OutboundMail, Request
from tests.db.test_ambassador_mail import BAKER, NOW, OTHER_BAKER, amb, ask, mail, sent
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

LEA = "lea@users.test"
PATISSIERE = "amb3@pros.test"  # Inès, CAP Pâtissier à Caen: same ROME domain


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path, trusted=True)
    close_context()


def relay(token: str) -> str:
    return f"relay+{token}@mailflow.test"


def converse(ctx: Context) -> Conversation:
    """Léa asks, Marie answers, Léa answers back: a live exchange (in_conversation)."""
    assert ask(ctx, LEA) == BAKER
    conv = Conversation.get()
    run(ctx, mail("Re: demande", "Avec plaisir, passez mercredi.", to=relay(conv.ambassador_token)))
    run(ctx, mail("Re: demande", "Merci, avec plaisir !", sender=LEA, to=relay(conv.person_token)))
    assert Request.get().state == "in_conversation"
    return conv


def states(request: Request) -> list[tuple[str | None, str | None]]:
    events = request.events.where(Event.kind == "state").order_by(Event.id)
    return [(e.old_state, e.new_state) for e in events]


def test_stop_during_a_conversation_hands_it_over_and_says_so(ctx: Context) -> None:
    first = converse(ctx)
    assert run(ctx, mail("STOP")) == {"ambassador-stop": 1}
    request = Request.get()
    assert states(request)[-2:] == [("in_conversation", "reassigned"), ("reassigned", "offered")]
    second = request.conversations.order_by(Conversation.id)[-1]
    assert second.ambassador.email == OTHER_BAKER
    assert Conversation.get_by_id(first.id).state == "closed"
    [(to, text)] = sent("handover")
    assert to == LEA
    assert "Marie vient de quitter le réseau" in text and "Julien" in text
    assert "nous avons transmis votre demande" in text
    handover = OutboundMail.get(OutboundMail.purpose == "handover")
    assert "Julien prend le relais" in handover.subject
    assert handover.conversation_id == second.id  # sent from Julien's relay address
    [(_, thanks)] = sent("ambassador_stop")
    assert "Votre échange en cours a été confié à un autre ambassadeur" in thanks
    assert not sent("reassigned")


def test_stop_with_nobody_left_escalates_and_says_so(ctx: Context) -> None:
    run(ctx, mail("PAUSE", sender=OTHER_BAKER), mail("PAUSE", sender=PATISSIERE))
    converse(ctx)
    assert run(ctx, mail("STOP")) == {"ambassador-stop": 1}
    request = Request.get()
    assert request.state == "unmatched" and request.escalated_at is not None
    [(to, text)] = sent("handover")
    assert to == LEA and "Marie vient de quitter le réseau" in text
    assert "aucun autre ambassadeur n'est disponible" in text and "reviendra vers vous" in text
    assert "s'arrête" in OutboundMail.get(OutboundMail.purpose == "handover").subject
    assert not sent("still_looking")  # the person hears it once, in the right words
    [(to, _)] = sent("escalation_coordinator")
    assert to == "coordinator@mailflow.test"
    [(_, thanks)] = sent("ambassador_stop")
    assert "confié" not in thanks
    assert "Votre échange en cours a été transmis à l'équipe de coordination" in thanks


def test_stop_after_the_feedback_request_hands_nothing_over(ctx: Context) -> None:
    converse(ctx)
    request = Request.get()
    request.state, request.feedback_asked_at = "feedback_asked", request.created_at
    request.save()
    assert run(ctx, mail("STOP")) == {"ambassador-stop": 1}
    assert Request.get().state == "feedback_asked"
    assert not sent("handover") and not sent("reassigned") and not sent("still_looking")
    [(_, thanks)] = sent("ambassador_stop")
    assert "confié" not in thanks and "transmis" not in thanks


def test_feedback_is_about_the_ambassador_who_took_over(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    converse(ctx)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-11-30T09:00:00")
    run(ctx, mail("STOP"))
    second = Request.get().conversations.order_by(Conversation.id)[-1]
    run(
        ctx,
        mail(
            "Re: demande",
            "Bonjour, je prends le relais.",
            OTHER_BAKER,
            relay(second.ambassador_token),
        ),
    )
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-05T09:00:00")  # 15 days after Marie's answer
    assert "feedback-asked" not in run_followups(ctx)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-14T09:00:00")  # 14 days after Julien's
    assert run_followups(ctx)["feedback-asked"] == 1
    [(_, text)] = sent("feedback_request")
    assert "avec Julien" in text


def test_a_bounce_during_a_conversation_tells_the_person(ctx: Context) -> None:
    from mailflow.inbound.bounces import Verdict, ambassador_failing
    from mailflow.store.leases import write_transaction
    from mailflow.store.models import InboundMessage

    converse(ctx)
    inbound = InboundMessage.select().order_by(InboundMessage.id.desc()).get()
    with write_transaction():
        ambassador_failing(ctx, amb(), Verdict("permanent", "5.1.1", BAKER, None), inbound)
    [(to, text)] = sent("handover")
    assert to == LEA and "Nos messages à Marie nous reviennent en erreur" in text
    assert Request.get().state == "offered"


# -- the closed relay address ----------------------------------------------------------------


def notice(ctx: Context, side: str, conv: Conversation) -> str:
    sender, token = (
        (BAKER, conv.ambassador_token) if side == "ambassador" else (LEA, conv.person_token)
    )
    assert run(ctx, mail("Re: demande", "Vous êtes là ?", sender=sender, to=relay(token))) == {
        "closed-address": 1
    }
    [(to, text)] = sent(f"relay_closed_{side}")
    assert to == sender
    return text


def test_person_after_a_reassignment_for_no_answer(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask(ctx, LEA)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-01T09:00:00")  # 7 business days
    assert run_followups(ctx)["reassigned"] == 1
    text = notice(ctx, "person", Conversation.get_by_id(1))
    assert "Marie n'a pas pu se rendre disponible" in text
    assert "maintenant suivie par Julien" in text


def test_person_after_the_ambassador_left_and_nobody_was_found(ctx: Context) -> None:
    run(ctx, mail("PAUSE", sender=OTHER_BAKER), mail("PAUSE", sender=PATISSIERE))
    conv = converse(ctx)
    run(ctx, mail("STOP"))
    text = notice(ctx, "person", conv)
    assert "Marie a quitté le réseau" in text and "confiée" not in text
    assert "Nous cherchons un autre ambassadeur" in text


def test_ambassador_who_left_is_not_told_they_were_silent(ctx: Context) -> None:
    conv = converse(ctx)
    run(ctx, mail("STOP"))
    text = notice(ctx, "ambassador", conv)
    assert "vous avez quitté le réseau" in text and "REPRISE" in text
    assert "Sans nouvelles" not in text
    subject = OutboundMail.get(OutboundMail.purpose == "relay_closed_ambassador").subject
    assert subject == "Cette adresse d'échange est fermée"


def test_ambassador_whose_address_bounced(ctx: Context) -> None:
    from mailflow.inbound.bounces import Verdict, ambassador_failing
    from mailflow.store.leases import write_transaction
    from mailflow.store.models import InboundMessage

    conv = converse(ctx)
    inbound = InboundMessage.select().order_by(InboundMessage.id.desc()).get()
    with write_transaction():
        ambassador_failing(ctx, amb(), Verdict("permanent", "5.2.2", BAKER, None), inbound)
    text = notice(ctx, "ambassador", conv)
    assert "revenaient en erreur" in text and "coordinator@mailflow.test" in text
    assert "Sans nouvelles" not in text


def test_silent_ambassador_after_a_reassignment(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing late, before anyone answered, is no closed address: the answer is relayed
    (tests/e2e/test_reassign_lookback_e2e.py), and the one who had it since is thanked."""
    ask(ctx, LEA)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-01T09:00:00")
    run_followups(ctx)
    first = Conversation.get_by_id(1)
    late = mail("Re: demande", "Vous êtes là ?", sender=BAKER, to=relay(first.ambassador_token))
    assert run(ctx, late) == {"late-answer-relayed": 1}
    assert not sent("relay_closed_ambassador")
    [(to, text)] = sent("late_answer_ambassador")
    assert to == BAKER and "la demande vous est de nouveau confiée" in text
    [(to, text)] = sent("offer_withdrawn_ambassador")
    assert to == OTHER_BAKER and "Marie" in text
    assert Conversation.get_by_id(1).state == "open"
    assert Conversation.get_by_id(2).closed_reason == "earlier-answered"
    assert Request.get().state == "answered"


def test_legacy_closing_causes_are_read() -> None:
    from mailflow.services.handover import reason_of

    assert reason_of("no answer after 7 business days") == "no-answer"
    assert reason_of("ambassador left the network (STOP)") == "left"
    assert reason_of("ambassador address bounced") == "unreachable"
    assert reason_of("ambassador away until 27/03/2026") == "away"
    assert reason_of("personal data erased") == "request-closed"
    assert reason_of(None) == "no-answer"
