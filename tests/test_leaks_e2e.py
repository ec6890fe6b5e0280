"""Every corpus message relayed both ways through the real mail stack: zero leaks.

Each message is made leak-prone first: sent from one party's real address, with a quoted
header block, a Gmail-style attribution line, 'at' variants and mailto: links naming both
parties added to its text and HTML parts. Everything the other party receives (all headers,
all decoded parts, nested messages included) is then searched for either address and its
variants, by two independent checks.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid, parseaddr
from pathlib import Path

import pytest

from mailflow.mime_text import get_text, is_attachment, set_text
from mailflow.scrub import Secret, find_leaks
from tests.corpus_runner import load_expected
from tests.deployment import RELAY, Deployment

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))
PERSON, AMBASSADOR = "person1@users.test", "amb1@pros.test"


def bait(text: str, html: bool) -> str:
    """Every way a real address sneaks into a reply, for both parties."""
    if html:
        return text + (
            f'<p><a href="mailto:{PERSON}">Léa</a> &lt;{AMBASSADOR}&gt; '
            f'{PERSON.replace("@", "&#64;")} <a href="mailto:{AMBASSADOR.replace("@", "%40")}">'
            "Marie</a></p><blockquote>De : Marie Lefèvre "
            f"&lt;{AMBASSADOR}&gt;<br>À : Léa &lt;{PERSON}&gt;</blockquote>"
        )
    local, domain = AMBASSADOR.split("@")
    return text + (
        f"\n\nLe lun. 2 mars 2026 à 10:12, Léa <{PERSON}> a écrit :\n"
        f"> De : Marie Lefèvre <{AMBASSADOR}>\n> Envoyé : lundi 2 mars 2026 09:00\n"
        f"> À : {PERSON.upper()}\n> Objet : RE: demande\n"
        f"Écrivez-moi : {local} at {domain} ou {local} [at] {domain.replace('.', ' dot ')}\n"
    )


def leak_prone(raw: bytes, sender: str, to: str) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for name in ("From", "To", "Cc", "Sender", "Reply-To", "Return-Path", "Message-ID"):
        del msg[name]
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["From"] = f"Quelqu'un <{sender}>"
    msg["To"] = to
    msg["Cc"] = "Léa <" + PERSON + ">" if sender == AMBASSADOR else f"Marie <{AMBASSADOR}>"
    baited = False
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not is_attachment(part):
            try:
                set_text(part, bait(get_text(part), part.get_content_subtype() == "html"))
                baited = True
            except Exception:  # a part too broken to rewrite stays as it is
                continue
    if not baited:
        msg.set_payload(bait("(corps illisible)", False), charset="utf-8")
    return msg


def everything(msg: EmailMessage) -> str:
    chunks = [f"{k}: {v}" for k, v in msg.raw_items()]
    for part in msg.walk():
        chunks += [f"{k}: {v}" for k, v in part.raw_items()]
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def from_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


@pytest.mark.skipif(not CORPUS, reason="no corpus under tests/corpus")
def test_no_address_leaks_in_either_direction(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    text = dep.config.read_text(encoding="utf-8")
    dep.config.write_text(
        text + "\n[limits]\nmax_relayed_per_conversation_per_hour = 100000\n"
        "auto_reply_interval_days = 0\n",
        encoding="utf-8",
    )
    mail.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer une boulangère à Caen.")
    dep.deliver_and_run()
    [intro] = mail.wait_for(AMBASSADOR)
    [ack] = mail.wait_for(PERSON)
    to_person_relay, to_amb_relay = from_address(intro), from_address(ack)

    sent = 0
    for path in CORPUS:
        raw = path.read_bytes()
        for sender, relay_address in ((AMBASSADOR, to_person_relay), (PERSON, to_amb_relay)):
            if sender == PERSON and load_expected(path).outcome == "person-stop":
                continue  # the person's STOP ends the exchange: it is never relayed
            msg = leak_prone(raw, sender, relay_address)
            try:
                data = msg.as_bytes(policy=policy.SMTP)
            except Exception:  # a message the email package cannot write: not sendable
                continue
            mail.send(sender, [relay_address], data)
            sent += 1
    dep.deliver_and_run(count=sent)

    secrets = (Secret(PERSON, "x"), Secret(AMBASSADOR, "y"))
    received = 0
    for user, other in ((PERSON, AMBASSADOR), (AMBASSADOR, PERSON)):
        for msg in mail.fetch_all(user):
            received += 1
            blob = everything(msg)
            assert other not in blob.lower(), f"{other} leaked to {user}: {msg['Subject']}"
            leaks = [leak for leak in find_leaks(blob, secrets) if other in leak.lower()]
            assert not leaks, f"leak to {user} in {msg['Subject']!r}: {leaks[:3]}"
    relayed = [e for e in dep.log()["requests"][0]["timeline"] if e.get("purpose") == "relay"]
    assert len(relayed) >= sent // 2, f"only {len(relayed)} of {sent} messages were relayed"
    print(f"leak test: {sent} messages sent, {len(relayed)} relayed, {received} received, 0 leaks")
