"""Size cap, attachments and Cc copies: what the relay will not carry, and what it says."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.config import LimitsConfig, RelayConfig
from mailflow.context import Context
from mailflow.inbound.limits import (
    WHY_EXECUTABLE,
    WHY_TNEF,
    WHY_TYPE,
    is_executable,
    oversize_reason,
    strip_attachments,
    third_party_recipients,
)
from mailflow.inbound.pipeline import parse, process_pending
from mailflow.store.models import Conversation, Event, InboundMessage, OutboundMail
from mailflow.transport.ingest import store
from tests.inprocess import close_context, open_context

LIMITS = LimitsConfig(max_attachment_bytes=1000)
PDF = b"%PDF-1.4\n" + b"0" * 100


def with_files(*files: tuple[str, str, bytes]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@x.test", "b@y.test", "Pièces"
    msg.set_content("Voici les documents.\n")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def leaves(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.walk() if not p.is_multipart()]


def test_allowed_files_pass_untouched() -> None:
    files = (("cv.pdf", "application/pdf", PDF), ("photo.jpg", "image/jpeg", b"\xff" * 50))
    msg = parse(bytes(with_files(*files)))  # as read from the mailbox
    out, removed = strip_attachments(msg, LIMITS)
    assert removed == []
    assert out.as_bytes() == msg.as_bytes()


@pytest.mark.parametrize(
    ("name", "ctype", "data", "why"),
    [
        ("facture.pdf.exe", "application/pdf", PDF, WHY_EXECUTABLE),
        ("setup.exe", "application/octet-stream", b"MZ", WHY_EXECUTABLE),
        ("script.js", "text/plain", b"alert(1)", WHY_EXECUTABLE),
        ("photo\u202egpj.scr", "image/jpeg", b"MZ", WHY_EXECUTABLE),
        ("archive.zip", "application/zip", b"PK", WHY_TYPE),
        ("winmail.dat", "application/ms-tnef", b"x\x9f>\x22", WHY_TNEF),
        ("winmail.dat", "application/octet-stream", b"x\x9f>\x22", WHY_TNEF),
        ("big.pdf", "application/pdf", PDF * 20, "trop volumineuse"),
    ],
)
def test_refused_files_become_a_note(name: str, ctype: str, data: bytes, why: str) -> None:
    msg = with_files(("ok.pdf", "application/pdf", PDF), (name, ctype, data))
    out, removed = strip_attachments(msg, LIMITS)
    assert [r.filename for r in removed] == [name] and removed[0].reason.startswith(why)
    parts = leaves(out)
    assert len(parts) == 3  # body, ok.pdf, the note in place of the file
    note = parts[2]
    assert note.get_content_type() == "text/plain" and note["MIME-Version"] is None
    assert note.get_content() == f"Une pièce jointe ({name}) a été retirée : {removed[0].reason}.\n"
    assert parts[1].get_filename() == "ok.pdf"
    assert data not in out.as_bytes()
    assert len(leaves(msg)) == 3 and leaves(msg)[2].get_filename() == name  # input untouched


def test_nested_and_whole_message_attachments() -> None:
    inner = with_files(("virus.exe", "application/octet-stream", b"MZ"))
    outer = with_files()
    outer.add_attachment(inner)  # a forwarded message carrying an executable
    out, removed = strip_attachments(outer, LIMITS)
    assert [r.filename for r in removed] == ["virus.exe"]
    single = EmailMessage()
    single["Subject"] = "scan"
    single.set_content(b"MZ", maintype="application", subtype="x-msdownload", filename="a.bat")
    out, removed = strip_attachments(single, LIMITS)
    assert [r.reason for r in removed] == [WHY_EXECUTABLE]
    assert out.get_content_type() == "text/plain" and out["Subject"] == "scan"


SMIME_SIGNED = b"""From: amb1@pros.test
To: relay+abcdefghijklmnopqrstuvwx@mailflow.test
Subject: sign\xc3\xa9
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;
 boundary="sig"

--sig
Content-Type: text/plain; charset=utf-8

Bonjour L\xc3\xa9a.
--sig
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Disposition: attachment; filename="smime.p7s"
Content-Transfer-Encoding: base64

MIIGYW1iMUBwcm9zLnRlc3Q=
--sig--
"""


def test_signatures_are_taken_out_without_a_note() -> None:
    out, removed = strip_attachments(parse(SMIME_SIGNED), LIMITS)
    assert [(r.filename, r.notify) for r in removed] == [("smime.p7s", False)]
    assert out.get_content_type() == "multipart/mixed"
    assert out.get_param("protocol") is None and out.get_param("micalg") is None
    assert [p.get_content_type() for p in leaves(out)] == ["text/plain"]
    assert b"MIIGYW1i" not in out.as_bytes()


def test_broken_multipart_is_left_alone() -> None:
    raw = b"Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n\nno boundary at all\n"
    out, removed = strip_attachments(parse(raw), LIMITS)
    assert removed == [] and out.get_payload() == "no boundary at all\n"


def test_globs_and_names() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    out, removed = strip_attachments(with_files(("lettre.docx", docx, b"PK")), LIMITS)
    assert removed == []
    assert is_executable("x.pdf.exe") and is_executable("RUN.BAT. ") and is_executable("a.Ps1")
    assert not is_executable("rapport.pdf") and not is_executable("exe")
    assert oversize_reason(30 * 1024 * 1024, LimitsConfig()) == "too large (30 MB > 20 MB cap)"
    assert oversize_reason(10, LimitsConfig()) is None
    assert oversize_reason(10**9, LimitsConfig(max_message_bytes=0)) is None


def test_third_party_recipients() -> None:
    msg = EmailMessage()
    msg["To"] = "relay+abcdefghijklmnopqrstuvwx@mailflow.test, Boss <boss@corp.test>"
    msg["Cc"] = "x@relay.mailflow.test, amb1@pros.test, BOSS@corp.test, friend@users.test"
    relay = RelayConfig(address="relay@mailflow.test")
    found = third_party_recipients(msg, relay, {"amb1@pros.test", "lea@users.test"})
    assert found == ["boss@corp.test", "friend@users.test"]


# -- in the pipeline -------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(
        tmp_path, "\n[limits]\nmax_message_bytes = 200000\nmax_attachment_bytes = 50000\n"
    )
    close_context()


def run(ctx: Context, msg: EmailMessage) -> dict[str, int]:
    if msg["Message-ID"] is None:
        msg["Message-ID"] = make_msgid(domain="users.test")
    store(bytes(msg), "INBOX", 1, None)
    return process_pending(ctx)


def request(ctx: Context) -> Conversation:
    msg = with_files()
    msg.replace_header("From", "Léa <lea@users.test>")
    msg.replace_header("To", "relay@mailflow.test")
    msg.set_content("Je voudrais rencontrer une boulangère près de Caen.")
    assert run(ctx, msg) == {"request-offered": 1}
    return Conversation.get()


def test_too_large_is_quarantined_and_the_sender_told(ctx: Context) -> None:
    msg = with_files(("scan.pdf", "application/pdf", b"%PDF" + b"1" * 300_000))
    msg.replace_header("From", "Léa <lea@users.test>")
    msg.replace_header("To", "relay@mailflow.test")
    assert run(ctx, msg) == {"too-large": 1}
    row = InboundMessage.get()
    assert row.status == "quarantined" and row.reason.startswith("too large (0.4 MB > 0.2 MB")
    [answer] = OutboundMail.select()
    assert answer.purpose == "too_large" and answer.recipient == "lea@users.test"
    text = parse(bytes(answer.raw)).get_body(("plain",)).get_content()
    assert "0,4 Mo" in text and "0,2 Mo" in text
    assert Event.select().where(Event.kind == "quarantine").count() == 1


def test_too_large_is_refused_from_its_headers_only(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap is decided before the body is parsed: a refused message is never decoded."""
    import mailflow.inbound.pipeline as pipeline

    def no_body(raw: bytes) -> EmailMessage:
        raise AssertionError("the body of an oversize message was parsed")

    monkeypatch.setattr(pipeline, "parse", no_body)
    msg = with_files(("scan.pdf", "application/pdf", b"%PDF" + b"1" * 300_000))
    msg.replace_header("From", "Léa <lea@users.test>")
    msg.replace_header("To", "relay@mailflow.test")
    assert run(ctx, msg) == {"too-large": 1}
    [answer] = OutboundMail.select()
    assert answer.purpose == "too_large" and answer.recipient == "lea@users.test"


def test_refused_attachment_is_replaced_and_explained(ctx: Context) -> None:
    conv = request(ctx)
    msg = with_files(("cv.pdf", "application/pdf", PDF), ("outil.exe", "application/pdf", b"MZ"))
    msg.replace_header("From", "Léa <lea@users.test>")
    msg.replace_header("To", f"relay+{conv.person_token}@mailflow.test")
    assert run(ctx, msg) == {"relayed": 1}
    relayed = parse(bytes(OutboundMail.get(OutboundMail.purpose == "relay").raw))
    names = [p.get_filename() for p in relayed.walk() if p.get_filename()]
    assert names == ["cv.pdf"]
    texts = [p.get_content() for p in relayed.walk() if p.get_content_type() == "text/plain"]
    assert any(t.startswith("Une pièce jointe (outil.exe) a été retirée") for t in texts)
    [note] = OutboundMail.select().where(OutboundMail.purpose == "attachment_removed")
    assert note.recipient == "lea@users.test"
    text = parse(bytes(note.raw)).get_body(("plain",)).get_content()
    assert "outil.exe" in text and "exécutable" in text and "amb1@pros.test" not in text
    assert Event.select().where(Event.kind == "attachment-removed").count() == 1


def test_cc_copies_warned_once_per_conversation(ctx: Context) -> None:
    conv = request(ctx)
    for i in range(2):
        msg = with_files()
        msg.replace_header("From", "amb1@pros.test")
        msg.replace_header("To", f"relay+{conv.ambassador_token}@mailflow.test")
        msg["Cc"] = "collegue@pros.test, Chef <chef@corp.test>"
        msg.set_content(f"Bonjour Léa, réponse {i}.")
        assert run(ctx, msg) == {"relayed": 1}
    rows = OutboundMail.select().where(OutboundMail.purpose == "relay")
    relayed = [parse(bytes(m.raw)) for m in rows]
    assert len(relayed) == 2
    assert all(m["Cc"] is None and "collegue" not in m.as_string() for m in relayed)
    [warning] = OutboundMail.select().where(OutboundMail.purpose == "cc_warning")
    assert warning.recipient == "amb1@pros.test"
    text = parse(bytes(warning.raw)).get_body(("plain",)).get_content()
    assert "2 autres adresses" in text and "lea@users.test" not in text
    assert Event.select().where(Event.kind == "cc-warning").count() == 2
