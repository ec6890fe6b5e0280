"""How often mailflow speaks on its own: the brakes that stop mail loops and floods.

Three limits, all read from the outbox, so they hold across restarts and processes:
the same automatic answer goes to one sender at most once per `auto_reply_interval_days`
(an auto-responder that escapes classification, or a person writing ten times, gets one
answer); a conversation relays at most `max_relayed_per_conversation_per_hour` messages
(two auto-responders answering each other through a relay address stop there); strangers
writing to relay addresses get at most `max_stranger_refusals_per_day` refusals in all
(forged senders get no backscatter beyond it). A limit set to 0 is off. The relay cap's
decision, with the coordinator's notice and the hold that follow it, is in
inbound/rate_hold.py (this module is below the notices, which read the first brake).
"""

from __future__ import annotations

from datetime import timedelta

from peewee import fn

from mailflow.clock import stamp
from mailflow.config import LimitsConfig
from mailflow.core.outcomes import Outcome
from mailflow.store.models import Conversation, OutboundMail

RATE_LIMITED = Outcome.RATE_LIMITED
# How the event of a stranger left unanswered by the daily cap begins (inbound/relay.py writes it,
# the digest counts it).
STRANGER_CAP_REACHED = "stranger_refused not sent"
# Receipts of an explicit command: the ambassador asked for them, each one is news.
ALWAYS_ANSWERED = frozenset(
    {
        "ambassador_pause",
        "ambassador_absent",
        "ambassador_resume",
        "ambassador_profile",
        "ambassador_stop",
    }
)


def recent_auto_reply(limits: LimitsConfig, template: str, to: str) -> OutboundMail | None:
    """The same automatic answer already queued for this address within the interval."""
    days = limits.auto_reply_interval_days
    if days <= 0 or template in ALWAYS_ANSWERED:
        return None
    since = stamp() - timedelta(days=days)
    return (
        OutboundMail.select()
        .where(
            (OutboundMail.purpose == template)
            & (fn.LOWER(OutboundMail.recipient) == to.lower())
            & (OutboundMail.created_at >= since)
        )
        .order_by(OutboundMail.id.desc())
        .first()
    )


def refusals_last_day(limits: LimitsConfig, template: str) -> int | None:
    """How many `template` answers went out within 24 hours, when that reaches the cap on
    refusals to strangers (`limits.max_stranger_refusals_per_day`); None below it."""
    cap = limits.max_stranger_refusals_per_day
    if cap <= 0:
        return None
    since = stamp() - timedelta(days=1)
    count = (
        OutboundMail.select()
        .where((OutboundMail.purpose == template) & (OutboundMail.created_at >= since))
        .count()
    )
    return count if count >= cap else None


def relayed_last_hour(conv: Conversation) -> int:
    since = stamp() - timedelta(hours=1)
    return (
        OutboundMail.select()
        .where(
            (OutboundMail.conversation == conv)
            & (OutboundMail.purpose == "relay")
            & (OutboundMail.created_at >= since)
        )
        .count()
    )
