"""Who a request may not be offered to again (pure: its past offers in, ids out).

Every ambassador who had the request stays out (they declined, did not answer, left, were
unreachable, or have it now), except one whose offer was taken back only because they were
away and who never answered: back from their absence, they are a candidate like any other.
Whether they are back yet is the directory's business (`intake.available_now`), not this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

AWAY = "away"  # services/handover.AWAY, the stored closing reason


@dataclass(frozen=True)
class PastOffer:
    ambassador_id: int
    open: bool
    reason: str | None  # the closing reason code (handover.reason_of) of a closed offer
    answered: bool


def skipped_only_while_away(offer: PastOffer) -> bool:
    return not offer.open and offer.reason == AWAY and not offer.answered


def excluded(offers: Iterable[PastOffer]) -> frozenset[int]:
    """The ambassadors to leave out; one offer that excludes them is enough."""
    return frozenset(o.ambassador_id for o in offers if not skipped_only_while_away(o))
