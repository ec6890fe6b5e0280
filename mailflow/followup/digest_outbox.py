"""Outgoing mail the coordinator must check: left `unconfirmed`, or `failed`, in the period.

transport/send.py never sends an `unconfirmed` mail again (it may or may not have arrived) and gives
up on a `failed` one; both are "for a coordinator to check", so the digest lists each once,
by the time of its `send-unconfirmed` or `send-failed` event in `(since, now]` (see
digest.py). A mail whose delivery report the same digest lists under bounces is left to
that line: the report says more than the send's doubt, and nothing is told twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from mailflow.core.outcomes import OutboxStatus
from mailflow.store.models import Event, OutboundMail
from mailflow.transport.send_recovery import UNCONFIRMED

UNCONFIRMED_EVENT = "send-unconfirmed"
FAILED_EVENT = "send-failed"
FAILED = OutboxStatus.FAILED
_STATUS_OF = {UNCONFIRMED_EVENT: UNCONFIRMED, FAILED_EVENT: FAILED}


@dataclass(frozen=True)
class OutboxIssue:
    """One outgoing mail as the coordinator needs it: never its recipient's address."""

    outbound_id: int
    at: datetime  # when it became unconfirmed or failed
    status: str  # UNCONFIRMED | FAILED
    role: str  # the recipient's role: person | ambassador | coordinator | ...
    purpose: str  # the template it was made from: intro, ack, relay, digest...
    request_id: int | None


def collect_outbox_issues(
    since: datetime, now: datetime, reported: Collection[int] = (), after_event: int | None = None
) -> list[OutboxIssue]:
    """Mails that became unconfirmed or failed in `(since, now]`, oldest first, each once;
    those in `reported` (their bounce is in the digest already) are left out.

    `after_event`: the last event of the previous digest. One at the very instant `since`
    but logged after it (the same run sent the digest, then failed to send an intro; under
    MAILFLOW_NOW every instant of a run is the same) belongs to this period, not to none."""
    later = Event.at > since
    if after_event is not None:
        later = later | ((Event.at == since) & (Event.id > after_event))
    events = (
        Event.select(Event, OutboundMail)
        .join(OutboundMail)
        .where(
            Event.kind.in_(tuple(_STATUS_OF)),
            later,
            Event.at <= now,
        )
        .order_by(Event.at, Event.id)
    )
    found: dict[int, OutboxIssue] = {}
    for e in events:
        mail = e.outbound
        if mail.id in reported or mail.id in found:
            continue
        found[mail.id] = OutboxIssue(
            mail.id, e.at, _STATUS_OF[e.kind], mail.recipient_role, mail.purpose, mail.request_id
        )
    return list(found.values())
