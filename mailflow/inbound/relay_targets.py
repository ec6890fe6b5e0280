"""A message addressed to several relay addresses goes to each conversation, once, or its
sender hears which one it did not reach, and why.

An ambassador may write `To:` one relay address and `Cc:` (or `Bcc:`) the relay address of
another conversation. The mail server then keeps one copy per delivery (with Postfix's
`lmtp_destination_recipient_limit = 1`, one per relay address, each with its own
Delivered-To; a Bcc'd address shows nowhere else) or only one for all of them. Every copy
is read for every relay token it names (addresses.relay_tokens); the message goes to each
open conversation whose party the sender is, and a second copy of the same mail (same
Message-ID, sender and body) goes nowhere it went already (relay.relayed_before). An
address that is unknown, closed, or of a conversation the sender is not a party of is
named, with the reason, in one mail to the sender (in French), once per message and list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage

from mailflow.context import Context
from mailflow.core.addresses import message_id_of
from mailflow.inbound.relay import (
    CLOSED_NOTICE,
    DUPLICATE,
    RELAYED,
    find_conversation,
    handle_relay,
    is_party,
)
from mailflow.services.notices import send_auto
from mailflow.services.ratelimit import RATE_LIMITED
from mailflow.store.models import Conversation, InboundMessage
from mailflow.store.record import log_event

UNKNOWN, CLOSED, NOT_PARTY = "unknown", "closed", "not-party"
NOT_DELIVERED = "relay_not_delivered"  # the template telling the sender
# Outcomes after which the sender is known to be a party of the conversation answered:
# only then are they told of the other addresses (no answer to a forged or unproven one).
_TOLD_AFTER = (RELAYED, RATE_LIMITED, DUPLICATE, CLOSED_NOTICE)


@dataclass(frozen=True)
class Target:
    """One relay token of the message, its conversation, and why it cannot go there."""

    token: str
    conversation: Conversation | None
    side: str | None
    problem: str | None  # None: it may go there


def target_of(token: str, address: str) -> Target:
    conv, side = find_conversation(token)
    if conv is None:
        return Target(token, None, None, UNKNOWN)
    if not is_party(conv, side, address):
        return Target(token, conv, side, NOT_PARTY)
    return Target(token, conv, side, CLOSED if conv.state == "closed" else None)


def handle_relays(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, tokens: list[str], address: str
) -> str:
    """Relay to every conversation the message was addressed to (the first one answers for
    the message: its outcome, its sender check, its cap); runs in the caller's transaction."""
    if len(tokens) == 1:
        return handle_relay(ctx, inbound, msg, tokens[0], address)
    targets = [target_of(t, address) for t in tokens]
    good: list[Target] = []
    for t in targets:
        if t.problem is None and all(g.conversation.id != t.conversation.id for g in good):
            good.append(t)
    if good:
        first, also = good[0], tuple((t.conversation, t.side) for t in good[1:])
        outcome = handle_relay(ctx, inbound, msg, first.token, address, also)
    else:  # today's answer for the first address: a closed notice, a refusal, feedback
        first = next((t for t in targets if t.problem == CLOSED), targets[0])
        outcome = handle_relay(ctx, inbound, msg, first.token, address)
    if outcome in _TOLD_AFTER:
        reached = {t.conversation.id for t in good} | _conversation_ids([first])
        missing = [
            t
            for t in targets
            if t.problem and t is not first and not (_conversation_ids([t]) & reached)
        ]
        if missing:
            tell_sender(ctx, inbound, msg, address, missing, outcome, first)
    return outcome


def _conversation_ids(targets: list[Target]) -> set[int]:
    return {t.conversation.id for t in targets if t.conversation is not None}


def tell_sender(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    address: str,
    missing: list[Target],
    outcome: str,
    first: Target,
) -> None:
    """Each address the message did not reach is logged; the sender gets one mail naming
    them all (once per message and set of addresses: another copy says the same)."""
    relay = ctx.cfg.relay
    conv = first.conversation
    for t in missing:
        log_event(
            "refused" if t.problem != CLOSED else "closed-address",
            f"also addressed to a relay address ({t.problem}) of "
            + (f"conversation {t.conversation.id}" if t.conversation else "no conversation")
            + ": not forwarded there; the sender is told",
            request=t.conversation.request if t.conversation else None,
            conversation=t.conversation,
            inbound=inbound,
        )
    names = sorted(t.token for t in missing)
    digest = hashlib.sha256(
        "\n".join([message_id_of(msg) or str(inbound.id), *names]).encode()
    ).hexdigest()[:24]
    send_auto(
        ctx,
        NOT_DELIVERED,
        key=f"{NOT_DELIVERED}:{digest}",
        to=address,
        role=first.side or "sender",
        data={
            "missing": [
                {"address": relay.token_address(t.token), "why": t.problem} for t in missing
            ],
            "relayed": outcome in (RELAYED, DUPLICATE),
            "held": outcome == RATE_LIMITED,
        },
        in_reply_to=message_id_of(msg),
        request=conv.request if conv else None,
        conversation=conv,
        inbound=inbound,
    )
