"""Unmatched requests, the way out: a daily retry with whoever matches now, then expiry.

The steps of `followup.unmatched_steps`, apart from the other follow-ups because an
unmatched request waits for the routing (a new or returning ambassador), not for a party.
"""

from __future__ import annotations

from datetime import datetime

from mailflow.clock import local, stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.services.handover import not_again
from mailflow.services.intake import best_choice, eligible, offer, want_of
from mailflow.services.notices import send_auto
from mailflow.services.views import request_view
from mailflow.store.leases import lock_routing
from mailflow.store.models import Request, Setting
from mailflow.store.record import log_event, move_request

RETRY_DAY = "unmatched-retry-day"  # Setting: the last day the retry pass was completed


def retry_due(ctx: Context, policy: FollowupPolicy, now: datetime) -> bool:
    """From the retry hour of each local business day ([schedule] timezone)."""
    calendar = ctx.rules.calendar
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
    """Offer the request to an ambassador who matches now and may have it (never had it,
    or skipped only while away: core/tried.py); the person hears the good news (found.txt)
    from that ambassador's relay address."""
    request = Request.get_by_id(request_id)
    lock_routing()
    choice = best_choice(
        want_of(request, ctx.ref), not_again(request), ctx.matching, eligible(ctx, request)
    )
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
