"""Which of the places a mail names is the one (place_text.find_place gathers them): where
the person is, not where they come from ("née à Paris"); the place after "mais" when it is as
precise ("j'habite à Paris mais je rentre à Caen"); the département of two communes offered as
alternatives ("à Lille ou Roubaix"); a town after "de" rather than the common noun before it
("à l'hôpital de Rouen"). Pure: candidates in, candidates out.
"""

from __future__ import annotations

import re

from mailflow.core.textnorm import words
from mailflow.core.values import Place
from mailflow.understand.fields import Found
from mailflow.understand.place_index import Commune
from mailflow.understand.referential import Referential
from mailflow.understand.rules import UnderstandingRules
from mailflow.understand.tokens import Token


def follows(text: str, found: Found, phrases: tuple[str, ...]) -> bool:
    """The place comes right after one of these folded phrases ("j habite a", "nee a")."""
    before = " " + words(text[max(0, found.start - 24) : found.start])
    return any(before.endswith(" " + p) for p in phrases)


def not_origins(text: str, candidates: list[Found], rules: UnderstandingRules) -> list[Found]:
    """Without the birthplaces ("née à Paris", "originaire de Lisieux") when another place is
    named: where the person is, not where they come from."""
    kept = [c for c in candidates if not follows(text, c, rules.origin_before)]
    return kept or candidates


_SENTENCE_END = re.compile(r"[.!?\n]")


def after_contrast(
    text: str, tokens: list[Token], candidates: list[Found], rules: UnderstandingRules
) -> list[Found]:
    """ "j'habite à Paris mais je rentre à Caen": the places before the last "mais" that has
    places on both sides, and one after it in its sentence, are left out; unless the one
    after is vaguer ("j'habite à Rennes mais je viens souvent en Normandie": Rennes)."""
    for token in reversed(tokens):
        if token.key not in rules.contrasts:
            continue
        stop = _SENTENCE_END.search(text, token.end)
        end = stop.start() if stop else len(text)
        later = [c for c in candidates if c.start > token.end]
        earlier = [c for c in candidates if c.start <= token.end]
        said = [precision(c.value) for c in later if c.start < end]
        if said and earlier and max(said) >= max(precision(c.value) for c in earlier):
            return later
    return candidates


def unless_alternatives(
    text: str,
    tokens: list[Token],
    best: Found,
    candidates: list[Found],
    ref: Referential,
    rules: UnderstandingRules,
) -> Found:
    """ "à Lille ou Roubaix", "secteur Bolbec / Lillebonne": when the commune chosen is one of
    several offered, no one commune is meant; the département of the first is."""
    place = best.value
    assert isinstance(place, Place)
    if not place.commune:
        return best
    for found in candidates:
        first = found.value
        assert isinstance(first, Place)
        if not first.commune:
            continue
        other = _offered_after(text, tokens, found.end, ref, rules)
        if other is None or place.insee not in (first.insee, other[0].insee):
            continue
        return Found(
            Place(department=first.department, region=first.region),
            f"place: '{text[found.start : other[1]]}' -> département {first.department}"
            " (communes offered as alternatives)",
            found.start,
            other[1],
        )
    return best


def _offered_after(
    text: str, tokens: list[Token], end: int, ref: Referential, rules: UnderstandingRules
) -> tuple[Commune, int] | None:
    """The commune offered as an alternative right after a place ending at `end`: "ou
    Roubaix", "ou de Flers", "/ Lillebonne", and where it ends."""
    i = next((k for k, t in enumerate(tokens) if t.start >= end), len(tokens))
    for skip in (2, 1, 0):
        if i + skip >= len(tokens):
            continue
        head = tokens[i + skip]
        between = text[end : head.start]
        said = words(between)
        if not (said in rules.alternatives or (not said and ("/" in between or "," in between))):
            continue
        if not head.capitalized or head.key in rules.stop_words:
            return None
        hit = ref.communes_at([t.key for t in tokens[i + skip : i + skip + 6]])
        if hit is None:
            return None
        n, named = hit
        return ref.places.best(named), tokens[i + skip + n - 1].end
    return None


def precision(place: object) -> int:
    assert isinstance(place, Place)
    return 3 if place.commune else 2 if place.department else 1


def inside(found: Found, others: list[Found]) -> bool:
    """Within a longer place: "Bray" of "Pays de Bray", "Caen" of "Plaine de Caen"."""
    return any(
        o.start <= found.start and found.end <= o.end and o.end - o.start > found.end - found.start
        for o in others
    )


def town_follows(text: str, found: Found, communes: list[Found], rules: UnderstandingRules) -> bool:
    """ "à l'hôpital de Rouen", "à la poste de Caen": the common noun before "de <commune>" is
    no commune of its own (L'Hôpital, 57); the town after it is the place."""
    return any(
        other.start > found.end and words(text[found.end : other.start]) in rules.of_words
        for other in communes
    )
