"""Writing the exchange log: every state change with its cause."""

from __future__ import annotations

from peewee import fn

from mailflow.clock import stamp
from mailflow.core.lifecycle import check_transition
from mailflow.store.models import Conversation, Event, InboundMessage, OutboundMail, Request


def log_event(
    kind: str,
    cause: str,
    *,
    request: Request | None = None,
    conversation: Conversation | None = None,
    inbound: InboundMessage | None = None,
    outbound: OutboundMail | None = None,
    old_state: str | None = None,
    new_state: str | None = None,
) -> Event:
    return Event.create(
        at=stamp(),
        kind=kind,
        cause=cause,
        request=request,
        conversation=conversation,
        inbound=inbound,
        outbound=outbound,
        old_state=old_state,
        new_state=new_state,
    )


def move_request(
    request: Request, new_state: str, cause: str, inbound: InboundMessage | None = None
) -> None:
    """Change a request's state through the life cycle, logging the move and its cause."""
    old = request.state
    if old == new_state:
        return
    check_transition(old, new_state)
    request.state = new_state
    request.updated_at = stamp()
    request.save()
    log_event("state", cause, request=request, inbound=inbound, old_state=old, new_state=new_state)


RELEASED = "quarantine-retry"  # admin/quarantine.py's event when the coordinator lets it through


def released_after(inbound: InboundMessage, held_kind: str) -> bool:
    """Whether the coordinator retried this message from quarantine after its last event of
    `held_kind` (the check or cap that held it): the retry vouches for it, once."""
    last = (
        Event.select(fn.MAX(Event.id))
        .where((Event.inbound == inbound.id) & (Event.kind == held_kind))
        .scalar()
    )
    if last is None:
        return False
    return (
        Event.select()
        .where((Event.inbound == inbound.id) & (Event.kind == RELEASED) & (Event.id > last))
        .exists()
    )
