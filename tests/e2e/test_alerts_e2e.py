"""The coordinator is told at once, batched (issue 12, item 10), on real Postfix + Dovecot.

A request from someone likely under 15 raises an alert (services/alerts.py); the scheduler
mails the coordinator one summary of its kind once the batch delay has passed (5 minutes,
rules/followup.toml [alerts]), with the request numbers, and never more than one mail of
a kind per hour: a second child's request waits for the next hour's mail. Time is driven
with MAILFLOW_NOW through `run --once`.
"""

from __future__ import annotations

from email.message import EmailMessage

from tests.deployment import COORDINATOR, RELAY, Deployment
from tests.mailstack import wait_queue_empty

UNDER_15 = "À traiter : demande d'une personne qui a sans doute moins de 15 ans"


def under_15(msg: EmailMessage) -> bool:
    return UNDER_15 in str(msg["Subject"])


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def test_under_15_alert_is_batched_and_capped_per_hour(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(
        "lea@users.test",
        RELAY,
        "Stage",
        "Bonjour, j'ai 12 ans et je voudrais voir une boulangère à Caen.",
    )
    dep.deliver_and_run(now="2026-12-07T10:00:00")
    dep.run_once(now="2026-12-07T10:02:00")  # within the batch delay: nothing yet
    wait_queue_empty(mail)
    assert not [m for m in mail.fetch_all(COORDINATOR) if under_15(m)]

    dep.run_once(now="2026-12-07T10:06:00")
    [first] = mail.wait_for(COORDINATOR, under_15)
    assert "(demande n°1)" in str(first["Subject"])
    assert "demande n°1" in body(first) and "âge indiqué : 12 ans" in body(first)
    assert "lea@users.test" not in body(first)

    mail.send_text(
        "tom@users.test",
        RELAY,
        "Métier",
        "Bonjour, j'ai 13 ans, je voudrais rencontrer un boulanger à Caen.",
    )
    dep.deliver_and_run(now="2026-12-07T10:10:00")
    dep.run_once(now="2026-12-07T10:30:00")  # batch delay passed, but the hour has not
    wait_queue_empty(mail)
    assert len([m for m in mail.fetch_all(COORDINATOR) if under_15(m)]) == 1

    dep.run_once(now="2026-12-07T11:07:00")
    [_, second] = mail.wait_for(COORDINATOR, under_15, count=2)
    assert "(demande n°2)" in str(second["Subject"]) and "n°1" not in body(second)
    dep.run_once(now="2026-12-07T12:30:00")  # nothing pending: no mail
    wait_queue_empty(mail)
    assert len([m for m in mail.fetch_all(COORDINATOR) if under_15(m)]) == 2
