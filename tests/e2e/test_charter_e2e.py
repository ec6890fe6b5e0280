"""The ambassadors' charter end to end, under the default policy (rules/charter.toml): a new
ambassador of the directory gets the charter in their real inbox, no request before they
accept it by replying from their own mailbox, then requests; reminders; a new version asks
again; a request from a 12-year-old goes only to a signed ambassador whose honorability
check is recorded. Every `mailflow` here runs as its own process at an instant set by
MAILFLOW_NOW, on the test mail stack (Postfix + Dovecot)."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.context import CHARTER_ENV
from tests.deployment import COORDINATOR, RELAY, Deployment, outbox, query, write_config
from tests.mailstack import MailStack, wait_queue_empty

MARIE = "amb1@pros.test"  # boulangère à Caen, new in the directory
JULIEN = "amb2@pros.test"  # boulanger à Rouen, signed the charter on paper
HEADER = "email,first_name,last_name,kind,title,sector,department,city,postcode,capacity,charte"
ROWS = {
    MARIE: f"{MARIE},Marie,Lefèvre,metier,Boulangère,Alimentation,14,Caen,14000,3,",
    JULIEN: f"{JULIEN},Julien,Hamel,metier,Boulanger,Alimentation,76,Rouen,76000,3,01/02/2026",
}
ADULT = (
    "Bonjour,\nj'ai 34 ans et je pense à une reconversion : je voudrais rencontrer une "
    "boulangère près de Caen pour savoir comment ça se passe.\nMerci, Karim"
)
CHILD = (
    "bonjour je m'appelle Léo j'ai 12 ans je suis en 5eme et je voudrais devenir boulanger. "
    "est ce que je peux parler avec un boulanger a caen ? merci"
)
MONDAY = "2026-03-02T09:00:00"  # 10:00 in Paris
WELCOME = "Bienvenue parmi les ambassadeurs : la charte à accepter"


def at(day: int, hour: int = 9) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00"


@pytest.fixture
def dep(mail: MailStack, tmp_path: Path) -> Deployment:
    """A new deployment on an empty database: the charter's default policy (the suite's
    opt-in, tests/conftest.py, set back to the shipped rules/charter.toml)."""
    return Deployment(write_config(tmp_path, mail), mail)


def cli(dep: Deployment, *args: str, now: str = MONDAY, charter: str = "") -> str:
    env = {CHARTER_ENV: charter, "MAILFLOW_NOW": now}
    return dep.cli(*args, env=env).stdout


def setup(dep: Deployment, *who: str) -> None:
    cli(dep, "init")
    csv = dep.config.parent / "ambassadors.csv"
    csv.write_text("\n".join([HEADER, *(ROWS[w] for w in who)]) + "\n", encoding="utf-8")
    said = cli(dep, "ambassadors", "import", str(csv))
    assert f"charter signed on paper recorded for {int(JULIEN in who)}" in said or JULIEN not in who


def run(dep: Deployment, now: str, charter: str = "") -> None:
    cli(dep, "run", "--once", now=now, charter=charter)


def ask(dep: Deployment, person: str, body: str, now: str, charter: str = "") -> None:
    dep.stack.send_text(person, RELAY, "Demande de rencontre", body)
    dep.stack.wait_for(RELAY, count=1)
    run(dep, now, charter)


def ask_as_child(dep: Deployment, person: str, body: str, now: str) -> None:
    """A child asks; the request waits for an adult's consent (rules/minors.toml), which a
    coordinator records after a phone call with the parent (`minors approve`, consent's own
    mails are tested in test_consent_e2e.py); then it is routed under the charter's policy."""
    ask(dep, person, body, now)
    [(held,)] = query(dep, "SELECT id FROM request WHERE state = 'awaiting_consent'")
    assert "accord enregistré" in cli(dep, "minors", "approve", str(held), now=now)
    run(dep, now)


def answer(dep: Deployment, mail: EmailMessage, body: str, now: str, charter: str = "") -> str:
    """Marie replies to a mail from her own mailbox; the daemon runs."""
    to = parseaddr(str(mail["From"]))[1]
    sent = dep.stack.send_text(
        f"Marie Lefèvre <{MARIE}>", to, f"Re: {mail['Subject']}", body,
        in_reply_to=str(mail["Message-ID"]),
    )  # fmt: skip
    dep.stack.wait_for(RELAY, count=1)
    run(dep, now, charter)
    return sent


def text(msg: EmailMessage) -> str:
    """The plain text, its lines joined (mails wrap at about 90 characters)."""
    return " ".join(msg.get_body(("plain",)).get_content().split())


def directory(dep: Deployment, charter: str = "") -> dict[str, dict]:
    rows = json.loads(cli(dep, "ambassadors", "list", "--json", charter=charter))
    return {r["email"]: r for r in rows}


def subject_is(subject: str):  # noqa: ANN201
    return lambda m: str(m["Subject"]) == subject


def test_a_new_ambassador_gets_requests_only_once_they_accepted_the_charter(dep) -> None:  # noqa: ANN001
    mail = dep.stack
    setup(dep, MARIE, JULIEN)
    listed = directory(dep)
    assert listed[MARIE]["charter"] == "not signed: 2026-1 not asked yet"
    assert listed[MARIE]["availability"] == "charter not signed"
    assert listed[JULIEN]["charter_signed"] and listed[JULIEN]["charter_how"] == "paper"

    run(dep, MONDAY)  # the follow-ups ask the new ambassador
    [welcome] = mail.wait_for(MARIE)
    assert str(welcome["Subject"]) == WELCOME
    body = text(welcome)
    assert "CHARTE DES AMBASSADEURS (version 2026-1)" in body
    assert "J'ACCEPTE" in body and "Bonjour Marie" in body
    assert "moins de 15 ans" in body  # this version covers minors
    sender = parseaddr(str(welcome["From"]))[1]
    assert sender.startswith("relay+") and sender.endswith("@mailflow.test")
    assert welcome["Auto-Submitted"] == "auto-generated"
    assert outbox(dep, JULIEN) == []  # signed on paper: no mail
    assert directory(dep)[MARIE]["charter"] == "not signed: 2026-1 asked 2026-03-02"

    # Before she accepts, a request she would match best goes to Julien.
    ask(dep, "Karim <person1@users.test>", ADULT, at(2, 10))
    [intro] = mail.wait_for(JULIEN)
    assert "boulang" in text(intro).lower()
    assert [p for p, _, _ in outbox(dep, MARIE)] == ["charter_welcome"]

    # Her out-of-office answers the welcome mail: automatic mail never accepts anything.
    to = parseaddr(str(welcome["From"]))[1]
    token = to.split("@")[0].removeprefix("relay+")
    mail.send_text(
        f"Marie Lefèvre <{MARIE}>", to, f"Réponse automatique : {welcome['Subject']}",
        "Bonjour, je suis en déplacement et je lirai votre message à mon retour. "
        "J'accepte les appels urgents au bureau.",
        headers={"Auto-Submitted": "auto-replied"}, in_reply_to=str(welcome["Message-ID"]),
    )  # fmt: skip
    mail.wait_for(RELAY, count=1)
    run(dep, at(2, 11))
    assert not directory(dep)[MARIE]["charter_signed"]
    assert query(dep, "SELECT outcome FROM inbound_message WHERE relay_token = ?", (token,)) == [
        ("auto-reply",)
    ]

    # An unclear answer records nothing, and says what to write.
    answer(dep, welcome, "Bonjour, je regarde ça ce week-end.\nMarie", at(3))
    [unclear] = mail.wait_for(MARIE, subject_is("Charte des ambassadeurs : votre réponse"))
    assert "J'ACCEPTE" in text(unclear)
    assert not directory(dep)[MARIE]["charter_signed"]

    # She accepts: recorded with her message as the proof, and thanked.
    sent = answer(dep, welcome, "J'accepte, merci !\n\nMarie\n\nEnvoyé de mon iPhone", at(4))
    [thanks] = mail.wait_for(MARIE, subject_is("Charte acceptée : merci !"))
    assert "2026-1" in text(thanks)
    [(how, proof, accepted, inbound_sender)] = query(
        dep,
        "SELECT s.how, s.proof_message_id, s.accepted_at, m.sender FROM charter_signature s"
        " JOIN inbound_message m ON m.id = s.inbound_id"
        " JOIN ambassador a ON a.id = s.ambassador_id WHERE a.email = ?",
        (MARIE,),
    )
    assert (how, proof, inbound_sender) == ("mail", sent, MARIE)
    assert str(accepted).startswith("2026-03-04 09:00")
    listed = directory(dep)[MARIE]
    assert listed["charter"].startswith("2026-1 (mail 2026-03-04") and listed["charter_signed"]
    assert listed["availability"] == "available"

    # The next request reaches her inbox.
    ask(dep, "Anne <person2@users.test>", ADULT.replace("Karim", "Anne"), at(4, 10))
    [_, _, _, intro] = mail.wait_for(MARIE, count=4)
    assert "boulang" in text(intro).lower() and "person2@users.test" not in text(intro)
    assert [p for p, _, _ in outbox(dep, MARIE)][-1] == "intro"
    export = json.loads(cli(dep, "person", "export", MARIE))
    assert [s["how"] for s in export["ambassador"]["charter"]] == ["mail"]


def test_reminders_then_a_new_version_asks_again(dep, tmp_path: Path) -> None:  # noqa: ANN001
    mail = dep.stack
    setup(dep, MARIE)
    run(dep, MONDAY)
    [welcome] = mail.wait_for(MARIE)
    for day in (3, 5):  # reminders every 4 days (rules/charter.toml), 2 at most
        run(dep, at(day))
    run(dep, at(6))  # 4 days after the welcome mail
    run(dep, at(8))
    run(dep, at(10))  # 4 days after the first reminder
    run(dep, at(30))
    wait_queue_empty(mail)
    assert [p for p, _, _ in outbox(dep, MARIE)] == [
        "charter_welcome",
        "charter_reminder",
        "charter_reminder",
    ]
    reminders = mail.wait_for(
        MARIE, subject_is("Rappel : la charte des ambassadeurs à accepter"), 2
    )
    assert parseaddr(str(reminders[0]["From"]))[1] == parseaddr(str(welcome["From"]))[1]
    assert directory(dep)[MARIE]["charter"] == (
        "not signed: 2026-1 asked 2026-03-02, 2 reminder(s)"
    )
    answer(dep, reminders[-1], "oui", at(30, 10))
    mail.wait_for(MARIE, subject_is("Charte acceptée : merci !"))

    # A new version of the charter: asked again; no new request before she accepts it.
    newer = tmp_path / "charter-2026-2.toml"
    rules = (PROJECT_ROOT / "rules" / "charter.toml").read_text(encoding="utf-8")
    newer.write_text(rules.replace('version = "2026-1"', 'version = "2026-2"'), encoding="utf-8")
    run(dep, at(31), charter=str(newer))
    changed = "La charte des ambassadeurs a changé : merci de l'accepter"
    [renewal] = mail.wait_for(MARIE, subject_is(changed))
    assert "version : 2026-2" in text(renewal)
    assert "Vos échanges en cours continuent" in text(renewal)
    listed = directory(dep, charter=str(newer))[MARIE]
    assert listed["charter"] == "not signed: 2026-2 asked 2026-03-31 (signed 2026-1)"

    ask(dep, "Karim <person1@users.test>", ADULT, at(31, 10), charter=str(newer))
    [notice] = mail.wait_for(COORDINATOR, lambda m: "sans ambassadeur" in str(m["Subject"]))
    assert "aucun n'a encore accepté la charte en vigueur" in text(notice)
    assert query(dep, "SELECT state FROM request") == [("unmatched",)]

    answer(dep, renewal, "D'accord pour la nouvelle version.\nMarie", at(31, 11), str(newer))
    run(dep, "2026-04-01T09:00:00", charter=str(newer))  # the daily retry of unmatched ones
    wait_queue_empty(mail)
    assert [p for p, _, _ in outbox(dep, MARIE)][-1] == "intro"
    assert query(dep, "SELECT state FROM request") == [("offered",)]


def test_a_childs_request_waits_for_an_ambassador_whose_honorability_is_checked(dep) -> None:  # noqa: ANN001
    mail = dep.stack
    setup(dep, JULIEN)  # signed on paper the version in force, which covers minors
    run(dep, MONDAY)
    ask_as_child(dep, "Léo <person1@users.test>", CHILD, at(2, 10))
    [notice] = mail.wait_for(COORDINATOR, lambda m: "sans ambassadeur" in str(m["Subject"]))
    said = text(notice)
    assert "moins de 15 ans" in said and "Aucun ambassadeur vérifié ne correspond" in said
    assert query(dep, "SELECT state, minor FROM request") == [("unmatched", True)]
    assert outbox(dep, JULIEN) == []
    events = query(dep, "SELECT cause FROM event WHERE new_state = 'unmatched'")
    assert [e for (e,) in events if "no vetted ambassador" in e]

    # An expired check is no check.
    cli(dep, "ambassadors", "honorability", JULIEN, "--checked-by", "Claire Martin",
        "--on", "2022-01-10", "--valid-until", "2025-01-09")  # fmt: skip
    ask_as_child(dep, "Nina <person2@users.test>", CHILD.replace("Léo", "Nina"), at(2, 11))
    wait_queue_empty(mail)
    assert outbox(dep, JULIEN) == []

    said = cli(
        dep, "ambassadors", "honorability", JULIEN, "--checked-by", "Claire Martin",
        "--on", "2026-02-20",
    )  # fmt: skip
    assert "valid until 2029-02-19" in said
    listed = directory(dep)[JULIEN]
    assert listed["honorability"] == "valid until 2029-02-19"
    assert listed["honorability_by"] == "Claire Martin"
    ask_as_child(dep, "Sam <person3@users.test>", CHILD.replace("Léo", "Sam"), at(2, 12))
    [intro] = mail.wait_for(JULIEN)
    assert "boulang" in text(intro).lower() and "person3@users.test" not in text(intro)
    offered = query(
        dep,
        "SELECT p.email FROM request r JOIN person p ON p.id = r.person_id"
        " WHERE r.state = 'offered'",
    )
    assert offered == [("person3@users.test",)]
