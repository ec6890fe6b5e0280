"""A request written in English is answered in English, in-process on a database (issue 13):
the acknowledgement and the help mail are the English templates, the ambassador's
introduction stays French and says so; a person whose first mail was too short to tell, and
who answers the help mail in English, is answered in English from then on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.store.models import OutboundMail, Request
from tests.db.test_ambassador_mail import BAKER, NOW, mail, sent
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

EMMA = "Emma Clarke <emma@users.test>"
ENGLISH = "Hi,\nMy son is 15 and would like to meet a baker near Caen.\nThanks a lot,\nEmma"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def test_an_english_request_is_acknowledged_in_english(ctx: Context) -> None:
    assert run(ctx, mail("Meeting a baker", ENGLISH, sender=EMMA)) == {"request-offered": 1}
    [request] = Request.select()
    assert request.lang == "en" and request.code_rome == "D1102" and request.age == 15
    [(to, ack)] = sent("ack")
    assert to == "emma@users.test"
    assert ack.startswith("Hello Emma,") and "We have passed it on to Marie" in ack
    subject = OutboundMail.get(OutboundMail.purpose == "ack").subject
    assert subject.startswith("Your request has been passed on")
    [(to, intro)] = sent("intro")
    assert to == BAKER and "Emma écrit en anglais" in intro and "Bonjour Marie" in intro


def test_a_french_request_is_still_acknowledged_in_french(ctx: Context) -> None:
    body = "Bonjour, je voudrais rencontrer une boulangère près de Caen. Léa"
    run(ctx, mail("Demande", body, sender="Léa <lea@users.test>"))
    assert Request.get().lang == "fr"
    [(_, ack)] = sent("ack")
    assert ack.startswith("Bonjour Léa,") and "Merci pour votre message" in ack
    [(_, intro)] = sent("intro")
    assert "anglais" not in intro


def test_an_english_answer_to_the_help_mail_turns_the_request_english(ctx: Context) -> None:
    assert run(ctx, mail("Hi", "Hi!", sender=EMMA)) == {"request-needs-info": 1}
    assert Request.get().lang == "fr"  # too short to tell: French, as before
    asked = OutboundMail.get(OutboundMail.purpose == "help")
    assert asked.subject.startswith("Pour trouver votre ambassadeur")
    answer = "Sorry, I should have said: my son is 15 and he would like to meet a baker in Caen."
    reply = mail("Re: " + asked.subject, answer, sender=EMMA, In_Reply_To=asked.message_id)
    assert run(ctx, reply) == {"request-offered": 1}
    assert Request.get().lang == "en"
    [(_, ack)] = sent("ack")
    assert ack.startswith("Hello Emma,")


def test_an_unclear_english_request_gets_the_english_help_mail(ctx: Context) -> None:
    run(ctx, mail("Question", "Hello, how does this work? Is it free? Thanks", sender=EMMA))
    asked = OutboundMail.get(OutboundMail.purpose == "help")
    assert asked.subject == "To find your ambassador, we need one more detail"
    [(_, text)] = sent("help")
    assert "Trade or training :" in text
