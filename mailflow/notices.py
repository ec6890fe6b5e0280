"""Automatic answers from the public address: to a sender, or to the coordinator."""

from __future__ import annotations

from typing import Any

from .compose import automatic_mail, new_message_id, render
from .context import Context
from .models import Conversation, InboundMessage, Request
from .outbox import queue_mail


def reply(
    ctx: Context,
    inbound: InboundMessage,
    template: str,
    to: str,
    original_id: str | None,
    data: dict[str, Any],
    *,
    request: Request | None = None,
    conversation: Conversation | None = None,
    role: str = "person",
) -> None:
    """Answer the sender of `inbound`, threaded under their message; once per message."""
    relay = ctx.cfg.relay
    mail = automatic_mail(
        render(ctx.templates, template, {**data, "relay": relay}),
        from_display=relay.display_name,
        from_address=relay.address,
        to_address=to,
        message_id=new_message_id(relay.domain),
        loop_marker=ctx.loop_marker,
        in_reply_to=original_id,
        references=(original_id,) if original_id else (),
    )
    queue_mail(
        mail,
        key=f"{template}:{inbound.id}",
        purpose=template,
        envelope_from=relay.address,
        recipient=to,
        recipient_role=role,
        request=request,
        conversation=conversation,
        inbound=inbound,
    )


def notify_coordinator(
    ctx: Context,
    inbound: InboundMessage,
    template: str,
    data: dict[str, Any],
    *,
    request: Request | None = None,
    conversation: Conversation | None = None,
) -> None:
    relay, coordinator = ctx.cfg.relay, ctx.cfg.coordinator
    mail = automatic_mail(
        render(ctx.templates, template, {**data, "relay": relay}),
        from_display="mailflow",
        from_address=relay.address,
        to_address=coordinator.email,
        message_id=new_message_id(relay.domain),
        loop_marker=ctx.loop_marker,
    )
    queue_mail(
        mail,
        key=f"{template}:{inbound.id}",
        purpose=template,
        envelope_from=relay.address,
        recipient=coordinator.email,
        recipient_role="coordinator",
        request=request,
        conversation=conversation,
        inbound=inbound,
    )
