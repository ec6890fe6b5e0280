"""The life cycle's table is the truth: the docs' diagram is generated from it."""

from __future__ import annotations

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core import lifecycle as lc


def test_the_docs_carry_the_diagram_of_the_table() -> None:
    text = lc.diagram()
    assert text in (lc.__doc__ or ""), "paste `python -m mailflow.core.lifecycle` in lifecycle.py"
    doc = (PROJECT_ROOT / "docs" / "followups.md").read_text(encoding="utf-8")
    assert f"```\n{text}```" in doc, (
        "paste `python -m mailflow.core.lifecycle` in docs/followups.md"
    )


def test_the_diagram_lists_every_move_once() -> None:
    lines = lc.diagram().splitlines()
    moves = {
        (state.strip(), target)
        for line in lines[:-1]
        for state, _, targets in [line.partition("->")]
        for target in targets.strip().split(" | ")
    }
    assert moves == {(s, t) for s, targets in lc.TRANSITIONS.items() for t in targets}
    assert lines[-1] == "closed, expired, withdrawn: final"


def test_every_open_state_may_be_closed_or_withdrawn() -> None:
    for state in lc.OPEN_STATES:
        assert {lc.CLOSED, lc.WITHDRAWN} <= lc.TRANSITIONS[state], state


def test_only_requests_waiting_on_nobody_expire() -> None:
    expiring = {s for s, moves in lc.TRANSITIONS.items() if lc.EXPIRED in moves}
    # awaiting_consent waits on an adult (or the coordinator), never on an ambassador
    assert expiring == {lc.NEEDS_INFO, lc.AWAITING_CONSENT, lc.UNMATCHED}


def test_a_child_request_held_for_consent_is_never_offered_before() -> None:
    lc.check_transition(lc.NEW, lc.AWAITING_CONSENT)
    lc.check_transition(lc.NEEDS_INFO, lc.AWAITING_CONSENT)
    lc.check_transition(lc.AWAITING_CONSENT, lc.OFFERED)
    with pytest.raises(lc.TransitionError):
        lc.check_transition(lc.AWAITING_CONSENT, lc.ANSWERED)
    with pytest.raises(lc.TransitionError):
        lc.check_transition(lc.OFFERED, lc.AWAITING_CONSENT)


def test_a_live_conversation_can_be_handed_over() -> None:
    for state in (lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION):
        lc.check_transition(state, lc.REASSIGNED)
    with pytest.raises(lc.TransitionError):
        lc.check_transition(lc.FEEDBACK_ASKED, lc.REASSIGNED)
    with pytest.raises(lc.TransitionError):
        lc.check_transition(lc.CLOSED, lc.WITHDRAWN)
