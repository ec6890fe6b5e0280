"""The person's answer to the feedback request: a score from 1 to 5 and 'did you meet?'."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

from . import lifecycle as lc
from .addresses import message_id_of
from .clock import stamp
from .context import Context
from .followup import close_request
from .models import InboundMessage, Request
from .notices import reply
from .readable import readable_text
from .record import log_event
from .textnorm import fold

FEEDBACK_RECORDED = "feedback-recorded"
FEEDBACK_UNCLEAR = "feedback-unclear"
_QUOTE_START = re.compile(r"^(>|le .{0,80} a ecrit ?:|on .{0,80} wrote:|-----|de ?:|from:)", re.I)
_SCORE = re.compile(r"(?<![\d/])([1-5])(?:\s*(?:/|sur)\s*5)?(?![\d/])")
_YES = re.compile(r"\b(oui|yes|ouais|bien sur|absolument)\b")
_NO = re.compile(r"\b(non|no|pas encore|jamais|pas rencontre)\b")


@dataclass(frozen=True)
class FeedbackAnswer:
    score: int | None
    met: bool | None


def own_words(text: str) -> str:
    """The reply above the quoted feedback request (which itself says '1 à 5', 'oui/non')."""
    kept: list[str] = []
    for line in fold(text).splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        kept.append(line)
    return "\n".join(kept)


def parse_feedback(text: str) -> FeedbackAnswer:
    words = own_words(text)
    score = _SCORE.search(words)
    yes, no = _YES.search(words), _NO.search(words)
    met = None
    if yes and not no:
        met = True
    elif no and not yes:
        met = False
    elif yes and no:  # "oui ... non": the first word said answers the question
        met = yes.start() < no.start()
    return FeedbackAnswer(int(score.group(1)) if score else None, met)


def handle_feedback(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, request: Request, address: str
) -> str:
    """Record what the person said; thank them once, or ask once more when unclear."""
    inbound.request, inbound.role = request, "person"
    answer = parse_feedback(readable_text(msg))
    original_id = message_id_of(msg)
    if answer.score is None and answer.met is None:
        log_event("feedback", "feedback reply not understood", request=request, inbound=inbound)
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
