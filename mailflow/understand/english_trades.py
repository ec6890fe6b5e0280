"""English trade names ("electrician", "vet nurse", "web developer") -> ROME trades.

The table is [trades] in rules/english.toml: phrase -> ROME code. Each code becomes the
Trade of its principal appellation, so an English request is routed exactly as a French one
naming that trade. Only read for a mail written in English (mail.py): "chef" or "pilot" in a
French mail stay the French index's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mailflow.core.values import Trade
from mailflow.errors import RulesError
from mailflow.understand.tokens import Token, tokenize
from mailflow.understand.trade_index import TradeHit, TradeIndex

Key = tuple[str, ...]
_MAX_WORDS = 6


def singular(word: str) -> str:
    """Crude English singular: "electricians" -> "electrician", "firemen" -> "fireman"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("men"):
        return word[:-3] + "man"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _key(words: list[str]) -> Key:
    return tuple(singular(w) for w in words)


@dataclass(frozen=True)
class EnglishTrades:
    """Folded, singular phrases -> their trade (None: a phrase that names no trade)."""

    phrases: Mapping[Key, Trade | None]
    heads: frozenset[str]  # first words of the phrases, for "I'm a hairdresser" (a job)

    @classmethod
    def build(cls, table: Mapping[str, str], trades: TradeIndex) -> EnglishTrades:
        """Each code must be a ROME code; its principal appellation names the trade."""
        best: dict[str, int] = {}
        for i, entry in enumerate(trades.entries):
            old = best.get(entry.code_rome)
            if old is None or entry.rank() < trades.entries[old].rank():
                best[entry.code_rome] = i
        phrases: dict[Key, Trade | None] = {}
        for phrase, code in table.items():
            key = _key([t.key for t in tokenize(phrase)])
            code = str(code).strip().upper()
            if not key or len(key) > _MAX_WORDS:
                raise RulesError(f"english.toml: [trades] {phrase!r} is no phrase of 1-6 words")
            if code and code not in best:
                raise RulesError(f"english.toml: [trades] {phrase!r} -> {code}: no such ROME code")
            phrases[key] = trades.trade(best[code]) if code else None
        heads = frozenset(k[0] for k, trade in phrases.items() if trade is not None)
        return cls(MappingProxyType(phrases), heads)

    def find(self, text: str) -> list[TradeHit]:
        """Every non-overlapping English trade named, longest phrases first, in reading order."""
        tokens = tokenize(text)
        keys = [singular(t.key) for t in tokens]
        taken = [False] * len(tokens)
        found: list[tuple[int, int, Trade | None]] = []
        for n in range(min(_MAX_WORDS, len(keys)), 0, -1):
            for i in range(len(keys) - n + 1):
                key = tuple(keys[i : i + n])
                if key in self.phrases and not any(taken[i : i + n]):
                    found.append((i, i + n, self.phrases[key]))
                    taken[i : i + n] = [True] * n
        return [_hit(text, tokens, a, b, t) for a, b, t in sorted(found, key=lambda f: f[0]) if t]

    def starts_a_title(self, word: str) -> bool:
        """The folded word starts an English trade name ("hairdresser", "care")."""
        return singular(word) in self.heads


def _hit(text: str, tokens: list[Token], a: int, b: int, trade: Trade) -> TradeHit:
    start, end = tokens[a].start, tokens[b - 1].end
    return TradeHit(trade, text[start:end], start, end, "english", b - a)


def merge_hits(english: list[TradeHit], french: list[TradeHit]) -> list[TradeHit]:
    """The English hits, and the French ones ("aide-soignant", "CAP esthétique") that overlap
    none of them, in reading order."""
    kept = [h for h in french if all(h.end <= e.start or h.start >= e.end for e in english)]
    return sorted([*english, *kept], key=lambda h: h.start)
