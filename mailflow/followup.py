"""Chasing every request to an answer: reminders, reassignment, escalation, nudge, feedback.

Each action is decided from the database and `now` alone, and done in its own transaction
together with the mails it causes (idempotency keys), so a job killed half-way, or run twice
at the same instant, never sends anything twice; one due while the daemon was stopped is
done at its next start.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import lifecycle as lc
from .business_days import load_calendar
from .clock import local, stamp
from .context import Context
from .digest import daily_digest
from .intake import best_choice, offer, want_of
from .leases import lock_routing, lock_scope, write_transaction
from .models import Conversation, MessageIdMap, Request
from .notices import notify_coordinator, send_auto
from .policy import FollowupPolicy, load_policy
from .record import log_event, move_request
from .retention import anonymise_expired, compact_if_due, compact_now_or_later
from .views import ambassador_view, request_view

log = logging.getLogger(__name__)
OPEN, CLOSED, FINISHED = "open", "closed", "finished"


def run_followups(ctx: Context) -> Counter[str]:
    """Do everything that is due at this instant; returns what was done.

    One process runs it at a time (the scheduler lock, leases.py), but messages about the
    same requests are processed meanwhile by others: each step locks its request, then
    checks again that it is still due, before deciding."""
    policy = load_policy(ctx.cfg.paths.rules)
    now = stamp()
    done: Counter[str] = Counter()
    offered = (
        Conversation.select(Conversation.id, Conversation.request)
        .join(Request)
        .where((Conversation.state == OPEN) & (Request.state == lc.OFFERED))
    )
    for conv in list(offered.order_by(Conversation.id)):
        due = Due(offered, conv.id, conv.request_id)
        _step(done, lambda c=conv.id: chase_ambassador(ctx, policy, c, now), due)
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
        _step(done, lambda c=conv.id: nudge_person(ctx, policy, c, now), due)
    waiting = Request.select(Request.id).where(
        Request.state.in_([lc.ANSWERED, lc.IN_CONVERSATION, lc.FEEDBACK_ASKED, lc.NEEDS_INFO])
    )
    for request in list(waiting.order_by(Request.id)):
        due = Due(waiting, request.id, request.id)
        _step(done, lambda r=request.id: feedback_step(ctx, policy, r, now), due)
    if ctx.cfg.coordinator.digest:
        _step(done, lambda: daily_digest(ctx, policy, now))
    _step(done, lambda: "anonymised" if anonymise_expired(ctx, now) else "")
    # After the step's commit: a VACUUM cannot run inside its transaction, and without it
    # the erased values' old row versions would stay in the database's files.
    if done["anonymised"]:
        compact_now_or_later()
    else:
        compact_if_due()
    return done


@dataclass(frozen=True)
class Due:
    """A row found due by `query`, and the request its step decides about."""

    query: Any  # the peewee query that selected the row
    row_id: int
    request_id: int

    def still(self) -> bool:
        return bool(self.query.where(self.query.model.id == self.row_id).exists())


def _step(done: Counter[str], action, due: Due | None = None) -> None:  # noqa: ANN001
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
    except Exception:  # one bad row must not stop the others
        log.exception("follow-up failed; it will be retried")
        done["error"] += 1
        return
    if outcome:
        done[outcome] += 1


def chase_ambassador(ctx: Context, policy: FollowupPolicy, conv_id: int, now: datetime) -> str:
    conv = Conversation.get_by_id(conv_id)
    calendar = load_calendar(ctx.cfg.paths.rules)
    zone = ctx.cfg.schedule.zone  # business days begin at local midnight
    offered_at = local(conv.created_at, zone)
    waited = calendar.business_days_between(offered_at, local(now, zone))
    if waited >= policy.reassign_after:
        reassign(ctx, conv, f"no answer after {waited} business days", None)
        return "reassigned"
    away = conv.ambassador.absent_until
    if away and local(away, zone) > calendar.add_business_days(offered_at, policy.reassign_after):
        # Away (ABSENT, or an out-of-office with a date) past the reassignment deadline:
        # waiting would only make the person wait longer.
        reassign(ctx, conv, f"ambassador away until {local(away, zone):%d/%m/%Y}", None)
        return "reassigned"
    due = (
        2
        if waited >= policy.second_reminder_after
        else 1
        if waited >= policy.first_reminder_after
        else 0
    )
    if due <= conv.reminders_sent:
        return ""
    intro = MessageIdMap.get_or_none(MessageIdMap.conversation == conv)
    view = request_view(conv.request, ctx.ref)
    send_auto(
        ctx,
        "reminder_ambassador",
        key=f"reminder{due}:{conv.id}",
        to=conv.ambassador.email,
        role="ambassador",
        data={
            "number": due,
            "days": waited,
            "request": view,
            "ambassador": ambassador_view(conv.ambassador),
        },
        from_display=f"{view['who']} via {ctx.cfg.relay.display_name}",
        from_token=conv.ambassador_token,
        in_reply_to=intro.relayed_id if intro else None,
        request=conv.request,
        conversation=conv,
    )
    conv.reminders_sent = due
    conv.save()
    log_event(
        "reminder",
        f"reminder {due} to ambassador #{conv.ambassador_id} after {waited} "
        "business days without answer",
        request=conv.request,
        conversation=conv,
    )
    return f"reminder{due}"


def reassign(ctx: Context, conv: Conversation, cause: str, inbound) -> None:  # noqa: ANN001
    """Close this ambassador's relay address and offer the request to the next one, or
    escalate to the coordinator when nobody is left. Runs in the caller's transaction."""
    request = conv.request
    conv.state, conv.closed_at, conv.closed_reason = CLOSED, stamp(), cause[:40]
    conv.save()
    log_event(
        "closed",
        f"relay addresses of conversation #{conv.id} closed: {cause}",
        request=request,
        conversation=conv,
        inbound=inbound,
    )
    if request.state not in (lc.OFFERED, lc.ANSWERED):
        return
    move_request(request, lc.REASSIGNED, cause, inbound)
    tried = {c.ambassador_id for c in request.conversations}
    lock_routing()
    choice = best_choice(want_of(request), exclude=frozenset(tried))
    if choice is not None:
        offer(
            ctx,
            inbound,
            request,
            choice,
            None,
            person_template="reassigned",
            extra={"previous": ambassador_view(conv.ambassador), "why": why_reassigned(cause)},
        )
        return
    escalate(ctx, request, f"{cause}; no other ambassador available", inbound)


def why_reassigned(cause: str) -> str:
    """The person is told why in words that fit: left the network, unreachable, or silent."""
    lowered = cause.lower()
    if "left" in lowered or "stop" in lowered:
        return "left"
    if "bounce" in lowered:
        return "unreachable"
    return "silent"


def escalate(ctx: Context, request: Request, cause: str, inbound) -> None:  # noqa: ANN001
    request.escalated_at = stamp()
    request.save()
    move_request(request, lc.UNMATCHED, cause, inbound)
    log_event("escalated", cause, request=request, inbound=inbound)
    view = request_view(request, ctx.ref)
    notify_coordinator(
        ctx,
        inbound,
        "escalation_coordinator",
        {"request": view, "cause": cause},
        request=request,
        key=f"escalation:{request.id}",
    )
    send_auto(
        ctx,
        "still_looking",
        key=f"still-looking:{request.id}",
        to=request.person.email,
        role="person",
        data={"request": view},
        request=request,
        inbound=inbound,
    )


def nudge_person(ctx: Context, policy: FollowupPolicy, conv_id: int, now: datetime) -> str:
    conv = Conversation.get_by_id(conv_id)
    answered = conv.ambassador_last_at or conv.ambassador_answered_at
    if answered is None or now < answered + timedelta(days=policy.nudge_after_days):
        return ""
    if conv.person_last_at and conv.person_last_at >= answered:
        return ""
    send_auto(
        ctx,
        "nudge_person",
        key=f"nudge:{conv.id}",
        to=conv.request.person.email,
        role="person",
        data={
            "request": request_view(conv.request, ctx.ref),
            "ambassador": ambassador_view(conv.ambassador),
        },
        from_display=f"{conv.ambassador.first_name} via {ctx.cfg.relay.display_name}",
        from_token=conv.person_token,
        request=conv.request,
        conversation=conv,
    )
    conv.person_nudged_at = now
    conv.save()
    log_event(
        "nudge",
        f"person reminded {policy.nudge_after_days} days after the ambassador's answer",
        request=conv.request,
        conversation=conv,
    )
    return "nudge"


def feedback_step(ctx: Context, policy: FollowupPolicy, request_id: int, now: datetime) -> str:
    request = Request.get_by_id(request_id)
    if request.state == lc.NEEDS_INFO:
        if now >= request.created_at + timedelta(days=policy.needs_info_expire_after_days):
            move_request(
                request,
                lc.EXPIRED,
                f"no usable request after {policy.needs_info_expire_after_days} days",
            )
            return "expired"
        return ""
    if request.state == lc.FEEDBACK_ASKED:
        if now >= request.feedback_asked_at + timedelta(days=policy.feedback_close_after_days):
            close_request(request, "feedback not answered")
            return "closed"
        return ""
    if request.first_answer_at is None or now < request.first_answer_at + timedelta(
        days=policy.feedback_after_days
    ):
        return ""
    ask_feedback(ctx, request, now)
    return "feedback-asked"


def ask_feedback(ctx: Context, request: Request, now: datetime) -> None:
    from .addresses import new_token

    request.feedback_token = request.feedback_token or new_token()
    request.feedback_asked_at = now
    request.save()
    conv = request.conversations.where(Conversation.state == OPEN).first()
    send_auto(
        ctx,
        "feedback_request",
        key=f"feedback:{request.id}",
        to=request.person.email,
        role="person",
        data={
            "request": request_view(request, ctx.ref),
            "ambassador": ambassador_view(conv.ambassador) if conv else None,
        },
        from_token=request.feedback_token,
        request=request,
    )
    move_request(
        request,
        lc.FEEDBACK_ASKED,
        f"feedback asked {(now - request.first_answer_at).days} days after the first answer",
    )


def close_request(request: Request, cause: str, inbound=None) -> None:  # noqa: ANN001
    """The request is over; its conversation stays writable but no longer counts as load."""
    request.closed_at = stamp()
    request.save()
    Conversation.update(state=FINISHED).where(
        (Conversation.request == request) & (Conversation.state == OPEN)
    ).execute()
    move_request(request, lc.CLOSED, cause, inbound)
