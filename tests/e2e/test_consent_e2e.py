"""Consent for children under 15 on the real mail stack (docs/consent.md), with the real
rules (`[minors] consent = "guardian"`, `guardian_copy = "ask"`) unless a test says otherwise,
and time moved by MAILFLOW_NOW.

A 12-year-old's request is held (no introduction), the child is asked for an adult, the
parent (given by reply, or in Cc) consents by answering OUI to a mail from a relay address,
and only then does the introduction go out; the parent kept in copy receives the
ambassador's mails, masked; RETIRER ends the exchange. A parent who never answers gets
reminders, then the request expires with a kind word to both; NON ends it; review mode is
approved by `mailflow minors approve`. No mail the parent receives holds the child's address.
"""

from __future__ import annotations

import json
import re
import shutil
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from mailflow.config import PROJECT_ROOT
from tests.deployment import RELAY, Deployment, outbox, query
from tests.mailstack import wait_queue_empty

CHILD = "person1@users.test"
PARENT = "person2@users.test"
MARIE = "amb1@pros.test"  # the sample directory's baker in Caen
MONDAY = "2026-03-02T09:00:00"
REQUEST = (
    "Bonjour,\n\njai 12 ans je suis en 5e et je voudrai rencontrer une boulangère a Caen "
    "pour savoir comment on fait le pain. merci !!\n\nLéa"
)
ASK_CHILD = "il nous faut un adulte"
ASK_ADULT = "Votre accord pour un échange"


def text(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def sender(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def with_subject(words: str):  # noqa: ANN201 - a predicate
    return lambda m: words in str(m["Subject"])


def state(dep: Deployment, request_id: int = 1) -> str:
    [(value,)] = query(dep, "SELECT state FROM request WHERE id = ?", (request_id,))
    return value


def consent_row(dep: Deployment) -> tuple:
    [row] = query(
        dep,
        "SELECT state, adult_address, proof_inbound_id, guardian_copy, reminders_sent "
        "FROM consent ORDER BY id",
    )
    return row


def intros(dep: Deployment) -> list:
    return outbox(dep, purpose="intro")


def answer(dep: Deployment, user: str, mail: EmailMessage, body: str, now: str) -> None:
    """`user` replies to `mail` from their own mailbox, as a mail client quotes it; the
    daemon runs at `now`."""
    quoted = "\n".join(f"> {line}" for line in text(mail).splitlines())
    dep.stack.send_text(
        user,
        sender(mail),
        f"Re: {mail['Subject']}",
        f"{body}\n\nLe 02/03/2026 à 09:00, Ambassadeurs a écrit :\n{quoted}\n",
        in_reply_to=str(mail["Message-ID"]),
    )
    dep.deliver_and_run(now=now)


def no_child_address_reaches_the_parent(dep: Deployment) -> None:
    wait_queue_empty(dep.stack)
    raws = dep.stack.fetch_raw(PARENT)
    assert raws
    for raw in raws:
        assert CHILD.encode() not in raw.lower(), raw.decode(errors="replace")
    for raw in dep.stack.fetch_raw(MARIE):
        assert CHILD.encode() not in raw.lower() and PARENT.encode() not in raw.lower()


def test_held_child_names_a_parent_who_consents_keeps_a_copy_then_withdraws(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Léa <{CHILD}>", RELAY, "stage boulangerie", REQUEST)
    dep.deliver_and_run(now=MONDAY)
    [asked] = mail.wait_for(CHILD, with_subject(ASK_CHILD))
    assert state(dep) == "awaiting_consent" and not intros(dep)
    body = text(asked)
    assert "Bonjour Léa" in body and "papa" in body and "Cc" in body
    child_relay = sender(asked)
    assert re.fullmatch(r"relay\+[a-z2-7]{24}@mailflow\.test", child_relay)

    # the child answers with the address of her mother, in her own words
    answer(dep, CHILD, asked, "cest ma maman son adresse c person2@users.test", MONDAY)
    [consent_mail] = mail.wait_for(PARENT, with_subject(ASK_ADULT))
    adult_relay = sender(consent_mail)
    assert re.fullmatch(r"relay\+[a-z2-7]{24}@mailflow\.test", adult_relay)
    assert adult_relay != child_relay
    words = text(consent_mail)
    assert "Léa" in words and "masquées" in words and "365 jours" in words
    assert "« OUI »" in words and "OUI COPIE" in words and "RETIRER" in words
    mail.wait_for(CHILD, with_subject("Nous avons écrit à l'adulte"))
    assert state(dep) == "awaiting_consent" and not intros(dep)

    # something unclear first: a short "répondez OUI ou NON", nothing decided
    answer(dep, PARENT, consent_mail, "C'est gratuit ? Qui sont ces gens ?", MONDAY)
    mail.wait_for(PARENT, with_subject("Répondez OUI ou NON"))
    assert consent_row(dep)[0] == "pending" and not intros(dep)

    answer(dep, PARENT, consent_mail, "Oui, copie svp. Cordialement, Mme Martin", MONDAY)
    [intro] = mail.wait_for(MARIE)
    assert state(dep) == "offered"
    assert "boulang" in text(intro).lower()
    mail.wait_for(CHILD, with_subject("Votre demande est transmise"))
    [thanks] = mail.wait_for(PARENT, with_subject("votre accord est enregistré"))
    assert "copie des messages de l'ambassadeur" in text(thanks)
    given, adult, proof, copy, _ = consent_row(dep)
    assert (given, adult, bool(copy)) == ("given", PARENT, True) and proof is not None

    # Marie answers: the child gets it, and her mother a masked copy from the consent address
    mail.send_text(
        MARIE,
        sender(intro),
        f"Re: {intro['Subject']}",
        "Bonjour Léa, avec plaisir ! Je commence à 4h du matin. Marie",
        in_reply_to=str(intro["Message-ID"]),
    )
    dep.deliver_and_run(now="2026-03-02T10:00:00")
    mail.wait_for(CHILD, lambda m: "4h du matin" in text(m))
    [copy_mail] = mail.wait_for(PARENT, lambda m: "4h du matin" in text(m))
    assert sender(copy_mail) == adult_relay and "(copie)" in str(copy_mail["From"])
    assert MARIE not in str(copy_mail).lower()

    # the mother withdraws: the exchange ends, Marie told kindly, the child told
    answer(dep, PARENT, thanks, "RETIRER", "2026-03-03T09:00:00")
    mail.wait_for(PARENT, with_subject("Votre accord est retiré"))
    mail.wait_for(CHILD, with_subject("Ton échange s'arrête"))
    [ended] = mail.wait_for(MARIE, with_subject("est close"))
    assert "l'échange s'arrête là" in text(ended)
    assert "accord" not in text(ended) and "maman" not in text(ended)  # nobody pointed at
    assert state(dep) == "withdrawn" and consent_row(dep)[0] == "withdrawn"
    [(closed,)] = query(dep, "SELECT state FROM conversation")
    assert closed == "closed"
    no_child_address_reaches_the_parent(dep)

    export = json.loads(dep.cli("person", "export", PARENT).stdout)
    [as_adult] = export["consents"]
    assert as_adult["state"] == "withdrawn" and as_adult["role"] == "adult"
    assert CHILD not in json.dumps(export)
    child_export = json.loads(dep.cli("person", "export", CHILD).stdout)
    assert [c["state"] for c in child_export["consents"]] == ["withdrawn"]

    # the mother asks to be forgotten: her address leaves the consent, the decision stays
    forgot = dep.cli("person", "forget", PARENT).stdout
    assert "adult asked to consent forgotten: 1 consent(s)" in forgot
    assert query(dep, "SELECT state, adult_address FROM consent") == [("withdrawn", None)]
    assert not outbox(dep, recipient=PARENT)


def test_a_parent_in_cc_who_never_answers_gets_reminders_then_the_request_expires(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Cc"] = f"Léa <{CHILD}>", RELAY, f"Maman <{PARENT}>"
    msg["Subject"] = "boulangerie"
    msg.set_content(REQUEST)
    mail.send(CHILD, [RELAY], msg)
    dep.deliver_and_run(now=MONDAY)
    mail.wait_for(PARENT, with_subject(ASK_ADULT))
    mail.wait_for(CHILD, with_subject("Nous avons écrit à l'adulte"))
    assert not mail.fetch_all(CHILD) or not [
        m for m in mail.fetch_all(CHILD) if ASK_CHILD in str(m["Subject"])
    ]
    consent = text(mail.fetch_all(PARENT)[0])
    assert "Vous étiez en copie" in consent

    dep.run_once("2026-03-04T09:00:00")  # two days: nothing yet
    assert consent_row(dep)[4] == 0
    dep.run_once("2026-03-05T09:30:00")  # three days: the first reminder
    mail.wait_for(PARENT, with_subject("Rappel"))
    dep.run_once("2026-03-05T10:00:00")  # the same day again: nothing more
    dep.run_once("2026-03-09T09:30:00")  # seven days: the second
    mail.wait_for(PARENT, with_subject("Rappel"), count=2)
    assert consent_row(dep)[4] == 2 and state(dep) == "awaiting_consent"
    dep.run_once("2026-03-16T09:30:00")  # fourteen days: expired, both told kindly
    mail.wait_for(PARENT, with_subject("La demande est arrêtée"))
    [kind] = mail.wait_for(CHILD, with_subject("Ta demande s'arrête"))
    assert "Ce n'est pas grave" in text(kind)
    assert state(dep) == "expired" and consent_row(dep)[0] == "expired"
    assert not intros(dep) and not mail.fetch_all(MARIE)
    assert len([m for m in mail.fetch_all(PARENT) if "Rappel" in str(m["Subject"])]) == 2
    no_child_address_reaches_the_parent(dep)


def test_a_parent_who_says_no_ends_the_request_kindly(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Léa <{CHILD}>", RELAY, "stage", REQUEST)
    dep.deliver_and_run(now=MONDAY)
    [asked] = mail.wait_for(CHILD, with_subject(ASK_CHILD))
    msg = EmailMessage()  # she writes again, her father in Cc this time
    msg["From"], msg["To"], msg["Cc"] = CHILD, sender(asked), f"Papa <{PARENT}>"
    msg["Subject"], msg["In-Reply-To"] = f"Re: {asked['Subject']}", str(asked["Message-ID"])
    msg.set_content("voila jai mis mon papa en copie")
    mail.send(CHILD, [sender(asked)], msg)
    dep.deliver_and_run(now=MONDAY)
    [consent_mail] = mail.wait_for(PARENT, with_subject(ASK_ADULT))
    answer(dep, PARENT, consent_mail, "Non, je ne suis pas d'accord, elle est trop jeune.", MONDAY)
    mail.wait_for(PARENT, with_subject("Votre réponse est enregistrée"))
    [told] = mail.wait_for(CHILD, with_subject("Ta demande s'arrête"))
    assert "n'a pas donné son accord" in text(told)
    assert state(dep) == "closed" and consent_row(dep)[0] == "refused"
    assert not intros(dep)
    no_child_address_reaches_the_parent_or_none(dep)


def no_child_address_reaches_the_parent_or_none(dep: Deployment) -> None:
    wait_queue_empty(dep.stack)
    for raw in dep.stack.fetch_raw(PARENT):
        assert CHILD.encode() not in raw.lower()


def review_rules(dep: Deployment, folder: Path) -> None:
    """The deployment on a copy of the rules with `[minors] consent = "review"`."""
    rules = folder / "rules-review"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    policy = rules / "minors.toml"
    source = policy.read_text(encoding="utf-8")
    changed = source.replace('consent = "guardian"', 'consent = "review"')
    assert changed != source
    policy.write_text(changed, encoding="utf-8")
    with dep.config.open("a", encoding="utf-8") as config:
        config.write(f'\n[paths]\nrules = "{rules}"\n')


def test_review_mode_waits_for_the_coordinator(deployment: Deployment, tmp_path: Path) -> None:
    dep, mail = deployment, deployment.stack
    review_rules(dep, tmp_path)
    mail.send_text(f"Léa <{CHILD}>", RELAY, "stage", REQUEST)
    dep.deliver_and_run(now=MONDAY)
    [told] = mail.wait_for(CHILD, with_subject("Nous avons bien reçu ton message"))
    assert state(dep) == "awaiting_consent" and not intros(dep)
    answer(dep, CHILD, told, f"ma maman c'est {PARENT}", MONDAY)  # no adult asked in review
    mail.wait_for(CHILD, with_subject("Nous avons bien reçu ton message"), count=2)
    assert not outbox(dep, recipient=PARENT)
    listed = dep.cli("minors").stdout
    assert "[awaiting_consent]" in listed and "consent pending (review)" in listed
    dep.run_once("2026-03-20T09:00:00")  # review waits for the coordinator: no expiry
    assert state(dep) == "awaiting_consent"
    [alerted] = mail.wait_for("coordinator@mailflow.test", with_subject("moins de 15 ans"))
    assert "mailflow minors approve 1" in text(alerted)
    printed = dep.cli("minors", "approve", "1", env={"MAILFLOW_NOW": "2026-03-20T10:00:00"})
    assert "accord enregistré" in printed.stdout
    mail.wait_for(MARIE)
    mail.wait_for(CHILD, with_subject("Votre demande est transmise"))
    assert state(dep) == "offered" and consent_row(dep)[0] == "given"
    refused = dep.cli("minors", "approve", "1", check=False)
    assert refused.returncode != 0 and "not waiting for a consent" in refused.stderr
