"""Text folding shared by every matcher: case, accents, ligatures, punctuation."""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "’": "'", "ß": "ss"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, strip accents and ligatures; keep punctuation."""
    text = text.translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> str:
    """Fold and keep only words: "Aide-soignant(e)" -> "aide soignant e"."""
    return _NON_WORD.sub(" ", fold(text)).strip()
