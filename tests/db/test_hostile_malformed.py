"""Malformed mail a hostile sender builds (issue 10, item 5), without the mail stack.

Parts nested too deeply to parse are refused from the raw bytes; a uuencoded block, an RTF
and an SVG file carry no address through; a party's address written with spaces is masked.
"""

from __future__ import annotations

import base64
import binascii
import logging
import quopri
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.config import LimitsConfig
from mailflow.context import Context
from mailflow.core.mime_depth import deeper_than
from mailflow.inbound.limits import Removed, depth_reason, strip_attachments
from mailflow.inbound.pipeline import parse, process_pending
from mailflow.masking.leaks import find_leaks
from mailflow.masking.message import build_relayed
from mailflow.masking.rich_text import REMOVED_HEADER, WHY_UNREADABLE
from mailflow.masking.scrub import MASK, Others, Secret, scrub_text
from mailflow.masking.uuencoded import REMOVED
from mailflow.store.models import Event, InboundMessage, OutboundMail
from mailflow.transport.ingest import store
from tests.e2e.test_hostile_malformed_e2e import HEAD, deep_forward, deep_multipart
from tests.inprocess import close_context, open_context
from tests.unit.test_relay_message import AMBASSADOR_ALIAS, PERSON, PERSON_ALIAS, SECRETS, spec_for

THIRD = "sophie.x@famille.test"


def deep_digest(levels: int) -> bytes:
    """multipart/digest children are messages by default: two levels per Content-Type."""
    opening = b"".join(
        b'Content-Type: multipart/digest; boundary="d%d"\r\n\r\n--d%d\r\n\r\n' % (i, i)
        for i in range(levels)
    )
    return HEAD + opening + b"Bonjour.\r\n"


# -- the depth, read from the bytes ----------------------------------------------------------


@pytest.mark.parametrize("build", [deep_multipart, deep_forward])
def test_depth_counts_every_level(build) -> None:  # type: ignore[no-untyped-def]
    assert not deeper_than(build(50), 50)
    assert deeper_than(build(51), 50)
    assert deeper_than(build(1500), 50)


def test_digest_children_count_as_messages() -> None:
    assert not deeper_than(deep_digest(25), 50)  # 50 levels with 25 Content-Type headers
    assert deeper_than(deep_digest(26), 50)


def test_an_enclosing_boundary_ends_inner_parts() -> None:
    """Siblings are not nested: 100 multiparts side by side are 2 levels deep."""
    parts = b"".join(
        b'--top\r\nContent-Type: multipart/mixed; boundary="in%d"\r\n\r\n'
        b"--in%d\r\nContent-Type: text/plain\r\n\r\nx\r\n" % (i, i)  # never closed
        for i in range(100)
    )
    raw = HEAD + b'Content-Type: multipart/mixed; boundary="top"\r\n\r\n' + parts + b"--top--\r\n"
    assert len(parse(raw).get_payload()) == 100
    assert not deeper_than(raw, 2) and deeper_than(raw, 1)


def test_headers_without_a_blank_line_still_open_the_body() -> None:
    raw = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="a"\r\n--a\r\n'
        + deep_multipart(3)[len(HEAD) :]
    )
    assert deeper_than(raw, 3) and not deeper_than(raw, 4)


def test_the_corpus_is_shallow() -> None:
    corpus = Path(__file__).parents[1] / "corpus"
    assert all(not deeper_than(p.read_bytes(), 10) for p in corpus.glob("*.eml"))


def test_depth_reason_reads_the_limit() -> None:
    assert depth_reason(deep_forward(5), LimitsConfig(max_mime_depth=4)) == (
        "MIME nesting deeper than 4 levels"
    )
    assert depth_reason(deep_forward(4), LimitsConfig(max_mime_depth=4)) is None


# -- in the pipeline -------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path, "")
    close_context()


def run(ctx: Context, raw: bytes) -> dict[str, int]:
    raw = raw.replace(
        b"Subject:", f"Message-ID: {make_msgid(domain='users.test')}\r\nSubject:".encode(), 1
    )
    store(raw, "INBOX", 1, None)
    return process_pending(ctx)


@pytest.mark.parametrize("raw", [deep_multipart(1500), deep_forward(200), deep_digest(400)])
def test_too_deep_is_quarantined_in_one_line_and_the_sender_told(
    ctx: Context, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert run(ctx, raw) == {"too-deep": 1}
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    row = InboundMessage.get()
    assert row.status == "quarantined" and row.reason == "MIME nesting deeper than 50 levels"
    [answer] = OutboundMail.select()
    assert answer.purpose == "too_deep" and answer.recipient == "lea@users.test"
    text = parse(bytes(answer.raw)).get_body(("plain",)).get_content()
    assert "n'a été transmis à" in text
    assert Event.select().where(Event.kind == "quarantine").count() == 1


def test_too_deep_automated_mail_is_never_answered(ctx: Context) -> None:
    raw = deep_forward(200).replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    outcome = run(ctx, raw)
    assert list(outcome) == ["auto-reply"]
    assert OutboundMail.select().count() == 0


def test_at_the_limit_the_mail_goes_on(ctx: Context) -> None:
    """50 levels are parsed and taken as a request, as any other."""
    assert run(ctx, deep_multipart(50)) == {"request-offered": 1}


# -- files inside the text, text files with markup, spaced addresses --------------------------


def uuencode(data: bytes, name: str = "adresse.txt") -> str:
    lines = [
        binascii.b2a_uu(data[i : i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)
    ]
    return "\n".join([f"begin 644 {name}", *lines, "`", "end"])


def uudecoded(text: str) -> bytes:
    block = text.split("begin 644 ", 1)[1].splitlines()[1:]
    return b"".join(binascii.a2b_uu(line) for line in block[: block.index("end")] if line)


def from_person(text: str, *files: tuple[bytes, str, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Jean <{PERSON}>", AMBASSADOR_ALIAS, "Fichiers"
    msg.set_content(text)
    for data, ctype, name in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def relayed(msg: EmailMessage) -> tuple[EmailMessage, list[Removed]]:
    limits = LimitsConfig(
        allowed_attachment_types="image/*, application/rtf, text/plain, application/octet-stream"
    )
    copy, removed = strip_attachments(build_relayed(msg, spec_for(msg)), limits)
    return parse(copy.as_bytes(policy=policy.SMTP)), removed


def decoded_texts(msg: EmailMessage) -> str:
    texts = []
    for part in msg.walk():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            texts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(texts)


def test_a_uuencoded_file_is_scrubbed_and_still_decodes() -> None:
    secret = f"Mon adresse : {PERSON}, celle de ma mère : {THIRD}\n".encode()
    text = f"Voici le fichier :\n{uuencode(secret)}\nMerci\n"
    assert find_leaks(text, SECRETS), "find_leaks must read uuencoded blocks"
    copy, _ = relayed(from_person(text))
    body = copy.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert find_leaks(body, (*SECRETS, Secret(THIRD, "x@y.test"))) == []
    inside = uudecoded(body).decode()
    assert inside == f"Mon adresse : {PERSON_ALIAS}, celle de ma mère : {MASK}\n"
    assert body.startswith("Voici le fichier :\nbegin 644 adresse.txt\n") and "Merci" in body


def test_a_clean_uuencoded_file_is_left_byte_for_byte() -> None:
    text = f"Voici :\n{uuencode(b'rien a cacher ' * 20)}\nMerci\n"
    copy, _ = relayed(from_person(text))
    assert copy.get_body(("plain",)).get_content().replace("\r\n", "\n") == text


def test_a_broken_uuencoded_block_is_taken_out() -> None:
    text = f"Voici :\nbegin 644 x.txt\nM{'z' * 60}\n`\nend\nMerci {PERSON}\n"
    body = relayed(from_person(text))[0].get_body(("plain",)).get_content()
    assert "zzzz" not in body and REMOVED in body and PERSON_ALIAS in body


RTF = (
    r"{\rtf1\ansi{\fonttbl\f0 Arial;}\f0 Contact : " + PERSON + r"\par "
    + PERSON.replace("@", r"\'40").replace(".", r"\'2e") + r"\par "
    + PERSON.replace("@", r"\u64?") + r"\par Caf\'e9}"
)  # fmt: skip


def test_rtf_escapes_are_scrubbed() -> None:
    assert len(find_leaks(RTF, SECRETS)) >= 3
    copy, removed = relayed(from_person("CV", (RTF.encode(), "application/rtf", "cv.rtf")))
    [rtf] = [p for p in copy.walk() if p.get_filename() == "cv.rtf"]
    text = rtf.get_payload(decode=True).decode()
    assert find_leaks(text, SECRETS) == [] and removed == []
    assert text.count(PERSON_ALIAS) == 3 and r"Caf\'e9" in text  # other escapes stay


def test_rtf_hiding_an_address_behind_control_words_is_removed_and_explained() -> None:
    hidden = r"{\rtf1 jean{\b .}dupont\i @\i0 example.org}"
    assert find_leaks(
        hidden.replace("{\\b .}", ".").replace("\\i ", "").replace("\\i0 ", ""), SECRETS
    )
    copy, removed = relayed(from_person("CV", (hidden.encode(), "application/rtf", "cv.rtf")))
    assert [(r.filename, r.reason) for r in removed] == [("cv.rtf", WHY_UNREADABLE)]
    assert "dupont" not in decoded_texts(copy)
    assert "Une pièce jointe (cv.rtf) a été retirée" in decoded_texts(copy)
    assert not any(REMOVED_HEADER in p for p in copy.walk())


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg"><text x="1">' + PERSON + "</text>"
    '<text y="2">' + PERSON.replace("@", "&#64;") + "</text>"
    '<a href="mailto:' + PERSON.replace("@", "&#x40;") + '"><text>ici</text></a></svg>'
)


@pytest.mark.parametrize(
    "ctype,name", [("image/svg+xml", "plan.svg"), ("application/octet-stream", "plan.svg")]
)
def test_svg_is_scrubbed_as_markup(ctype: str, name: str) -> None:
    assert len(find_leaks(SVG, SECRETS)) >= 3
    copy, removed = relayed(from_person("Plan", (SVG.encode(), ctype, name)))
    [svg] = [p for p in copy.walk() if p.get_filename() == name]
    text = svg.get_payload(decode=True).decode()
    assert find_leaks(text, SECRETS) == [] and removed == []
    assert text.startswith("<svg") and text.count(PERSON_ALIAS) == 3


SPACED = [
    "paul . martin @ pros . test",
    "paul.martin @ pros.test",
    "paul . martin (at) pros . test",
    "paul.martin@pros . test",
]


@pytest.mark.parametrize("written", SPACED)
def test_spaced_addresses_are_masked(written: str) -> None:
    party = Secret("paul.martin@pros.test", AMBASSADOR_ALIAS)
    assert scrub_text(f"Écris à {written} demain", [party]) == f"Écris à {AMBASSADOR_ALIAS} demain"
    others = Others.keeping([AMBASSADOR_ALIAS])  # a third party's: masked as any other
    assert scrub_text(f"Écris à {written} demain", [], others) == f"Écris à {MASK} demain"


@pytest.mark.parametrize(
    "prose",
    [
        "J'ai 14 ans . Je suis @ la maison . Merci",
        "Rendez-vous à 10 h . Je serai là @ 11 h",
        "Bonjour. Merci.",
        "prix : 2 . 50 euros @ 3 . 10",
        "a . b . c . d @ e",
    ],
)
def test_spaced_forms_leave_prose_alone(prose: str) -> None:
    assert scrub_text(prose, SECRETS, Others.keeping([PERSON_ALIAS])) == prose


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
@pytest.mark.parametrize(
    "ctype,name", [("message/rfc822", None), ("application/octet-stream", "f.eml")]
)
def test_a_deep_message_hidden_in_an_encoded_part_is_scrubbed_as_text(
    cte: str, ctype: str, name: str | None
) -> None:
    """The raw bytes show one level; what the part decodes to is 1,500 deep. It is not
    parsed (the stack would not survive it) but scrubbed as text."""
    inner = deep_multipart(1500).replace(b"boulangere", PERSON.encode())
    msg = from_person(f"Transfert {PERSON}")
    msg.make_mixed()
    part = EmailMessage()
    part.set_payload(base64.encodebytes(inner) if cte == "base64" else quopri.encodestring(inner))
    part["Content-Type"], part["Content-Transfer-Encoding"] = ctype, cte
    if name:
        part["Content-Disposition"] = f'attachment; filename="{name}"'
    msg.attach(part)
    assert depth_reason(msg.as_bytes(), LimitsConfig()) is None  # the raw mail is shallow
    copy, _ = relayed(msg)
    assert find_leaks(decoded_texts(copy), SECRETS) == []
    assert PERSON_ALIAS in decoded_texts(copy)


def test_a_stored_deep_message_can_still_be_exported_or_erased() -> None:
    """`person export` and `person forget` read stored mail: a too-deep one gives its
    headers, never a RecursionError."""
    from mailflow.privacy.erasure import parse_raw

    assert str(parse_raw(deep_multipart(1500))["Subject"]) == "Profond"
    assert parse_raw(deep_multipart(3)).get_body(("plain",)) is not None
