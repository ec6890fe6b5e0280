"""Why a conversation's relay addresses were closed, and what each side is told about it.

A conversation is closed (`Conversation.state` "closed") for one reason, stored as a short
code in `closed_reason`; the full cause goes to the log. Whoever writes through a closed
relay address later gets a notice (inbound/relay.py) whose words follow that reason and where the
request stands now: with another ambassador, still looked for, or over.
"""

from __future__ import annotations

from typing import Any

from mailflow.clock import stamp
from mailflow.core import lifecycle as lc
from mailflow.core.tried import PastOffer, excluded
from mailflow.services.views import ambassador_view
from mailflow.store.models import Conversation, InboundMessage, Request
from mailflow.store.record import log_event

NO_ANSWER = "no-answer"  # reassigned: the ambassador did not answer in time
AWAY = "away"  # reassigned: the ambassador is away past the reassignment deadline
LEFT = "left"  # the ambassador left the network (STOP)
UNREACHABLE = "unreachable"  # the ambassador's address bounced
COORDINATOR = "coordinator"  # the coordinator gave the request to another ambassador
PERSON_STOPPED = "person-stopped"  # the person wrote STOP
REQUEST_CLOSED = "request-closed"  # the request was closed or withdrawn by the coordinator
EARLIER_ANSWERED = "earlier-answered"  # the ambassador offered it before answered late
REASONS = (
    NO_ANSWER,
    AWAY,
    LEFT,
    UNREACHABLE,
    COORDINATOR,
    PERSON_STOPPED,
    REQUEST_CLOSED,
    EARLIER_ANSWERED,
)
AMBASSADOR_GONE = (LEFT, UNREACHABLE)  # the ambassador cannot go on: a live exchange ends

# What the person's side is told when a request is handed on (templates/mails/*.txt `why`).
ELSEWHERE, SEARCHING, OVER = "elsewhere", "searching", "over"


def reason_of(closed_reason: str | None) -> str:
    """The reason code of a closed conversation; older rows stored the cause's first 40
    characters ("ambassador left the network (STOP)", "personal data erased"...)."""
    value = (closed_reason or "").strip().lower()
    if value in REASONS:
        return value
    if "stop" in value or "left" in value:
        return LEFT
    if "bounce" in value:
        return UNREACHABLE
    if "away" in value:
        return AWAY
    if "erased" in value or "closed" in value or "withdrawn" in value:
        return REQUEST_CLOSED
    return NO_ANSWER


def not_again(request: Request) -> frozenset[int]:
    """The ambassadors this request must not be offered to again (core/tried.py): all who
    had it, except those skipped only because they were away."""
    return excluded(
        PastOffer(
            ambassador_id=c.ambassador_id,
            open=c.state == "open",
            reason=reason_of(c.closed_reason) if c.state != "open" else None,
            answered=c.ambassador_answered_at is not None,
        )
        for c in request.conversations
    )


def close_conversation(
    conv: Conversation, reason: str, cause: str, inbound: InboundMessage | None = None
) -> None:
    """Close both relay addresses of `conv` for `reason`, logging `cause`."""
    if reason not in REASONS:
        raise ValueError(f"unknown closing reason {reason!r}")
    conv.state, conv.closed_at, conv.closed_reason = "closed", stamp(), reason
    conv.save()
    log_event(
        "closed",
        f"relay addresses of conversation #{conv.id} closed: {cause}",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )


def open_conversations(**where: Any) -> list[Conversation]:
    """Open conversations, oldest first, filtered by field (request=..., ambassador=...)."""
    query = Conversation.select().where(Conversation.state == "open")
    for name, value in where.items():
        query = query.where(getattr(Conversation, name) == value)
    return list(query.order_by(Conversation.id))


def closed_notice_data(conv: Conversation) -> dict[str, Any]:
    """What a notice about the closed `conv` needs: why it closed, and where its request
    stands now (`current`: the ambassador it is with now, if any)."""
    request = conv.request
    others = [c for c in open_conversations(request=request) if c.id != conv.id]
    current = ambassador_view(others[-1].ambassador) if others else None
    if current is not None:
        outcome = ELSEWHERE
    elif request.state in (lc.REASSIGNED, lc.UNMATCHED):
        outcome = SEARCHING
    else:
        outcome = OVER
    return {"why": reason_of(conv.closed_reason), "current": current, "outcome": outcome}
