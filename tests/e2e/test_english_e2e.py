"""A request written in English is answered in English, on the real mail stack (issue 13).

The person's mails (acknowledgement, help mail, "nobody yet") are the English templates
(templates/mails/NAME.en.txt); the ambassador's introduction and the coordinator's notices
stay in French, the introduction saying that the person writes in English. A French request
is answered in French as before."""

from __future__ import annotations

from tests.deployment import COORDINATOR, RELAY, Deployment, query
from tests.e2e.test_cycle_e2e import subject_has, text

EMMA, LEA = "person1@users.test", "person2@users.test"
MARIE = "amb1@pros.test"  # Boulangère, Caen (14)
MONDAY = "2026-03-02T09:00:00"
ENGLISH = (
    "Hi,\nMy daughter Olivia is 15 and would love to meet a baker near Caen. We moved to\n"
    "Normandy from Leeds last year. Would that be possible?\nThanks a lot,\nEmma"
)


def test_an_english_request_gets_an_english_acknowledgement(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Emma Clarke <{EMMA}>", RELAY, "Meeting a baker", ENGLISH)
    mail.send_text(LEA, RELAY, "Demande", "Bonjour, je voudrais rencontrer une boulangère à Caen.")
    dep.deliver_and_run(count=2, now=MONDAY)

    [ack] = mail.wait_for(EMMA)
    assert str(ack["Subject"]).startswith("Your request has been passed on")
    body = text(ack)
    assert body.startswith("Hello Emma,")
    assert "We have passed it on to Marie" in body and "your address stays hidden" in body
    assert "to write to Marie" in str(ack["From"])
    intros = mail.wait_for(MARIE, count=2)
    english = [m for m in intros if "Emma" in text(m)]
    assert len(english) == 1
    assert "Une demande de rencontre" in str(english[0]["Subject"])
    assert "Emma écrit en anglais" in text(english[0])
    assert "would love to meet a baker" in text(english[0])  # her own words, as written
    [french] = mail.wait_for(LEA)
    assert str(french["Subject"]).startswith("Votre demande est transmise")
    assert "écrit en anglais" not in text(next(m for m in intros if m is not english[0]))
    assert sorted(query(dep, "SELECT lang FROM request")) == [("en",), ("fr",)]


def test_an_unclear_english_request_gets_the_english_help_mail(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(EMMA, RELAY, "Question", "Hi, how does this work? Is it free? Thanks")
    dep.deliver_and_run(now=MONDAY)
    [help_mail] = mail.wait_for(EMMA, subject_has("we need one more detail"))
    body = text(help_mail)
    assert "Trade or training :" in body and "Place (town or département) :" in body
    [(state, lang)] = query(dep, "SELECT state, lang FROM request")
    assert (state, lang) == ("needs_info", "en")


def test_nobody_yet_is_said_in_english_and_the_coordinator_told_in_french(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    body = "Hello, my son is 16 and dreams of becoming an airline pilot. We live in Caen.\nPaul"
    mail.send_text(EMMA, RELAY, "Pilot", body)
    dep.deliver_and_run(now=MONDAY)
    [unmatched] = mail.wait_for(EMMA)
    assert str(unmatched["Subject"]).startswith("Your request")
    assert "no ambassador of the network can tell you about" in text(unmatched)
    [notice] = mail.wait_for(COORDINATOR)
    assert "Demande sans ambassadeur" in str(notice["Subject"])
    assert "Langue : anglais" in text(notice) and "Pilote de ligne" in text(notice)
