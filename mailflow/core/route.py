"""Choosing the best available ambassador for a request (pure: data in, decision out).

The order, first difference wins: the same ROME code or title, then the same ROME domain;
within each, an ambassador of the kind asked for (a VAE request: someone who went through
a VAE; a training: someone trained that way; a trade: a professional) before the others;
then the same commune, département, region, anywhere; then the fewest open conversations,
then the least recently contacted. Never above capacity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mailflow.core.textnorm import words

# Tiers: lower is better. A candidate outside every trade tier is not a match at all.
SAME_TRADE, SAME_DOMAIN = 0, 1
SAME_COMMUNE, SAME_DEPARTMENT, SAME_REGION, ANYWHERE = 0, 1, 2, 3


@dataclass(frozen=True)
class Want:
    """What the request asks for, reduced to what routing compares."""

    kind: str | None
    code_rome: str | None
    title_words: str | None
    department: str | None
    region: str | None
    insee: str | None


@dataclass(frozen=True)
class Candidate:
    """An ambassador as routing sees them: no address, just what is compared."""

    id: int
    kind: str
    code_rome: str | None
    title_words: str
    department: str
    region: str | None
    insee: str | None
    capacity: int
    open_conversations: int
    last_contacted_at: datetime | None
    active: bool = True


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    trade_tier: int
    place_tier: int
    same_kind: bool = True  # the kind asked for, or none asked

    @property
    def why(self) -> str:
        trade = "same trade" if self.trade_tier == SAME_TRADE else "same ROME domain"
        kind = "" if self.same_kind else f" (kind {self.candidate.kind})"
        place = ("same commune", "same département", "same region", "another region")
        return f"{trade}{kind}, {place[self.place_tier]}, {self.candidate.open_conversations} open"


def same_title(asked: str | None, title_words: str) -> bool:
    """Every meaningful word asked for appears in the title ("fluides énergies" matches
    "BTS Fluides énergies domotique"), for trainings that have no ROME code."""
    wanted = {w for w in words(asked or "").split() if len(w) > 2}
    return bool(wanted) and wanted <= set(title_words.split())


def trade_tier(want: Want, c: Candidate) -> int | None:
    if want.code_rome and c.code_rome == want.code_rome:
        return SAME_TRADE
    if same_title(want.title_words, c.title_words):
        return SAME_TRADE
    if want.code_rome and c.code_rome and c.code_rome[:3] == want.code_rome[:3]:
        return SAME_DOMAIN
    return None


def place_tier(want: Want, c: Candidate) -> int:
    if want.insee and c.insee == want.insee:
        return SAME_COMMUNE
    if want.department and c.department == want.department:
        return SAME_DEPARTMENT
    if want.region and c.region == want.region:
        return SAME_REGION
    return ANYWHERE


def available(c: Candidate) -> bool:
    return c.active and c.open_conversations < c.capacity


def choose(
    want: Want, candidates: Iterable[Candidate], exclude: frozenset[int] = frozenset()
) -> Choice | None:
    """Best trade, the kind asked for within it, then nearest place, then the least loaded
    and least recently contacted; never above capacity. None when nobody fits."""
    best: tuple[tuple, Choice] | None = None
    for c in candidates:
        if c.id in exclude or not available(c):
            continue
        tier = trade_tier(want, c)
        if tier is None:
            continue
        same_kind = want.kind is None or c.kind == want.kind
        choice = Choice(c, tier, place_tier(want, c), same_kind)
        key = (
            choice.trade_tier,
            not same_kind,
            choice.place_tier,
            c.open_conversations,
            c.last_contacted_at or datetime.min,
            c.id,
        )
        if best is None or key < best[0]:
            best = (key, choice)
    return best[1] if best else None
