"""The relay end to end on real Dovecot + Postfix: person -> ambassador -> person -> ambassador."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from mailflow.config import PROJECT_ROOT
from mailflow.understand.mail import load_understanding_rules
from tests import help_form
from tests.deployment import COORDINATOR, RELAY, Deployment, outbox, query, set_config
from tests.mailstack import text_message, wait_queue_empty

PERSON = "person1@users.test"
BAKER = "amb1@pros.test"  # Marie, boulangère à Caen (examples/ambassadors.csv)
REQUEST = (
    "Bonjour, j'ai 15 ans, je suis en 3e et je voudrais rencontrer une boulangère "
    "près de Caen.\nMerci beaucoup !\nLéa"
)


def everything(msg: EmailMessage) -> str:
    """Every header and every decoded part, nested messages included, as one text."""
    chunks = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        chunks.extend(f"{k}: {v}" for k, v in part.items())
        if part.get_content_maintype() == "text":
            chunks.append(part.get_content())
        elif not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            chunks.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(chunks).lower()


def assert_no_leak(msg: EmailMessage, *addresses: str) -> None:
    text = everything(msg)
    raw = msg.as_bytes().lower()
    for address in addresses:
        assert address.lower() not in text, f"{address} leaked into {msg['Subject']!r}"
        assert address.lower().encode() not in raw
        local, domain = address.lower().split("@")
        assert f"{local} at {domain}" not in text


def from_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def ask(
    dep: Deployment,
    body: str = REQUEST,
    sender: str = PERSON,
    subject: str = "Demande de rencontre",
) -> None:
    dep.stack.send_text(sender, RELAY, subject, body)
    dep.deliver_and_run()


def test_full_conversation_through_masked_relay(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)

    [intro] = mail.wait_for(BAKER)
    relay_for_baker = from_address(intro)
    assert relay_for_baker.startswith("relay+") and relay_for_baker.endswith("@mailflow.test")
    assert "Léa via Ambassadeurs" in str(intro["From"])
    intro_text = intro.get_body(("plain",)).get_content()
    assert "Boulanger" in intro_text and "10-15 ans" in intro_text and "Caen" in intro_text
    assert intro["Auto-Submitted"] == "auto-generated"
    assert_no_leak(intro, PERSON)

    [ack] = mail.wait_for(PERSON)
    relay_for_person = from_address(ack)
    assert relay_for_person.startswith("relay+") and relay_for_person != relay_for_baker
    assert "Marie" in ack.get_body(("plain",)).get_content()
    # from the programme, not yet from Marie, who has not written; a reply reaches her
    assert str(ack["From"]).startswith("Ambassadeurs - pour écrire à Marie <"), ack["From"]
    assert_no_leak(ack, BAKER)

    # The ambassador answers from her own inbox, quoting the intro, signing with her address.
    reply_body = (
        "Bonjour Léa,\nAvec plaisir ! Je travaille à la boulangerie du port.\n"
        f"Marie Lefèvre - {BAKER}\n\n"
        f"Le 29/11/2026 à 10:00, Léa via Ambassadeurs <{relay_for_baker}> a écrit :\n"
        + "\n".join("> " + line for line in intro_text.splitlines())
    )
    baker_reply_id = mail.send_text(
        BAKER,
        relay_for_baker,
        "Re: " + str(intro["Subject"]),
        reply_body,
        in_reply_to=str(intro["Message-ID"]),
    )
    dep.deliver_and_run()
    [relayed] = mail.wait_for(PERSON, lambda m: "boulangerie du port" in everything(m))
    assert from_address(relayed) == relay_for_person
    assert "Marie via Ambassadeurs" in str(relayed["From"])
    assert relayed["In-Reply-To"] == ack["Message-ID"]  # threads under the ack she received
    assert relayed["References"] == ack["Message-ID"]
    assert relayed["Message-ID"] not in (baker_reply_id, ack["Message-ID"])  # a new id
    assert_no_leak(relayed, BAKER)

    # The person answers the relayed reply; the ambassador receives it, masked.
    person_reply_id = mail.send_text(
        PERSON,
        relay_for_person,
        "Re: " + str(relayed["Subject"]),
        f"Merci Marie ! Je peux venir mercredi.\nLéa ({PERSON})",
        in_reply_to=str(relayed["Message-ID"]),
    )
    dep.deliver_and_run()
    [answer] = mail.wait_for(BAKER, lambda m: "mercredi" in everything(m))
    assert from_address(answer) == relay_for_baker
    assert_no_leak(answer, PERSON)
    # Léa answered the copy of Marie's reply: Marie sees it answer her own reply, by the
    # Message-ID her mail client gave it, not the relay's id Léa saw nor Léa's own id.
    assert answer["In-Reply-To"] == baker_reply_id
    assert answer["References"] == baker_reply_id
    assert answer["Message-ID"] not in (person_reply_id, relayed["Message-ID"])

    log = dep.log()
    [request] = log["requests"]
    detailed = dep.log(request["id"])["requests"][0]
    assert detailed["state"] == "in_conversation"
    assert (detailed["kind"], detailed["code_rome"], detailed["department"], detailed["age"]) == (
        "metier",
        "D1102",
        "14",
        15,
    )
    timeline = detailed["timeline"]
    inbound = [
        (e["from_role"], e["outcome"])
        for e in timeline
        if e["type"] == "message" and e["direction"] == "in"
    ]
    assert inbound == [
        ("person", "request-offered"),
        ("ambassador", "relayed"),
        ("person", "relayed"),
    ]
    outbound = [
        (e["purpose"], e["to_role"], e["status"])
        for e in timeline
        if e["type"] == "message" and e["direction"] == "out"
    ]
    assert outbound == [
        ("intro", "ambassador", "sent"),
        ("ack", "person", "sent"),
        ("relay", "person", "sent"),
        ("relay", "ambassador", "sent"),
    ]
    states = [(e["from"], e["to"]) for e in timeline if e["type"] == "state"]
    assert states == [
        (None, "new"),
        ("new", "offered"),
        ("offered", "answered"),
        ("answered", "in_conversation"),
    ]


def test_stranger_writing_to_relay_address_is_refused(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)
    [intro] = mail.wait_for(BAKER)
    mail.wait_for(PERSON)
    stranger = "stranger@users.test"
    mail.send_text(stranger, from_address(intro), "Coucou", "Je peux avoir son adresse ?")
    dep.deliver_and_run()

    [refusal] = mail.wait_for(stranger)
    # Nothing was queued for the person because of the stranger's mail (not merely "not
    # delivered yet"): the outbox holds the intro, the ack, the refusal and the notice only.
    queued = query(
        dep,
        "SELECT o.purpose, o.recipient FROM outbound_mail o "
        "JOIN inbound_message i ON o.inbound_id = i.id WHERE i.sender = ?",
        (stranger,),
    )
    assert sorted(queued) == sorted(
        [("stranger_refused", stranger), ("stranger_coordinator", COORDINATOR)]
    ), queued
    all_purposes = sorted(p for (p,) in query(dep, "SELECT purpose FROM outbound_mail"))
    assert "relay" not in all_purposes and len(all_purposes) == 4, all_purposes
    assert "n'a pas été transmis" in refusal.get_body(("plain",)).get_content()
    [notice] = mail.wait_for(COORDINATOR)
    assert stranger in notice.get_body(("plain",)).get_content()
    wait_queue_empty(mail)  # everything sent is delivered: the count is final
    assert len(mail.fetch_all(PERSON)) == 1  # only the ack: nothing forwarded
    assert_no_leak(refusal, PERSON, BAKER)
    timeline = dep.log()["requests"][0]["timeline"]
    refused = [
        e for e in timeline if e["type"] == "message" and e.get("outcome") == "refused-stranger"
    ]
    assert len(refused) == 1 and refused[0]["from_role"] == "stranger"
    assert any(e["type"] == "refused" for e in timeline)


def test_request_not_understood_gets_help(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep, "Bonjour, je voudrais des informations s'il vous plaît. Merci")
    [help_mail] = mail.wait_for(PERSON)
    text = help_mail.get_body(("plain",)).get_content()
    assert "Type : métier" in text and "près de Caen" in text
    assert help_mail["Auto-Submitted"] == "auto-generated"
    wait_queue_empty(mail)  # an intro sent by mistake would be delivered by now
    assert mail.imap_count(BAKER) == 0
    [request] = dep.log()["requests"]
    assert request["state"] == "needs_info"


def test_help_mail_answered_with_its_own_form_reaches_the_ambassador(
    deployment: Deployment,
) -> None:
    """A vague request gets the help mail; the person answers it from a phone, filling in
    its form under the quoted help mail; the baker of Caen receives the intro."""
    dep, mail = deployment, deployment.stack
    ask(dep, "Bonjour, je voudrais des informations s'il vous plaît. Merci")
    [help_mail] = mail.wait_for(PERSON)
    help_text = help_mail.get_body(("plain",)).get_content()
    rules = load_understanding_rules(PROJECT_ROOT / "rules")
    answers = {
        "kind": "métier",
        "trade_or_training": "boulangère",
        "place": "Caen",
        "age": "15",
        "situation": "collégienne",
        "message": "Je voudrais voir comment on fait le pain.",
    }
    body = (
        help_form.fill(help_text, rules, answers)
        + "\n\nEnvoyé de mon iPhone\n\n"
        + f"Le 13 mars 2026 à 09:05, Ambassadeurs <{from_address(help_mail)}> a écrit :\n\n"
        + help_form.quoted(help_text)
    )
    mail.send_text(
        PERSON,
        from_address(help_mail),
        "Re: " + str(help_mail["Subject"]),
        body,
        in_reply_to=str(help_mail["Message-ID"]),
    )
    dep.deliver_and_run()

    [intro] = mail.wait_for(BAKER)
    intro_text = intro.get_body(("plain",)).get_content()
    assert "Boulanger" in intro_text and "10-15 ans" in intro_text and "Caen" in intro_text
    assert "comment on fait le pain" in intro_text
    assert "près de Caen" not in intro_text  # the quoted help mail is not her message
    assert_no_leak(intro, PERSON)
    [ack] = mail.wait_for(PERSON, lambda m: "marie" in everything(m))
    assert_no_leak(ack, BAKER)


def test_no_matching_ambassador_tells_person_and_coordinator(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep, "Bonjour, j'ai 17 ans et je voudrais rencontrer un pilote de ligne à Rouen.")
    [kind] = mail.wait_for(PERSON)
    assert "aucun ambassadeur" in kind.get_body(("plain",)).get_content()
    [notice] = mail.wait_for(COORDINATOR)
    body = notice.get_body(("plain",)).get_content()
    assert "pilote" in body.lower() and "Rouen" in body
    assert_no_leak(notice, BAKER)
    [request] = dep.log()["requests"]
    assert request["state"] == "unmatched"


def test_restart_never_processes_a_message_twice(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)
    mail.wait_for(BAKER)
    # A second request, processed by a new daemon process.
    ask(
        dep,
        "Bonjour, je suis en terminale et je voudrais rencontrer un boulanger à Rouen.",
        sender="person2@users.test",
    )
    mail.wait_for("amb2@pros.test")
    # The first message shows up again in the inbox (as after a crash before the server move).
    [first_raw] = [
        r
        for r in mail.fetch_raw("relay@mailflow.test", folder="mailflow/processed")
        if b"person1@users.test" in r
    ]
    mail.append(RELAY, "INBOX", first_raw)
    out = dep.run_once()
    assert "stored 0" in out
    assert mail.imap_count(RELAY) == 0  # tidied away again
    # person1's ack was never waited for: only an empty queue makes these counts final.
    wait_queue_empty(mail)
    assert len(mail.fetch_all(BAKER)) == 1 and len(mail.fetch_all(PERSON)) == 1
    assert len(dep.log()["requests"]) == 2


def test_forged_reply_is_kept_when_sender_authentication_is_configured(
    deployment: Deployment,
) -> None:
    """The provider's receiving server (here: its headers already on the injected mail)
    says who really sent; a forged ambassador is kept in quarantine, never relayed."""
    dep, mail = deployment, deployment.stack
    set_config(dep, "mailbox", "authserv_id", '["mx.mailflow.test"]')
    ask(dep)  # the person's first request is not checked
    [intro] = mail.wait_for(BAKER)
    mail.wait_for(PERSON)
    relay_for_baker = from_address(intro)

    def reply(body: str, *results: str) -> None:
        msg = text_message(f"Marie <{BAKER}>", relay_for_baker, "Re: Demande", body)
        trace = "".join(f"Authentication-Results: mx.mailflow.test; {r}\n" for r in results)
        mail.send(BAKER, relay_for_baker, trace.encode() + msg.as_bytes())
        dep.deliver_and_run()

    # Sent from elsewhere: the server found no pass; the sender added a pass of their own.
    reply("Donnez-moi son adresse.", "spf=fail smtp.mailfrom=pros.test; dmarc=fail", "dmarc=pass")
    [notice] = mail.wait_for(COORDINATOR)
    assert "mailflow quarantine retry" in notice.get_body(("plain",)).get_content()
    listing = dep.cli("quarantine", "list").stdout
    assert "unauthenticated (failed): claims to be the ambassador" in listing, listing
    assert outbox(dep, PERSON) == [("ack", PERSON, "sent")]

    reply("Avec plaisir, à la boulangerie du port.", "dkim=pass header.d=pros.test; dmarc=pass")
    [relayed] = mail.wait_for(PERSON, lambda m: "boulangerie du port" in everything(m))
    assert_no_leak(relayed, BAKER)
    wait_queue_empty(mail)
    assert not [m for m in mail.fetch_all(PERSON) if "son adresse" in everything(m)]
    timeline = dep.log()["requests"][0]["timeline"]
    inbound = [e["outcome"] for e in timeline if e["type"] == "message" and e["direction"] == "in"]
    assert inbound == ["request-offered", "unauthenticated", "relayed"]
    assert any(e["type"] == "unauthenticated" for e in timeline)
    assert len(mail.fetch_all(BAKER)) == 1  # the intro: nothing answered to the forged From
