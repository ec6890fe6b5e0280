"""What the audit found in relayed copies: text attachments, calendars, nested messages,
Content-IDs, third parties, and messages whose copy could not be written.

Each case is built the way a mail client writes it, relayed by `build_relayed` (then
`strip_attachments`, as inbound/relay.py does), serialised, parsed back and searched: every header
decoded (RFC 2047), every part decoded (transfer encoding, charset, calendar folding),
nested messages included.
"""

from __future__ import annotations

import base64
import html
import re
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailflow.config import LimitsConfig
from mailflow.inbound.limits import strip_attachments
from mailflow.masking.leaks import find_leaks
from mailflow.masking.message import RelaySpec, build_relayed
from mailflow.masking.scrub import MASK, Secret
from mailflow.store.models import Conversation, InboundMessage, OutboundMail
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

AMB, PERSON = "marie.dupont@gmail.com", "lea.martin@orange.fr"
AMB_ALIAS = "relay+bbbbbbbbbbbbbbbbbbbbbbbb@mailflow.test"  # the ambassador, as the person sees
PERSON_ALIAS = "relay+aaaaaaaaaaaaaaaaaaaaaaaa@mailflow.test"
SECRETS = (Secret(PERSON, PERSON_ALIAS), Secret(AMB, AMB_ALIAS))
SPEC = RelaySpec(
    "Marie via Ambassadeurs", AMB_ALIAS, PERSON, "<mf.1@mailflow.test>", None, (), SECRETS,
    keep_addresses=("relay@mailflow.test",),
)  # fmt: skip
THIRD = ("paul.tiers@entreprise.test", "rh@entreprise.test", "josé@exemple.test")
FUZZ = sorted((Path(__file__).parents[1] / "eml" / "fuzz").glob("*.eml"))
PARSER = BytesParser(policy=policy.default)


def relay(raw: bytes, spec: RelaySpec = SPEC) -> tuple[bytes, EmailMessage]:
    copy, _ = strip_attachments(build_relayed(PARSER.parsebytes(raw), spec), LimitsConfig())
    data = copy.as_bytes(policy=policy.SMTP)
    return data, PARSER.parsebytes(data)  # type: ignore[return-value]


def header_text(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def everything(data: bytes, msg: Message) -> str:
    """The raw copy and every header and part of it, decoded, as one text."""
    chunks = [data.decode("latin-1")]
    for part in msg.walk():
        chunks += [f"{k}: {header_text(str(v))}" for k, v in part.raw_items()]
        chunks += [part.get_filename() or "", part.preamble or "", part.epilogue or ""]
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            try:
                text = payload.decode(part.get_content_charset() or "utf-8", "replace")
            except LookupError:  # an unknown charset
                text = payload.decode("latin-1")
            chunks.append(re.sub(r"\r?\n[ \t]", "", text))  # calendar and vCard folding
    return "\n".join(chunks)


def assert_clean(data: bytes, msg: Message, third: tuple[str, ...] = THIRD) -> str:
    """No real address of the ambassador or of a third party, in any form."""
    blob = everything(data, msg)
    assert find_leaks(blob, [SECRETS[1]]) == []
    lowered = blob.lower()
    for address in (AMB, *third):
        assert address not in lowered
        assert address.replace("@", "%40") not in lowered
    return blob


def mail(*parts: bytes, headers: bytes = b"") -> bytes:
    head = (
        b"From: Marie <marie.dupont@gmail.com>\r\nTo: " + PERSON_ALIAS.encode() + b"\r\n"
        b"Subject: Re: stage\r\nMIME-Version: 1.0\r\n" + headers
    )
    body = b"".join(b"--B\r\n" + p + b"\r\n" for p in parts)
    return (
        head + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoir les pi\xc3\xa8ces.\r\n"
        + body
        + b"--B--\r\n"
    )


def parts_of(msg: Message, content_type: str) -> list[Message]:
    return [p for p in msg.walk() if p.get_content_type() == content_type]


# ---------------------------------------------------------------- text attachments


def test_text_attachment_is_scrubbed_keeping_charset_and_encoding() -> None:
    notes = "Mon adresse : marie.dupont@gmail.com, celle de Paul : paul.tiers@entreprise.test\n"
    raw = mail(
        b'Content-Type: text/plain; charset=iso-8859-1; name="notes.txt"\r\n'
        b'Content-Disposition: attachment; filename="notes.txt"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(notes.encode("latin-1"))
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
    (attachment,) = [p for p in copy.walk() if p.get_filename() == "notes.txt"]
    assert attachment.get_content_charset() == "iso-8859-1"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    text = attachment.get_content().replace("\r\n", "\n")
    assert text == f"Mon adresse : {AMB_ALIAS}, celle de Paul : {MASK}\n"


ICS = (
    "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Visite de la boulangerie\r\n"
    "ORGANIZER;CN=Marie Dupont:mailto:marie.dupont@gmail.com\r\n"
    "ATTENDEE;CN=Paul;ROLE=REQ-PARTICIPANT:mailto:paul.tiers@entreprise.test\r\n"
    "ATTENDEE;CN=Léa:mailto:lea.martin@orange.fr\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_calendar_attachment_is_scrubbed() -> None:
    raw = mail(
        b'Content-Type: text/calendar; method=REQUEST; charset=utf-8; name="invite.ics"\r\n'
        b'Content-Disposition: attachment; filename="invite.ics"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(ICS.encode())
    )
    data, copy = relay(raw)
    blob = assert_clean(data, copy)
    assert f"ORGANIZER;CN=Marie Dupont:mailto:{AMB_ALIAS}" in blob
    (calendar,) = parts_of(copy, "text/calendar")
    assert f"mailto:{PERSON_ALIAS}" in calendar.get_content()
    assert PERSON not in calendar.get_content()


def test_inline_calendar_folded_inside_the_address_is_scrubbed_and_refolded() -> None:
    folded = ICS.replace("mailto:marie.dupont@gmail.com", "mailto:marie.dup\r\n ont@gmail.com")
    raw = mail(
        b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n" + folded.encode()
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
    (calendar,) = parts_of(copy, "text/calendar")
    text = calendar.get_content()
    assert all(len(line.encode()) <= 75 for line in text.splitlines())
    assert AMB_ALIAS in re.sub(r"\r?\n ", "", text)


def test_vcard_is_scrubbed() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Marie\r\n"
        b"EMAIL;TYPE=INTERNET:marie.dupont@gmail.com\r\nEND:VCARD\r\n"
    )
    raw = mail(b'Content-Type: text/x-vcard; name="Marie.vcf"\r\n\r\n' + card)
    msg = build_relayed(PARSER.parsebytes(raw), SPEC)  # not an allowed type by default
    data = msg.as_bytes(policy=policy.SMTP)
    assert_clean(data, PARSER.parsebytes(data))
    assert f"EMAIL;TYPE=INTERNET:{AMB_ALIAS}".encode() in data


@pytest.mark.parametrize("name", ["notes.txt", "invite.ics", "transfert.eml"])
def test_octet_stream_text_files_are_scrubbed_by_their_name(name: str) -> None:
    body = {
        "notes.txt": b"Ecrire a marie.dupont@gmail.com\r\n",
        "invite.ics": ICS.encode(),
        "transfert.eml": b"From: Marie <marie.dupont@gmail.com>\r\nTo: rh@entreprise.test\r\n"
        b"Subject: stage\r\n\r\nMarie (marie.dupont@gmail.com)\r\n",
    }[name]
    raw = mail(
        f'Content-Type: application/octet-stream; name="{name}"\r\n'.encode()
        + f'Content-Disposition: attachment; filename="{name}"\r\n'.encode()
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(body)
    )
    msg = build_relayed(PARSER.parsebytes(raw), SPEC)  # octet-stream is not allowed by default
    data = msg.as_bytes(policy=policy.SMTP)
    assert_clean(data, PARSER.parsebytes(data))


# ---------------------------------------------------------------- nested messages, headers


NESTED = (
    b"From: =?utf-8?q?Marie_Dupont_=28marie=2Edupont=40gmail=2Ecom=29?=\r\n"
    b" <marie.dupont@gmail.com>\r\n"
    b"To: =?utf-8?q?L=C3=A9a?= <lea.martin@orange.fr>\r\n"
    b"Cc: RH <rh@entreprise.test>,\r\n"
    b" =?utf-8?q?Jean_=3Cjean=40entreprise=2Etest=3E?= <jean@entreprise.test>\r\n"
    b"Reply-To: marie.dupont@gmail.com\r\n"
    b"Subject: =?utf-8?q?Fwd=3A_de_marie=2Edupont=40gmail=2Ecom?=\r\n"
    b"Message-ID: <abc@gmail.com>\r\n\r\n"
    b"Bonjour, ecrivez a marie.dupont@gmail.com ou a paul.tiers@entreprise.test\r\n"
)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Type: message/rfc822\r\n",
        b'Content-Type: message/rfc822; name="fw.eml"\r\n'
        b'Content-Disposition: attachment; filename="fw.eml"\r\n',
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n",
        b'Content-Type: text/plain; name="fw.eml"\r\n',
    ],
    ids=["inline", "attachment", "base64", "as-text"],
)
def test_nested_message_headers_are_decoded_then_scrubbed(headers: bytes) -> None:
    body = base64.encodebytes(NESTED) if b"base64" in headers else NESTED
    data, copy = relay(mail(headers + b"\r\n" + body))
    assert_clean(data, copy, (*THIRD, "jean@entreprise.test"))


def test_forwarded_message_keeps_names_and_masks_third_parties() -> None:
    data, copy = relay(mail(b"Content-Type: message/rfc822\r\n\r\n" + NESTED))
    assert_clean(data, copy, (*THIRD, "jean@entreprise.test"))
    inner = parts_of(copy, "message/rfc822")[0].get_payload()[0]
    assert [a.addr_spec for a in inner["To"].addresses] == [PERSON_ALIAS]
    assert [g.display_name for g in inner["Cc"].groups] == [f"RH {MASK}", f"Jean <{MASK}> {MASK}"]
    assert "Reply-To" not in inner and "Message-ID" not in inner


def test_quoted_header_blocks_mask_third_parties_in_text_and_html() -> None:
    text = (
        "Je transfère.\r\n\r\n---------- Forwarded message ---------\r\n"
        "De : Paul Tiers <paul.tiers@entreprise.test>\r\nÀ : Marie <marie.dupont@gmail.com>\r\n"
        "Cc : rh@entreprise.test\r\n\r\nFrom: Paul Tiers [mailto:paul.tiers@entreprise.test]\r\n"
        "To: Léa <lea.martin@orange.fr>; rh@entreprise.test\r\n"
    )
    html = (
        '<div id="divRplyFwdMsg"><b>De :</b> Paul Tiers &lt;<a href="mailto:paul.tiers@'
        'entreprise.test">paul.tiers@entreprise.test</a>&gt;<br><b>Cc :</b> rh@entreprise.test'
        '</div><p><a href="https://www.example.fr/stage?ref=12">offre</a></p>'
    )
    raw = mail(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + text.encode(),
        b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode(),
    )
    data, copy = relay(raw)
    blob = assert_clean(data, copy)
    assert f"De : Paul Tiers <{MASK}>" in blob
    assert f"To: Léa <{PERSON_ALIAS}>; {MASK}" in blob
    assert 'href="https://www.example.fr/stage?ref=12"' in blob


def test_content_id_carrying_an_address_changes_with_its_cid_references() -> None:
    raw = mail(
        b'Content-Type: text/html; charset=utf-8\r\n\r\n<img src="cid:marie.dupont@gmail.com">\r\n',
        b"Content-Type: image/png\r\nContent-ID: <marie.dupont@gmail.com>\r\n"
        b"Content-Description: photo de marie.dupont@gmail.com\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
    (image,) = parts_of(copy, "image/png")
    cid = str(image["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in parts_of(copy, "text/html")[0].get_content()
    assert str(image["Content-Description"]) == f"photo de {AMB_ALIAS}"


@pytest.mark.parametrize(
    "disposition",
    [
        b'attachment; filename="cv marie.dupont@gmail.com.pdf"',
        b"attachment; filename*=utf-8''cv%20marie.dupont%40gmail.com%20%C3%A9t%C3%A9.pdf",
        b"attachment;\r\n filename*0*=utf-8''cv%20marie.dup;\r\n filename*1*=ont%40gmail.com.pdf",
        b'attachment; filename="=?utf-8?q?cv_marie=2Edupont=40gmail=2Ecom_=C3=A9t=C3=A9=2Epdf?="',
    ],
)
def test_attachment_file_names_are_scrubbed(disposition: bytes) -> None:
    raw = mail(
        b"Content-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK"
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
    (pdf,) = parts_of(copy, "application/pdf")
    assert AMB_ALIAS in (pdf.get_filename() or "")
    assert pdf.get_payload(decode=True) == b"%PDF-1.4\n"


def test_preamble_and_epilogue_are_scrubbed_and_writable() -> None:
    raw = mail().replace(
        b"\r\n\r\n--B",
        b"\r\n\r\npr\xc3\xa9ambule marie.dupont@gmail.com rh@entreprise.test\r\n--B",
        1,
    )
    raw += b"epilogue marie.dupont@gmail.com\r\n"
    data, copy = relay(raw)
    assert_clean(data, copy)


def test_a_garbled_parameter_name_is_dropped_so_the_copy_reads_back() -> None:
    raw = (
        b"From: Marie <marie.dupont@gmail.com>\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B";\r\n report-typeH\x1b*\x1d]\xfb="x"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nmarie.dupont@gmail.com\r\n--B--\r\n"
    )
    data, copy = relay(raw)
    assert str(copy["Content-Type"]) == 'multipart/mixed; boundary="B"'
    assert_clean(data, copy)


def test_characters_that_fold_into_line_breaks_do_not_end_the_header_block() -> None:
    """\x1d, \x1e (and NEL, U+2028) are line breaks to Python's folder: a Content-Type made
    of them once wrote an empty line, and From, To and the rest went into the body."""
    raw = (
        b"From: Marie <marie.dupont@gmail.com>\r\nSubject: x\x1dy\r\n"
        b"Content-Type: \x1d\x1e\xc2\xb2f8\x0e\t\r\nDate: Mon, 2 Mar 2026\x1d 10:00:00 +0100\r\n"
        b"Content-Description: a\xe2\x80\xa8b\r\n\r\nbody marie.dupont@gmail.com\r\n"
    )
    data, copy = relay(raw)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"" not in head.split(b"\r\n")  # no empty line inside the header block
    assert str(copy["From"]) == f"Marie via Ambassadeurs <{AMB_ALIAS}>"
    assert str(copy["To"]) == PERSON
    assert copy.get_content_type() == "text/plain"
    assert_clean(data, copy)


# ---------------------------------------------------------------- fuzz cases that once raised


@pytest.mark.parametrize("path", FUZZ, ids=[p.name for p in FUZZ])
def test_fuzz_case_relays_and_reads_back_clean(path: Path) -> None:
    """tests/eml/fuzz: mutated corpus messages whose copy raised (UnicodeEncodeError,
    IndexError, ValueError) while being built or written."""
    secrets = (Secret("person1@users.test", PERSON_ALIAS), Secret("amb1@pros.test", AMB_ALIAS))
    spec = RelaySpec("M via X", AMB_ALIAS, "person1@users.test", "<mf.2@mailflow.test>", None,
                     (), secrets, keep_addresses=("relay@mailflow.test",))  # fmt: skip
    data, copy = relay(path.read_bytes(), spec)
    blob = everything(data, copy).lower()
    assert [leak for leak in find_leaks(blob, secrets) if "amb1@" in leak] == []
    assert "amb1@pros.test" not in blob


@pytest.fixture
def conversation(tmp_path: Path):  # noqa: ANN201
    ctx = open_context(tmp_path, "\n[limits]\nauto_reply_interval_days = 0\n")
    opening = mail_bytes("Je voudrais rencontrer une boulangère près de Caen.",
                         sender="Léa <person1@users.test>")  # fmt: skip
    assert store_and_process(ctx, opening) == {"request-offered": 1}
    yield ctx, f"relay+{Conversation.get().ambassador_token}@mailflow.test"
    close_context()


def reply_through(ctx, raw: bytes) -> tuple[str, str | None]:  # noqa: ANN001
    before = InboundMessage.select().count()
    store_and_process(ctx, raw)
    row = InboundMessage.select().order_by(InboundMessage.id.desc()).get()
    assert InboundMessage.select().count() == before + 1
    return row.outcome, row.reason


@pytest.mark.parametrize("path", FUZZ, ids=[p.name for p in FUZZ])
def test_fuzz_case_through_the_pipeline_is_never_quarantined(conversation, path: Path) -> None:  # noqa: ANN001
    ctx, token_address = conversation
    raw = path.read_bytes().replace(b"relay+aaa@mailflow.test", token_address.encode())
    outcome, reason = reply_through(ctx, raw)
    assert outcome != "quarantined", reason


@pytest.mark.parametrize(
    "shape",
    ["eai-forwarded", "latin1-name", "8bit-nested-subject"],
)
def test_awkward_replies_are_relayed_not_quarantined(conversation, shape: str) -> None:  # noqa: ANN001
    """The audit's probe (relay_real.py): an internationalised address in a forwarded
    message made the whole reply quarantined with UnicodeEncodeError."""
    ctx, to = conversation
    head = f"From: Marie <amb1@pros.test>\nTo: {to}\nSubject: Re: demande\nMIME-Version: 1.0\n"
    head += f"Message-ID: <{shape}@pros.test>\n" + 'Content-Type: multipart/mixed; boundary="B"\n\n'
    first = b"--B\nContent-Type: text/plain; charset=utf-8\n\nVoir ci-dessous\n"
    second = {
        "eai-forwarded": "--B\nContent-Type: message/rfc822\n\nFrom: José <josé@exemple.test>\n"
        "To: amb1@pros.test\nSubject: stage\n\nBonjour\n--B--\n".encode(),
        "latin1-name": b"--B\nContent-Type: text/plain; charset=iso-8859-1;"
        b' name="adresse_\xe9t\xe9.txt"\n\nmon adresse: amb1@pros.test\n--B--\n',
        "8bit-nested-subject": b"--B\nContent-Type: message/rfc822\n\nFrom: Paul <paul@x.test>\n"
        b"To: amb1@pros.test\nSubject: R\xe9union amb1@pros.test\n\nBonjour\n--B--\n",
    }[shape]
    outcome, reason = reply_through(ctx, head.encode() + first + second)
    assert outcome == "relayed", reason
    relayed = (
        OutboundMail.select()
        .where(OutboundMail.purpose == "relay")
        .order_by(OutboundMail.id.desc())
        .get()
    )
    data = bytes(relayed.raw)
    blob = everything(data, PARSER.parsebytes(data)).lower()
    assert "amb1@pros.test" not in blob
    assert "josé@exemple.test" not in blob and "paul@x.test" not in blob


# ---------------------------------------------------------------- the corpus's replies

CORPUS = Path(__file__).parents[1] / "corpus"
CONVERSATION_REPLIES = sorted(
    p
    for p in CORPUS.glob("relay_*.eml")
    if 'setup = "conversation"' in p.with_name(p.stem + ".expected.toml").read_text()
)
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
RELAY_TOKENS = {b"TOKEN_AMB": PERSON_ALIAS.encode(), b"TOKEN_PERSON": AMB_ALIAS.encode()}


@pytest.mark.parametrize("path", CONVERSATION_REPLIES, ids=[p.name for p in CONVERSATION_REPLIES])
def test_corpus_replies_carry_no_address_but_the_relay_ones(path: Path) -> None:
    """Every address in the copy of a corpus reply (quoted blocks, signatures, forwarded
    chains) is one of the conversation's relay addresses."""
    raw = path.read_bytes()
    for placeholder, alias in RELAY_TOKENS.items():
        raw = raw.replace(b"relay+" + placeholder + b"@mailflow.test", alias)
    secrets = (Secret("person1@users.test", PERSON_ALIAS), Secret("amb1@pros.test", AMB_ALIAS))
    by_person = b"From: Person" in raw or b"person1@users.test>\n" in raw.split(b"\n\n")[0]
    sender_alias = PERSON_ALIAS if by_person else AMB_ALIAS
    spec = RelaySpec("X via Ambassadeurs", sender_alias, "someone@else.test",
                     "<mf.3@mailflow.test>", None, (), secrets,
                     keep_addresses=("relay@mailflow.test",))  # fmt: skip
    data, copy = relay(raw, spec)
    del copy["To"], copy["Message-ID"]
    found = set(ADDRESS.findall(everything(b"", copy).lower()))  # decoded, not raw
    allowed = {PERSON_ALIAS, AMB_ALIAS, "relay@mailflow.test", "mf.3@mailflow.test"}
    assert found <= allowed, sorted(found - allowed)


# ---------------------------------------------------------------- every written form, in parts

FORMS = [
    "marie . dupont @ gmail . com",
    "marie.dupont [@] gmail [.] com",
    "marie.dupont <at> gmail <dot> com",
    "marie.dupont (at) gmail (dot) com",
    "marie.dupont arobase gmail.com",
    "marie.dupont＠gmail.com",
    "marie.dupont\u200b@gmail.com",
    "marie.du\u00adpont@gmail.com",
    "marie.dupont@gmail.comMerci",
    "marie.dupont%40gmail.com",
    "marie.dupont&#64;gmail.com",
    "marie.dupont&commat;gmail.com",
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("cte", ["8bit", "quoted-printable", "base64"])
def test_every_written_form_is_replaced_in_text_and_html_parts(form: str, cte: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Marie <{AMB}>", PERSON_ALIAS, "Re: stage"
    msg.set_content(f"Écrivez-moi : {form}\n", cte=cte)
    source = html.escape(form) if "&" not in form else form
    msg.add_alternative(f"<p>Écrivez-moi : <b>{source}</b></p>\n", subtype="html", cte=cte)
    data, copy = relay(msg.as_bytes(policy=policy.SMTP))
    assert_clean(data, copy)
    text, markup = (p.get_content() for p in copy.walk() if p.get_content_maintype() == "text")
    assert (
        text.replace("\r\n", "\n")
        == f"Écrivez-moi : {AMB_ALIAS}{'Merci' * form.endswith('Merci')}\n"
    )
    assert AMB_ALIAS in markup


def test_an_address_the_base64_decoder_skips_is_not_sent_either() -> None:
    """A stray line in a base64 body ("x@y.org+//AA": '@' and '.' are not base64) decodes
    to nothing visible, but was in the bytes sent."""
    raw = mail(
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"marie.dupont@gmail.com+//AA\r\nPHA+Qm9uam91cjwvcD4=",
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"rh@entreprise.test\r\niVBORw0KGgo=",
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
    (before,), (after,) = parts_of(PARSER.parsebytes(raw), "image/png"), parts_of(copy, "image/png")
    assert after.get_payload(decode=True) == before.get_payload(decode=True)  # what it showed


@pytest.mark.parametrize("cte", [b"Content-Transfer-Encoding: base64\r\n", b""])
def test_a_header_block_cut_by_a_broken_line_does_not_carry_an_address_in_the_body(
    cte: bytes,
) -> None:
    """Found by the audit's fuzzer: "Content-Disposition\\xe9: inline" is no header line, so
    what follows it (Content-ID: <address>) is the body of an image part."""
    raw = mail(
        b"Content-Type: image/png\r\n" + cte + b"Content-Disposition\xe9: inline\r\n"
        b"Content-ID: <marie.dupont@gmail.com>\r\n\r\niVBORw0KGgo="
    )
    data, copy = relay(raw)
    assert_clean(data, copy)
