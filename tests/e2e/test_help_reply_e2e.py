"""Issue 12, item 2, on the real mail stack: a person who answers the help mail without
naming a trade is never met with silence. What their reply says (place, age, situation) is
kept on the request; they get a shorter mail made for someone who does not know yet (the
trades of the family they named, or families to pick from, and a coordinator who will
write), and the coordinator is told with the request number."""

from __future__ import annotations

from tests.deployment import COORDINATOR, RELAY, Deployment, query
from tests.e2e.test_cycle_e2e import sender, subject_has, text
from tests.mailstack import wait_queue_empty

PUPIL = "person1@users.test"
MONDAY = "2026-03-02T09:00:00"
FIRST = "je sais pas trop quoi faire"
REPLY = "j'aime bien l'informatique, je suis en terminale à Cherbourg, j'ai 17 ans"


def _answer_help(dep: Deployment, body: str, now: str) -> None:
    mail = dep.stack
    [help_mail] = mail.wait_for(PUPIL, subject_has("il nous manque une précision"))
    mail.send_text(
        PUPIL,
        sender(help_mail),
        "Re: " + str(help_mail["Subject"]),
        f"{body}\n\n> Merci pour votre message !",
        in_reply_to=str(help_mail["Message-ID"]),
    )
    dep.deliver_and_run(now=now)


def test_a_reply_naming_a_family_gets_its_trades_and_the_coordinator_is_told(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PUPIL, RELAY, "Question", FIRST)
    dep.deliver_and_run(now=MONDAY)
    _answer_help(dep, REPLY, now="2026-03-02T10:00:00")

    [answer] = mail.wait_for(PUPIL, subject_has("Pas encore d'idée de métier"))
    body = text(answer)
    assert "Vous nous parlez de l'informatique et le numérique" in body
    assert "- développeur web (Cherbourg-en-Cotentin)" in body  # Lucas, in the directory
    assert "une personne de notre équipe va vous écrire" in body
    assert str(answer["In-Reply-To"]).startswith("<")  # threaded under the reply
    [notice] = mail.wait_for(COORDINATOR, subject_has("Demande n°1 : la personne ne sait pas"))
    told = text(notice)
    assert "Domaine évoqué : l'informatique et le numérique" in told
    assert "Lieu : Cherbourg-en-Cotentin (50)" in told and "Âge : 17 ans" in told
    assert "Situation : lycéen·ne" in told
    assert "mailflow request set 1 --trade" in told

    [(state, commune, department, age, situation)] = query(
        dep, "SELECT state, commune, department, age, situation FROM request"
    )
    assert (state, commune, department, age, situation) == (
        "needs_info",
        "Cherbourg-en-Cotentin",
        "50",
        17,
        "lyceen",
    )
    [request] = dep.log()["requests"]
    details = [e["cause"] for e in request["timeline"] if e["type"] == "details"]
    assert details == [
        "new mail from the person, still not understood: added to the request "
        "(department 50, commune Cherbourg-en-Cotentin, age 17, situation lyceen)"
    ]
    assert "rate-limited" not in str(request["timeline"]).lower()


def test_a_second_unclear_reply_is_not_silence_either(deployment: Deployment) -> None:
    """No family named: families to pick from. Asked again soon after: the person already
    has the answer (never the same automatic mail twice in a few days, a loop guard), and
    the coordinator is told they got nothing new and should write."""
    dep, mail = deployment, deployment.stack
    mail.send_text(PUPIL, RELAY, "Question", FIRST)
    dep.deliver_and_run(now=MONDAY)
    _answer_help(dep, "je sais pas, vraiment", now="2026-03-02T10:00:00")
    [answer] = mail.wait_for(PUPIL, subject_has("Pas encore d'idée de métier"))
    assert "Voici quelques grandes familles de métiers" in text(answer)
    assert "- la santé (soigner les gens, les aider à aller mieux)" in text(answer)
    mail.wait_for(COORDINATOR, subject_has("Demande n°1"))

    mail.send_text(PUPIL, sender(answer), "Re: " + str(answer["Subject"]), "toujours pas")
    dep.deliver_and_run(now="2026-03-02T11:00:00")
    notices = mail.wait_for(COORDINATOR, subject_has("Demande n°1"), count=2)
    assert "elle n'a rien reçu de plus cette fois" in text(notices[-1])
    wait_queue_empty(mail)
    assert len(mail.fetch_all(PUPIL)) == 2  # the help mail and one answer: no loop


def test_many_unclear_replies_bring_the_coordinator_one_mail_an_hour(
    deployment: Deployment,
) -> None:
    """Issue 12, item 10: never more than one mail of a kind an hour. The first unclear
    reply of the hour gets its notice at once; the next one, twenty minutes later, waits
    for the hourly summary of its kind, with its request number; each person is answered
    at once all the same."""
    dep, mail = deployment, deployment.stack
    other = "person2@users.test"
    mail.send_text(PUPIL, RELAY, "Question", FIRST)
    mail.send_text(other, RELAY, "Orientation", "Bonjour, je ne sais pas quoi faire plus tard")
    dep.deliver_and_run(now=MONDAY)
    _answer_help(dep, REPLY, now="2026-03-02T10:00:00")
    mail.wait_for(COORDINATOR, subject_has("Demande n°1 : la personne ne sait pas"))

    [help_mail] = mail.wait_for(other, subject_has("il nous manque une précision"))
    mail.send_text(other, sender(help_mail), "Re: aide", "je sais pas, j'ai 16 ans, à Lisieux")
    dep.deliver_and_run(now="2026-03-02T10:20:00")
    mail.wait_for(other, subject_has("Pas encore d'idée de métier"))  # answered at once
    dep.run_once(now="2026-03-02T10:40:00")  # the hour since the notice has not passed
    wait_queue_empty(mail)
    [only] = mail.fetch_all(COORDINATOR)
    assert "Demande n°1" in str(only["Subject"])

    dep.run_once(now="2026-03-02T11:05:00")
    [_, summary] = mail.wait_for(COORDINATOR, lambda m: True, count=2)
    assert "À traiter : réponse au message d'aide toujours pas comprise" in str(summary["Subject"])
    assert "(demande n°2)" in str(summary["Subject"])
    assert "demande n°2" in text(summary) and "Lisieux" in text(summary)
    assert "n°1" not in text(summary) and other not in summary.as_string()
    dep.run_once(now="2026-03-02T12:30:00")  # nothing pending: no more mail
    wait_queue_empty(mail)
    assert len(mail.fetch_all(COORDINATOR)) == 2
