"""Forged mail in the default configuration (no `[mailbox] authserv_id`), through the real
mail stack (issue 10, item 3).

The attacker sends over SMTP with their own envelope (MAIL FROM, which Dovecot's LMTP
writes on top as `Return-Path:`) and a party's address in `From:`. Such mail must not be
relayed nor act; a genuine command (the party's own envelope) acts only once the party
answers the confirmation mail that reached their real inbox.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from tests.deployment import RELAY, Deployment, outbox, query
from tests.mailstack import wait_queue_empty

LEA = "person1@users.test"
MARIE = "amb1@pros.test"  # boulangère à Caen (examples/ambassadors.csv)
JULIEN = "amb2@pros.test"  # boulanger à Rouen: next in line
INTRUDER = "intrus@attacker.test"  # an envelope nobody at pros.test or users.test owns
STRANGER = "person5@users.test"  # never wrote to mailflow
REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
NOW = "2026-11-20T09:00:00"


def forged(dep: Deployment, envelope: str, sender: str, to: str, subject: str, body: str) -> None:
    """One mail with `sender` in From: and `envelope` as its SMTP MAIL FROM."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    msg.set_content(body)
    dep.stack.send(envelope, [parseaddr(to)[1]], msg)


def run(dep: Deployment, count: int = 1) -> None:
    dep.deliver_and_run(count=count, now=NOW)
    wait_queue_empty(dep.stack)


def introduced(dep: Deployment) -> EmailMessage:
    """Léa's request, introduced to Marie; returns the introduction in Marie's inbox."""
    dep.stack.send_text(f"Léa <{LEA}>", RELAY, "Demande de rencontre", REQUEST)
    run(dep)
    [intro] = dep.stack.wait_for(MARIE)
    return intro


def reply_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg["Reply-To"] or msg["From"]))[1]


def last_inbound(dep: Deployment) -> tuple[str, str, str]:
    [row] = query(
        dep, "SELECT outcome, status, reason FROM inbound_message ORDER BY id DESC LIMIT 1"
    )
    return row


def ambassador(dep: Deployment, address: str) -> tuple[int, object]:
    [row] = query(dep, "SELECT active, left_at FROM ambassador WHERE email = ?", (address,))
    return row


def request_state(dep: Deployment) -> str:
    [(state,)] = query(dep, "SELECT state FROM request")
    return state


def test_a_forged_relay_reply_does_not_reach_the_pupil(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    intro = introduced(dep)
    before = mail.imap_count(LEA)
    to = reply_address(intro)
    forged(dep, INTRUDER, f"Marie <{MARIE}>", to, "Re: demande", "Rejoins-moi sur ce site.")
    run(dep)
    outcome, status, reason = last_inbound(dep)
    assert (outcome, status) == ("unauthenticated", "quarantined")
    assert INTRUDER in reason and "not aligned" in reason
    assert mail.imap_count(LEA) == before  # nothing relayed to her
    assert not outbox(dep, purpose="relay")
    assert "unauthenticated" in dep.cli("quarantine", "list").stdout
    # The genuine answer, with Marie's own envelope, still goes through.
    mail.send_text(f"Marie <{MARIE}>", to, "Re: demande", "Avec plaisir, passez mercredi.")
    run(dep)
    assert last_inbound(dep)[0] == "relayed"
    mail.wait_for(LEA, count=before + 1)


def test_a_forged_ambassador_stop_changes_nothing(deployment: Deployment) -> None:
    dep = deployment
    introduced(dep)
    forged(dep, INTRUDER, f"Marie <{MARIE}>", RELAY, "STOP", "STOP")
    run(dep)
    assert last_inbound(dep)[0] == "unauthenticated"
    assert ambassador(dep, MARIE) == (1, None)  # still active, never left
    assert request_state(dep) == "offered"
    assert not outbox(dep, JULIEN)  # the request was not handed to anyone else
    assert [p for p, _, _ in outbox(dep, MARIE)] == ["intro"]  # no answer to a forgery


def test_a_genuine_stop_acts_once_its_confirmation_is_answered(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    introduced(dep)
    mail.send_text(f"Marie <{MARIE}>", RELAY, "STOP", "STOP")
    run(dep)
    assert last_inbound(dep)[0] == "confirmation-asked"
    assert ambassador(dep, MARIE) == (1, None)  # nothing yet
    [_, ask] = mail.wait_for(MARIE, count=2)
    assert "STOP" in str(ask["Subject"]) and "répondez simplement" in ask.get_content()
    confirm_to = reply_address(ask)
    assert confirm_to.startswith("relay+") and confirm_to.endswith("@mailflow.test")

    mail.send_text(MARIE, confirm_to, f"Re: {ask['Subject']}", "OUI")
    run(dep)
    assert last_inbound(dep)[0] == "ambassador-stop"
    active, left_at = ambassador(dep, MARIE)
    assert not active and left_at is not None
    mail.wait_for(JULIEN)  # the request went to the next baker
    assert [p for p, _, _ in outbox(dep, JULIEN)] == ["intro"]

    mail.send_text(MARIE, confirm_to, f"Re: {ask['Subject']}", "OUI, encore")  # idempotent
    run(dep)
    assert last_inbound(dep)[0] == "confirmation-repeated"
    assert [p for p, _, _ in outbox(dep, MARIE)].count("ambassador_stop") == 1
    assert len(outbox(dep, JULIEN)) == 1
    kinds = [c for (c,) in query(dep, "SELECT cause FROM event WHERE kind = 'confirmation'")]
    assert any("pending" in c for c in kinds) and any("confirmed" in c for c in kinds)


def test_a_forged_stop_from_the_pupil_does_not_withdraw_her_request(
    deployment: Deployment,
) -> None:
    dep = deployment
    introduced(dep)
    forged(dep, INTRUDER, f"Léa <{LEA}>", RELAY, "STOP", "STOP")
    run(dep)
    assert last_inbound(dep)[0] == "unauthenticated"
    assert request_state(dep) == "offered"
    assert [p for p, _, _ in outbox(dep, LEA)] == ["ack"]  # nothing said to Léa about it


def test_a_stop_from_someone_who_never_wrote_gets_no_mail(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(STRANGER, RELAY, "STOP", "STOP")
    run(dep)
    assert last_inbound(dep)[0] == "person-stop"
    assert not outbox(dep, STRANGER)
    assert mail.imap_count(STRANGER) == 0
