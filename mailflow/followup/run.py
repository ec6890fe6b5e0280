"""Chasing every request to an answer: reminders, reassignment, escalation, nudge, feedback.

Each action is decided from the database and `now` alone, and done in its own transaction
together with the mails it causes (idempotency keys), so a job killed half-way, or run twice
at the same instant, never sends anything twice; one due while the daemon was stopped is
done at its next start.

The jobs themselves are in followup/reminders.py (the ambassador reminded, then the request
reassigned; the person nudged), followup/feedback.py (feedback asked, then the request
closed), followup/unmatched.py (the daily retry and the expiry of unmatched requests) and
services/reassign.py (the next ambassador, or the coordinator); this module finds what is due and
runs each step in its transaction. The daily digest is followup/digest.py; the daemon's
scheduled job (daemon.run_followups) runs these with the work of the other packages
(confirmations expired, held mail released, retention).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.followup.charter import charter_steps
from mailflow.followup.consent import consent_step, pending_guardian_consents
from mailflow.followup.feedback import feedback_step
from mailflow.followup.reminders import chase_ambassador, nudge_person
from mailflow.followup.unmatched import expire_unmatched, mark_retried, retry_due, retry_unmatched
from mailflow.services.ending import OPEN
from mailflow.store.leases import database_away, lock_scope, write_transaction
from mailflow.store.models import Consent, Conversation, Request

log = logging.getLogger(__name__)


def followup_steps(ctx: Context, policy: FollowupPolicy, now: datetime, done: Counter[str]) -> None:
    """Every chase that is due at `now`, counted in `done`: ambassadors reminded or the
    request reassigned, people nudged, feedback asked or the request closed, unmatched
    requests retried or expired, children's requests waiting for consent reminded or
    expired (followup/consent.py). The daemon's scheduled job (daemon.run_followups) runs it
    with the rest of the daily work.

    One process runs it at a time (the scheduler lock, store/leases.py), but messages about the
    same requests are processed meanwhile by others: each step locks its request, then
    checks again that it is still due, before deciding."""
    offered = (
        Conversation.select(Conversation.id, Conversation.request)
        .join(Request)
        .where((Conversation.state == OPEN) & (Request.state == lc.OFFERED))
    )
    for conv in list(offered.order_by(Conversation.id)):
        due = Due(offered, conv.id, conv.request_id)
        step(done, lambda c=conv.id: chase_ambassador(ctx, policy, c, now), due)
    answered = (
        Conversation.select(Conversation.id, Conversation.request)
        .join(Request)
        .where(
            (Conversation.state == OPEN)
            & (Request.state == lc.ANSWERED)
            & Conversation.person_nudged_at.is_null()
        )
    )
    for conv in list(answered.order_by(Conversation.id)):
        due = Due(answered, conv.id, conv.request_id)
        step(done, lambda c=conv.id: nudge_person(ctx, policy, c, now), due)
    waiting = Request.select(Request.id).where(
        Request.state.in_([lc.ANSWERED, lc.IN_CONVERSATION, lc.FEEDBACK_ASKED, lc.NEEDS_INFO])
    )
    for request in list(waiting.order_by(Request.id)):
        due = Due(waiting, request.id, request.id)
        step(done, lambda r=request.id: feedback_step(ctx, policy, r, now), due)
    unmatched_steps(ctx, policy, now, done)
    # the charter asked of new ambassadors and reminded (followup/charter.py)
    charter_steps(ctx, now, lambda action: step(done, action))
    waiting_consent = pending_guardian_consents()  # a child's request: reminders, expiry
    for consent in list(waiting_consent.order_by(Consent.id)):
        due = Due(waiting_consent, consent.id, consent.request_id)
        step(done, lambda c=consent.id: consent_step(ctx, c, now), due)


# -- unmatched requests: the way out ------------------------------------------------------------


def unmatched_steps(
    ctx: Context, policy: FollowupPolicy, now: datetime, done: Counter[str]
) -> None:
    """Unmatched requests wait for the coordinator, but not for ever: once each business
    day (from `[unmatched] retry_hour`, local time) each is offered to an ambassador who matches
    now, and after `expire_after_days` unmatched it expires with a kind last mail.

    The retry pass is recorded as done for the day only at its end (Setting RETRY_DAY): a
    pass cut short is run again at the next tick, and offers nothing twice, since a request
    offered is no longer unmatched."""
    unmatched = Request.select(Request.id).where(Request.state == lc.UNMATCHED)
    if retry_due(ctx, policy, now):
        for request in list(unmatched.order_by(Request.id)):
            due = Due(unmatched, request.id, request.id)
            step(done, lambda r=request.id: retry_unmatched(ctx, r), due)
        step(done, lambda: mark_retried(ctx, now))
    # updated_at is the time of the request's last move (record.move_request): here, the
    # move to unmatched.
    limit = now - timedelta(days=policy.unmatched_expire_after_days)
    expiring = unmatched.where(Request.updated_at <= limit)
    for request in list(expiring.order_by(Request.id)):
        due = Due(expiring, request.id, request.id)
        step(done, lambda r=request.id: expire_unmatched(ctx, policy, r), due)


@dataclass(frozen=True)
class Due:
    """A row found due by `query`, and the request its step decides about."""

    query: Any  # the peewee query that selected the row
    row_id: int
    request_id: int

    def still(self) -> bool:
        return bool(self.query.where(self.query.model.id == self.row_id).exists())


def step(done: Counter[str], action, due: Due | None = None) -> None:  # noqa: ANN001
    """One action, one transaction; a failure is logged and retried at the next run.

    With `due`, its request is locked first and the row must still be due under the lock:
    a message processed meanwhile by another daemon may have answered it."""
    try:
        with write_transaction():
            if due is not None:
                lock_scope([due.request_id])
                if not due.still():
                    return
            outcome = action()
    except Exception as exc:  # one bad row must not stop the others
        if database_away(exc):
            raise  # not this row's fault: the daemon abandons the cycle and waits

        log.exception("follow-up failed; it will be retried")
        done["error"] += 1
        return
    if outcome:
        done[outcome] += 1
