"""The request life cycle: states and the moves allowed between them, in one place.

TRANSITIONS is the truth; the diagram below is `diagram()`'s output, and a test checks
that it (and the copy in docs/followups.md) still says the same:

new                -> needs_info | awaiting_consent | offered | unmatched | closed | withdrawn
needs_info         -> awaiting_consent | offered | unmatched | closed | expired | withdrawn
awaiting_consent   -> offered | unmatched | closed | expired | withdrawn
offered            -> reassigned | answered | closed | withdrawn
reassigned         -> offered | unmatched | closed | withdrawn
answered           -> reassigned | in_conversation | feedback_asked | closed | withdrawn
in_conversation    -> reassigned | feedback_asked | closed | withdrawn
feedback_asked     -> closed | withdrawn
unmatched          -> offered | closed | expired | withdrawn
closed, expired, withdrawn: final

Every open state may end `closed` (the exchange is over, or a coordinator closed it, or the
adult asked for a child's consent refused it) or `withdrawn` (the person wrote STOP, a
coordinator withdrew it, or the adult withdrew their consent); only a request that waits on
nobody but the person, an adult or the coordinator (`needs_info`, `awaiting_consent`,
`unmatched`) may `expire`. A child's request (core/minors.py) waits in `awaiting_consent`
for an adult's consent or a coordinator's approval (core/consent.py) before it is offered.
"""

from __future__ import annotations

from mailflow.errors import MailflowError

NEW = "new"
NEEDS_INFO = "needs_info"
AWAITING_CONSENT = "awaiting_consent"  # a child's request held for an adult's consent
OFFERED = "offered"
ANSWERED = "answered"
IN_CONVERSATION = "in_conversation"
FEEDBACK_ASKED = "feedback_asked"
CLOSED = "closed"
REASSIGNED = "reassigned"
UNMATCHED = "unmatched"
EXPIRED = "expired"
WITHDRAWN = "withdrawn"

# In life-cycle order: the digest and the diagram list states in this order.
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({NEEDS_INFO, AWAITING_CONSENT, OFFERED, UNMATCHED, CLOSED, WITHDRAWN}),
    NEEDS_INFO: frozenset({AWAITING_CONSENT, OFFERED, UNMATCHED, EXPIRED, CLOSED, WITHDRAWN}),
    AWAITING_CONSENT: frozenset({OFFERED, UNMATCHED, EXPIRED, CLOSED, WITHDRAWN}),
    OFFERED: frozenset({ANSWERED, REASSIGNED, CLOSED, WITHDRAWN}),
    REASSIGNED: frozenset({OFFERED, UNMATCHED, CLOSED, WITHDRAWN}),
    ANSWERED: frozenset({IN_CONVERSATION, FEEDBACK_ASKED, REASSIGNED, CLOSED, WITHDRAWN}),
    IN_CONVERSATION: frozenset({FEEDBACK_ASKED, REASSIGNED, CLOSED, WITHDRAWN}),
    FEEDBACK_ASKED: frozenset({CLOSED, WITHDRAWN}),
    UNMATCHED: frozenset({OFFERED, EXPIRED, CLOSED, WITHDRAWN}),
    CLOSED: frozenset(),
    EXPIRED: frozenset(),
    WITHDRAWN: frozenset(),
}
OPEN_STATES = frozenset(s for s, moves in TRANSITIONS.items() if moves)
FINAL_STATES = frozenset(s for s, moves in TRANSITIONS.items() if not moves)


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


def diagram() -> str:
    """TRANSITIONS as text: one line per open state, its moves in life-cycle order (the
    order of TRANSITIONS' keys), then the final states. The docs carry this exact text."""
    order = list(TRANSITIONS)
    width = max(len(s) for s in OPEN_STATES) + 2
    lines = [
        f"{state:<{width}} -> {' | '.join(sorted(moves, key=order.index))}"
        for state, moves in TRANSITIONS.items()
        if moves
    ]
    finals = [s for s in order if s in FINAL_STATES]
    lines.append(f"{', '.join(finals)}: final")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m mailflow.core.lifecycle: the diagram, to paste in the docs
    print(diagram(), end="")
