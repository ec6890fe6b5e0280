"""Mail from mailflow to one side of a conversation, from the relay address that side writes to.

A reminder, a nudge, the news that an exchange ended: each goes to the ambassador or to the
person as if from the other party ("Léa via <relay>", "Marie via <relay>"), from the
conversation's relay address for that side, so that an answer lands in the conversation
and never shows either real address. To the ambassador it may follow the thread of their
introduction.
"""

from __future__ import annotations

from typing import Any

from mailflow.context import Context
from mailflow.services.notices import send_auto
from mailflow.services.views import who_of
from mailflow.store.models import Conversation, InboundMessage, MessageIdMap, Request

AMBASSADOR, PERSON = "ambassador", "person"


def relay_from(ctx: Context, conv: Conversation, side: str, request: Request) -> tuple[str, str]:
    """(display name, relay token) of a mail to `side`: it shows the other party's first
    name and comes from the relay address whose answers reach that other party."""
    relay = ctx.cfg.relay
    if side == AMBASSADOR:
        return f"{who_of(request)} via {relay.display_name}", conv.ambassador_token
    return f"{conv.ambassador.first_name} via {relay.display_name}", conv.person_token


def intro_thread(conv: Conversation) -> str | None:
    """The Message-ID of the introduction the ambassador received, to answer in its thread."""
    intro = MessageIdMap.get_or_none(MessageIdMap.conversation == conv)
    return intro.relayed_id if intro else None


def mail_to_side(
    ctx: Context,
    conv: Conversation,
    side: str,
    template: str,
    *,
    key: str,
    data: dict[str, Any],
    in_thread: bool = False,
    request: Request | None = None,
    inbound: InboundMessage | None = None,
) -> str:
    """Queue one automatic mail to `side` (AMBASSADOR or PERSON) of `conv`, from its relay
    address; `in_thread`: under the ambassador's introduction. Returns its Message-ID."""
    request = request or conv.request
    display, token = relay_from(ctx, conv, side, request)
    to = conv.ambassador.email if side == AMBASSADOR else request.person.email
    return send_auto(
        ctx,
        template,
        key=key,
        to=to,
        role=side,
        data=data,
        from_display=display,
        from_token=token,
        in_reply_to=intro_thread(conv) if in_thread else None,
        request=request,
        conversation=conv,
        inbound=inbound,
    )
