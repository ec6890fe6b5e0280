"""Queueing outgoing mail in the same transaction as the decision that caused it."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.store.models import Conversation, InboundMessage, OutboundMail, Request
from mailflow.store.record import log_event


def queue_mail(
    msg: EmailMessage,
    *,
    key: str,
    purpose: str,
    envelope_from: str,
    recipient: str,
    recipient_role: str,
    request: Request | None = None,
    conversation: Conversation | None = None,
    inbound: InboundMessage | None = None,
    at: datetime | None = None,
    held_for: OutboundMail | None = None,
) -> OutboundMail:
    """Store the exact bytes to send; a second call with the same key returns the first row.

    The key names the decision ("intro:conv:12"), so replaying a decision never mails twice.
    `at` (default: now) is the instant of that decision, when the caller took it earlier in
    its transaction and the mail must say so (the digest covers up to that instant).
    `held_for`: the row this one waits for (sent once that one is accepted by the server,
    transport/send.py; cancelled when it is refused, services/unreachable.py).
    """
    existing = OutboundMail.get_or_none(OutboundMail.idempotency_key == key)
    if existing is not None:
        return existing
    now = at or stamp()
    row = OutboundMail.create(
        idempotency_key=key,
        purpose=purpose,
        message_id=str(msg["Message-ID"]),
        envelope_from=envelope_from,
        recipient=recipient,
        recipient_role=recipient_role,
        subject=str(msg["Subject"] or ""),
        raw=msg.as_bytes(policy=policy.SMTP),
        next_attempt_at=now,
        created_at=now,
        request=request,
        conversation=conversation,
        inbound=inbound,
        held_for=held_for.id if held_for is not None else None,
    )
    log_event(
        "queued",
        f"{purpose} mail queued for the {recipient_role}",
        request=request,
        conversation=conversation,
        inbound=inbound,
        outbound=row,
    )
    return row
