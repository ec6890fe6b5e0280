"""An ambassador answers after their offer was handed on: what becomes of that answer (pure).

A reassignment is a guess that the first ambassador will not answer; when they do answer
late, their answer is worth more than a wait for the next one. So:

- the person has had no answer from anyone yet, and the request is still looked after
  (offered to someone else, or waiting for the coordinator): the answer is RELAYED, the
  earlier ambassador takes the request back, and whoever has it now is told kindly;
- someone else already answered the person: two exchanges would confuse them, so the
  coordinator DECIDES (told at once with the request number), the message is kept;
- the request is over (closed, withdrawn, expired): nothing to relay to, the coordinator
  is told all the same (OVER).

Either way the earlier ambassador is told what happens to their message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailflow.core import lifecycle as lc

LATE_REASONS = ("no-answer", "away")  # services/handover: the offer was only handed on


class LateAnswer(StrEnum):
    RELAYED = "relayed"
    DECIDES = "coordinator-decides"
    OVER = "over"


@dataclass(frozen=True)
class LateSituation:
    closed_reason: str  # handover.reason_of of the conversation written to
    ambassador_answered: bool  # in that conversation, before it was closed
    request_state: str
    others_answered: bool  # any other ambassador of the request answered


def is_late_answer(s: LateSituation) -> bool:
    """An ambassador writing through an offer handed on before they ever answered."""
    return s.closed_reason in LATE_REASONS and not s.ambassador_answered


def late_answer(s: LateSituation) -> LateAnswer:
    if s.request_state in lc.FINAL_STATES or s.request_state == lc.FEEDBACK_ASKED:
        return LateAnswer.OVER
    if s.others_answered or s.request_state not in (lc.OFFERED, lc.REASSIGNED, lc.UNMATCHED):
        return LateAnswer.DECIDES
    return LateAnswer.RELAYED
