"""Unwanted mail of the period, in figures: spam, and strangers refused on relay addresses.

Neither is ever relayed; the coordinator needs the volume (a flood, a harvested relay
address, a daily cap too low) and the few cases to act on: spam from a party of a
conversation (a filter may be wrong), strangers left unanswered by the daily cap. Messages
count by when they were processed, in `(since, now]`, as bounces do (digest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import ModelSelect

from mailflow.core.classify import SPAM
from mailflow.core.outcomes import Outcome
from mailflow.services.ratelimit import RATE_LIMITED, STRANGER_CAP_REACHED
from mailflow.store.models import Event, InboundMessage

REFUSED_STRANGER = Outcome.REFUSED_STRANGER  # inbound/relay.py logs both
REFUSED_UNKNOWN = Outcome.REFUSED_UNKNOWN_TOKEN


@dataclass(frozen=True)
class SpamFigures:
    total: int  # flagged as spam by the receiving server
    request_ids: list[int]  # the requests of those from a party, in order, each once


@dataclass(frozen=True)
class StrangerFigures:
    messages: int  # refused: a stranger on a conversation's address, or an unknown address
    unknown_address: int  # of which to a relay address that belongs to no conversation
    senders: int  # distinct addresses among them
    over_cap: int  # of which left unanswered: the daily cap on refusals was reached


def _processed_in(outcomes: tuple[str, ...], since: datetime, now: datetime) -> ModelSelect:
    """Messages given one of `outcomes` in the period: by when they were processed, so a
    message read late (the daemon was down) is counted by exactly one digest."""
    return InboundMessage.select(
        InboundMessage.id, InboundMessage.outcome, InboundMessage.sender, InboundMessage.request
    ).where(
        InboundMessage.outcome.in_(outcomes),
        InboundMessage.processed_at > since,
        InboundMessage.processed_at <= now,
    )


def collect_spam(since: datetime, now: datetime) -> SpamFigures:
    """Spam processed in the period; a party's is attached to its request (inbound/automated.py)."""
    found = list(_processed_in((SPAM,), since, now))
    requests = sorted({m.request_id for m in found if m.request_id is not None})
    return SpamFigures(len(found), requests)


def collect_strangers(since: datetime, now: datetime) -> StrangerFigures:
    """Refusals on relay addresses in the period, their senders, and how many got no
    answer because of `limits.max_stranger_refusals_per_day` (inbound/relay.py logs each)."""
    query = _processed_in((REFUSED_STRANGER, REFUSED_UNKNOWN), since, now)
    refused = list(query)
    over_cap = (
        Event.select(Event.inbound)
        .where(
            Event.kind == RATE_LIMITED,
            Event.inbound.in_(query.select(InboundMessage.id)),
            Event.cause.startswith(STRANGER_CAP_REACHED),
        )
        .distinct()
        .count()
    )
    return StrangerFigures(
        messages=len(refused),
        unknown_address=sum(m.outcome == REFUSED_UNKNOWN for m in refused),
        senders=len({m.sender.lower() for m in refused if m.sender}),
        over_cap=over_cap,
    )
