"""The request life cycle: states and the moves allowed between them, in one place.

new ──> needs_info ──> offered ──> answered ──> in_conversation ──> feedback_asked ──> closed
 │          │           │  ^         │                │
 │          │           v  │         v                v
 │          │        reassigned   reassigned       closed
 └──> unmatched <──── (nobody left: escalated to the coordinator)
any open state ──> withdrawn (the person gave up) | expired (no answer in time)
"""

from __future__ import annotations

from .errors import MailflowError

NEW = "new"
NEEDS_INFO = "needs_info"
OFFERED = "offered"
ANSWERED = "answered"
IN_CONVERSATION = "in_conversation"
FEEDBACK_ASKED = "feedback_asked"
CLOSED = "closed"
REASSIGNED = "reassigned"
UNMATCHED = "unmatched"
EXPIRED = "expired"
WITHDRAWN = "withdrawn"

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({NEEDS_INFO, OFFERED, UNMATCHED, WITHDRAWN}),
    NEEDS_INFO: frozenset({OFFERED, UNMATCHED, EXPIRED, WITHDRAWN, CLOSED}),
    OFFERED: frozenset({ANSWERED, REASSIGNED, UNMATCHED, EXPIRED, WITHDRAWN}),
    REASSIGNED: frozenset({OFFERED, UNMATCHED}),
    ANSWERED: frozenset({IN_CONVERSATION, FEEDBACK_ASKED, REASSIGNED, WITHDRAWN, CLOSED}),
    IN_CONVERSATION: frozenset({FEEDBACK_ASKED, CLOSED, WITHDRAWN}),
    FEEDBACK_ASKED: frozenset({CLOSED}),
    UNMATCHED: frozenset({OFFERED, EXPIRED, WITHDRAWN, CLOSED}),
    CLOSED: frozenset(),
    EXPIRED: frozenset(),
    WITHDRAWN: frozenset(),
}
OPEN_STATES = frozenset(s for s, moves in TRANSITIONS.items() if moves)


class TransitionError(MailflowError):
    """A move the life cycle does not allow (a bug, never a user's fault)."""


def check_transition(old: str | None, new: str) -> None:
    """Raise unless `old -> new` is an allowed move (None is the birth of a request)."""
    if old is None:
        if new != NEW:
            raise TransitionError(f"a request is born {NEW!r}, not {new!r}")
        return
    if new not in TRANSITIONS.get(old, frozenset()):
        raise TransitionError(f"request cannot move from {old!r} to {new!r}")
