"""Every corpus message relayed both ways through the real mail stack: zero leaks.

Each corpus file gives its body shapes (charsets, encodings, MIME trees, broken ones too).
Automated mail (auto-replies, bounces, lists) is never relayed, so for this test its
automation markers are taken off: list and auto-reply headers, a DSN's report type (its
parts become plain text), an out-of-office subject. Then each message is baited everywhere
an address can hide: subject, display names, text and HTML parts (every written variant),
quoted header blocks, a text attachment and its file name, a folded calendar invitation, a
forwarded message (headers RFC 2047-encoded, text and HTML body), the MIME preamble and
epilogue, a Content-ID; both parties and a third party are named (the third party in the
forms any address takes; "name at domain" words only for the parties, whose addresses are
known: for an unknown one, "I work at example.org" is no address).

Every message is sent from one party's real address to its relay address, in both
directions, and every one must be relayed. Everything each party receives is then decoded
(RFC 2047 headers, each part's transfer encoding and charset, calendar folding, nested
messages) and searched for the other party's address, the third party's and those the
corpus's own replies name, in every variant, by two independent checks: `find_leaks` and
the normalisation below.
"""

from __future__ import annotations

import copy
import html
import re
import time
import unicodedata
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.classify import classify, load_classify_rules
from mailflow.masking.leaks import find_leaks
from mailflow.masking.mime_text import get_text, set_text
from mailflow.masking.scrub import Secret
from tests.corpus_runner import load_expected
from tests.deployment import RELAY, Deployment

CORPUS = sorted((Path(__file__).parents[1] / "corpus").glob("*.eml"))
PERSON, AMBASSADOR = "person1@users.test", "amb1@pros.test"
THIRD = "rh.tiers@entreprise.test"
# Third parties the corpus's own replies name (signatures, Cc, quoted blocks, forwards).
CORPUS_THIRD = (
    "paul.tiers@boulangerie-lefevre.test", "sophie.martin@famille.test",
    "apprentissage@cma-caen.test", "prof.principal@college-caen.test",
    "c.roche@cfa-caen.test", "secretariat@cfa-caen.test", "direction@cfa-caen.test",
)  # fmt: skip
NAMES = {PERSON: "Léa", AMBASSADOR: "Marie Lefèvre"}
PARSER = BytesParser(policy=policy.default)
RULES = load_classify_rules(PROJECT_ROOT / "rules")

# ---------------------------------------------------------------- automated -> human

REPORT_PARTS = re.compile(
    rb"(?i)message/(?:global-)?(?:delivery-status|disposition-notification|feedback-report)"
)
DROPPED = (
    {"auto-submitted", "precedence", "x-precedence", "x-loop", "x-auto-response-suppress"}
    | {"return-path", "x-mailflow-loop", "from", "to", "cc", "sender", "reply-to", "message-id"}
    | {"delivered-to", "x-original-to", "received", "in-reply-to", "references"}
    | set(RULES.auto_reply_headers)
    | set(RULES.list_headers)
    | set(RULES.bounce_headers)
    | set(RULES.spam_headers)  # a filter's spam verdict: such mail is never relayed
    | {name for name, _ in RULES.spam_scores}
)


def humanised(raw: bytes) -> EmailMessage:
    """The message's body shapes without anything that marks it automated."""
    raw = re.sub(rb"(?i)multipart/report", b"multipart/mixed", raw)
    raw = REPORT_PARTS.sub(b"text/plain", raw)
    msg: EmailMessage = PARSER.parsebytes(raw)  # type: ignore[assignment]
    for name in {k.lower() for k, _ in msg.raw_items()} & DROPPED:
        del msg[name]
    return msg


# ---------------------------------------------------------------- bait


def variants(address: str) -> list[str]:
    """A party's address in every way people and mail clients write it."""
    local, domain = address.split("@")
    return [
        *written(address),
        f"{local} at {domain}",
        f"{local} <at> {domain.replace('.', ' <dot> ')}",
        f"{local} arobase {domain.replace('.', ' point ')}",
        f"{local} @ {domain.replace('.', ' . ')}",
    ]


def written(address: str) -> list[str]:
    """The forms any address may take, a third party's too (a word such as "at" between
    two words is no sign of an unknown address: "I work at example.org")."""
    local, domain = address.split("@")
    return [
        address,
        address.upper(),
        f"{local} [at] {domain.replace('.', ' [dot] ')}",
        f"{local}(at){domain.replace('.', '(dot)')}",
        f"{local}[@]{domain.replace('.', '[.]')}",
        f"{local}＠{domain}",
        f"{local}\u200b@{domain}",
        f"{local[:2]}\u00ad{local[2:]}@{domain}",
        f"{address}Merci",
        f"mailto:{local}%40{domain}",
        f"{local}&#64;{domain}",
    ]


def quoted_block(sender: str, recipient: str) -> str:
    return (
        f"Le lun. 2 mars 2026 à 10:12, {NAMES[recipient]} <{recipient}> a écrit :\n"
        f"> De : {NAMES[sender]} <{sender}>\n> Envoyé : lundi 2 mars 2026 09:00\n"
        f"> À : {recipient.upper()}\n> Cc : RH <{THIRD}>\n> Objet : RE: demande\n"
        f"> From: {NAMES[sender]} [mailto:{sender}]\n> To: {NAMES[recipient]} <{recipient}>\n"
        f"> Cc: {THIRD}\n"
    )


def bait_text(text: str, sender: str, recipient: str) -> str:
    lines = [f"Écrivez-moi : {v}" for v in variants(sender) + written(THIRD)]
    signature = f"\n-- \n{NAMES[sender]} - {sender.replace('@', ' at ')}\n"
    return f"{text}\n\n{quoted_block(sender, recipient)}" + "\n".join(lines) + signature


def bait_html(source: str, sender: str, recipient: str) -> str:
    local, domain = sender.split("@")
    return source + (
        f'<p><a href="mailto:{sender}?cc={THIRD}">{NAMES[sender]}</a> &lt;{sender}&gt; '
        f"{local}&#64;{domain} {local}<span>@</span>{domain} {local[:2]}&shy;{local[2:]}@{domain}"
        f' <a href="https://www.example.fr/inscription?email={local}%40{domain}">lien</a> '
        f"{THIRD.replace('@', '&commat;')}</p>"
        f'<div id="divRplyFwdMsg"><b>De :</b> {NAMES[sender]} &lt;{sender}&gt;<br>'
        f"<b>À :</b> {NAMES[recipient]} &lt;{recipient}&gt;<br><b>Cc :</b> {THIRD}</div>"
        f'<div class="gmail_quote"><div class="gmail_attr">Le lun. 2 mars 2026, '
        f'{NAMES[sender]} &lt;<a href="mailto:{sender}">{sender}</a>&gt; a écrit :</div>'
        f'<blockquote class="gmail_quote">Bonjour</blockquote></div>'
    )


def calendar(sender: str) -> str:
    organizer = f"ORGANIZER;CN={NAMES[sender]}:mailto:{sender}"
    cut = organizer.index("@") - 2  # folded inside the address, as RFC 5545 allows
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
        f"SUMMARY:Visite\r\n{organizer[:cut]}\r\n {organizer[cut:]}\r\n"
        f"ATTENDEE;CN=RH:mailto:{THIRD}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def forwarded(sender: str, recipient: str) -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = f'"{NAMES[sender]} ({sender})" <{sender}>'
    inner["To"] = f"{NAMES[recipient]} <{recipient}>"
    inner["Cc"] = f"RH <{THIRD}>, =?utf-8?q?{sender.replace('@', '=40')}?= <{sender}>"
    inner["Reply-To"] = sender
    inner["Subject"] = f"Fwd: contact {sender} é"
    inner["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    inner.set_content(bait_text("Message transféré.", sender, recipient))
    inner.add_alternative(bait_html("<p>Message transféré.</p>", sender, recipient), "html")
    return inner


def leak_prone(raw: bytes, sender: str, recipient: str, relay_address: str) -> EmailMessage:
    """The corpus message as `sender` replying through `relay_address`, baited everywhere."""
    msg = humanised(raw)
    subject = str(msg.get("Subject", "") or "")
    del msg["Subject"]
    msg["Subject"] = f"Re: {subject} [{NAMES[sender]} <{sender}>, {THIRD}]"
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg["From"] = f'"{NAMES[sender]} - {sender}" <{sender}>'
    msg["To"] = f"{NAMES[recipient]} <{relay_address}>"
    msg["Cc"] = f"RH <{THIRD}>"
    for part in list(msg.walk()):
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html") and part.get_content_disposition() != "attachment":
            try:
                text = get_text(part)
                bait = bait_html if kind == "text/html" else bait_text
                set_text(part, bait(text, sender, recipient))
            except Exception:  # a part too broken to rewrite stays as it is
                continue
    attach(msg, sender, recipient)
    return msg


def attach(msg: EmailMessage, sender: str, recipient: str) -> None:
    """Attachments (after turning the message into multipart/mixed) and MIME margins."""
    if msg.is_multipart() or msg.get_content_maintype() != "multipart":
        if msg.get_content_type() != "multipart/mixed":
            msg.make_mixed()
    else:  # a multipart without a usable boundary: its text is what the reader sees
        payload = msg.get_payload(decode=True) or b""
        text = bait_text(payload.decode("latin-1"), sender, recipient)
        msg.set_payload(text.encode().decode("ascii", "surrogateescape"))  # 8-bit bytes
        return
    notes = f"Notes de {NAMES[sender]} : {sender}, RH : {THIRD}\n"
    msg.add_attachment(notes, filename=f"notes {sender}.txt")
    msg.add_attachment(calendar(sender).encode(), "text", "calendar", filename="invite.ics")
    msg.add_attachment(forwarded(sender, recipient), filename=f"transfert {THIRD}.eml")
    msg.add_attachment(
        b"\x89PNG\r\n\x1a\n", "image", "png", cid=f"<{sender}>", disposition="inline"
    )
    msg.preamble = f"Preambule : {sender} {THIRD}\n"
    msg.epilogue = f"Epilogue : {sender} {THIRD}\n"


def as_bytes(msg: EmailMessage) -> bytes:
    """The message as a client sends it; a multipart without a boundary is written by hand
    (the email package cannot write one whose text has 8-bit bytes)."""
    if not (msg.get_content_maintype() == "multipart" and isinstance(msg._payload, str)):
        return msg.as_bytes(policy=policy.SMTP)
    body = msg._payload.encode("ascii", "surrogateescape").replace(b"\n", b"\r\n")
    head = copy.deepcopy(msg)
    head.set_payload("")
    return head.as_bytes(policy=policy.SMTP) + body


# ---------------------------------------------------------------- what was received


def _header(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def decoded_everything(raw: bytes) -> str:
    """Every header and part of the received message decoded, nested messages included."""
    msg = PARSER.parsebytes(raw)
    chunks = []
    for part in msg.walk():
        chunks += [f"{k}: {_header(str(v))}" for k, v in part.raw_items()]
        chunks += [part.preamble or "", part.epilogue or "", part.get_filename() or ""]
        chunks += [str(v) for _, v in _params(part)]
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            for charset in (part.get_content_charset() or "utf-8", "latin-1"):
                try:
                    text = payload.decode(charset, "replace")
                except LookupError:
                    continue
                chunks.append(re.sub(r"\r?\n[ \t]", "", text))  # calendar folding
                break
    return "\n".join(chunks)


def _params(part: Message) -> list[tuple[str, str]]:
    try:
        return [(k, str(v)) for k, v in part.get_params(header="content-disposition") or []]
    except Exception:
        return []


AT = re.compile(r"\s*[\[(<{]\s*(?:at|@)\s*[\])>}]\s*|\s+(?:at|arobase|chez)\s+|\s*@\s*")
DOT = re.compile(r"\s*[\[(<{]\s*(?:dot|\.)\s*[\])>}]\s*|\s+(?:dot|point)\s+")


def normalised(text: str) -> str:
    """This test's own decoding, independent of mailflow.masking.scrub: entities, %XX,
    compatibility forms, invisible characters, case, tags, at/dot words, spaces."""
    text = unquote(html.unescape(html.unescape(text)), errors="replace")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf").lower()
    text = re.sub(r"(?m)^[ \t>]+", "", text)
    return re.sub(r"\s+", "", DOT.sub(".", AT.sub("@", re.sub(r"</?[a-z][^<>]*>", "", text))))


def leaks(raw: bytes, addresses: tuple[str, ...]) -> list[str]:
    as_received = raw.decode("latin-1").lower()
    blob = decoded_everything(raw)
    flat = normalised(blob)
    found = [f"{a} in the bytes received" for a in addresses if a in as_received]
    found += [f"{a} in the decoded text" for a in addresses if a in blob.lower()]
    found += [f"{a} once normalised" for a in addresses if a in flat]
    return found + find_leaks(blob, [Secret(a, "x") for a in addresses])


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
    directions = (  # sender, recipient, the relay address the sender writes to
        (AMBASSADOR, PERSON, to_person_relay),
        (PERSON, AMBASSADOR, to_amb_relay),
    )

    sent = {PERSON: 0, AMBASSADOR: 0}  # by recipient
    for path in CORPUS:
        stop = load_expected(path).outcome == "person-stop"
        for sender, recipient, relay_address in directions:
            if stop and sender == PERSON:
                continue  # the person's STOP ends the exchange: it is never relayed
            msg = leak_prone(path.read_bytes(), sender, recipient, relay_address)
            verdict = classify(msg, RULES, RELAY)
            assert not verdict.automated, f"{path.name}: still {verdict}"
            mail.send(sender, [relay_address], as_bytes(msg))
            sent[recipient] += 1
    total = sum(sent.values())
    stops = sum(load_expected(path).outcome == "person-stop" for path in CORPUS)
    assert total == 2 * len(CORPUS) - stops
    started = time.monotonic()
    dep.deliver_and_run(count=total)
    took = time.monotonic() - started

    timeline = dep.log()["requests"][0]["timeline"]
    relayed = {PERSON: 0, AMBASSADOR: 0}
    for entry in timeline:
        if entry.get("purpose") == "relay":
            relayed[PERSON if entry["to_role"] == "person" else AMBASSADOR] += 1
    assert relayed == sent, f"sent {sent}, relayed {relayed}"

    hits: list[str] = []
    received = {}
    own = {str(intro["Message-ID"]), str(ack["Message-ID"])}
    for sender, recipient, _ in directions:
        copy_from = to_amb_relay if recipient == PERSON else to_person_relay

        def is_copy(msg: EmailMessage, copy_from: str = copy_from) -> bool:
            return from_address(msg) == copy_from and str(msg["Message-ID"]) not in own

        received[recipient] = len(mail.wait_for(recipient, is_copy, sent[recipient], 60))
        for raw in mail.fetch_raw(recipient):
            for hit in leaks(raw, (sender, THIRD, *CORPUS_THIRD)):
                subject = _header(str(PARSER.parsebytes(raw, headersonly=True)["Subject"]))
                hits.append(f"to {recipient}, {subject!r}: {hit}")
    assert received == sent, f"sent {sent}, received {received}"
    print(
        f"leak test: {len(CORPUS)} corpus files, sent {sent}, relayed {relayed}, "
        f"received {received}, {len(hits)} hits (mailflow run: {took:.0f} s)"
    )
    assert not hits, "\n".join(hits[:20])
