"""build_relayed over a corpus of real-looking mails: no leak, MIME intact, headers as specified.

Every fixture is checked twice for leaks, independently: `find_leaks` over every header and
decoded part (nested messages included), and a plain lower-case substring search of the real
addresses in the raw serialised bytes and in every decoded part.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailflow.masking.leaks import find_leaks
from mailflow.masking.message import RelaySpec, build_relayed
from mailflow.masking.scrub import MASK, Secret

EML = Path(__file__).parents[1] / "eml" / "relay"
FIXTURES = sorted(p.name for p in EML.glob("*.eml"))
PERSON, AMBASSADOR = "jean.dupont@example.org", "lea.martin@orange.fr"
PERSON_ALIAS = "relay+aaaabbbbccccddddeeeeffff@mailflow.test"  # the person, as the ambassador sees
AMBASSADOR_ALIAS = "relay+ggggiiiijjjjkkkkllll@mailflow.test"  # the ambassador, as the person sees
SECRETS = (Secret(PERSON, PERSON_ALIAS), Secret(AMBASSADOR, AMBASSADOR_ALIAS))
LOOP = ("X-Mailflow-Loop", "relay@mailflow.test")


def load(name: str) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes((EML / name).read_bytes())  # type: ignore[return-value]


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def spec_for(original: EmailMessage, **changes: object) -> RelaySpec:
    """The spec inbound/relay.py would build: from the sender's alias to the other party."""
    by_person = PERSON in str(original["From"]).lower()
    values: dict[str, object] = {
        "from_display": "Jean via Ambassadeurs" if by_person else "Léa via Ambassadeurs",
        "from_address": PERSON_ALIAS if by_person else AMBASSADOR_ALIAS,
        "to_address": AMBASSADOR if by_person else PERSON,
        "message_id": "<r.0001.abcdef@mailflow.test>",
        "in_reply_to": "<r.0000.abcdef@mailflow.test>",
        "references": ("<r.first.abcdef@mailflow.test>", "<r.0000.abcdef@mailflow.test>"),
        "secrets": SECRETS,
        "extra_headers": (LOOP,),
    }
    values.update(changes)
    return RelaySpec(**values)  # type: ignore[arg-type]


def relay(name: str, **changes: object) -> tuple[EmailMessage, bytes, EmailMessage]:
    """(original, serialised copy, copy parsed back)."""
    original = load(name)
    raw = build_relayed(original, spec_for(original, **changes)).as_bytes(policy=policy.SMTP)
    return original, raw, parse(raw)


def decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    charset = part.get_content_charset() or "utf-8"
    return payload.decode(charset, errors="replace").replace("\r\n", "\n")


def leaves(msg: Message) -> list[Message]:
    return [p for p in msg.walk() if not p.is_multipart()]


def without_top_to(raw: bytes) -> bytes:
    """The recipient's own address in To is no leak; everything else must be clean."""
    head, _, body = raw.partition(b"\r\n\r\n")
    head = re.sub(rb"(?m)^To: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", b"", head + b"\r\n")
    return head + b"\r\n" + body


# ---------------------------------------------------------------- no leak, two ways


@pytest.mark.parametrize("name", FIXTURES)
def test_find_leaks_sees_nothing_in_headers_and_parts(name: str) -> None:
    original, _, copy = relay(name)
    assert find_leaks(original.as_string(), SECRETS), "the fixture must contain leaks at first"
    leaks: list[str] = []
    for part in copy.walk():
        for header, value in part.items():
            if part is copy and header.lower() == "to":
                continue
            leaks += find_leaks(f"{header}: {value}", SECRETS)
    for part in leaves(copy):
        leaks += find_leaks(decoded(part), SECRETS)
    assert leaks == []


@pytest.mark.parametrize("name", FIXTURES)
def test_real_addresses_absent_from_raw_bytes_and_decoded_parts(name: str) -> None:
    _, raw, copy = relay(name)
    texts = [without_top_to(raw).decode("latin-1")]
    texts += [decoded(part) for part in leaves(copy)]
    texts += [str(v) for part in copy.walk() for k, v in part.items() if part is not copy]
    for text in texts:
        assert PERSON not in text.lower()
        assert AMBASSADOR not in text.lower()


@pytest.mark.parametrize("name", FIXTURES)
def test_serialises_with_crlf_and_keeps_the_mime_tree(name: str) -> None:
    original, raw, copy = relay(name)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert [p.get_content_type() for p in copy.walk()] == [
        p.get_content_type() for p in original.walk()
    ]


# ---------------------------------------------------------------- headers


def test_envelope_headers_exactly_as_spec() -> None:
    original, raw, copy = relay("outlook_fr_reply.eml")
    sender = copy["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Léa via Ambassadeurs", AMBASSADOR_ALIAS)
    from_line = re.search(rb"(?m)^From: .*(?:\r\n[ \t].*)*", raw)
    assert from_line and b"=?utf-8?" in from_line.group(0).lower()
    assert str(copy["To"]) == PERSON
    assert str(copy["Reply-To"]) == AMBASSADOR_ALIAS
    assert str(copy["Message-ID"]) == "<r.0001.abcdef@mailflow.test>"
    assert str(copy["In-Reply-To"]) == "<r.0000.abcdef@mailflow.test>"
    assert str(copy["References"]) == (
        "<r.first.abcdef@mailflow.test> <r.0000.abcdef@mailflow.test>"
    )
    assert copy.get_all("X-Mailflow-Loop") == ["relay@mailflow.test"]
    assert str(copy["Subject"]) == "RE: Votre demande : boulanger à Caen"
    assert str(copy["Date"]) == str(original["Date"])
    assert str(copy["Content-Language"]) == "fr-FR"
    for name in ("From", "To", "Reply-To", "Message-ID", "Subject", "Date", "MIME-Version"):
        assert len(copy.get_all(name, [])) == 1, name


def test_threading_headers_omitted_when_empty_and_extras_in_order() -> None:
    extras = (LOOP, ("X-Mailflow-Conversation", "42"), ("X-Mailflow-Loop", "second"))
    _, _, copy = relay("gmail_fr_reply.eml", in_reply_to=None, references=(), extra_headers=extras)
    assert "In-Reply-To" not in copy
    assert "References" not in copy
    added = [(k, str(v)) for k, v in copy.items() if k.lower().startswith("x-mailflow")]
    assert added == list(extras)


DROPPED = (
    "Received", "Return-Path", "Sender", "Cc", "Bcc", "DKIM-Signature", "X-Mailer",
    "X-Originating-IP", "Delivered-To", "X-Original-To", "Authentication-Results",
    "List-Unsubscribe", "Disposition-Notification-To", "Return-Receipt-To", "Organization",
)  # fmt: skip


def test_every_header_outside_the_allowlist_is_dropped() -> None:
    _, _, copy = relay("noisy_headers.eml")
    for name in DROPPED:
        assert name not in copy, name
    assert copy.get_all("Reply-To") == [PERSON_ALIAS]
    assert str(copy["Subject"]) == f"Re: contact direct {PERSON_ALIAS} ?"
    assert sorted(k.lower() for k, _ in copy.items()) == sorted(
        ["subject", "date", "mime-version", "content-type", "content-transfer-encoding",
         "from", "to", "reply-to", "message-id", "in-reply-to", "references", "x-mailflow-loop"]
    )  # fmt: skip


def test_client_fingerprints_in_mime_version_and_part_headers_are_dropped() -> None:
    _, raw, copy = relay("apple_mail_reply.eml")
    assert str(copy["MIME-Version"]) == "1.0"
    _, _, mixed = relay("mixed_pdf_inline.eml")
    assert all("X-Attachment-Id" not in part for part in mixed.walk())
    assert b"Mac OS X Mail" not in raw


def test_subject_prefix_added_once() -> None:
    _, _, copy = relay("html_only_mailto.eml", subject_prefix="[Ambassadeurs] ")
    assert str(copy["Subject"]) == "[Ambassadeurs] Mes coordonnées"
    again = build_relayed(copy, spec_for(copy, subject_prefix="[Ambassadeurs] "))
    assert str(again["Subject"]) == "[Ambassadeurs] Mes coordonnées"


def test_original_message_is_not_modified() -> None:
    original = load("noisy_headers.eml")
    before = original.as_bytes()
    build_relayed(original, spec_for(original))
    assert original.as_bytes() == before


# ---------------------------------------------------------------- bodies and MIME fidelity


def by_type(msg: Message, content_type: str) -> list[Message]:
    return [p for p in msg.walk() if p.get_content_type() == content_type]


def test_attachments_and_inline_image_are_byte_identical() -> None:
    original, _, copy = relay("mixed_pdf_inline.eml")
    for content_type in ("application/pdf", "image/png"):
        (before,), (after,) = by_type(original, content_type), by_type(copy, content_type)
        assert after.get_payload(decode=True) == before.get_payload(decode=True)
        assert after.get_payload().split() == before.get_payload().split()
        assert after["Content-Transfer-Encoding"] == before["Content-Transfer-Encoding"]
        assert after.get_filename() == before.get_filename()
    notes = [p for p in by_type(copy, "text/plain") if p.get_filename() == "notes.txt"]
    original_notes = [p for p in by_type(original, "text/plain") if p.get_filename()]
    assert notes[0].get_payload().splitlines() == original_notes[0].get_payload().splitlines()
    (image,) = by_type(copy, "image/png")
    assert image["Content-ID"] == "<logo.png@01DC8A1B.5E3F2A40>"
    (html,) = by_type(copy, "text/html")
    assert 'src="cid:logo.png@01DC8A1B.5E3F2A40"' in decoded(html)
    assert f'href="mailto:{AMBASSADOR_ALIAS}"' in decoded(html)


def test_iso_8859_1_quoted_printable_stays_so_with_accents() -> None:
    _, raw, copy = relay("latin1_qp.eml")
    assert copy.get_content_charset() == "iso-8859-1"
    assert copy["Content-Transfer-Encoding"] == "quoted-printable"
    assert copy.get_param("format") == "flowed"
    text = decoded(copy)
    assert "À bientôt donc, je serai là mercredi" in text
    assert "Ça me fait très plaisir" in text
    assert f"\n{PERSON_ALIAS}\n" in text
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


def test_windows_1252_8bit_stays_so_with_accents() -> None:
    _, raw, copy = relay("cp1252_8bit.eml")
    assert copy.get_content_charset() == "windows-1252"
    assert copy["Content-Transfer-Encoding"] == "8bit"
    text = decoded(copy)
    assert "Pour l’œuvre de la fête du pain, comptez 15 € de participation… c’est tout." in text
    assert f"Écrivez-moi plutôt à {AMBASSADOR_ALIAS} qu’à" in text
    assert "€".encode("cp1252") in raw


def test_charset_switches_to_utf8_when_the_replacement_does_not_fit() -> None:
    label = (Secret(PERSON, "l’ami·e"), Secret(AMBASSADOR, AMBASSADOR_ALIAS))
    _, _, copy = relay("latin1_qp.eml", secrets=label)
    assert copy.get_content_charset() == "utf-8"
    assert copy["Content-Transfer-Encoding"] == "quoted-printable"
    assert "À bientôt donc" in decoded(copy)
    assert "\nl’ami·e\n" in decoded(copy)


def test_format_flowed_8bit_parameters_kept() -> None:
    _, _, copy = relay("apple_mail_reply.eml")
    assert copy.get_params() == [
        ("text/plain", ""), ("charset", "utf-8"), ("format", "flowed"), ("delsp", "yes")
    ]  # fmt: skip
    assert copy["Content-Transfer-Encoding"] == "8bit"
    text = decoded(copy)
    assert "Parfait, à mercredi ! J’apporterai mon CV." in text
    assert f"> {AMBASSADOR_ALIAS}\n" in text


def test_base64_html_only_stays_base64() -> None:
    _, _, copy = relay("html_only_mailto.eml")
    assert copy["Content-Transfer-Encoding"] == "base64"
    html = decoded(copy)
    link = f'href="mailto:{AMBASSADOR_ALIAS}?subject=Stage%20boulangerie&amp;cc={MASK}"'
    assert link in html
    assert f'<a href="mailto:{MASK}">{MASK}</a>' in html  # a third party's address
    assert "Voici mes coordonnées" in html


def test_untouched_text_part_is_not_rewritten() -> None:
    original, _, copy = relay("forwarded_rfc822.eml")
    first = next(p for p in original.walk() if p.get_content_type() == "text/plain")
    again = next(p for p in copy.walk() if p.get_content_type() == "text/plain")
    assert again.get_payload().splitlines() == first.get_payload().splitlines()


def test_forwarded_message_headers_and_body_are_masked() -> None:
    _, _, copy = relay("forwarded_rfc822.eml")
    (wrapper,) = by_type(copy, "message/rfc822")
    assert wrapper.get_content_disposition() == "attachment"
    inner = wrapper.get_payload()[0]
    assert str(inner["From"]) == f'"Service orientation {MASK}":;'  # a third party
    assert [a.addr_spec for a in inner["To"].addresses] == [PERSON_ALIAS]
    assert [a.addr_spec for a in inner["Cc"].addresses] == [AMBASSADOR_ALIAS] * 2
    assert inner["Cc"].addresses[0].display_name == "Léa Martin"
    assert str(inner["Subject"]) == f"Mise en relation avec {AMBASSADOR_ALIAS}"
    for name in ("Received", "Return-Path", "Reply-To", "Message-ID", "X-Originating-IP"):
        assert name not in inner, name
    assert f"Léa Martin ({AMBASSADOR_ALIAS}) a accepté" in decoded(inner)


def test_forwarded_address_replaced_by_a_label_becomes_a_group() -> None:
    labels = (Secret(PERSON, PERSON_ALIAS), Secret(AMBASSADOR, "l'ambassadrice"))
    _, raw, copy = relay("forwarded_rfc822.eml", secrets=labels)
    inner = by_type(copy, "message/rfc822")[0].get_payload()[0]
    assert [g.display_name for g in inner["Cc"].groups] == ["l'ambassadrice"] * 2
    assert AMBASSADOR.encode() not in without_top_to(raw)


def raw_mail(content_type: str, cte: str, body: bytes) -> EmailMessage:
    head = (
        f"From: Jean Dupont <{PERSON}>\r\nTo: {AMBASSADOR_ALIAS}\r\nSubject: test\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    return parse(head.encode("ascii") + body)


@pytest.mark.parametrize(
    ("content_type", "body", "charset"),
    [
        ("text/plain; charset=us-ascii", "Léa écrit à jean.dupont@example.org\r\n", "utf-8"),
        ("text/plain; charset=x-unknown", "Léa écrit à jean.dupont@example.org\r\n", "utf-8"),
        ("text/plain; charset=utf-8", "L\xe9a \xe9crit \xe0 jean.dupont@example.org\r\n", "utf-8"),
        ("text/plain", "L\xe9a \xe9crit \xe0 jean.dupont@example.org\r\n", "utf-8"),
    ],
)
def test_wrong_or_unknown_charsets_fall_back_gracefully(
    content_type: str, body: str, charset: str
) -> None:
    encoded = body.encode("utf-8" if "x-unknown" in content_type or "us-ascii" in content_type
                          else "latin-1")  # fmt: skip
    msg = raw_mail(content_type, "8bit", encoded)
    copy = parse(build_relayed(msg, spec_for(msg)).as_bytes(policy=policy.SMTP))
    assert copy.get_content_charset() == charset
    assert decoded(copy) == f"Léa écrit à {PERSON_ALIAS}\n"


def test_too_long_line_switches_7bit_to_quoted_printable() -> None:
    line = "x" * 960 + " jean.dupont@example.org jean.dupont@example.org\r\n"
    msg = raw_mail("text/plain; charset=us-ascii", "7bit", line.encode("ascii"))
    raw = build_relayed(msg, spec_for(msg)).as_bytes(policy=policy.SMTP)
    copy = parse(raw)
    assert copy["Content-Transfer-Encoding"] == "quoted-printable"
    assert decoded(copy) == "x" * 960 + f" {PERSON_ALIAS} {PERSON_ALIAS}\n"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_address_in_attachment_filename_is_scrubbed() -> None:
    msg = raw_mail("multipart/mixed; boundary=b", "7bit", (
        b"--b\r\nContent-Type: text/plain\r\n\r\nVoir PJ.\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name=\"jean.dupont@example.org.vcf\"\r\n"
        b"Content-Disposition: attachment; filename=\"jean.dupont@example.org.vcf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nQkVHSU46VkNBUkQ=\r\n--b--\r\n"
    ))  # fmt: skip
    raw = build_relayed(msg, spec_for(msg)).as_bytes(policy=policy.SMTP)
    assert PERSON.encode() not in raw
    (attachment,) = [p for p in parse(raw).walk() if p.get_filename()]
    assert attachment.get_filename() == f"{PERSON_ALIAS}.vcf"
    assert attachment.get_payload(decode=True) == b"BEGIN:VCARD"


def test_a_second_subject_header_is_not_relayed_unscrubbed() -> None:
    """Clients show the first or the last Subject; only one, scrubbed, is relayed (found by
    test_property: "Subject: Léa <person1@…>" as a second header went through as it came)."""
    raw = (
        f"From: Jean <{PERSON}>\r\nTo: {AMBASSADOR_ALIAS}\r\nSubject: Bonjour\r\n"
        f"Subject: Jean <{PERSON}>\r\nMessage-ID: <two.subjects@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nMerci pour votre temps.\r\n"
    ).encode()
    original = parse(raw)
    out = build_relayed(original, spec_for(original)).as_bytes(policy=policy.SMTP)
    assert PERSON.encode() not in out
    assert parse(out).get_all("Subject") == ["Bonjour"]
    assert not find_leaks(out.decode(), SECRETS[:1])  # the To: is the ambassador
