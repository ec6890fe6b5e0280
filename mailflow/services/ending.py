"""Ending a request: at its natural end (`close_request`, after the feedback), or before
it: the person's STOP, the coordinator's close.

Either way the request leaves the life cycle (`withdrawn` or `closed`, logged with its
cause), its relay addresses close (a later mail through them gets a notice that says why,
inbound/relay.py), mail still queued for the person about it is cancelled, and no follow-up runs
for it any more (they only look at open states). The ambassador of a live exchange is told
politely, once, in the thread of their introduction.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import consent
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import message_id_of
from mailflow.core.commands import STOP, command_of
from mailflow.core.outcomes import OutboxStatus, Outcome
from mailflow.services.confirm import PERSON_STOP as PERSON_STOP_KIND
from mailflow.services.confirm import ask_confirmation, needs_confirmation
from mailflow.services.conversation_mail import AMBASSADOR, mail_to_side
from mailflow.services.handover import PERSON_STOPPED, close_conversation, open_conversations
from mailflow.services.notices import send_auto
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.models import (
    Consent,
    Conversation,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
)
from mailflow.store.record import log_event, move_request

PERSON_STOP = Outcome.PERSON_STOP
STOP_CAUSE = "the person wrote STOP"
OPEN, FINISHED = "open", "finished"  # Conversation.state
LIVE = (lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION)  # an ambassador may be writing to them


def end_request(
    ctx: Context,
    request: Request,
    state: str,
    reason: str,
    cause: str,
    inbound: InboundMessage | None = None,
    *,
    tell_ambassador: bool = True,
) -> list[str]:
    """Move an open request to `state` (closed or withdrawn) for `reason` (handover.py);
    returns the first names of the ambassadors told. Runs in the caller's transaction."""
    live = request.state in LIVE
    told: list[str] = []
    for conv in open_conversations(request=request):
        close_conversation(conv, reason, cause, inbound)
        if live and tell_ambassador:
            mail_to_side(
                ctx,
                conv,
                AMBASSADOR,
                "exchange_ended_ambassador",
                key=f"exchange-ended:{conv.id}",
                data={
                    "request": request_view(request, ctx.ref),
                    "ambassador": ambassador_view(conv.ambassador),
                    "why": reason,
                    "answered": conv.ambassador_answered_at is not None,
                },
                in_thread=True,
                request=request,
                inbound=inbound,
            )
            told.append(conv.ambassador.first_name)
    cancelled = (
        OutboundMail.update(
            status=OutboxStatus.FAILED, last_error=f"cancelled: request {state} ({cause})"
        )
        .where(
            (OutboundMail.request == request)
            & (OutboundMail.recipient_role == "person")
            & (OutboundMail.status == OutboxStatus.QUEUED)
        )
        .execute()
    )
    if cancelled:
        log_event(
            "cancelled",
            f"{cancelled} mail(s) queued for the person cancelled: request {state}",
            request=request,
            inbound=inbound,
        )
    asked = (  # a child's request ended before its consent was decided (STOP, a coordinator)
        Consent.update(state=consent.WITHDRAWN, decided_at=stamp(), decided_by="request ended")
        .where((Consent.request_id == request.id) & (Consent.state == consent.PENDING))
        .execute()
    )
    if asked:
        log_event(
            "consent", f"consent no longer asked: request {state}", request=request, inbound=inbound
        )
    request.closed_at = stamp()
    request.save()
    move_request(request, state, cause, inbound)
    return told


def close_request(request: Request, cause: str, inbound: InboundMessage | None = None) -> None:
    """The request is over; its conversation stays writable but no longer counts as load."""
    request.closed_at = stamp()
    request.save()
    Conversation.update(state=FINISHED).where(
        (Conversation.request == request) & (Conversation.state == OPEN)
    ).execute()
    move_request(request, lc.CLOSED, cause, inbound)


# -- the person's STOP -----------------------------------------------------------------------


def is_person_stop(ctx: Context, msg: EmailMessage) -> bool:
    """STOP as a command word (never a synonym: ordinary French), in the subject or the
    first line, and not forwarded (core/commands.read_command)."""
    command = command_of(msg, ctx.rules.commands, strict=True)
    return command is not None and command.name == STOP


def open_requests(address: str) -> list[Request]:
    person = Person.get_or_none(Person.email == address.strip().lower())  # stored lower-case
    if person is None:
        return []
    query = Request.select().where(
        (Request.person == person) & Request.state.in_(sorted(lc.OPEN_STATES))
    )
    return list(query.order_by(Request.id))


def handle_person_stop(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    address: str,
    *,
    confirmed: bool = False,
) -> str:
    """The person wrote STOP (to the shared address, or through one of their own relay or
    feedback addresses): every open request of theirs is withdrawn, each ambassador of a
    live exchange is told, and the person gets one confirmation. Runs in the caller's
    transaction, which holds the locks of the person's requests (pipeline.lock_for).

    With nothing open it is only recorded, never answered: the From may be someone who
    never wrote to us. From unproven mail it waits for the person's confirmation
    (services/confirm.py), unless `confirmed`."""
    inbound.role = "person"
    requests = open_requests(address)
    if not requests:
        log_event(
            "person-stop",
            "the person wrote STOP: no open request; recorded, not answered",
            inbound=inbound,
        )
        return PERSON_STOP
    if not confirmed and needs_confirmation(ctx, inbound, msg, PERSON_STOP_KIND):
        inbound.request = inbound.request or requests[0]
        return ask_confirmation(
            ctx, inbound, msg, PERSON_STOP_KIND, STOP, address, word="STOP", request=requests[0]
        )
    views, told = [], []
    for request in requests:
        views.append(request_view(request, ctx.ref))
        told += end_request(ctx, request, lc.WITHDRAWN, PERSON_STOPPED, STOP_CAUSE, inbound)
    inbound.request = inbound.request or (requests[0] if requests else None)
    log_event(
        "person-stop",
        f"the person wrote STOP: {len(requests)} open request(s) withdrawn, "
        f"{len(told)} ambassador(s) told",
        request=requests[0] if len(requests) == 1 else None,
        inbound=inbound,
    )
    data = {"withdrawn": views, "told": told}
    send_auto(  # news: confirmed once per message, whatever was sent before
        ctx,
        "person_stop",
        key=f"person-stop:{inbound.id}",
        to=address,
        role="person",
        data=data,
        in_reply_to=message_id_of(msg),
        request=requests[0],
        inbound=inbound,
    )
    return PERSON_STOP
