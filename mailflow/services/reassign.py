"""Handing a request on: to the next ambassador, or to the coordinator when nobody is left.

Shared by the follow-ups (an ambassador who does not answer, or is away) and by everything
that makes an ambassador leave (STOP by mail, a dead address in inbound/bounces.py, erasure in
privacy/ambassador_erase.py): the person is told the same way whatever the cause.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.alerts import AlertKind
from mailflow.services.alerts import alert, is_capped
from mailflow.services.handover import close_conversation, not_again, open_conversations
from mailflow.services.intake import best_choice, eligible, offer, want_of
from mailflow.services.notices import notify_coordinator, send_auto
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.leases import lock_routing
from mailflow.store.models import Ambassador, Conversation, InboundMessage, OutboundMail, Request
from mailflow.store.record import log_event, move_request

HANDED_OVER, ESCALATED, ENDED = "handed-over", "escalated", "ended"


def reassign(
    ctx: Context,
    conv: Conversation,
    reason: str,
    cause: str,
    inbound,  # noqa: ANN001 - InboundMessage | None
) -> str:
    """Close this ambassador's relay addresses (handover.py `reason`) and offer the request
    to the next one, or escalate to the coordinator when nobody is left. Runs in the
    caller's transaction; returns what happened to the request: HANDED_OVER to another
    ambassador, ESCALATED, or ENDED (nothing left to hand over: its exchange was over).

    The person is told in words that fit: a new ambassador after a silent one
    (reassigned.txt), or, when the ambassador had answered and leaves, that their exchange
    stops there and who takes over, if anyone (handover.txt)."""
    request = conv.request
    close_conversation(conv, reason, cause, inbound)
    if request.state not in (lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION):
        return ENDED
    live = conv.ambassador_answered_at is not None  # they had answered: an exchange ends
    move_request(request, lc.REASSIGNED, cause, inbound)
    lock_routing()
    choice = best_choice(
        want_of(request, ctx.ref), not_again(request), ctx.matching, eligible(ctx, request)
    )
    told = {"previous": ambassador_view(conv.ambassador), "why": reason}
    if choice is not None:
        template = "handover" if live else "reassigned"
        offer(ctx, inbound, request, choice, None, person_template=template, extra=told)
        return HANDED_OVER
    cause = f"{cause}; no other ambassador available"
    if live:
        escalate(ctx, request, cause, inbound, person_template="handover", extra=told)
    else:
        escalate(ctx, request, cause, inbound)
    return ESCALATED


def hand_over_all(
    ctx: Context, ambassador: Ambassador, reason: str, cause: str, inbound: InboundMessage
) -> Counter[str]:
    """Every open conversation of an ambassador who cannot go on (STOP, dead address) is
    closed and its request handed on; counts what really happened to each."""
    done: Counter[str] = Counter()
    for conv in open_conversations(ambassador=ambassador):
        done[reassign(ctx, conv, reason, cause, inbound)] += 1
    return done


def describe_handover(done: Counter[str]) -> str:
    total = sum(done.values())
    return (
        f"{total} open conversation(s): {done[HANDED_OVER]} handed over, "
        f"{done[ESCALATED]} escalated to the coordinator, "
        f"{done[ENDED]} ended (exchange already over)"
    )


def escalate(
    ctx: Context,
    request: Request,
    cause: str,
    inbound,  # noqa: ANN001 - InboundMessage | None
    person_template: str = "still_looking",
    extra: dict[str, Any] | None = None,
) -> None:
    """Nobody left: the request waits `unmatched` for the coordinator (and the daily
    retry, `retry_unmatched`); both the coordinator and the person are told. The keys
    count the request's conversations: a request escalated again after a later offer is
    news again, the same escalation replayed is not."""
    request.escalated_at = stamp()
    request.save()
    move_request(request, lc.UNMATCHED, cause, inbound)
    log_event("escalated", cause, request=request, inbound=inbound)
    view = request_view(request, ctx.ref)
    round_ = request.conversations.count()
    key = f"escalation:{request.id}:{round_}"
    said = ctx.rules.labels.cause(cause)  # stored in English, told in French
    where = view["place"] or "lieu non précisé"
    what = view["trade_label"] or "métier non compris"
    if is_capped(ctx, AlertKind.ESCALATED):  # one mail of the kind this hour already
        alert(ctx, AlertKind.ESCALATED, request.id, f"{what}, {where} : {said}")
    else:
        notify_coordinator(
            ctx,
            inbound,
            "escalation_coordinator",
            {"request": view, "cause": said},
            request=request,
            key=key,
        )
        told = OutboundMail.get_or_none(OutboundMail.idempotency_key == key)
        alert(ctx, AlertKind.ESCALATED, request.id, f"{what}, {where}", told)
    send_auto(
        ctx,
        person_template,
        key=f"{person_template}:{request.id}:{round_}",
        to=request.person.email,
        role="person",
        data={"request": view, "ambassador": None, **(extra or {})},
        request=request,
        inbound=inbound,
    )
