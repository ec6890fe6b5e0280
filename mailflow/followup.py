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
from .handover import AWAY, NO_ANSWER, close_conversation, open_conversations
from .intake import best_choice, offer, want_of
from .leases import lock_routing, lock_scope, write_transaction
from .models import (
    Ambassador,
    Conversation,
    InboundMessage,
    MessageIdMap,
    Request,
    Setting,
)
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
    unmatched_steps(ctx, policy, now, done)
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


# -- unmatched requests: the way out ------------------------------------------------------------

RETRY_DAY = "unmatched-retry-day"  # Setting: the last day the retry pass was completed


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
            _step(done, lambda r=request.id: retry_unmatched(ctx, r), due)
        _step(done, lambda: mark_retried(ctx, now))
    # updated_at is the time of the request's last move (record.move_request): here, the
    # move to unmatched.
    limit = now - timedelta(days=policy.unmatched_expire_after_days)
    expiring = unmatched.where(Request.updated_at <= limit)
    for request in list(expiring.order_by(Request.id)):
        due = Due(expiring, request.id, request.id)
        _step(done, lambda r=request.id: expire_unmatched(ctx, policy, r), due)


def retry_due(ctx: Context, policy: FollowupPolicy, now: datetime) -> bool:
    """From the retry hour of each local business day ([schedule] timezone)."""
    calendar = load_calendar(ctx.cfg.paths.rules)
    today = local(now, ctx.cfg.schedule.zone)
    if not calendar.is_business_day(today.date()) or today.hour < policy.unmatched_retry_hour:
        return False
    last = Setting.get_or_none(Setting.key == RETRY_DAY)
    return last is None or last.value < today.date().isoformat()


def mark_retried(ctx: Context, now: datetime) -> str:
    day = local(now, ctx.cfg.schedule.zone).date().isoformat()
    Setting.insert(key=RETRY_DAY, value=day).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: day}
    ).execute()
    return ""


def retry_unmatched(ctx: Context, request_id: int) -> str:
    """Offer the request to an ambassador who matches now and never had it; the person
    hears the good news (found.txt) from that ambassador's relay address."""
    request = Request.get_by_id(request_id)
    tried = frozenset(c.ambassador_id for c in request.conversations)
    lock_routing()
    choice = best_choice(want_of(request), exclude=tried)
    if choice is None:
        return ""
    log_event(
        "retry",
        "an ambassador matches now: offered on the daily retry of unmatched requests",
        request=request,
    )
    offer(ctx, None, request, choice, None, person_template="found")
    return "rematched"


def expire_unmatched(ctx: Context, policy: FollowupPolicy, request_id: int) -> str:
    request = Request.get_by_id(request_id)
    days = policy.unmatched_expire_after_days
    request.closed_at = stamp()
    request.save()
    move_request(request, lc.EXPIRED, f"no ambassador found in {days} days unmatched")
    send_auto(
        ctx,
        "unmatched_expired",
        key=f"unmatched-expired:{request.id}",
        to=request.person.email,
        role="person",
        data={"request": request_view(request, ctx.ref)},
        request=request,
    )
    return "expired-unmatched"


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
        reassign(ctx, conv, NO_ANSWER, f"no answer after {waited} business days", None)
        return "reassigned"
    away = conv.ambassador.absent_until
    if away and local(away, zone) > calendar.add_business_days(offered_at, policy.reassign_after):
        # Away (ABSENT, or an out-of-office with a date) past the reassignment deadline:
        # waiting would only make the person wait longer.
        reassign(ctx, conv, AWAY, f"ambassador away until {local(away, zone):%d/%m/%Y}", None)
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


HANDED_OVER, ESCALATED, ENDED = "handed-over", "escalated", "ended"


def reassign(
    ctx: Context,
    conv: Conversation,
    reason: str,
    cause: str,
    inbound,  # noqa: ANN001 - InboundMessage | None
) -> str:
    """Close this ambassador's relay addresses (handover.py `reason`) and offer the request
    to the next one, or escalate to the coordinator when nobody is left. Runs in the
    caller's transaction; returns what happened to the request: HANDED_OVER to another
    ambassador, ESCALATED, or ENDED (nothing left to hand over: its exchange was over).

    The person is told in words that fit: a new ambassador after a silent one
    (reassigned.txt), or, when the ambassador had answered and leaves, that their exchange
    stops there and who takes over, if anyone (handover.txt)."""
    request = conv.request
    close_conversation(conv, reason, cause, inbound)
    if request.state not in (lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION):
        return ENDED
    live = conv.ambassador_answered_at is not None  # they had answered: an exchange ends
    move_request(request, lc.REASSIGNED, cause, inbound)
    tried = {c.ambassador_id for c in request.conversations}
    lock_routing()
    choice = best_choice(want_of(request), exclude=frozenset(tried))
    told = {"previous": ambassador_view(conv.ambassador), "why": reason}
    if choice is not None:
        template = "handover" if live else "reassigned"
        offer(ctx, inbound, request, choice, None, person_template=template, extra=told)
        return HANDED_OVER
    cause = f"{cause}; no other ambassador available"
    if live:
        escalate(ctx, request, cause, inbound, person_template="handover", extra=told)
    else:
        escalate(ctx, request, cause, inbound)
    return ESCALATED


def hand_over_all(
    ctx: Context, ambassador: Ambassador, reason: str, cause: str, inbound: InboundMessage
) -> Counter[str]:
    """Every open conversation of an ambassador who cannot go on (STOP, dead address) is
    closed and its request handed on; counts what really happened to each."""
    done: Counter[str] = Counter()
    for conv in open_conversations(ambassador=ambassador):
        done[reassign(ctx, conv, reason, cause, inbound)] += 1
    return done


def describe_handover(done: Counter[str]) -> str:
    total = sum(done.values())
    return (
        f"{total} open conversation(s): {done[HANDED_OVER]} handed over, "
        f"{done[ESCALATED]} escalated to the coordinator, "
        f"{done[ENDED]} ended (exchange already over)"
    )


def escalate(
    ctx: Context,
    request: Request,
    cause: str,
    inbound,  # noqa: ANN001 - InboundMessage | None
    person_template: str = "still_looking",
    extra: dict[str, Any] | None = None,
) -> None:
    """Nobody left: the request waits `unmatched` for the coordinator (and the daily
    retry, `retry_unmatched`); both the coordinator and the person are told. The keys
    count the request's conversations: a request escalated again after a later offer is
    news again, the same escalation replayed is not."""
    request.escalated_at = stamp()
    request.save()
    move_request(request, lc.UNMATCHED, cause, inbound)
    log_event("escalated", cause, request=request, inbound=inbound)
    view = request_view(request, ctx.ref)
    round_ = request.conversations.count()
    notify_coordinator(
        ctx,
        inbound,
        "escalation_coordinator",
        {"request": view, "cause": cause},
        request=request,
        key=f"escalation:{request.id}:{round_}",
    )
    send_auto(
        ctx,
        person_template,
        key=f"{person_template}:{request.id}:{round_}",
        to=request.person.email,
        role="person",
        data={"request": view, "ambassador": None, **(extra or {})},
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
    conv = request.conversations.where(Conversation.state == OPEN).first()
    answered = answered_at(request, conv)
    if answered is None or now < answered + timedelta(days=policy.feedback_after_days):
        return ""
    ask_feedback(ctx, request, conv, answered, now)
    return "feedback-asked"


def answered_at(request: Request, conv: Conversation | None) -> datetime | None:
    """When the exchange the feedback is about began: the first answer of the ambassador
    the request is with now (after a handover, not the one who left)."""
    if conv is not None and conv.ambassador_answered_at is not None:
        return conv.ambassador_answered_at
    return None if conv is not None else request.first_answer_at


def ask_feedback(
    ctx: Context, request: Request, conv: Conversation | None, answered: datetime, now: datetime
) -> None:
    from .addresses import new_token

    request.feedback_token = request.feedback_token or new_token()
    request.feedback_asked_at = now
    request.save()
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
        f"feedback asked {(now - answered).days} days after the first answer",
    )


def close_request(request: Request, cause: str, inbound=None) -> None:  # noqa: ANN001
    """The request is over; its conversation stays writable but no longer counts as load."""
    request.closed_at = stamp()
    request.save()
    Conversation.update(state=FINISHED).where(
        (Conversation.request == request) & (Conversation.state == OPEN)
    ).execute()
    move_request(request, lc.CLOSED, cause, inbound)
