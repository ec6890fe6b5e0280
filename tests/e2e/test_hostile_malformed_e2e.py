"""Malformed mail from a hostile sender, through the real mail stack and `mailflow run`.

Issue 10, item 5: parts nested 1,500 deep, or a message forwarded inside itself 200 times,
printed RecursionError tracebacks; a uuencoded file inside a text, an RTF and an SVG file
carried a party's address to the other party; "paul . martin @ pros . test" went through.
Everything the other party receives is decoded here by this test's own means (uuencoded
blocks, RTF escapes, entities) before it is searched, with `find_leaks` and plain strings.
"""

from __future__ import annotations

import binascii
import re
from email.message import EmailMessage
from email.utils import make_msgid

from tests.deployment import RELAY, Deployment, query
from tests.e2e.test_leaks_e2e import PARSER, decoded_everything, from_address, leaks
from tests.mailstack import wait_count

PERSON, AMBASSADOR = "person1@users.test", "amb1@pros.test"
THIRD = "paul.martin@pros.test"  # a colleague of the ambassador, known to nobody here
REASON = "MIME nesting deeper than 50 levels"


HEAD = (
    "From: Léa <lea@users.test>\r\nTo: relay@mailflow.test\r\nSubject: Profond\r\n"
    "MIME-Version: 1.0\r\n"
).encode()


def deep_multipart(levels: int) -> bytes:
    """`levels` multiparts, each the only part of the one around it, a text at the bottom."""
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    text = b"Content-Type: text/plain\r\n\r\nJe voudrais rencontrer une boulangere.\r\n"
    return HEAD + opening + text + closing


def deep_forward(levels: int) -> bytes:
    """A message forwarded inside a message, `levels` times."""
    nested = b"".join(
        b"Content-Type: message/rfc822\r\n\r\nSubject: Tr %d\r\nMIME-Version: 1.0\r\n" % i
        for i in range(levels)
    )
    return HEAD + nested + b"Content-Type: text/plain\r\n\r\nBonjour.\r\n"


def test_deep_mail_is_quarantined_in_one_line_without_a_traceback(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    for index, raw in enumerate((deep_multipart(1500), deep_forward(200))):
        raw = raw.replace(b"lea@users.test", PERSON.encode())
        raw = raw.replace(b"Subject:", f"Message-ID: <deep{index}@users.test>\r\nSubject:".encode())
        mail.send(PERSON, [RELAY], raw)
    assert wait_count(mail, RELAY, 2) == 2  # counted: the test's own parser would recurse
    run = dep.cli("run", "--once")
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "RecursionError" not in output, output[-3000:]
    rows = query(dep, "SELECT status, outcome, reason FROM inbound_message ORDER BY id")
    assert rows == [("quarantined", "too-deep", REASON)] * 2, rows
    # One answer: the same automatic answer goes to one sender once per few days.
    [answer] = mail.wait_for(PERSON)
    assert str(answer["Subject"]) == "Votre message n'a pas pu être transmis"
    body = answer.get_body(("plain",)).get_content()
    assert "Il n'a été transmis à personne" in " ".join(body.split())
    listing = dep.cli("quarantine", "list").stdout
    assert REASON in listing, listing


# ---------------------------------------------------------------- files that hide addresses


def uuencode(data: bytes, name: str) -> str:
    lines = [
        binascii.b2a_uu(data[i : i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)
    ]
    return "\n".join([f"begin 644 {name}", *lines, "`", "end"])


def revealed(text: str) -> str:
    """What a reader's client shows besides the text: uuencoded files decoded, RTF escapes
    read (this test's own decoding, not mailflow's)."""
    shown = [text]
    for block in re.findall(r"(?ms)^begin [0-7]+ [^\n]*\n(.*?)^end\s*$", text.replace("\r", "")):
        data = b""
        for line in block.splitlines():
            try:
                data += binascii.a2b_uu(line)
            except binascii.Error:
                continue
        shown.append(data.decode("latin-1"))
    rtf = re.sub(r"\\'([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
    shown.append(re.sub(r"\\u(\d+) ?\??", lambda m: chr(int(m.group(1))), rtf))
    return "\n".join(shown)


def hostile(sender: str, relay_address: str) -> EmailMessage:
    local, domain = sender.split("@")
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, relay_address
    msg["Subject"], msg["Message-ID"] = "Fichiers", make_msgid(domain=domain)
    spaced = f"{local} @ {domain.replace('.', ' . ')}"
    third = THIRD.replace("@", " @ ").replace(".", " . ")
    file = f"Mon adresse : {sender}\nCelle de mon collègue : {THIRD}\n".encode()
    msg.set_content(
        f"Bonjour,\nvoici mon adresse : {spaced}, ou {local} (at) {domain.replace('.', ' . ')}"
        f"\net celle de mon collègue : {third}\n\n{uuencode(file, 'adresses.txt')}\n\nMerci\n"
    )
    rtf = (
        r"{\rtf1\ansi{\fonttbl\f0 Arial;}\f0 Contact : " + sender + r"\par "
        + sender.replace("@", r"\'40") + r"\par " + sender.replace("@", r"\u64?")
        + r"\par Coll\'e8gue : " + THIRD + "}"
    )  # fmt: skip
    msg.add_attachment(rtf.encode(), "application", "rtf", filename="cv.rtf")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg"><text x="1">{sender}</text>'
        f'<text y="9">{sender.replace("@", "&#64;")}</text><text>{THIRD}</text></svg>'
    )
    msg.add_attachment(svg.encode(), "image", "svg+xml", filename="plan.svg")
    return msg


def conversation(dep: Deployment) -> tuple[str, str, set[str]]:
    """A request matched to the ambassador: (the person's relay address as the ambassador
    writes to it, the ambassador's as the person does, the Message-IDs received so far)."""
    mail = dep.stack
    mail.send_text(PERSON, RELAY, "Demande", "Je voudrais rencontrer une boulangère à Caen.")
    dep.deliver_and_run()
    [intro] = mail.wait_for(AMBASSADOR)
    [ack] = mail.wait_for(PERSON)
    own = {str(intro["Message-ID"]), str(ack["Message-ID"])}
    return from_address(intro), from_address(ack), own


def copy_to(dep: Deployment, recipient: str, own: set[str]) -> bytes:
    [copy] = dep.stack.wait_for(recipient, lambda m: str(m["Message-ID"]) not in own)
    return copy.as_bytes()


def test_spaced_addresses_are_masked_both_ways(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    to_person, to_ambassador, own = conversation(dep)
    for sender, relay_address in ((AMBASSADOR, to_person), (PERSON, to_ambassador)):
        local, domain = sender.split("@")
        mail.send_text(
            sender,
            relay_address,
            "Mes adresses",
            f"Mon adresse : {local} @ {domain.replace('.', ' . ')}\n"
            f"Ou bien : {local} (at) {domain.replace('.', ' . ')}\n"
            "Mon collègue : paul . martin @ pros . test, paul.martin @ pros.test\n",
        )
    dep.deliver_and_run(count=2)
    hits, masks = [], []
    for sender, recipient in ((AMBASSADOR, PERSON), (PERSON, AMBASSADOR)):
        raw = copy_to(dep, recipient, own)
        hits += [f"to {recipient}: {h}" for h in leaks(raw, (sender, THIRD))]
        masks.append(decoded_everything(raw).count("[adresse masquée]"))
    assert not hits, "\n".join(hits[:20])
    assert masks == [2, 2], masks  # the colleague's, both ways; the parties' are relays


def test_files_relayed_both_ways_without_leaks(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    to_person, to_ambassador, own = conversation(dep)
    for baited in (hostile(AMBASSADOR, to_person), hostile(PERSON, to_ambassador)):
        assert leaks(revealed(baited.as_string()).encode(), (THIRD,)), "the bait must show"
    mail.send(AMBASSADOR, [to_person], hostile(AMBASSADOR, to_person))
    mail.send(PERSON, [to_ambassador], hostile(PERSON, to_ambassador))
    dep.deliver_and_run(count=2)

    hits, shown_files = [], []
    for sender, recipient in ((AMBASSADOR, PERSON), (PERSON, AMBASSADOR)):
        raw = copy_to(dep, recipient, own)
        names = [p.get_filename() for p in PARSER.parsebytes(raw).walk() if p.get_filename()]
        shown = revealed(decoded_everything(raw))
        hits += [f"to {recipient}: {h}" for h in leaks(shown.encode(), (sender, THIRD))]
        shown_files.append(
            (names, "begin 644 adresses.txt" in shown, "Mon adresse : relay+" in shown)
        )
    assert not hits, "\n".join(hits[:20])
    # The files are still there, scrubbed (not removed), the uuencoded one decodes.
    assert shown_files == [(["cv.rtf", "plan.svg"], True, True)] * 2, shown_files
