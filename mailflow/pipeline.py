"""The flow of one inbound message, in order: parse, classify, then relay or take a request.

Ingest (ingest.py) has already stored the raw bytes; everything decided here, including the
mails it causes (outbox), is written in one transaction, so a crash replays it whole or not
at all. Sending (send.py) and the server-side move (ingest.py) come after.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from .addresses import relay_token, sender
from .ambassador_mail import (
    find_ambassador,
    handle_ambassador_mail,
    note_autoreply_absence,
    refuse_stray_command,
)
from .bounces import handle_bounce
from .classify import AUTO_REPLY, BOUNCE, classify
from .clock import stamp
from .context import Context
from .intake import handle_new_request
from .limits import TOO_LARGE, oversize_reason, refuse_too_large
from .models import InboundMessage, database
from .readable import subject_of
from .record import log_event
from .relay import handle_relay
from .resilience import DATABASE_ERRORS

log = logging.getLogger(__name__)

QUARANTINED = "quarantined"
NO_SENDER = "no-sender"
OWN_ADDRESS = "own-address"


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def dispatch(ctx: Context, inbound: InboundMessage, msg: EmailMessage) -> str:
    """Decide what this message is and what to do; returns the named outcome."""
    token = relay_token(msg, ctx.cfg.relay)
    verdict = classify(msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain)
    inbound.reason = verdict.reason
    if verdict.automated:
        if token:
            inbound.relay_token = token
        if verdict.outcome == BOUNCE:  # mapped to the mail it is about; never answered
            return handle_bounce(ctx, inbound, msg)
        if verdict.outcome == AUTO_REPLY:  # an ambassador's out-of-office may give a date
            note_autoreply_absence(ctx, inbound, msg)
        return verdict.outcome
    who = sender(msg)
    if who is None:
        return NO_SENDER
    name, address = who
    inbound.sender = address
    if address == ctx.cfg.relay.address.lower():
        return OWN_ADDRESS
    oversize = oversize_reason(inbound.size, ctx.cfg.limits)
    if oversize:  # kept in quarantine, the sender told; nothing forwarded
        return refuse_too_large(ctx, inbound, msg, address, oversize)
    if token:
        return handle_relay(ctx, inbound, msg, token, address)
    ambassador = find_ambassador(address)  # any registered address, even a former one
    if ambassador is not None:
        return handle_ambassador_mail(ctx, inbound, msg, ambassador)
    inbound.role = "person"
    refused = refuse_stray_command(ctx, inbound, msg, address)  # "STOP" alone, etc.
    return refused or handle_new_request(ctx, inbound, msg, name, address)


def process(ctx: Context, inbound: InboundMessage) -> str:
    """Process one stored message exactly once; an error quarantines it, never loses it."""
    try:
        with database.atomic():
            msg = parse(bytes(inbound.raw))
            inbound.subject = subject_of(msg)[:998]
            outcome = dispatch(ctx, inbound, msg)
            status = QUARANTINED if outcome == TOO_LARGE else "processed"
            inbound.outcome, inbound.status, inbound.processed_at = outcome, status, stamp()
            inbound.save()
            log_event(
                "processed",
                f"inbound message: {outcome}",
                inbound=inbound,
                request=inbound.request_id,
                conversation=inbound.conversation_id,
            )
        return outcome
    except DATABASE_ERRORS:
        raise  # a locked or absent database is passing: the message stays stored, retried
    except Exception as exc:  # any other failure: keep the message, visibly
        log.exception("message %s quarantined", inbound.id)
        quarantine(inbound.id, f"{type(exc).__name__}: {exc}")
        return QUARANTINED


def quarantine(inbound_id: int, reason: str) -> None:
    with database.atomic():
        InboundMessage.update(
            status="quarantined", outcome=QUARANTINED, reason=reason[:2000], processed_at=stamp()
        ).where(InboundMessage.id == inbound_id).execute()
        log_event("quarantine", reason[:2000], inbound=inbound_id)


def process_pending(ctx: Context) -> dict[str, int]:
    """Every stored, unprocessed message, oldest first."""
    counts: dict[str, int] = {}
    pending = InboundMessage.select(InboundMessage.id).where(InboundMessage.status == "stored")
    for row in pending.order_by(InboundMessage.id):
        inbound = InboundMessage.get_by_id(row.id)
        outcome = process(ctx, inbound)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
