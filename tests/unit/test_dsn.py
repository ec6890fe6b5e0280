"""parse_dsn(): RFC 3464 fields per recipient, and the bounces that are not RFC 3464."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.core.dsn import RecipientStatus, parse_dsn
from mailflow.inbound.pipeline import parse

CORPUS = Path(__file__).parents[1] / "corpus"


def report(status_block: str, extra_parts: str = "", headers: str = "") -> bytes:
    return f"""From: MAILER-DAEMON@mail.example.test
To: relay+b-1a-2b-abcdefghij@mailflow.test
{headers}Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Sorry.

--B
Content-Type: message/delivery-status

{status_block}
{extra_parts}
--B--
""".encode()


def corpus(name: str):
    return parse_dsn(parse((CORPUS / f"{name}.eml").read_bytes()))


def test_per_message_block_then_one_block_per_recipient() -> None:
    block = """Reporting-MTA: dns; mail.example.test
Original-Envelope-Id: ENV-42

Final-Recipient: rfc822; <Gone@Example.test>
Original-Recipient: rfc822;alias@example.test
Action: Failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user
  unknown, folded

Final-Recipient: RFC822; full@example.test
ACTION: delayed
STATUS: 4.2.2

Final-Recipient: rfc822; ok@example.test
Action: delivered
Status: 2.0.0
"""
    dsn = parse_dsn(parse(report(block)))
    assert dsn is not None and dsn.source == "rfc3464"
    gone, full, ok = dsn.recipients
    assert gone == RecipientStatus(
        "Gone@Example.test",
        "alias@example.test",
        "failed",
        "5.1.1",
        "smtp; 550 5.1.1 user unknown, folded",
    )
    assert gone.permanent and not gone.transient and gone.diagnostic_code == gone.diagnostic
    assert full.transient and not full.permanent and full.status == "4.2.2"
    assert not ok.permanent and not ok.transient
    assert dsn.original_envelope_id == "ENV-42" and dsn.reporting_mta == "mail.example.test"
    assert dsn.permanent and dsn.failed_recipients == ["Gone@Example.test"]
    assert dsn.dsn_recipient == "relay+b-1a-2b-abcdefghij@mailflow.test"


@pytest.mark.parametrize(
    ("fields", "permanent", "transient"),
    [
        ("Action: failed", True, False),  # no status: the action decides
        ("Action: delayed", False, True),
        ("Action: failed\nStatus: 4.4.7", False, True),  # the status wins
        ("Action: failed\nDiagnostic-Code: smtp; 552 5.2.2 full", True, False),
        ("Status: 5.7.1 (delivery not authorized)", True, False),
    ],
)
def test_permanent_and_transient(fields: str, permanent: bool, transient: bool) -> None:
    block = f"Reporting-MTA: dns; x.test\n\nFinal-Recipient: rfc822; a@x.test\n{fields}\n"
    entry = parse_dsn(parse(report(block))).recipients[0]
    assert (entry.permanent, entry.transient) == (permanent, transient)


def test_missing_fields_and_no_per_message_block() -> None:
    dsn = parse_dsn(parse(report("Final-Recipient: rfc822; a@x.test\nAction: failed\n")))
    assert dsn.recipients == (RecipientStatus("a@x.test", None, "failed", None, None),)
    assert dsn.original_envelope_id is None and dsn.returned_message_id is None


def test_returned_headers_give_message_id_and_to() -> None:
    headers = """--B
Content-Type: text/rfc822-headers

From: relay@mailflow.test
To: Marie <amb1@pros.test>, other@pros.test
Message-ID: <mf.abc@mailflow.test>
Subject: x
"""
    dsn = parse_dsn(parse(report("Final-Recipient: rfc822; a@x.test\nAction: failed\n", headers)))
    assert dsn.returned_message_id == "<mf.abc@mailflow.test>"
    assert dsn.returned_to == ["amb1@pros.test", "other@pros.test"]


def test_delivered_to_is_preferred_for_the_dsn_recipient() -> None:
    raw = report(
        "Final-Recipient: rfc822; a@x.test\nAction: failed\n",
        headers="Delivered-To: relay+b-9-9-zzzzzzzzzz@mailflow.test\n",
    )
    assert parse_dsn(parse(raw)).dsn_recipient == "relay+b-9-9-zzzzzzzzzz@mailflow.test"


def test_not_a_bounce() -> None:
    assert parse_dsn(parse(b"From: a@b.test\nSubject: hi\n\nBonjour\n")) is None


def test_exim_text_with_x_failed_recipients() -> None:
    dsn = corpus("exim_text_bounce_unknown")
    assert dsn.source == "x-failed-recipients"
    (entry,) = dsn.recipients
    assert entry.final_recipient == "someone@hebergeur.test" and entry.status == "5.1.1"
    assert entry.permanent and "User unknown" in entry.diagnostic
    assert dsn.returned_message_id == "<abc.def@elsewhere.test>"


def test_qmail_and_yahoo_text() -> None:
    qmail = corpus("qmail_failure_notice")
    assert qmail.source == "text" and qmail.recipients[0].final_recipient == "amb1@pros.test"
    assert qmail.recipients[0].status == "5.1.1"
    yahoo = corpus("yahoo_failure_notice")
    assert yahoo.recipients[0].final_recipient == "vieux.compte@yahoo.test"
    assert yahoo.recipients[0].status == "5.0.0" and yahoo.permanent
    assert yahoo.returned_message_id == "<vc.1@box.local>"


def test_exim_delay_is_transient() -> None:
    dsn = corpus("exim_delay_warning")
    assert dsn.transient and not dsn.permanent
    assert dsn.recipients[0].status == "4.0.0"


def test_gmail_exchange_and_multi_recipient_corpus() -> None:
    gmail = corpus("gmail_dsn_failure_ack")
    assert gmail.recipients[0].status == "5.1.1" and gmail.returned_message_id == "<MSGID_ACK>"
    exchange = corpus("exchange_ndr_fr_non_remis")
    assert exchange.recipients[0].status == "5.1.10"
    multi = corpus("postfix_folded_multi_recipient")
    assert [r.action for r in multi.recipients] == ["failed", "delivered"]
    assert multi.returned_message_id == "<MSGID_INTRO>"


def test_base64_delivery_status_part() -> None:
    dsn = corpus("bounce_base64_status_part")
    assert dsn.recipients[0] == RecipientStatus(
        "depart@entreprise.test", None, "failed", "5.1.1", None
    )


def test_broken_input_never_raises() -> None:
    raw = b"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status"
    raw += b"\n\n\xff"
    assert parse_dsn(parse(raw)) is None
