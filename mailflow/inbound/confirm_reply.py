"""The reply to a confirmation mail (confirm.py): it applies the pending command, once.

The reply comes to `relay+TOKEN@...` from the address the confirmation went to; any text
confirms (an automatic reply never gets here: the classifier keeps it out). A second reply
changes nothing; one after the delay says the command expired.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import message_id_of
from mailflow.core.outcomes import Outcome
from mailflow.inbound.ambassador_mail import handle_ambassador_mail
from mailflow.inbound.feedback import handle_feedback
from mailflow.services.confirm import (
    AMBASSADOR,
    CONFIRMED,
    EVENT,
    EXPIRED,
    FEEDBACK,
    expire,
    role_of,
)
from mailflow.services.ending import handle_person_stop
from mailflow.services.notices import reply
from mailflow.store.directory import find_ambassador
from mailflow.store.models import InboundMessage, PendingCommand, Request
from mailflow.store.record import log_event

CONFIRMATION_REPEATED = Outcome.CONFIRMATION_REPEATED
CONFIRMATION_EXPIRED = Outcome.CONFIRMATION_EXPIRED


def handle_confirmation(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, pending: PendingCommand
) -> str:
    """Runs in the caller's transaction, which holds the command's locks (pipeline.lock_for)."""
    inbound.role = role_of(pending.kind)
    request = Request.get_or_none(Request.id == pending.request_id)
    inbound.request = inbound.request or request
    if pending.state == CONFIRMED:
        log_event(
            EVENT,
            f"{pending.kind} {pending.command} (#{pending.id}) already confirmed on "
            f"{pending.done_at:%Y-%m-%d %H:%M}: nothing done again",
            request=request,
            inbound=inbound,
        )
        return CONFIRMATION_REPEATED
    original = InboundMessage.get_or_none(InboundMessage.id == pending.inbound_id)
    if pending.state == EXPIRED or pending.expires_at <= stamp() or original is None:
        if pending.state != EXPIRED:
            expire(pending, inbound)
        reply(
            ctx,
            inbound,
            "confirm_expired",
            pending.address,
            message_id_of(msg),
            {"kind": pending.kind},
            request=request,
            role=inbound.role,
        )
        return CONFIRMATION_EXPIRED
    pending.state, pending.done_at, pending.done_inbound_id = CONFIRMED, stamp(), inbound.id
    pending.save()
    log_event(
        EVENT,
        f"{pending.kind} {pending.command} (#{pending.id}) confirmed by a reply from the "
        f"{inbound.role}'s address: applied now",
        request=request,
        inbound=inbound,
    )
    raw = original.raw if isinstance(original.raw, bytes) else bytes(original.raw)
    asked: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    if pending.kind == AMBASSADOR:
        ambassador = find_ambassador(pending.address)
        if ambassador is None:  # erased from the directory meanwhile
            return CONFIRMATION_EXPIRED
        return handle_ambassador_mail(ctx, inbound, asked, ambassador, confirmed=True)
    if pending.kind == FEEDBACK:
        if request is None:  # erased meanwhile
            return CONFIRMATION_EXPIRED
        return handle_feedback(ctx, inbound, asked, request, pending.address, confirmed=True)
    return handle_person_stop(ctx, inbound, asked, pending.address, confirmed=True)
