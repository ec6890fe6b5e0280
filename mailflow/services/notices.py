"""Automatic mails: answers to a sender, notices to the coordinator, follow-ups.

Each is queued in the caller's transaction under an idempotency key that names the
decision, so the same person never gets the same mail twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailflow.clock import now
from mailflow.context import Context
from mailflow.services.compose import automatic_mail, new_message_id, person_lang, render
from mailflow.services.ratelimit import RATE_LIMITED, recent_auto_reply
from mailflow.store.models import Conversation, InboundMessage, OutboundMail, Request, database
from mailflow.store.outbox import queue_mail
from mailflow.store.record import log_event


def send_auto(
    ctx: Context,
    template: str,
    *,
    key: str,
    to: str,
    role: str,
    data: dict[str, Any],
    from_display: str | None = None,
    from_token: str | None = None,
    in_reply_to: str | None = None,
    request: Request | None = None,
    conversation: Conversation | None = None,
    inbound: InboundMessage | None = None,
    at: datetime | None = None,
) -> str:
    """Queue one automatic mail; returns its Message-ID. `from_token` sends it from a relay
    address, so that a reply lands in that conversation; `at` dates the decision (outbox)."""
    relay = ctx.cfg.relay
    message_id = new_message_id(relay.domain)
    mail = automatic_mail(
        render(ctx.templates, template, {**data, "relay": relay}, person_lang(request, role)),
        from_display=from_display or relay.display_name,
        from_address=relay.token_address(from_token) if from_token else relay.address,
        to_address=to,
        message_id=message_id,
        loop_marker=ctx.loop_marker,
        in_reply_to=in_reply_to,
        references=(in_reply_to,) if in_reply_to else (),
    )
    row = queue_mail(
        mail,
        key=key,
        purpose=template,
        envelope_from=relay.address,
        recipient=to,
        recipient_role=role,
        request=request,
        conversation=conversation,
        inbound=inbound,
        at=at,
    )
    return row.message_id


def reply(
    ctx: Context,
    inbound: InboundMessage | None,
    template: str,
    to: str,
    original_id: str | None,
    data: dict[str, Any],
    *,
    request: Request | None = None,
    conversation: Conversation | None = None,
    role: str = "person",
    key: str | None = None,
) -> bool:
    """Answer the sender of `inbound`, threaded under their message; once per message, and
    the same answer to the same sender at most once per `limits.auto_reply_interval_days`.
    False when it was not sent again (the caller may tell someone instead). Without a
    message (a coordinator's decision: `minors approve`), once per request."""
    if key is None:
        key = f"{template}:{inbound.id}" if inbound else f"{template}:request-{request.id}"
    earlier = recent_auto_reply(ctx.cfg.limits, template, to)
    if earlier is not None and earlier.idempotency_key != key:
        log_event(
            RATE_LIMITED,
            f"{template} not sent again to the {role}: already sent on "
            f"{earlier.created_at:%Y-%m-%d %H:%M} (mail #{earlier.id})",
            request=request,
            conversation=conversation,
            inbound=inbound,
        )
        return False
    send_auto(
        ctx,
        template,
        key=key,
        to=to,
        role=role,
        data=data,
        in_reply_to=original_id,
        request=request,
        conversation=conversation,
        inbound=inbound,
    )
    return True


def notify_coordinator(
    ctx: Context,
    inbound: InboundMessage | None,
    template: str,
    data: dict[str, Any],
    *,
    request: Request | None = None,
    conversation: Conversation | None = None,
    key: str | None = None,
) -> None:
    send_auto(
        ctx,
        template,
        key=key or f"{template}:{inbound.id if inbound else request.id if request else ''}",
        to=ctx.cfg.coordinator.email,
        role="coordinator",
        data=data,
        from_display="mailflow",
        request=request,
        conversation=conversation,
        inbound=inbound,
    )


def mailbox_login_refused(ctx: Context, detail: str) -> bool:
    """Tell the coordinator, at most once a day, that the shared mailbox refuses our login:
    mail keeps arriving there and nobody reads it until someone fixes the password. True
    when the notice was queued now (False: already queued today)."""
    key = f"mailbox-login-refused:{now():%Y-%m-%d}"
    with database.atomic():
        if OutboundMail.get_or_none(OutboundMail.idempotency_key == key) is not None:
            return False
        log_event("mailbox", f"login refused: {detail}")
        mailbox = ctx.cfg.mailbox
        notify_coordinator(
            ctx,
            None,
            "mailbox_login_refused_coordinator",
            {"host": mailbox.host, "port": mailbox.port, "username": mailbox.username},
            key=key,
        )
    return True
