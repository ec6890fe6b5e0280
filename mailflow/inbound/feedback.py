"""The person's answer to the feedback request, recorded: read by core/feedback_answer.py
(a score from 1 to 5 and 'did you meet?'), confirmed when the mail is unproven, thanked once or
asked once more."""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import message_id_of
from mailflow.core.feedback_answer import parse_feedback
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text
from mailflow.services.confirm import FEEDBACK, ask_confirmation, needs_confirmation
from mailflow.services.ending import close_request
from mailflow.services.notices import reply
from mailflow.store.models import InboundMessage, Request
from mailflow.store.record import log_event

FEEDBACK_RECORDED = Outcome.FEEDBACK_RECORDED
FEEDBACK_UNCLEAR = Outcome.FEEDBACK_UNCLEAR


def handle_feedback(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    request: Request,
    address: str,
    *,
    confirmed: bool = False,
) -> str:
    """Record what the person said; thank them once, or ask once more when unclear. An
    answer that would close the request waits for the person's confirmation when the mail
    is unproven (services/confirm.py), unless `confirmed`."""
    inbound.request, inbound.role = request, "person"
    answer = parse_feedback(readable_text(msg), ctx.rules.feedback)
    original_id = message_id_of(msg)
    if not answer.understood:
        why = "two different scores" if answer.ambiguous else "no score and no yes or no"
        log_event(
            "feedback", f"feedback reply not understood ({why})", request=request, inbound=inbound
        )
        reply(
            ctx,
            inbound,
            "feedback_unclear",
            address,
            original_id,
            {},
            request=request,
            key=f"feedback-unclear:{request.id}",
        )
        return FEEDBACK_UNCLEAR
    closes = request.state == lc.FEEDBACK_ASKED
    if closes and not confirmed and needs_confirmation(ctx, inbound, msg, FEEDBACK):
        word = "feedback answer"
        return ask_confirmation(
            ctx, inbound, msg, FEEDBACK, "feedback", address, word=word, request=request
        )
    request.feedback_score = answer.score if answer.score is not None else request.feedback_score
    request.feedback_met = answer.met if answer.met is not None else request.feedback_met
    request.feedback_answered_at = stamp()
    request.save()
    log_event(
        "feedback",
        f"feedback recorded: score {answer.score}, met {answer.met}",
        request=request,
        inbound=inbound,
    )
    if request.state == lc.FEEDBACK_ASKED:
        close_request(request, "feedback answered", inbound)
    reply(
        ctx,
        inbound,
        "feedback_thanks",
        address,
        original_id,
        {},
        request=request,
        key=f"feedback-thanks:{request.id}",
    )
    return FEEDBACK_RECORDED
