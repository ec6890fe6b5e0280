"""A bounce (DSN) comes back: find the exact mail it is about, and act on a dead address.

The DSN is matched through the signed return path it was sent to (store/verp.py), else through
the Message-ID of the returned message. A permanent failure (5.x.x) marks that mail
bounced; an ambassador's dead address stops new requests, hands their open conversations
to someone else and tells the coordinator (once a day); a person's dead address is noted on
the request. A transient failure (4.x.x) is only logged. A bounce is never answered.
"""

from __future__ import annotations

from email.message import EmailMessage

from peewee import fn

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import header_addresses
from mailflow.core.classify import BOUNCE
from mailflow.core.dsn import (
    DELIVERED,
    PERMANENT,
    TRANSIENT,
    DeliveryReport,
    Verdict,
    judge,
    parse_dsn,
)
from mailflow.core.outcomes import OutboxStatus, Outcome
from mailflow.services.unreachable import REASSIGN_CAUSE as REASSIGN_CAUSE
from mailflow.services.unreachable import ambassador_failing
from mailflow.store.models import Ambassador, InboundMessage, OutboundMail
from mailflow.store.record import log_event
from mailflow.store.verp import looks_like_verp, parse_verp

BOUNCE_RECORDED = Outcome.BOUNCE_RECORDED
BOUNCE_UNMATCHED = Outcome.BOUNCE_UNMATCHED
_RETURN_PATH_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")


def handle_bounce(ctx: Context, inbound: InboundMessage, msg: EmailMessage) -> str:
    """Runs inside the caller's transaction; returns the named outcome."""
    inbound.role = "mail-system"
    report = parse_dsn(msg)
    outbound, how = find_outbound(ctx, msg, report)
    if outbound is None:
        if report is None and how == "":  # a mailer-daemon notice naming nothing of ours
            log_event("bounce", "bounce without delivery report or return path", inbound=inbound)
            return BOUNCE
        log_event("bounce", f"bounce matched no outgoing mail: {how}", inbound=inbound)
        return BOUNCE_UNMATCHED
    inbound.request, inbound.conversation = outbound.request_id, outbound.conversation_id
    verdict = judge(report, msg, outbound.recipient)
    detail = f"{outbound.purpose} mail #{outbound.id} to the {outbound.recipient_role}"
    where = {"request": outbound.request_id, "conversation": outbound.conversation_id}
    if verdict.severity != PERMANENT:
        what = {
            TRANSIENT: f"delivery delayed ({verdict.status or '4.x.x'}), still being retried",
            DELIVERED: "delivery confirmed",
        }.get(verdict.severity, "delivery report without a failure status")
        log_event(
            "bounce",
            f"{detail}: {what} (matched by {how})",
            inbound=inbound,
            outbound=outbound,
            **where,
        )
        return BOUNCE_RECORDED
    _mark_bounced(outbound, verdict, inbound, f"{detail} bounced (matched by {how})")
    ambassador = Ambassador.get_or_none(
        fn.LOWER(Ambassador.email) == outbound.recipient.strip().lower()
    )
    if ambassador is not None:
        ambassador_failing(ctx, ambassador, verdict, inbound)
    elif outbound.recipient_role == "person" and outbound.request is not None:
        request = outbound.request
        request.person_bounced_at = stamp()
        request.save()
        log_event(
            "person-bounced",
            f"the person's address bounced ({verdict.status}): mail to them cannot arrive",
            request=request,
            conversation=outbound.conversation_id,
            inbound=inbound,
        )
    return BOUNCE_RECORDED


def find_outbound(
    ctx: Context, msg: EmailMessage, report: DeliveryReport | None
) -> tuple[OutboundMail | None, str]:
    """The mail a bounce is about, and how it was found (or why not; "" = no clue at all).

    A return path of ours with a bad signature is a forgery (or expired): no fallback then.
    """
    relay = ctx.cfg.relay
    candidates = [report.dsn_recipient] if report and report.dsn_recipient else []
    for name in _RETURN_PATH_HEADERS:
        candidates += [address for _, address in header_addresses(msg, name)]
    ours = [a for a in candidates if looks_like_verp(a, relay)]
    for address in ours:
        outbound_id = parse_verp(address, relay)
        row = OutboundMail.get_or_none(OutboundMail.id == outbound_id) if outbound_id else None
        if row is not None:
            return row, "signed return path"
    if ours:
        return None, f"return path {ours[0]} has a wrong or expired signature"
    returned = report.returned_message_id if report else None
    if returned:
        row = OutboundMail.get_or_none(OutboundMail.message_id == returned)
        if row is not None:
            return row, "Message-ID of the returned message"
        return None, f"returned message {returned} is not one of ours"
    return None, "" if report is None else "no return path and no returned Message-ID"


def _mark_bounced(
    outbound: OutboundMail, verdict: Verdict, inbound: InboundMessage, cause: str
) -> None:
    outbound.status, outbound.bounced_at = OutboxStatus.BOUNCED, stamp()
    outbound.bounce_status = (verdict.status or "5.0.0")[:16]
    outbound.save()
    why = f" - {verdict.diagnostic}" if verdict.diagnostic else ""
    log_event(
        "bounce",
        f"{cause}: permanent failure {outbound.bounce_status}{why}",
        request=outbound.request_id,
        conversation=outbound.conversation_id,
        inbound=inbound,
        outbound=outbound,
    )
