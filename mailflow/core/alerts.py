"""What the coordinator is told at once (issue 12, item 10): the kinds of alert, and when a
batch of them is due.

An alert is one row (store/models.py Alert) written by whoever sees the event, in its own
transaction (services/alerts.py `alert`). The daemon's scheduler mails the coordinator one
summary per kind (templates/mails/alert_coordinator.txt), once the oldest pending alert of
that kind has waited `batch_minutes` (so that a burst makes one mail) and never sooner than
`interval_minutes` after the last mail of that kind (rules/followup.toml [alerts]).

The kinds are contracts (stored in `alert.kind`): never rename one, add new ones here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum


class AlertKind(StrEnum):
    """Each kind, with who raises it."""

    UNDER_15 = "under-15"  # a request from someone likely under 15 (services/intake.py)
    INTRO_REFUSED = "intro-refused"  # the server refused an intro (services/unreachable.py)
    HELP_UNCLEAR = "help-unclear"  # a reply to the help mail still not understood
    ESCALATED = "escalated"  # nobody left to offer a request to (services/reassign.py)


ALERT_KINDS: tuple[str, ...] = tuple(k.value for k in AlertKind)


def due_kinds(
    oldest_pending: Mapping[str, datetime],
    last_sent: Mapping[str, datetime],
    now: datetime,
    batch_minutes: int,
    interval_minutes: int,
) -> list[str]:
    """The kinds whose summary is to be mailed at `now`, in AlertKind order (then any other
    stored kind): the oldest pending alert waited the batch delay, and the last mail of the
    kind is at least the interval old."""
    batch, interval = timedelta(minutes=batch_minutes), timedelta(minutes=interval_minutes)
    order = [*ALERT_KINDS, *sorted(set(oldest_pending) - set(ALERT_KINDS))]
    due = []
    for kind in order:
        oldest = oldest_pending.get(kind)
        if oldest is None or now < oldest + batch:
            continue
        last = last_sent.get(kind)
        if last is not None and now < last + interval:
            continue
        due.append(kind)
    return due
