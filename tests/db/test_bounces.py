"""Bounces in the pipeline: a Postfix DSN built from a mail mailflow really queued."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.inbound.pipeline import parse, process_pending
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Request,
)
from mailflow.store.verp import verp_address
from mailflow.transport.ingest import store
from tests.inprocess import close_context, open_context

# -- a realistic Postfix DSN -----------------------------------------------------------------


def postfix_dsn(
    original: bytes,
    return_path: str,
    recipient: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    delivered: bool = True,
) -> bytes:
    """What Postfix sends back to the envelope sender when a remote server refuses a mail
    after accepting it: the three parts of RFC 3464, the returned headers last.
    `delivered` adds the Delivered-To and Return-Path that the final mailbox writes."""
    headers = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    host = recipient.rsplit("@", 1)[1]
    boundary = "4F1A2B3C4D.1764400000/mail." + host
    diagnostic = diagnostic.format(rcpt=recipient)
    text = f"""Received: by mail.{host} (Postfix) id 4F1A2B3C4D;
\tSat, 29 Nov 2025 09:00:05 +0100 (CET)
Date: Sat, 29 Nov 2025 09:00:05 +0100 (CET)
From: MAILER-DAEMON@mail.{host} (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {return_path}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: {make_msgid(domain="mail." + host)}

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host mail.{host}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<{recipient}>: host mx.{host}[192.0.2.25] said: {diagnostic.split("; ", 1)[-1]}

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.{host}
X-Postfix-Queue-ID: 4F1A2B3C4D
X-Postfix-Sender: rfc822; {return_path}
Arrival-Date: Sat, 29 Nov 2025 09:00:01 +0100 (CET)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.{host}
Diagnostic-Code: {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

{headers.replace(chr(13), "")}

--{boundary}--
"""
    if delivered:
        text = f"Delivered-To: {return_path}\nReturn-Path: <>\n{text}"
    return text.replace("\n", "\r\n").encode("utf-8")


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path)
    close_context()


def request_mail(body: str, sender: str = "Léa Martin <lea@users.test>") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "relay@mailflow.test", "Demande"
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(body)
    return bytes(msg)


def run(*raws: bytes, ctx: Context) -> dict[str, int]:
    for raw in raws:
        store(raw, "INBOX", 1, None)
    return process_pending(ctx)


BAKER = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


def offered(ctx: Context) -> tuple[OutboundMail, OutboundMail]:
    """Léa's request offered to Marie (amb1): the intro and the ack, queued."""
    assert run(request_mail(BAKER), ctx=ctx) == {"request-offered": 1}
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    ack = OutboundMail.get(OutboundMail.purpose == "ack")
    assert intro.recipient == "amb1@pros.test"
    return intro, ack


def dsn_for(row: OutboundMail, **kwargs: str) -> bytes:
    return postfix_dsn(
        bytes(row.raw), verp_address(row.envelope_from, row.id), row.recipient, **kwargs
    )


def queued_to(address: str) -> list[OutboundMail]:
    return list(OutboundMail.select().where(OutboundMail.recipient == address))


# -- tests -----------------------------------------------------------------------------------


def test_ambassador_hard_bounce_stops_routing_and_hands_the_request_over(ctx: Context) -> None:
    intro, _ = offered(ctx)
    first_conv = Conversation.get()
    before = OutboundMail.select().count()

    assert run(dsn_for(intro), ctx=ctx) == {"bounce-recorded": 1}

    intro = OutboundMail.get_by_id(intro.id)
    assert (intro.status, intro.bounce_status) == ("bounced", "5.1.1")
    assert intro.bounced_at is not None
    marie = Ambassador.get(Ambassador.email == "amb1@pros.test")
    assert marie.bounce_state == "failing" and marie.bounced_at is not None
    assert Conversation.get_by_id(first_conv.id).state == "closed"
    # Offered again, to someone else (the baker of Rouen), with a "reassigned" note to Léa.
    [new_conv] = Conversation.select().where(Conversation.state == "open")
    assert new_conv.ambassador.email == "amb2@pros.test"
    assert Request.get().state == "offered"
    purposes = [m.purpose for m in OutboundMail.select().where(OutboundMail.id > before)]
    assert purposes == ["intro", "reassigned", "bounce_ambassador_coordinator"]
    [notice] = queued_to("coordinator@mailflow.test")
    body = parse(bytes(notice.raw)).get_body(("plain",)).get_content()
    assert "amb1@pros.test" in body and "5.1.1" in body and "User unknown" in body
    bounce = InboundMessage.get(InboundMessage.outcome == "bounce-recorded")
    assert bounce.request_id == Request.get().id and bounce.role == "mail-system"
    assert not [m for m in OutboundMail.select() if "mailer-daemon" in m.recipient.lower()]

    # Marie is no longer offered anything; a second bounce the same day is not re-announced.
    ack_two = run(request_mail(BAKER, "Tom <tom@users.test>"), ctx=ctx)
    assert ack_two == {"request-offered": 1}
    assert Conversation.select().where(Conversation.ambassador == marie).count() == 1
    reminder_like = OutboundMail.create(
        idempotency_key="test:old-mail",
        purpose="reminder_ambassador",
        message_id=make_msgid(domain="mailflow.test"),
        envelope_from="relay@mailflow.test",
        recipient="amb1@pros.test",
        recipient_role="ambassador",
        raw=bytes(intro.raw),
        next_attempt_at=intro.created_at,
        created_at=intro.created_at,
    )
    assert run(dsn_for(reminder_like), ctx=ctx) == {"bounce-recorded": 1}
    assert len(queued_to("coordinator@mailflow.test")) == 1


def test_person_bounce_is_noted_on_the_request(ctx: Context) -> None:
    intro, ack = offered(ctx)
    assert run(dsn_for(ack, status="5.2.1"), ctx=ctx) == {"bounce-recorded": 1}
    request = Request.get()
    assert request.person_bounced_at is not None
    assert OutboundMail.get_by_id(ack.id).status == "bounced"
    assert Event.select().where(Event.kind == "person-bounced").count() == 1
    assert Ambassador.get(Ambassador.email == "amb1@pros.test").bounce_state == "ok"
    assert Conversation.get().state == "open" and request.state == "offered"
    assert OutboundMail.select().count() == 2  # nobody is written to


def test_transient_failure_is_only_logged(ctx: Context) -> None:
    intro, _ = offered(ctx)
    dsn = dsn_for(intro, status="4.2.2", action="delayed", diagnostic="smtp; 452 4.2.2 full")
    assert run(dsn, ctx=ctx) == {"bounce-recorded": 1}
    assert OutboundMail.get_by_id(intro.id).status == "queued"
    assert Ambassador.get(Ambassador.email == "amb1@pros.test").bounce_state == "ok"
    assert OutboundMail.select().count() == 2
    [event] = Event.select().where(Event.kind == "bounce")
    assert "delayed (4.2.2)" in event.cause


def test_forged_return_path_matches_nothing(ctx: Context) -> None:
    intro, _ = offered(ctx)
    real = verp_address(intro.envelope_from, intro.id)
    local, domain = real.split("@")
    body, signature = local.rsplit("-", 1)
    forged = f"{body}-{'a' * 10 if signature != 'a' * 10 else 'b' * 10}@{domain}"
    # The returned headers carry the real Message-ID: without a valid signature, no fallback.
    dsn = postfix_dsn(bytes(intro.raw), forged, intro.recipient)
    assert run(dsn, ctx=ctx) == {"bounce-unmatched": 1}
    assert OutboundMail.get_by_id(intro.id).status == "queued"
    assert Ambassador.get(Ambassador.email == "amb1@pros.test").bounce_state == "ok"
    assert OutboundMail.select().count() == 2
    [event] = Event.select().where(Event.kind == "bounce")
    assert "wrong or expired signature" in event.cause


def test_bounce_to_the_plain_address_falls_back_to_the_returned_message_id(
    ctx: Context,
) -> None:
    intro, _ = offered(ctx)  # e.g. a mail sent before return paths were signed
    dsn = postfix_dsn(bytes(intro.raw), "relay@mailflow.test", intro.recipient)
    assert run(dsn, ctx=ctx) == {"bounce-recorded": 1}
    assert OutboundMail.get_by_id(intro.id).status == "bounced"
    stranger = postfix_dsn(
        b"Message-ID: <nobody@elsewhere.test>\r\nSubject: x\r\n\r\n",
        "relay@mailflow.test",
        "amb2@pros.test",
    )
    assert run(stranger, ctx=ctx) == {"bounce-unmatched": 1}
    assert Ambassador.get(Ambassador.email == "amb2@pros.test").bounce_state == "ok"
