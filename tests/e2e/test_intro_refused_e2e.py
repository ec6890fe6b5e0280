"""An introduction the SMTP server refuses (issue 12, item 1), on real Postfix + Dovecot.

The test stack refuses unknown recipients at RCPT time with `550 5.1.1 ... User unknown`,
as many providers do: Marie's address in the directory is changed to one the stack does
not know. The refusal must be a bounce of Marie (no new requests), the request must go to
the next baker at once, the person must hear only of that one, and the coordinator must
be told: by the dead-address notice at once, by an alert a few minutes later, and in the
next digest, with the request number.
"""

from __future__ import annotations

from email.message import EmailMessage

from tests.deployment import COORDINATOR, Deployment, outbox, query, set_config
from tests.e2e.test_relay_e2e import PERSON, ask
from tests.mailstack import wait_queue_empty

GHOST = "ghost@pros.test"  # not in the stack's vmailbox: 550 5.1.1 at RCPT
JULIEN = "amb2@pros.test"  # boulanger à Rouen, the next one (examples/ambassadors.csv)
T0 = "2026-12-07T10:00:00"  # a Monday, after the digest hour (08:00 Paris)


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def subject_has(text: str):  # noqa: ANN201 - a predicate for wait_for
    return lambda msg: text in str(msg["Subject"])


def test_refused_intro_is_a_bounce_the_next_baker_is_offered_and_everyone_is_told(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    set_config(dep, "coordinator", "digest", "true")
    query(dep, "UPDATE ambassador SET email = ? WHERE email = ?", (GHOST, "amb1@pros.test"))
    mail.send_text(
        PERSON, "relay@mailflow.test", "Demande", "Bonjour, je cherche une boulangère à Caen."
    )
    dep.deliver_and_run(now=T0)

    # The request went to Julien in the same run; the person heard of Julien only.
    [intro] = mail.wait_for(JULIEN)
    assert "boulang" in body(intro).lower()
    [ack] = mail.wait_for(PERSON)
    assert "Julien" in body(ack) and "Marie" not in body(ack)
    assert outbox(dep, GHOST) == [("intro", GHOST, "failed")]
    person_rows = outbox(dep, PERSON)
    assert person_rows[0][2] == "failed" and person_rows[-1] == ("ack", PERSON, "sent")
    [(state,)] = query(dep, "SELECT state FROM request")
    assert state == "offered"
    [(bounce_state,)] = query(dep, "SELECT bounce_state FROM ambassador WHERE email = ?", (GHOST,))
    assert bounce_state == "failing"  # as after a DSN: no new requests

    # The coordinator: the dead-address notice at once, naming what the server said.
    [notice] = mail.wait_for(COORDINATOR, subject_has("Adresse d'ambassadeur en échec"))
    assert "refusé" in body(notice) and "5.1.1" in body(notice)

    # ... then, a few minutes later, the alert of its kind, with the request number.
    dep.run_once(now="2026-12-07T10:06:00")
    [alert] = mail.wait_for(COORDINATOR, subject_has("présentation refusée"))
    assert "n°1" in str(alert["Subject"]) and "Marie" in body(alert)

    # ... and the next digest lists the refused intro with the request number.
    dep.run_once(now="2026-12-08T08:30:00")
    [_, digest] = mail.wait_for(COORDINATOR, subject_has("Synthèse"), count=2)
    text = body(digest)
    assert "1 erreur d'envoi" in str(digest["Subject"])  # not "0 erreur d'envoi" (issue 12)
    assert "ENVOIS EN ÉCHEC (REFUSÉS PAR LE SERVEUR D'ENVOI) SUR LA PÉRIODE : 1" in text
    assert "« intro », à : ambassadeur, demande n°1" in text

    # A later request for a baker near Caen skips the dead address.
    ask(dep, "Bonjour, je voudrais rencontrer un boulanger à Caen.", sender="person2@users.test")
    mail.wait_for(JULIEN, count=2)
    wait_queue_empty(mail)
    assert outbox(dep, GHOST) == [("intro", GHOST, "failed")]
