"""The request life cycle: states and the moves allowed between them, in one place."""

from __future__ import annotations

from .errors import MailflowError

NEW = "new"
NEEDS_INFO = "needs_info"
OFFERED = "offered"
ANSWERED = "answered"
IN_CONVERSATION = "in_conversation"
UNMATCHED = "unmatched"
CLOSED = "closed"

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({NEEDS_INFO, OFFERED, UNMATCHED}),
    NEEDS_INFO: frozenset({OFFERED, UNMATCHED, CLOSED}),
    OFFERED: frozenset({ANSWERED, UNMATCHED, CLOSED}),
    ANSWERED: frozenset({IN_CONVERSATION, CLOSED}),
    IN_CONVERSATION: frozenset({CLOSED}),
    UNMATCHED: frozenset({OFFERED, CLOSED}),
    CLOSED: frozenset(),
}


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
