"""Choosing the best available ambassador for a request (pure: data in, decision out).

The order, first difference wins: the same ROME code or title, then a close trade of the
domain (its ROME parent or child first: the developer for a game developer, before the web
one; then the same ROME family, or the same head word: another nurse for an "infirmière
scolaire", before the aide-soignants), then the rest of the same ROME domain; within each,
an ambassador of the kind asked for (a VAE request: someone who went through
a VAE; a training: someone trained that way; a trade: a professional) before the others;
then the same commune, département, region, anywhere; then the fewest open conversations,
then the least recently contacted. Never above capacity.

How far a match may stretch from what was asked is policy (rules/matching.toml, read into
a `MatchingPolicy`): another trade of the same ROME domain, another kind, another
département of the region, another region. Each is allowed or not on its own, and some
never together (by default a trade of the domain *and* another region: a plumber in Bayeux
for an electrician in Lille). A candidate whose stretch the policy refuses is not a match;
the stretch of the one chosen is told to both sides and stored with the offer.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailflow.core.textnorm import words
from mailflow.errors import RulesError

# Tiers: lower is better. A candidate outside every trade tier is not a match at all.
SAME_TRADE, SAME_DOMAIN = 0, 1
SAME_COMMUNE, SAME_DEPARTMENT, SAME_REGION, ANYWHERE = 0, 1, 2, 3

# What a match may stretch, in the order they are stored and told ("trade,department").
TRADE, KIND, DEPARTMENT, REGION = "trade", "kind", "department", "region"
STRETCHES = (TRADE, KIND, DEPARTMENT, REGION)
EXACT, STRETCHED = "exact", "stretched"  # stored match quality of an offer


@dataclass(frozen=True)
class MatchingPolicy:
    """Which stretches are allowed alone (`allow`) and which never together (`never`)."""

    allow: frozenset[str] = frozenset(STRETCHES)
    never: tuple[frozenset[str], ...] = field(
        default=(frozenset({TRADE, REGION}), frozenset({TRADE, KIND}))
    )

    def accepts(self, stretched: Iterable[str]) -> bool:
        made = set(stretched)
        return made <= self.allow and not any(pair <= made for pair in self.never)


DEFAULT_POLICY = MatchingPolicy()
ANY_STRETCH = MatchingPolicy(never=())  # ranking only: for tools and tests that say so


def load_matching_policy(rules_dir: Path) -> MatchingPolicy:
    """Read rules/matching.toml; an unknown stretch name is a RulesError."""
    path = Path(rules_dir) / "matching.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        allow = frozenset(k for k, v in data["allow"].items() if v is True)
        never = tuple(frozenset(group) for group in data["never_together"])
        unknown = (set(data["allow"]) | set().union(*never)) - set(STRETCHES)
        if unknown:
            raise ValueError(f"unknown stretch {sorted(unknown)}, expected {list(STRETCHES)}")
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return MatchingPolicy(allow, never)


@dataclass(frozen=True)
class Want:
    """What the request asks for, reduced to what routing compares."""

    kind: str | None
    code_rome: str | None
    title_words: str | None
    department: str | None
    region: str | None
    insee: str | None
    close_codes: frozenset[str] = frozenset()  # Referential.close_codes: tried first in the domain
    near_codes: frozenset[str] = frozenset()  # Referential.near_codes: before the other close ones


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
    stretched: tuple[str, ...] = ()  # of STRETCHES, in their order: () is an exact match
    close: bool = False  # in the domain, a trade close to the one asked (Want.close_codes)

    @property
    def why(self) -> str:
        trade = (
            "same trade"
            if self.trade_tier == SAME_TRADE
            else "close trade (same ROME family)"
            if self.close
            else "same ROME domain"
        )
        kind = "" if self.same_kind else f" (kind {self.candidate.kind})"
        place = ("same commune", "same département", "same region", "another region")
        quality = f", stretched: {'+'.join(self.stretched)}" if self.stretched else ""
        return (
            f"{trade}{kind}, {place[self.place_tier]}, "
            f"{self.candidate.open_conversations} open{quality}"
        )


def same_title(asked: str | None, title_words: str) -> bool:
    """Every meaningful word asked for appears in the title ("fluides énergies" matches
    "BTS Fluides énergies domotique"), for trainings that have no ROME code."""
    wanted = {w for w in words(asked or "").split() if len(w) > 2}
    return bool(wanted) and wanted <= set(title_words.split())


def trade_tier(want: Want, c: Candidate) -> int | None:
    if want.code_rome and c.code_rome == want.code_rome:
        return SAME_TRADE
    if same_title(want.title_words, c.title_words) and not (
        want.code_rome and c.code_rome  # two codes that differ: the words are not enough
    ):
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


def stretch_of(want: Want, c: Candidate) -> tuple[str, ...]:
    """What differs from the request in this match, of STRETCHES in their order. A place
    or kind not asked is never a stretch; any other trade than the one asked is one (the
    coordinator may choose outside the domain: it is still told and counted)."""
    made = []
    if trade_tier(want, c) != SAME_TRADE:
        made.append(TRADE)
    if want.kind and c.kind != want.kind:
        made.append(KIND)
    tier = place_tier(want, c)
    if want.region and tier == ANYWHERE:
        made.append(REGION)
    elif want.department and tier > SAME_DEPARTMENT:
        made.append(DEPARTMENT)
    return tuple(made)


def quality(stretched: Iterable[str]) -> str:
    """The stored value of a match: "exact", or "stretched:trade,region"."""
    made = ",".join(stretched)
    return f"{STRETCHED}:{made}" if made else EXACT


def available(c: Candidate) -> bool:
    return c.active and c.open_conversations < c.capacity


def choose(
    want: Want,
    candidates: Iterable[Candidate],
    exclude: frozenset[int] = frozenset(),
    policy: MatchingPolicy = DEFAULT_POLICY,
) -> Choice | None:
    """Best trade, the kind asked for within it, then nearest place, then the least loaded
    and least recently contacted; never above capacity nor beyond what `policy` lets a
    match stretch. None when nobody fits."""
    best: tuple[tuple, Choice] | None = None
    for c in candidates:
        if c.id in exclude or not available(c):
            continue
        tier = trade_tier(want, c)
        if tier is None:
            continue
        stretched = stretch_of(want, c)
        if not policy.accepts(stretched):
            continue
        same_kind = want.kind is None or c.kind == want.kind
        near = tier == SAME_DOMAIN and c.code_rome in want.near_codes
        close = near or (tier == SAME_DOMAIN and c.code_rome in want.close_codes)
        choice = Choice(c, tier, place_tier(want, c), same_kind, stretched, close)
        key = (
            choice.trade_tier,
            not near,  # within the domain: the ROME parent or child first (issue 13),
            not close,  # then a close trade (same family, same head word), then the rest
            not same_kind,
            choice.place_tier,
            c.open_conversations,
            c.last_contacted_at or datetime.min,
            c.id,
        )
        if best is None or key < best[0]:
            best = (key, choice)
    return best[1] if best else None
