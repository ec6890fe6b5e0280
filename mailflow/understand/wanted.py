"""Which of the trades a mail names is the one WANTED, and a wanted trade ROME lacks (pure).

"je suis aide-soignante et je voudrais rencontrer une infirmière": the trade after a wish
(rencontrer, devenir, faire une VAE de...) beats one held ("je suis", "mon père est"); a trade
refused ("je ne veux pas faire mécanicien", "plutôt cuisinier que serveur") is never chosen.
The phrases are [wishes] in rules/understanding.toml.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from mailflow.core.textnorm import words
from mailflow.understand.fields import Found
from mailflow.understand.rules import UnderstandingRules
from mailflow.understand.tokens import Token, tokenize
from mailflow.understand.trade_index import TradeHit

WINDOW = 240  # characters before a trade read for its cues (a wish, a refusal)
_CLAUSE = re.compile(r"[.,;:!?\n]|\bmais\b", re.I)
_WISH_WORDS = 6  # words before a trade where a wish or a held cue counts
_WANTED, _NEUTRAL, _HELD = 2, 1, 0


def choose(
    text: str, hits: list[TradeHit], rules: UnderstandingRules
) -> tuple[TradeHit | None, list[str]]:
    """The trade asked for, and a note for each trade refused; None when all are refused."""
    notes: list[str] = []
    scored: list[tuple[int, int, TradeHit]] = []
    breaks = [0, *(m.end() for m in _CLAUSE.finditer(text))] if hits else []
    for i, hit in enumerate(hits):
        previous = hits[i - 1] if i else None
        # Bounded windows: a mail naming thousands of "trades" in one clause stays linear.
        start = max(breaks[bisect_right(breaks, hit.start) - 1], hit.start - WINDOW)
        clause = text[start : hit.start]
        if _refused(text, clause, hit, previous, rules):
            notes.append(f"trade: '{hit.text}' refused, not the one asked for")
            continue
        scored.append((_score(text, hit, previous, rules), -hit.start, hit))
    return (max(scored, key=lambda s: s[:2])[2] if scored else None), notes


def _score(text: str, hit: TradeHit, previous: TradeHit | None, rules: UnderstandingRules) -> int:
    """Wanted when the nearest cue before it is a wish, held when it is "je suis"..."""
    since = max(previous.end if previous else 0, hit.start - WINDOW)
    before = words(text[since : hit.start]).split()[-_WISH_WORDS:]
    padded = f" {' '.join(before)} "
    wishes = (
        rules.wish_phrases
        + rules.kind_phrases["metier"]
        + rules.kind_phrases["vae"]
        + rules.kind_phrases["formation"]
    )
    best: tuple[int, int, int] | None = None  # (end, length, score)
    for phrases, score in ((wishes, _WANTED), (rules.wanted.held, _HELD)):
        for phrase in phrases:
            at = padded.rfind(f" {phrase} ")
            if at >= 0:
                cue = (at + len(phrase), len(phrase), score)
                best = cue if best is None or cue[:2] > best[:2] else best
    return best[2] if best else _NEUTRAL


def _refused(
    text: str, clause: str, hit: TradeHit, previous: TradeHit | None, rules: UnderstandingRules
) -> bool:
    """A refusal since the clause began ("pas", "jamais"), or the "que" of "plutôt X que"."""
    w = rules.wanted
    padded = f" {words(clause)} "
    for phrase in w.unrefusals:
        padded = padded.replace(f" {phrase} ", " _ ")
    if any(f" {phrase} " in padded for phrase in w.refusals):
        return True
    if previous is None:  # "plutôt cuisinier que serveur": serveur is refused
        return False
    between = words(text[max(previous.end, hit.start - WINDOW) : hit.start]).split()
    lead = words(text[max(0, previous.start - 60) : previous.start]).split()[-3:]
    return len(between) == 1 and between[0] in w.than and any(x in w.rather for x in lead)


def unlisted(text: str, rules: UnderstandingRules) -> Found | None:
    """ "je voudrais rencontrer un astronaute" -> "astronaute": the noun a wish verb takes,
    when ROME has no such trade. Never a vague word ("quelqu'un", "un professionnel")."""
    w = rules.wanted
    tokens = tokenize(text)
    keys = [t.key for t in tokens]
    for i in range(len(tokens)):
        for verb in w.object_verbs:
            end = i + len(verb)
            if tuple(keys[i:end]) != verb:
                continue
            noun = _object(tokens, end, verb in w.with_article, rules)
            if noun is not None:
                note = f"trade: '{noun.text}' after '{' '.join(verb)}', not in ROME (unlisted)"
                return Found(noun.text, note, noun.start, noun.end)
            break
    return None


def _object(
    tokens: list[Token], at: int, needs_article: bool, rules: UnderstandingRules
) -> Token | None:
    w = rules.wanted
    if at < len(tokens) and tokens[at].key in w.articles:
        at += 1
    elif needs_article:
        return None
    if at >= len(tokens):
        return None
    token = tokens[at]
    key = token.key
    vague = key in w.not_trades or key in rules.stop_words or key in w.articles
    participle = token.text.lower().endswith(("é", "ée", "és", "ées"))
    if vague or participle or len(key) < 4 or not key.isalpha():
        return None
    return token
