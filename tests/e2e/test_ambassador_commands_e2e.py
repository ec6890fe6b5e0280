"""ABSENT, REPRISE and PROFIL end to end: the ambassador writes from their own mailbox over
SMTP, `mailflow run --once` runs (at an instant set by MAILFLOW_NOW), and the answer lands
in their real IMAP inbox. An absence ends at midnight in Europe/Paris (the default
[schedule] timezone): 23:00 UTC in December. The deployment trusts the provider's verdict
(`authserv_id`) and Marie's mail carries its pass, so her commands act at once; without
it they wait for a confirmation (tests/e2e/test_hostile_forged_e2e.py)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.deployment import PASS, RELAY, Deployment, outbox, trust
from tests.mailstack import wait_queue_empty

MARIE = "amb1@pros.test"  # boulangère à Caen (examples/ambassadors.csv)
JULIEN = "amb2@pros.test"  # boulanger à Rouen
REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
NOVEMBER = "2026-11-20T09:00:00"  # a Friday


@pytest.fixture(autouse=True)
def _trusted(deployment: Deployment) -> None:
    trust(deployment)


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def command(dep: Deployment, subject: str, body: str = "Merci", now: str = NOVEMBER) -> None:
    """Marie writes to the shared address from her mailbox; the daemon runs once."""
    dep.stack.send_text(f"Marie Lefèvre <{MARIE}>", RELAY, subject, body, headers=PASS)
    dep.deliver_and_run(now=now)


def ask(dep: Deployment, person: str, now: str) -> None:
    dep.stack.send_text(person, RELAY, "Demande de rencontre", REQUEST)
    dep.deliver_and_run(now=now)


def subjects(dep: Deployment, user: str) -> list[str]:
    return [str(m["Subject"]) for m in dep.stack.fetch_all(user)]


def test_absent_is_confirmed_then_requests_go_elsewhere_until_the_date(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    command(dep, "ABSENT jusqu'au 15/12/2026", "Bonjour,\nJe pars en vacances.\nMarie")
    [confirmation] = mail.wait_for(MARIE)
    assert str(confirmation["Subject"]) == (
        "C'est noté : pas de nouvelle demande jusqu'au mardi 15 décembre 2026"
    )
    assert "à partir du mercredi 16 décembre 2026" in text(confirmation)
    assert confirmation["Auto-Submitted"] == "auto-generated"

    # 15 December, 23:59 in Paris: still away. The request goes to Julien.
    ask(dep, "person1@users.test", "2026-12-15T22:59:00")
    [intro] = mail.wait_for(JULIEN)
    assert "Boulanger" in text(intro)
    assert outbox(dep, MARIE) == [("ambassador_absent", MARIE, "sent")]
    wait_queue_empty(mail)
    assert subjects(dep, MARIE) == [str(confirmation["Subject"])]

    # 16 December, 00:00 in Paris: back. The next request reaches Marie's inbox.
    ask(dep, "person2@users.test", "2026-12-15T23:00:00")
    [_, second] = mail.wait_for(MARIE, count=2)
    assert "boulangère" in text(second).lower() and MARIE not in text(second)
    assert [purpose for purpose, _, _ in outbox(dep, MARIE)] == ["ambassador_absent", "intro"]
    assert len(outbox(dep, JULIEN)) == 1


def test_an_absence_date_already_past_is_refused_in_the_inbox(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    command(dep, "ABSENT jusqu'au 15/10/2026")
    [answer] = mail.wait_for(MARIE)
    assert str(answer["Subject"]) == "Votre absence : une date à préciser"
    assert "déjà passée" in text(answer)
    ask(dep, "person1@users.test", NOVEMBER)  # nothing changed: Marie gets the request
    mail.wait_for(MARIE, count=2)


def test_resume_ends_the_absence_at_once(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    command(dep, "ABSENT jusqu'au 15/12/2026")
    mail.wait_for(MARIE)
    command(dep, "Re: REPRISE", "Bonjour,\nREPRISE\nMarie", now="2026-11-23T09:00:00")
    [resumed] = mail.wait_for(MARIE, lambda m: "disponible" in str(m["Subject"]))
    assert str(resumed["Subject"]) == "C'est noté : vous êtes disponible"
    assert "de nouveau disponible" in text(resumed)

    ask(dep, "person1@users.test", "2026-11-23T10:00:00")  # well before the 15th
    mail.wait_for(MARIE, lambda m: "boulangère" in text(m).lower())
    assert outbox(dep, JULIEN) == []
    assert [purpose for purpose, _, _ in outbox(dep, MARIE)] == [
        "ambassador_absent",
        "ambassador_resume",
        "intro",
    ]


def test_profile_shows_the_entry_and_the_open_requests(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep, "person1@users.test", NOVEMBER)
    mail.wait_for(MARIE)
    command(dep, "profil", now="2026-11-20T10:00:00")
    [profile] = mail.wait_for(MARIE, lambda m: str(m["Subject"]) == "Votre fiche d'ambassadeur")
    body = text(profile)
    for expected in (
        "Nom : Marie Lefèvre",
        "Métier, formation ou diplôme : Boulangère",
        "Ville : Caen",
        "État : disponible",
        "Échanges en cours : 1",
        "(demande n°1)",
        "coordinator@mailflow.test",
    ):
        assert expected in body, expected
    assert "person1@users.test" not in profile.as_string()
    dep.run_once("2026-11-20T10:00:00")  # the same instant again: nothing twice
    wait_queue_empty(mail)
    assert len([s for s in subjects(dep, MARIE) if s == "Votre fiche d'ambassadeur"]) == 1


def test_a_long_absence_hands_the_open_request_over(deployment: Deployment) -> None:
    """Away beyond the reassignment deadline: waiting would only make the person wait."""
    dep, mail = deployment, deployment.stack
    ask(dep, "person1@users.test", NOVEMBER)
    mail.wait_for(MARIE)
    command(dep, "ABSENT jusqu'au 15/12/2026", now="2026-11-20T10:00:00")
    mail.wait_for(MARIE, lambda m: "pas de nouvelle demande" in str(m["Subject"]))
    [intro] = mail.wait_for(JULIEN)
    assert "Boulanger" in text(intro)
    mail.wait_for("person1@users.test", lambda m: "Julien" in str(m["Subject"]))
