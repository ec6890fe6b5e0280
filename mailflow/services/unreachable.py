"""An ambassador who cannot be reached, however we learn it: a delivery report (DSN,
inbound/bounces.py) or the SMTP server refusing the introduction outright (a 5xx reply at
RCPT or DATA, transport/send.py). Both take the same path, `ambassador_failing`.

A refused introduction (`refused_intro`, found by `refused_intros` after each flush of the
outbox, daemon.py) also means that the ambassador never heard of the request: the person's
mail that announced them, held until the server accepted the introduction (`held_for`,
services/intake.py), is cancelled, and the request goes at once to the next candidate, the
person hearing only of that one; with nobody left it waits for the coordinator. The
coordinator is alerted (services/alerts.py) with the request number.
"""

from __future__ import annotations

import re

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.alerts import AlertKind
from mailflow.core.dsn import PERMANENT, Verdict
from mailflow.core.outcomes import OutboxStatus
from mailflow.services.alerts import alert
from mailflow.services.handover import (
    UNREACHABLE,
    close_conversation,
    open_conversations,
    reason_of,
)
from mailflow.services.intake import best_choice, eligible, offer, want_of
from mailflow.services.notices import notify_coordinator
from mailflow.services.reassign import describe_handover, escalate, hand_over_all, reassign
from mailflow.services.views import ambassador_view
from mailflow.store.leases import lock_routing
from mailflow.store.models import Ambassador, Event, InboundMessage, OutboundMail
from mailflow.store.record import log_event, move_request

REASSIGN_CAUSE = "ambassador address bounced"
REFUSED_CAUSE = "introduction refused by the SMTP server"
REFUSED_EVENT = "intro-refused"  # the event that marks a refused intro as acted on
CANCELLED_EVENT = "send-cancelled"
SEND_FAILED_EVENT = "send-failed"  # transport/send.py
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
# What the person is told when nobody is left, after the mail they were to get (its
# template) was cancelled; None: nothing (they were told before that we are looking).
_NOBODY_LEFT = {"ack": "unmatched", "reassigned": "still_looking", "handover": "handover"}


def ambassador_failing(
    ctx: Context,
    ambassador: Ambassador,
    verdict: Verdict,
    inbound: InboundMessage | None,
    outbound_id: int | None = None,
) -> None:
    """No new requests; open conversations go to the next ambassador; the coordinator
    hears of it once a day per ambassador, with what to fix. `inbound`: the DSN; without
    it, `outbound_id` is the mail the server refused."""
    ambassador.bounce_state, ambassador.bounced_at = "failing", stamp()
    ambassador.updated_at = stamp()
    ambassador.save()
    requests = [conv.request_id for conv in open_conversations(ambassador=ambassador)]
    done = hand_over_all(ctx, ambassador, UNREACHABLE, REASSIGN_CAUSE, inbound)
    how = "bounced" if inbound is not None else "refused by the SMTP server"
    log_event(
        "ambassador",
        f"ambassador #{ambassador.id}: address {how} ({verdict.status}); no new requests, "
        f"{describe_handover(done)}",
        inbound=inbound,
        outbound=outbound_id,
    )
    notify_coordinator(
        ctx,
        inbound,
        "bounce_ambassador_coordinator",
        {
            "ambassador": ambassador_view(ambassador),
            "email": ambassador.email,
            "status": verdict.status,
            "diagnostic": verdict.diagnostic,
            "requests": requests,
            "inbound_id": inbound.id if inbound is not None else None,
            "outbound_id": outbound_id,
        },
        key=f"bounce-ambassador:{ambassador.id}:{stamp().date().isoformat()}",
    )


def refused_intros() -> list[int]:
    """The intros the server refused (or gave up on: `failed` by transport/send.py) that
    were not acted on yet, oldest first."""
    failed = Event.select(Event.outbound).where(Event.kind == SEND_FAILED_EVENT)
    handled = Event.select(Event.outbound).where(Event.kind == REFUSED_EVENT)
    query = OutboundMail.select(OutboundMail.id).where(
        (OutboundMail.purpose == "intro")
        & (OutboundMail.status == OutboxStatus.FAILED)
        & OutboundMail.conversation.is_null(False)
        & OutboundMail.id.in_(failed)
        & OutboundMail.id.not_in(handled)
    )
    return [row_id for (row_id,) in query.order_by(OutboundMail.id).tuples()]


def smtp_verdict(error: str | None, recipient: str) -> Verdict | None:
    """The server's refusal as a DSN would say it; None when it was no permanent refusal
    (transport/send.py gave up after too many temporary failures)."""
    text = (error or "").strip()
    if text[:1] != "5":
        return None
    found = _ENHANCED.search(text)
    status = found.group(1) if found else text[:3]
    return Verdict(PERMANENT, status, recipient, text)


def refused_intro(ctx: Context, outbound_id: int) -> str:
    """Act on one refused intro, in the caller's transaction (its request locked); once:
    another process may have acted on it meanwhile. Returns "intro-refused" when it did."""
    done = Event.select().where((Event.kind == REFUSED_EVENT) & (Event.outbound == outbound_id))
    if done.exists():
        return ""
    row = OutboundMail.get_by_id(outbound_id)
    conv, request = row.conversation, row.request
    ambassador = conv.ambassador
    log_event(
        REFUSED_EVENT,
        f"intro mail #{row.id} to ambassador #{ambassador.id} not delivered: {row.last_error}",
        request=request,
        conversation=conv,
        outbound=row,
    )
    cancelled = _cancel_held(row)
    if conv.state != "open":
        return "intro-refused"  # the request moved on meanwhile (closed, reassigned by hand)
    verdict = smtp_verdict(row.last_error, row.recipient)
    code = f" ({verdict.status})" if verdict else ""
    alert(
        ctx,
        AlertKind.INTRO_REFUSED,
        request.id,
        f"la présentation à {ambassador.first_name} n'a pas pu partir : le serveur d'envoi "
        f"l'a refusée{code}",
    )
    if cancelled is None:  # the person was told of this ambassador (an older outbox)
        reassign(ctx, conv, UNREACHABLE, REFUSED_CAUSE, None)
    else:
        _offer_again(ctx, conv, cancelled)
    if verdict is not None and ambassador.bounce_state != "failing":
        ambassador_failing(ctx, ambassador, verdict, None, outbound_id=row.id)
    return "intro-refused"


def _cancel_held(intro: OutboundMail) -> OutboundMail | None:
    """Cancel the person's mail held for this intro; returns it (None: there was none)."""
    held = (
        OutboundMail.select()
        .where((OutboundMail.held_for == intro.id) & (OutboundMail.status == OutboxStatus.QUEUED))
        .order_by(OutboundMail.id)
        .first()
    )
    if held is None:
        return None
    held.status, held.last_error = (
        OutboxStatus.FAILED,
        "cancelled: the intro it announced was refused",
    )
    held.save()
    log_event(
        CANCELLED_EVENT,
        f"{held.purpose} mail #{held.id} to the {held.recipient_role} cancelled: the intro "
        f"#{intro.id} it announced was refused",
        request=held.request_id,
        conversation=held.conversation_id,
        outbound=held,
    )
    return held


def _offer_again(ctx: Context, conv, cancelled: OutboundMail) -> None:  # noqa: ANN001
    """The person never heard of this ambassador: the next one is offered with the mail
    they were to get (its template and what it said of an earlier ambassador)."""
    request = conv.request
    close_conversation(conv, UNREACHABLE, REFUSED_CAUSE)
    if request.state not in (lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION):
        return
    template = cancelled.purpose
    earlier = sorted((c for c in request.conversations if c.id < conv.id), key=lambda c: c.id)
    extra = None
    if template in ("reassigned", "handover") and earlier:
        previous = earlier[-1]
        extra = {
            "previous": ambassador_view(previous.ambassador),
            "why": reason_of(previous.closed_reason),
        }
    move_request(request, lc.REASSIGNED, REFUSED_CAUSE)
    tried = frozenset(c.ambassador_id for c in request.conversations)
    lock_routing()
    choice = best_choice(want_of(request, ctx.ref), tried, ctx.matching, eligible(ctx, request))
    if choice is not None:
        offer(ctx, None, request, choice, None, person_template=template, extra=extra)
        return
    cause = f"{REFUSED_CAUSE}; no other ambassador available"
    told = _NOBODY_LEFT.get(template)
    if told is None:  # the daily retry's "found": they were told we are still looking,
        move_request(request, lc.UNMATCHED, cause)  # and the coordinator is alerted above
        return
    escalate(ctx, request, cause, None, person_template=told, extra=extra)
