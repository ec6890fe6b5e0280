"""A person's mail stopped by the hourly relay cap is held, not dropped, and passed on later.

The cap (`relay_over_limit`, counting with services/ratelimit.py) stops two auto-responders
answering each other through a relay address; but a person writing in that conversation
meanwhile must not lose their message.
Only mail that core/classify.py did not find automated ever reaches the cap (automated mail is
recorded and dropped before the relay), so what the cap stops here is a person's: it is
kept in quarantine (outcome `rate-limited`, status `quarantined`, a reason saying so) and
its sender is told, at most once a day per conversation and side, that it will follow.

It leaves the quarantine in one of two ways, each relaying it once (the outbox key):
- `mailflow quarantine retry ID`: the coordinator vouches for it, it goes without the cap
  (the `quarantine-retry` event after its last `rate-limited` one, as sender_check.py does);
- by itself (`calm_releases`, processed by pipeline.release_calm in the daemon's scheduled
  job): once the conversation is calm again, no message held there for an hour and fewer
  relayed within the hour than the cap, the held messages are processed again, oldest
  first, no more than the cap has room for; the cap still applies to them. Once a day at
  most: a conversation that floods again after a release (two robots the classifier
  missed, answering each other) is left to the coordinator, who sees it in the quarantine
  and the digest, instead of looping by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage

from peewee import fn

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import message_id_of
from mailflow.services.notices import notify_coordinator, reply
from mailflow.services.ratelimit import RATE_LIMITED, relayed_last_hour
from mailflow.store.leases import lock_scope, write_transaction
from mailflow.store.models import Conversation, Event, InboundMessage
from mailflow.store.record import log_event, released_after

CALM_RELEASE = "rate-limit-release"  # this module's event when it lets one through by itself
CALM_AFTER = timedelta(hours=1)  # no message held in the conversation for this long
RELEASE_EVERY = timedelta(days=1)  # a conversation held again after a release waits this long


def relay_over_limit(ctx: Context, inbound: InboundMessage, conv: Conversation) -> bool:
    """True when this conversation relayed its hourly quota already: the message is kept,
    not forwarded, and the coordinator hears of it once a day per conversation."""
    cap = ctx.cfg.limits.max_relayed_per_conversation_per_hour
    if cap <= 0:
        return False
    count = relayed_last_hour(conv)
    if count < cap:
        return False
    log_event(
        RATE_LIMITED,
        f"{count} messages relayed in this conversation within the hour (cap {cap}): not forwarded",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )
    notify_coordinator(
        ctx,
        inbound,
        "rate_limited_coordinator",
        {
            "conversation_id": conv.id,
            "request_id": conv.request_id,
            "count": count,
            "cap": cap,
            "inbound_id": inbound.id,
        },
        request=conv.request,
        conversation=conv,
        key=f"rate-limited:{conv.id}:{stamp().date().isoformat()}",
    )
    return True


def released_by_coordinator(inbound: InboundMessage) -> bool:
    """The coordinator retried it from quarantine after the cap had held it."""
    return released_after(inbound, RATE_LIMITED)


def hold(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation,
    side: str,
    address: str,
) -> str:
    """Keep the message for later (the pipeline quarantines a `rate-limited` outcome) and
    tell its sender, once a day per conversation and side, that it is not lost."""
    cap = ctx.cfg.limits.max_relayed_per_conversation_per_hour
    inbound.reason = (
        f"rate-limited: {relayed_last_hour(conv)} messages relayed in conversation {conv.id} "
        f"within the hour (cap {cap}); held, passed on by itself when the conversation is "
        f"calm again, or at once by `mailflow quarantine retry {inbound.id}`"
    )
    reply(
        ctx,
        inbound,
        "rate_limited_sender",
        address,
        message_id_of(msg),
        {},
        request=conv.request,
        conversation=conv,
        role=side,
        key=f"rate-limited-sender:{conv.id}:{side}:{stamp().date().isoformat()}",
    )
    return RATE_LIMITED


def _held(conv_id: int | None = None):  # noqa: ANN202 - a peewee query
    query = InboundMessage.select().where(
        (InboundMessage.status == "quarantined")
        & (InboundMessage.outcome == RATE_LIMITED)
        & InboundMessage.conversation.is_null(False)
    )
    return query if conv_id is None else query.where(InboundMessage.conversation == conv_id)


def room(ctx: Context, conv: Conversation, now: datetime) -> int:
    """How many held messages the conversation can take now: 0 until it is calm again."""
    held = _held(conv.id)
    if held.where(InboundMessage.processed_at > now - CALM_AFTER).exists():
        return 0  # still flooding: something was held within the hour
    last_release = (
        Event.select(fn.MAX(Event.at))
        .where((Event.conversation == conv.id) & (Event.kind == CALM_RELEASE))
        .scalar()
    )
    recent = last_release is not None and last_release > now - RELEASE_EVERY
    if recent and held.where(InboundMessage.processed_at >= last_release).exists():
        return 0  # it flooded again after the last release: the coordinator decides
    cap = ctx.cfg.limits.max_relayed_per_conversation_per_hour
    return held.count() if cap <= 0 else max(0, cap - relayed_last_hour(conv))


def _release(ctx: Context, conv_id: int, now: datetime) -> list[int]:
    """Mark the oldest held messages that fit as stored again (one transaction, the
    request locked, each row only if still held: another daemon may release it first)."""
    released: list[int] = []
    with write_transaction():
        conv = Conversation.get_by_id(conv_id)
        lock_scope([conv.request_id])
        fits = room(ctx, conv, now)
        if fits <= 0:
            return []
        for row in list(_held(conv_id).order_by(InboundMessage.id).limit(fits)):
            done = (
                InboundMessage.update(status="stored", outcome=None, processed_at=None)
                .where((InboundMessage.id == row.id) & (InboundMessage.status == "quarantined"))
                .execute()
            )
            if done:
                log_event(
                    CALM_RELEASE,
                    "the conversation is calm again: released from quarantine, processed "
                    "again (the hourly cap still applies)",
                    inbound=row,
                    request=row.request_id,
                    conversation=row.conversation_id,
                )
                released.append(row.id)
    return released


def calm_releases(ctx: Context, now: datetime) -> Iterator[int]:
    """The ids of the held messages to process again, conversation by conversation, each
    calm again (its releases decided once the previous conversation's are processed):
    pipeline.release_calm processes them, as the daemon's scheduled job."""
    convs = _held().select(InboundMessage.conversation).distinct()
    for conv_id in sorted({row.conversation_id for row in convs}):
        yield from _release(ctx, conv_id, now)
