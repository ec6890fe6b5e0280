"""The local mail stack behaves like the mail system mailflow is built for.

These run against real Postfix and Dovecot (scripts/mailstack): if one fails, every
end-to-end test that relies on that behaviour would fail for a confusing reason.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from tests.mailstack import MailStack

RELAY = "relay@mailflow.test"
FRENCH = (
    "Bonjour Amélie,\n\n"
    "Je voudrais découvrir le métier d'ébéniste : où peut-on se rencontrer ?\n"
    "Ça me ferait très plaisir. À bientôt, Léo — «merci» !\n"
)


def has_id(message_id: str) -> Callable[[EmailMessage], bool]:
    """Predicate: the message with this Message-ID."""
    return lambda msg: msg["Message-ID"] == message_id


def test_plain_delivery_keeps_utf8_text(mail: MailStack) -> None:
    message_id = mail.send_text(
        "Léo Martin <person1@users.test>", "amb1@pros.test", "Découverte du métier", FRENCH
    )

    [msg] = mail.wait_for("amb1@pros.test", has_id(message_id))

    assert msg["Subject"] == "Découverte du métier"
    assert msg["From"].addresses[0].display_name == "Léo Martin"
    # IMAP serves every line with CRLF (RFC 3501); the text itself is byte-for-byte intact.
    assert msg.get_content().replace("\r\n", "\n") == FRENCH
    assert msg["Delivered-To"] == "amb1@pros.test"
    assert mail.imap_count("person1@users.test") == 0


def test_plus_address_lands_in_relay_inbox_with_token(mail: MailStack) -> None:
    message_id = mail.send_text("person2@users.test", "relay+AbC123xyz@mailflow.test", "Re", "Oui")

    [msg] = mail.wait_for(RELAY, has_id(message_id))

    # The token's case survives: Delivered-To is the RCPT address as sent.
    assert msg["Delivered-To"] == "relay+AbC123xyz@mailflow.test"
    assert msg["To"] == "relay+AbC123xyz@mailflow.test"
    assert mail.imap_count(RELAY) == 1  # INBOX, not a folder named after the token


def test_relay_subdomain_is_rewritten_to_relay_inbox(mail: MailStack) -> None:
    message_id = mail.send_text("person3@users.test", "anything@relay.mailflow.test", "Hi", "x")

    [msg] = mail.wait_for(RELAY, has_id(message_id))

    assert msg["Delivered-To"] == "relay+anything@mailflow.test"
    assert msg["To"] == "anything@relay.mailflow.test"  # only the envelope is rewritten


@pytest.mark.parametrize(
    "recipient",
    ["nobody@users.test", "nobody@mailflow.test", "someone@example.com"],
    ids=["unknown-user", "unknown-mailflow-user", "outside-domain"],
)
def test_unknown_or_outside_recipient_is_refused_at_rcpt(mail: MailStack, recipient: str) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail.send_text("person1@users.test", recipient, "Hello?", "Is anyone there?")

    code, _reply = refused.value.recipients[recipient]
    assert 500 <= code < 600


def test_partial_refusal_raises_and_delivers_the_rest(mail: MailStack) -> None:
    msg = EmailMessage()
    msg["From"] = "person1@users.test"
    msg["To"] = "amb2@pros.test, ghost@pros.test"
    msg["Subject"] = "Two recipients"
    msg.set_content("one good, one unknown")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail.send("person1@users.test", ["amb2@pros.test", "ghost@pros.test"], msg)

    assert list(refused.value.recipients) == ["ghost@pros.test"]
    assert mail.wait_for("amb2@pros.test")[0]["Subject"] == "Two recipients"


def test_smtp_auth_is_optional_and_checks_the_password(mail: MailStack) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=10) as smtp:
        smtp.login(RELAY, "secret")
        smtp.sendmail(RELAY, ["person4@users.test"], b"Subject: authenticated\r\n\r\nhi\r\n")
    with (
        smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        smtp.login(RELAY, "wrong")

    assert mail.wait_for("person4@users.test")[0]["Subject"] == "authenticated"


def test_imap_offers_idle_and_notifies_new_mail(mail: MailStack) -> None:
    with mail.imap(RELAY) as client:
        assert b"IDLE" in client.capabilities()
        client.select_folder("INBOX")
        client.idle()
        mail.send_text("person5@users.test", RELAY, "wake up", "new mail")
        responses = client.idle_check(timeout=10)
        client.idle_done()

    assert (1, b"EXISTS") in responses


def test_folders_can_be_created_and_clear_empties_everything(mail: MailStack) -> None:
    mail.send_text("person6@users.test", RELAY, "first", "1")
    mail.send_text("person6@users.test", "amb3@pros.test", "second", "2")
    mail.wait_for(RELAY)
    mail.wait_for("amb3@pros.test")
    with mail.imap(RELAY) as client:
        client.create_folder("Quarantine")
        client.create_folder("Processed")
        client.select_folder("INBOX")
        client.move(client.search("ALL"), "Quarantine")
    assert mail.imap_count(RELAY, "Quarantine") == 1
    assert mail.imap_count(RELAY) == 0

    mail.clear()

    assert mail.imap_count(RELAY, "Quarantine") == 0
    assert mail.imap_count("amb3@pros.test") == 0
    with mail.imap(RELAY) as client:
        assert [name for _flags, _sep, name in client.list_folders()] == ["INBOX"]


def test_wait_for_timeout_lists_what_is_there(mail: MailStack) -> None:
    mail.send_text("stranger@users.test", "demo@users.test", "Mauvais sujet", "…")
    mail.wait_for("demo@users.test")

    with pytest.raises(AssertionError) as failure:
        mail.wait_for("demo@users.test", lambda msg: msg["Subject"] == "Bon sujet", timeout=0.3)

    report = str(failure.value)
    assert "From: stranger@users.test | To: demo@users.test | Subject: Mauvais sujet" in report


def test_fetch_keeps_arrival_order_and_does_not_mark_seen(mail: MailStack) -> None:
    for n in range(3):
        mail.send_text("person7@users.test", "amb4@pros.test", f"n{n}", str(n))
        mail.wait_for("amb4@pros.test", count=n + 1)

    assert [msg["Subject"] for msg in mail.fetch_all("amb4@pros.test")] == ["n0", "n1", "n2"]
    assert all(raw.startswith(b"Return-Path:") for raw in mail.fetch_raw("amb4@pros.test"))
    with mail.imap("amb4@pros.test") as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search("UNSEEN")) == 3
