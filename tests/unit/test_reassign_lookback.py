"""Who a request may go to again (core/tried.py) and what becomes of a late answer
(core/late_answer.py): the decisions, data in and data out."""

from __future__ import annotations

import pytest

from mailflow.core import lifecycle as lc
from mailflow.core.late_answer import LateAnswer, LateSituation, is_late_answer, late_answer
from mailflow.core.tried import PastOffer, excluded


def offer(amb: int, reason: str | None = None, answered: bool = False) -> PastOffer:
    return PastOffer(amb, open=reason is None, reason=reason, answered=answered)


def test_an_ambassador_skipped_only_while_away_may_have_it_again() -> None:
    assert excluded([offer(1, "away"), offer(2)]) == {2}


@pytest.mark.parametrize(
    "reason", ["no-answer", "left", "unreachable", "coordinator", "earlier-answered"]
)
def test_who_declined_did_not_answer_or_left_stays_out(reason: str) -> None:
    assert excluded([offer(1, reason), offer(2)]) == {1, 2}


def test_one_excluding_offer_is_enough() -> None:
    # Away once, then offered again and silent: out for good.
    assert excluded([offer(1, "away"), offer(1, "no-answer")]) == {1}
    # Away, but had answered before (an exchange ended): out.
    assert excluded([offer(1, "away", answered=True)]) == {1}
    assert excluded([]) == frozenset()


def situation(**kw: object) -> LateSituation:
    base = dict(
        closed_reason="no-answer",
        ambassador_answered=False,
        request_state=lc.OFFERED,
        others_answered=False,
    )
    return LateSituation(**(base | kw))  # type: ignore[arg-type]


def test_only_an_offer_handed_on_before_any_answer_is_a_late_answer() -> None:
    assert is_late_answer(situation())
    assert is_late_answer(situation(closed_reason="away"))
    assert not is_late_answer(situation(ambassador_answered=True))
    for reason in ("left", "unreachable", "person-stopped", "request-closed", "coordinator"):
        assert not is_late_answer(situation(closed_reason=reason))


@pytest.mark.parametrize("state", [lc.OFFERED, lc.UNMATCHED, lc.REASSIGNED])
def test_relayed_while_the_person_has_no_answer(state: str) -> None:
    assert late_answer(situation(request_state=state)) == LateAnswer.RELAYED


def test_the_coordinator_decides_once_someone_else_answered() -> None:
    assert late_answer(situation(others_answered=True)) == LateAnswer.DECIDES
    assert late_answer(situation(request_state=lc.ANSWERED)) == LateAnswer.DECIDES
    assert late_answer(situation(request_state=lc.IN_CONVERSATION)) == LateAnswer.DECIDES


@pytest.mark.parametrize("state", [lc.CLOSED, lc.EXPIRED, lc.WITHDRAWN, lc.FEEDBACK_ASKED])
def test_over_when_the_request_is_over(state: str) -> None:
    assert late_answer(situation(request_state=state)) == LateAnswer.OVER
