"""Follow-ups on the real mail stack, with time moved by MAILFLOW_NOW (never by waiting).

Every follow-up instant is run twice (`run_twice`): the second `run --once` at the same
instant must decide nothing (no new outbox row). "Not sent (yet)" is read from the outbox,
where mailflow's decisions are, and an inbox is read only once Postfix's queue is empty
(`settled`), so that a mail still on its way cannot pass for one never sent.
"""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import COORDINATOR, RELAY, Deployment, confirm, outbox, query
from tests.mailstack import message_ids, wait_queue_empty

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


def decided(dep: Deployment, recipient: str | None = None, purpose: str | None = None) -> list:
    """(purpose, recipient) of every mail mailflow decided to send, oldest first."""
    return [(p, r) for p, r, _ in outbox(dep, recipient, purpose)]


def run_twice(dep: Deployment, now: str) -> list[tuple[str, str]]:
    """`run --once` at `now`, then, when it decided something, again at the same instant,
    which must add nothing to the outbox; returns what the first run decided. (A run that
    decided nothing changed nothing: a second one would find the same; each run costs
    seconds, loading the referential.)"""
    before = decided(dep)
    dep.run_once(now)
    after = decided(dep)
    if after != before:
        dep.run_once(now)
        again = decided(dep)
        assert again == after, f"a second run at {now} sent again: {again[len(after) :]}"
    return after[len(before) :]


def settled(dep: Deployment) -> None:
    """Every decided mail handed over and delivered: the outbox is drained (all rows sent)
    and Postfix holds nothing; then each inbox holds each of its mails exactly once."""
    rows = query(dep, "SELECT recipient, message_id, status FROM outbound_mail")
    assert {status for _, _, status in rows} <= {"sent"}, rows
    wait_queue_empty(dep.stack)
    expected: dict[str, Counter[str]] = {}
    for recipient, message_id, _ in rows:
        expected.setdefault(recipient, Counter())[message_id] += 1
    for recipient, ids in expected.items():
        held = Counter(message_ids(dep.stack, recipient))
        assert held == ids, f"{recipient}: holds {dict(held)}, mailflow sent {dict(ids)}"


def ask(dep: Deployment, now: str = MONDAY) -> None:
    dep.stack.send_text(PERSON, RELAY, "Demande de rencontre", REQUEST)
    dep.deliver_and_run(now=now)
    dep.stack.wait_for(MARIE)


def test_reminders_then_reassignment_then_escalation(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    # Inès as a professional pastry cook: another trade of the domain nearby, which the
    # default policy allows (rules/matching.toml); her CAP (another kind too) it would not.
    query(dep, "UPDATE ambassador SET kind = 'metier' WHERE email = ?", (INES,))
    ask(dep)
    [intro] = mail.fetch_all(MARIE)

    assert run_twice(dep, "2026-03-04T10:00:00") == []  # 2 business days: too early
    assert run_twice(dep, "2026-03-05T09:00:00") == [("reminder_ambassador", MARIE)]  # 3
    [reminder1] = mail.wait_for(MARIE, lambda m: "Petit rappel" in str(m["Subject"]))
    assert sender(reminder1) == sender(intro)  # a reply still reaches the person
    assert "attend votre réponse" in text(reminder1)
    assert run_twice(dep, "2026-03-06T09:00:00") == []  # 4 business days: nothing new
    # Monday: 5 business days (weekend skipped)
    assert run_twice(dep, "2026-03-09T09:00:00") == [("reminder_ambassador", MARIE)]
    mail.wait_for(MARIE, lambda m: "Second rappel" in str(m["Subject"]))
    settled(dep)
    assert len(mail.fetch_all(MARIE)) == 3

    # 7 business days: offered to Julien (Rouen), the person told
    assert run_twice(dep, "2026-03-11T09:00:00") == [("intro", JULIEN), ("reassigned", PERSON)]
    [intro2] = mail.wait_for(JULIEN)
    [news] = mail.wait_for(PERSON, lambda m: "Julien va vous répondre" in str(m["Subject"]))
    assert "Marie n'a pas pu se rendre disponible" in text(news)
    assert "Julien habite dans un autre département" in text(news)  # Rouen, not Caen: said
    assert sender(news) != sender(intro2) and sender(news).startswith("relay+")
    assert MARIE not in news.as_string() and PERSON not in intro2.as_string()

    # (Marie answering late now would get her answer relayed: test_reassign_lookback_e2e.py)

    # Julien silent 7 business days: Inès (same domain)
    assert run_twice(dep, "2026-03-20T09:00:00") == [("intro", INES), ("reassigned", PERSON)]
    mail.wait_for(INES)
    # Inès silent too: nobody left, the coordinator and the person are told
    assert run_twice(dep, "2026-03-31T09:00:00") == [
        ("escalation_coordinator", COORDINATOR),
        ("still_looking", PERSON),
    ]
    [escalation] = mail.wait_for(COORDINATOR)
    assert "Escalade" in str(escalation["Subject"]) and "Boulanger" in text(escalation)
    # the cause in French (issue 12, item 8: "no answer after 7 business days; no other...")
    assert "pas de réponse après 7 jours ouvrés ; aucun autre ambassadeur disponible" in text(
        escalation
    ), text(escalation)
    assert "business days" not in text(escalation) and "available" not in text(escalation)
    mail.wait_for(PERSON, lambda m: "nous cherchons encore" in str(m["Subject"]))
    assert run_twice(dep, "2026-04-30T09:00:00") == []  # much later: no more mail for anyone
    settled(dep)
    assert len(mail.fetch_all(COORDINATOR)) == 1

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


def test_escalations_of_one_hour_bring_the_coordinator_one_mail(deployment: Deployment) -> None:
    """Issue 12, item 10: never more than one mail of a kind an hour. Two requests to Marie
    go unanswered with nobody else available: both are escalated in the same run; the
    first brings its escalation notice at once, the second waits for the hourly summary
    of its kind (with its number and cause), and each person is told at once."""
    dep, mail = deployment, deployment.stack
    query(dep, "UPDATE ambassador SET paused = ? WHERE email IN (?, ?)", (True, JULIEN, INES))
    other = "person2@users.test"
    mail.send_text(PERSON, RELAY, "Demande de rencontre", REQUEST)
    mail.send_text(other, RELAY, "Boulangerie", "Bonjour, je voudrais voir un boulanger à Caen")
    dep.deliver_and_run(now=MONDAY)
    mail.wait_for(MARIE, count=2)
    for day in ("2026-03-05", "2026-03-09"):  # the two reminders
        dep.run_once(now=f"{day}T09:00:00")
    assert Counter(run_twice(dep, "2026-03-11T09:00:00")) == Counter(
        [
            ("escalation_coordinator", COORDINATOR),
            ("still_looking", PERSON),
            ("still_looking", other),
        ]
    )
    [notice] = mail.wait_for(COORDINATOR)
    assert "Escalade : demande n°1" in str(notice["Subject"])
    assert run_twice(dep, "2026-03-11T09:30:00") == []  # batch delay passed, not the hour
    assert run_twice(dep, "2026-03-11T10:01:00") == [("alert_coordinator", COORDINATOR)]
    [_, summary] = mail.wait_for(COORDINATOR, count=2)
    assert "À traiter : demande sans ambassadeur disponible (demande n°2)" in str(
        summary["Subject"]
    )
    assert "pas de réponse après 7 jours ouvrés" in text(summary), text(summary)
    assert "n°1" not in text(summary) and other not in summary.as_string()
    assert run_twice(dep, "2026-03-11T12:00:00") == []
    settled(dep)
    assert len(mail.fetch_all(COORDINATOR)) == 2


def test_weekend_and_public_holiday_are_skipped(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep, now="2026-05-07T09:00:00")  # Thursday; Friday 8 May is a public holiday
    assert run_twice(dep, "2026-05-12T09:00:00") == []  # Mon 11 and Tue 12: 2 business days
    # Wed 13: 3 business days
    assert run_twice(dep, "2026-05-13T09:00:00") == [("reminder_ambassador", MARIE)]
    mail.wait_for(MARIE, lambda m: "Petit rappel" in str(m["Subject"]))
    # Ascension (Thu 14 May 2026) is skipped too: 5 business days fall on Mon 18 May.
    assert run_twice(dep, "2026-05-15T09:00:00") == []
    assert run_twice(dep, "2026-05-18T09:00:00") == [("reminder_ambassador", MARIE)]
    mail.wait_for(MARIE, lambda m: "Second rappel" in str(m["Subject"]))
    settled(dep)
    assert len(mail.fetch_all(MARIE)) == 3


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

    assert run_twice(dep, "2026-03-06T10:00:00") == []  # 3 days: too early for the nudge
    # 4 days without the person's answer
    assert run_twice(dep, "2026-03-07T10:00:00") == [("nudge_person", PERSON)]
    [nudge] = mail.wait_for(PERSON, lambda m: "Marie vous a répondu" in str(m["Subject"]))
    assert sender(nudge) == sender(relayed)  # replying to the nudge reaches Marie
    assert run_twice(dep, "2026-03-08T10:00:00") == []

    mail.send_text(PERSON, sender(relayed), "Re: merci", "Merci, je viendrai mercredi !")
    dep.deliver_and_run(now="2026-03-09T10:00:00")
    mail.wait_for(MARIE, lambda m: "je viendrai mercredi" in m.as_string())

    # 13 days and 23 hours after the first answer: not yet; 14 days: the feedback request
    assert run_twice(dep, "2026-03-17T09:00:00") == []
    assert run_twice(dep, "2026-03-17T10:00:00") == [("feedback_request", PERSON)]
    [ask_feedback] = mail.wait_for(PERSON, lambda m: "Votre avis" in str(m["Subject"]))
    assert "1 (pas du tout) à 5" in text(ask_feedback) and "oui / non" in text(ask_feedback)
    feedback_address = sender(ask_feedback)
    assert feedback_address.startswith("relay+") and feedback_address != sender(relayed)

    quoted = "\n".join("> " + line for line in text(ask_feedback).splitlines())
    mail.send_text(PERSON, feedback_address, "Re: Votre avis", f"4, oui merci !\n\n{quoted}")
    dep.deliver_and_run(now="2026-03-18T08:00:00")
    # No authserv_id: the answer that closes the request waits for her confirmation.
    assert dep.log()["requests"][0]["state"] == "feedback_asked"
    confirm(dep, PERSON, now="2026-03-18T09:00:00")
    mail.wait_for(PERSON, lambda m: "Merci pour votre avis" in str(m["Subject"]))
    [request] = dep.log()["requests"]
    assert request["feedback"]["score"] == 4 and request["feedback"]["met"] is True
    assert request["state"] == "closed"
    assert run_twice(dep, "2026-04-30T10:00:00") == []
    settled(dep)
    assert len([s for s in subjects(dep, PERSON) if "vous a répondu" in s]) == 1
    avis = [s for s in subjects(dep, PERSON) if "avis" in s.lower()]
    assert len(avis) == 3  # ask, confirm, thanks
    assert not [m for m in mail.fetch_all(MARIE) if "4, oui" in m.as_string()]


def test_daily_digest_once_a_day_from_its_hour(deployment: Deployment) -> None:
    from tests.deployment import write_config

    dep, mail = deployment, deployment.stack
    write_config(dep.config.parent, mail, digest=True)
    dep.stack.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer un pilote de ligne.")
    dep.deliver_and_run(now="2026-03-02T06:30:00")  # unmatched; before the digest hour (8:00 Paris)
    mail.wait_for(PERSON)
    assert decided(dep, COORDINATOR) == [("unmatched_coordinator", COORDINATOR)]
    assert run_twice(dep, "2026-03-02T07:00:00") == [("digest", COORDINATOR)]
    [digest] = mail.wait_for(COORDINATOR, lambda m: "Synthèse du 02/03/2026" in str(m["Subject"]))
    body = text(digest)
    assert "Pilote de ligne" in body and "1 demande ouverte" in str(digest["Subject"])
    assert run_twice(dep, "2026-03-02T18:00:00") == []  # same day: not again
    # next day: the next digest
    assert run_twice(dep, "2026-03-03T07:30:00") == [("digest", COORDINATOR)]
    mail.wait_for(COORDINATOR, lambda m: "Synthèse du 03/03/2026" in str(m["Subject"]))
    settled(dep)
    assert len(mail.fetch_all(COORDINATOR)) == 3


def test_digest_reports_the_days_it_was_not_sent(deployment: Deployment) -> None:
    """The daemon is down a whole day: the next digest covers since the last one sent."""
    from tests.deployment import write_config

    dep, mail = deployment, deployment.stack
    write_config(dep.config.parent, mail, digest=True)
    assert run_twice(dep, "2026-03-02T07:00:00") == [("digest", COORDINATOR)]
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
    settled(dep)
    assert not [m for m in mail.fetch_all(COORDINATOR) if "03/03/2026" in str(m["Subject"])]
    assert len(decided(dep, COORDINATOR, "digest")) == 2
