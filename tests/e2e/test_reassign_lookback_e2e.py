"""Reassignment looks back (issue 12, item 4), on the real mail stack, time moved by
MAILFLOW_NOW: an ambassador skipped only while away is a candidate again once back, and an
answer that comes after the request was handed on is relayed when the person has had no
answer yet, or kept for the coordinator; never dropped without a word."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import COORDINATOR, PASS, RELAY, Deployment, outbox, query, trust

PERSON = "person1@users.test"
MARIE, JULIEN, INES = "amb1@pros.test", "amb2@pros.test", "amb3@pros.test"
REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def sender(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def decided(dep: Deployment, since: int = 0) -> list[tuple[str, str]]:
    return [(p, r) for p, r, _ in outbox(dep)][since:]


def ask(dep: Deployment, now: str) -> EmailMessage:
    dep.stack.send_text(PERSON, RELAY, "Demande de rencontre", REQUEST)
    dep.deliver_and_run(now=now)
    [intro] = dep.stack.wait_for(MARIE)
    return intro


def test_an_ambassador_back_from_absence_is_offered_the_request_again(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    trust(dep)
    # Inès as a professional pastry cook, as in test_followup_e2e: her CAP (another trade
    # and another kind) is a stretch the default policy refuses (rules/matching.toml).
    query(dep, "UPDATE ambassador SET kind = 'metier' WHERE email = ?", (INES,))
    ask(dep, "2026-12-09T09:00:00")  # Wednesday: offered to Marie
    # The same day Marie is away until 20/12: past the deadline, the request goes on.
    mail.send_text(f"Marie <{MARIE}>", RELAY, "ABSENT jusqu'au 20/12/2026", "Marie", headers=PASS)
    dep.deliver_and_run(now="2026-12-09T10:00:00")
    mail.wait_for(JULIEN)
    assert ("intro", JULIEN) in decided(dep)
    # Julien silent 7 business days (18/12): Marie is still away, Inès (same domain) has it.
    dep.run_once("2026-12-18T12:00:00")
    mail.wait_for(INES)
    # Inès silent 7 business days (25/12 is a holiday: 30/12). Marie is back since the 21st,
    # and she was skipped only because away: she is offered the request again, before
    # anyone escalates "no other ambassador available".
    before = len(decided(dep))
    dep.run_once("2026-12-30T12:00:00")
    new = decided(dep, before)
    assert ("intro", MARIE) in new, new
    assert ("escalation_coordinator", COORDINATOR) not in new
    [_, again] = mail.wait_for(MARIE, lambda m: "rencontre" in str(m["Subject"]), count=2)
    assert "boulangère" in text(again).lower() and PERSON not in again.as_string()
    [news] = mail.wait_for(PERSON, lambda m: "Marie va vous répondre" in str(m["Subject"]))
    assert "Inès" in text(news)
    # Julien did not answer: he is never offered it again.
    assert len([1 for p, r in decided(dep) if (p, r) == ("intro", JULIEN)]) == 1


def test_a_late_answer_reaches_the_person_who_had_no_answer_yet(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    intro = ask(dep, "2026-03-02T09:00:00")
    dep.run_once("2026-03-11T09:00:00")  # 7 business days: offered to Julien
    [intro2] = mail.wait_for(JULIEN)
    # Marie answers late, through the address of her first introduction.
    mail.send_text(MARIE, sender(intro), "Re: demande", "Désolée du retard, avec plaisir !")
    dep.deliver_and_run(now="2026-03-11T10:00:00")
    [relayed] = mail.wait_for(PERSON, lambda m: "Désolée du retard" in text(m))
    assert MARIE not in relayed.as_string() and sender(relayed).startswith("relay+")
    [thanks] = mail.wait_for(MARIE, lambda m: "bien été transmise" in str(m["Subject"]))
    assert "n'a pas été transmis" not in text(thanks)
    assert "continuer l'échange" in text(thanks)
    [withdrawn] = mail.wait_for(JULIEN, lambda m: "Plus rien à faire" in str(m["Subject"]))
    assert "Marie" in text(withdrawn) and MARIE not in withdrawn.as_string()
    [notice] = mail.wait_for(COORDINATOR, lambda m: "Réponse tardive" in str(m["Subject"]))
    assert "n°1" in str(notice["Subject"]) and "transmise" in text(notice)
    # The exchange goes on with Marie: the person's reply reaches her.
    mail.send_text(PERSON, sender(relayed), "Re: demande", "Merci Marie, à mercredi !")
    dep.deliver_and_run(now="2026-03-12T10:00:00")
    mail.wait_for(MARIE, lambda m: "à mercredi" in text(m))
    # Julien answers now: the address is closed, and the notice says why in his words.
    mail.send_text(JULIEN, sender(intro2), "Re: demande", "Je suis disponible")
    dep.deliver_and_run(now="2026-03-12T11:00:00")
    _, closed = mail.wait_for(JULIEN, lambda m: "Plus rien" in str(m["Subject"]), count=2)
    assert "n'a pas été transmis" in text(closed) and "finalement répondu" in text(closed)
    assert not [m for m in mail.fetch_all(PERSON) if "Je suis disponible" in text(m)]
    [request] = dep.log()["requests"]
    assert request["state"] == "in_conversation"


def test_a_late_answer_after_someone_else_answered_goes_to_the_coordinator(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    intro = ask(dep, "2026-03-02T09:00:00")
    dep.run_once("2026-03-11T09:00:00")
    [intro2] = mail.wait_for(JULIEN)
    mail.send_text(JULIEN, sender(intro2), "Re: demande", "Bonjour, avec plaisir, Julien")
    dep.deliver_and_run(now="2026-03-11T10:00:00")
    [from_julien] = mail.wait_for(PERSON, lambda m: "avec plaisir, Julien" in text(m))
    mail.send_text(MARIE, sender(intro), "Re: demande", "Désolée du retard, avec plaisir !")
    dep.deliver_and_run(now="2026-03-11T11:00:00")
    [notice] = mail.wait_for(COORDINATOR, lambda m: "Réponse tardive" in str(m["Subject"]))
    assert "n°1" in str(notice["Subject"]) and "décider" in text(notice)
    [told] = mail.wait_for(MARIE, lambda m: "changement d'ambassadeur" in str(m["Subject"]))
    assert "l'équipe de coordination" in text(told) and "va décider" in text(told)
    assert not [m for m in mail.fetch_all(PERSON) if "Désolée du retard" in text(m)]
    assert not [m for m in mail.fetch_all(JULIEN) if "Plus rien" in str(m["Subject"])]
    [request] = dep.log()["requests"]
    assert request["state"] == "answered"
    # The coordinator decides to relay it after all: the command their mail names.
    [command] = [line for line in text(notice).split(" mailflow ") if "relay-late" in line]
    message_no = command.split()[2]
    done = dep.cli("request", "relay-late", message_no, env={"MAILFLOW_NOW": "2026-03-11T14:00:00"})
    assert "transmise à la personne" in done.stdout and "Marie" in done.stdout
    [late] = mail.wait_for(PERSON, lambda m: "Désolée du retard" in text(m))
    assert sender(late).startswith("relay+") and sender(late) != sender(from_julien)
    assert MARIE not in late.as_string()
    mail.wait_for(MARIE, lambda m: "finalement été transmise" in str(m["Subject"]))
    # the person answers Marie from her relay address: Marie gets it, Julien's exchange stays
    mail.send_text(PERSON, sender(late), "Re: demande", "Merci Marie, je veux bien aussi !")
    dep.deliver_and_run(now="2026-03-11T15:00:00")
    [to_marie] = mail.wait_for(MARIE, lambda m: "Merci Marie" in text(m))
    assert PERSON not in to_marie.as_string()
    again = dep.cli(
        "request", "relay-late", message_no, env={"MAILFLOW_NOW": "2026-03-11T16:00:00"}
    )
    assert "déjà transmis" in again.stdout  # twice is once
    assert len([m for m in mail.fetch_all(PERSON) if "Désolée du retard" in text(m)]) == 1
    wrong = dep.cli("request", "relay-late", "1", check=False)
    assert wrong.returncode != 0 and "not a late answer kept" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_a_request_escalated_then_met_by_a_late_answer_is_not_unmet_demand(
    deployment: Deployment,
) -> None:
    """Figures you can defend (issue 12, items 4 and 5): nobody else was available, the
    request was escalated; Marie then answers late and her answer is relayed. The request
    counts as escalated and answered, never as unmet demand."""
    dep, mail = deployment, deployment.stack
    query(dep, "UPDATE ambassador SET paused = ? WHERE email IN (?, ?)", (True, JULIEN, INES))
    intro = ask(dep, "2026-03-02T09:00:00")
    dep.run_once("2026-03-11T09:00:00")  # 7 business days, nobody else: escalated
    mail.wait_for(COORDINATOR, lambda m: "Escalade" in str(m["Subject"]))
    stats = json.loads(dep.cli("stats", "--json").stdout)["total"]
    assert stats["unmet_demand"]["requests"] == 1 and stats["escalations"] == 1
    mail.send_text(MARIE, sender(intro), "Re: demande", "Désolée du retard, avec plaisir !")
    dep.deliver_and_run(now="2026-03-12T10:00:00")
    mail.wait_for(PERSON, lambda m: "Désolée du retard" in text(m))
    [request] = dep.log()["requests"]
    assert request["state"] == "answered"
    stats = json.loads(dep.cli("stats", "--json").stdout)["total"]
    assert stats["unmet_demand"] == {"requests": 0, "rows": []}, stats["unmet_demand"]
    assert stats["escalations"] == 1 and stats["answers"]["answered"] == 1
    assert stats["requests_by_match"]["exact"] == 1
