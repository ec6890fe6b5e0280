"""Chasing a silent party: the ambassador reminded, then the request reassigned; the person nudged.

Each function decides from the conversation and `now` alone whether anything is due, and
does it with its mail (idempotency key), in the transaction `followup.run.step` opened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailflow.clock import local
from mailflow.context import Context
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.services.conversation_mail import AMBASSADOR, PERSON, mail_to_side
from mailflow.services.handover import AWAY, NO_ANSWER
from mailflow.services.reassign import reassign
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.models import Conversation
from mailflow.store.record import log_event


def chase_ambassador(ctx: Context, policy: FollowupPolicy, conv_id: int, now: datetime) -> str:
    conv = Conversation.get_by_id(conv_id)
    calendar = ctx.rules.calendar
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
    mail_to_side(
        ctx,
        conv,
        AMBASSADOR,
        "reminder_ambassador",
        key=f"reminder{due}:{conv.id}",
        data={
            "number": due,
            "days": waited,
            "request": request_view(conv.request, ctx.ref, keep=(ctx.cfg.relay.address,)),
            "ambassador": ambassador_view(conv.ambassador),
        },
        in_thread=True,
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


def nudge_person(ctx: Context, policy: FollowupPolicy, conv_id: int, now: datetime) -> str:
    conv = Conversation.get_by_id(conv_id)
    answered = conv.ambassador_last_at or conv.ambassador_answered_at
    if answered is None or now < answered + timedelta(days=policy.nudge_after_days):
        return ""
    if conv.person_last_at and conv.person_last_at >= answered:
        return ""
    mail_to_side(
        ctx,
        conv,
        PERSON,
        "nudge_person",
        key=f"nudge:{conv.id}",
        data={
            "request": request_view(conv.request, ctx.ref),
            "ambassador": ambassador_view(conv.ambassador),
        },
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
