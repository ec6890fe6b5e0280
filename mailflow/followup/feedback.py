"""The end of a request: feedback asked after the answer, then the request closed.

Also the expiry of a request never made usable (needs_info): the same pass over the
requests that wait for their end. The person's answer to the feedback request is read by
inbound/feedback.py, which closes the request with `close_request` (services/ending.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import new_token
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.services.ending import OPEN, close_request
from mailflow.services.notices import send_auto
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.models import Conversation, Request
from mailflow.store.record import move_request


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
