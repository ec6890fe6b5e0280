"""Follow-ups on the real mail stack, with time moved by MAILFLOW_NOW (never by waiting)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import COORDINATOR, RELAY, Deployment

PERSON = "person1@users.test"
MARIE, JULIEN, INES = "amb1@pros.test", "amb2@pros.test", "amb3@pros.test"
REQUEST = (
    "Bonjour, j'ai 15 ans, je suis en 3e et je voudrais rencontrer une boulangère près de Caen."
)
MONDAY = "2026-03-02T09:00:00"


def text(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def sender(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def subjects(dep: Deployment, user: str) -> list[str]:
    return [str(m["Subject"]) for m in dep.stack.fetch_all(user)]


def ask(dep: Deployment, now: str = MONDAY) -> None:
    dep.stack.send_text(PERSON, RELAY, "Demande de rencontre", REQUEST)
    dep.deliver_and_run(now=now)
    dep.stack.wait_for(MARIE)


def test_reminders_then_reassignment_then_escalation(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)
    [intro] = mail.fetch_all(MARIE)

    dep.run_once("2026-03-04T10:00:00")  # 2 business days: too early
    assert len(mail.fetch_all(MARIE)) == 1
    dep.run_once("2026-03-05T09:00:00")  # 3 business days
    [reminder1] = mail.wait_for(MARIE, lambda m: "Petit rappel" in str(m["Subject"]))
    assert sender(reminder1) == sender(intro)  # a reply still reaches the person
    assert "attend votre réponse" in text(reminder1)
    dep.run_once("2026-03-05T09:00:00")  # the same instant again: nothing twice
    dep.run_once("2026-03-06T09:00:00")  # 4 business days: nothing new
    dep.run_once("2026-03-09T09:00:00")  # Monday: 5 business days (weekend skipped)
    mail.wait_for(MARIE, lambda m: "Second rappel" in str(m["Subject"]))
    assert len(mail.fetch_all(MARIE)) == 3

    dep.run_once("2026-03-11T09:00:00")  # 7 business days: offered to Julien (Rouen)
    [intro2] = mail.wait_for(JULIEN)
    [news] = mail.wait_for(PERSON, lambda m: "Julien va vous répondre" in str(m["Subject"]))
    assert "Marie n'a pas pu se rendre disponible" in text(news)
    assert sender(news) != sender(intro2) and sender(news).startswith("relay+")
    assert MARIE not in news.as_string() and PERSON not in intro2.as_string()

    # Marie answers late through the closed address: a polite notice, nothing forwarded.
    mail.send_text(MARIE, sender(intro), "Re: demande", "Désolée du retard, avec plaisir !")
    dep.deliver_and_run(now="2026-03-11T10:00:00")
    [closed] = mail.wait_for(MARIE, lambda m: "confiée à un autre" in str(m["Subject"]))
    assert "n'a pas été transmis" in text(closed)
    assert not [m for m in mail.fetch_all(PERSON) if "Désolée" in m.as_string()]
    # She insists: the notice is not sent twice.
    mail.send_text(MARIE, sender(intro), "Re: demande", "Vous avez reçu mon message ?")
    dep.deliver_and_run(now="2026-03-11T11:00:00")

    dep.run_once("2026-03-20T09:00:00")  # Julien silent 7 business days: Inès (same domain)
    mail.wait_for(INES)
    dep.run_once("2026-03-31T09:00:00")  # Inès silent too: nobody left
    [escalation] = mail.wait_for(COORDINATOR)
    assert "Escalade" in str(escalation["Subject"]) and "Boulanger" in text(escalation)
    mail.wait_for(PERSON, lambda m: "nous cherchons encore" in str(m["Subject"]))
    dep.run_once("2026-04-30T09:00:00")  # much later: no more mail for anyone
    assert len(mail.fetch_all(COORDINATOR)) == 1
    assert len([s for s in subjects(dep, MARIE) if "confiée" in s]) == 1

    [request] = dep.log()["requests"]
    assert request["state"] == "unmatched" and request["escalated_at"].startswith("2026-03-31")
    states = [(e["from"], e["to"]) for e in request["timeline"] if e["type"] == "state"]
    assert states == [
        (None, "new"), ("new", "offered"),
        ("offered", "reassigned"), ("reassigned", "offered"),
        ("offered", "reassigned"), ("reassigned", "offered"),
        ("offered", "reassigned"), ("reassigned", "unmatched"),
    ]  # fmt: skip
    reminders = [e for e in request["timeline"] if e["type"] == "reminder"]
    assert len(reminders) == 2


def test_weekend_and_public_holiday_are_skipped(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep, now="2026-05-07T09:00:00")  # Thursday; Friday 8 May is a public holiday
    dep.run_once("2026-05-12T09:00:00")  # Mon 11 and Tue 12: 2 business days
    assert len(mail.fetch_all(MARIE)) == 1
    dep.run_once("2026-05-13T09:00:00")  # Wed 13: 3 business days
    mail.wait_for(MARIE, lambda m: "Petit rappel" in str(m["Subject"]))
    # Ascension (Thu 14 May 2026) is skipped too: 5 business days fall on Mon 18 May.
    dep.run_once("2026-05-15T09:00:00")
    assert len(mail.fetch_all(MARIE)) == 2
    dep.run_once("2026-05-18T09:00:00")
    mail.wait_for(MARIE, lambda m: "Second rappel" in str(m["Subject"]))


def test_person_nudge_then_feedback_recorded(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)
    [intro] = mail.fetch_all(MARIE)
    mail.send_text(
        MARIE,
        sender(intro),
        "Re: demande",
        "Avec plaisir, passez mercredi !",
        in_reply_to=str(intro["Message-ID"]),
    )
    dep.deliver_and_run(now="2026-03-03T10:00:00")
    [relayed] = mail.wait_for(PERSON, lambda m: "passez mercredi" in m.as_string())

    dep.run_once("2026-03-06T10:00:00")  # 3 days: too early for the nudge
    assert not [s for s in subjects(dep, PERSON) if "vous a répondu" in s]
    dep.run_once("2026-03-07T10:00:00")  # 4 days without the person's answer
    [nudge] = mail.wait_for(PERSON, lambda m: "Marie vous a répondu" in str(m["Subject"]))
    assert sender(nudge) == sender(relayed)  # replying to the nudge reaches Marie
    dep.run_once("2026-03-08T10:00:00")
    assert len([s for s in subjects(dep, PERSON) if "vous a répondu" in s]) == 1

    mail.send_text(PERSON, sender(relayed), "Re: merci", "Merci, je viendrai mercredi !")
    dep.deliver_and_run(now="2026-03-09T10:00:00")
    mail.wait_for(MARIE, lambda m: "je viendrai mercredi" in m.as_string())

    dep.run_once("2026-03-17T09:00:00")  # 13 days and 23 hours after the first answer
    assert not [s for s in subjects(dep, PERSON) if "avis" in s]
    dep.run_once("2026-03-17T10:00:00")  # 14 days
    [ask_feedback] = mail.wait_for(PERSON, lambda m: "Votre avis" in str(m["Subject"]))
    assert "1 (pas du tout) à 5" in text(ask_feedback) and "oui / non" in text(ask_feedback)
    feedback_address = sender(ask_feedback)
    assert feedback_address.startswith("relay+") and feedback_address != sender(relayed)

    quoted = "\n".join("> " + line for line in text(ask_feedback).splitlines())
    mail.send_text(PERSON, feedback_address, "Re: Votre avis", f"4, oui merci !\n\n{quoted}")
    dep.deliver_and_run(now="2026-03-18T08:00:00")
    mail.wait_for(PERSON, lambda m: "Merci pour votre avis" in str(m["Subject"]))
    assert not [m for m in mail.fetch_all(MARIE) if "4, oui" in m.as_string()]
    [request] = dep.log()["requests"]
    assert request["feedback"]["score"] == 4 and request["feedback"]["met"] is True
    assert request["state"] == "closed"
    dep.run_once("2026-04-30T10:00:00")
    assert len([s for s in subjects(dep, PERSON) if "avis" in s.lower()]) == 2  # ask + thanks


def test_daily_digest_once_a_day_from_its_hour(deployment: Deployment) -> None:
    from tests.deployment import write_config

    dep, mail = deployment, deployment.stack
    write_config(dep.config.parent, mail, digest=True)
    dep.stack.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer un pilote de ligne.")
    dep.deliver_and_run(now="2026-03-02T06:30:00")  # unmatched; before the digest hour (8:00 Paris)
    mail.wait_for(PERSON)
    [notice] = mail.wait_for(COORDINATOR)  # the unmatched notice only
    dep.run_once("2026-03-02T07:00:00")
    [digest] = mail.wait_for(COORDINATOR, lambda m: "Synthèse du 02/03/2026" in str(m["Subject"]))
    body = text(digest)
    assert "Pilote de ligne" in body and "1 demande ouverte" in str(digest["Subject"])
    dep.run_once("2026-03-02T18:00:00")  # same day: not again
    dep.run_once("2026-03-03T07:30:00")  # next day: the next digest
    mail.wait_for(COORDINATOR, lambda m: "Synthèse du 03/03/2026" in str(m["Subject"]))
    assert len(mail.fetch_all(COORDINATOR)) == 3


def test_digest_reports_the_days_it_was_not_sent(deployment: Deployment) -> None:
    """The daemon is down a whole day: the next digest covers since the last one sent."""
    from tests.deployment import write_config

    dep, mail = deployment, deployment.stack
    write_config(dep.config.parent, mail, digest=True)
    dep.run_once("2026-03-02T07:00:00")
    [first] = mail.wait_for(COORDINATOR, lambda m: "Synthèse du 02/03/2026" in str(m["Subject"]))
    assert "du 01/03/2026 08:00 au 02/03/2026 08:00 (les 24 heures qui précèdent" in text(first)

    mail.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer un pilote de ligne.")
    dep.deliver_and_run(now="2026-03-02T12:00:00")  # after that day's digest
    mail.wait_for(PERSON)
    # Tuesday 3 March: nothing runs. Wednesday, a second request, then the digest.
    mail.send_text("person2@users.test", RELAY, "Demande", "Je voudrais devenir astronaute.")
    dep.deliver_and_run(now="2026-03-04T08:00:00")
    [digest] = mail.wait_for(COORDINATOR, lambda m: "Synthèse du 04/03/2026" in str(m["Subject"]))
    body = text(digest)
    assert "Période couverte : du 02/03/2026 08:00 au 04/03/2026 09:00, depuis" in body
    assert "Nouvelles demandes sur la période : 2" in body
    assert not [m for m in mail.fetch_all(COORDINATOR) if "03/03/2026" in str(m["Subject"])]
