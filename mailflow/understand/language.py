"""The language a request is written in: English or French, from the small words it uses.

Some families in Normandy write in English. Function words ("the", "my", "would" against
"le", "mon", "voudrais") tell the two apart in a few words, and a French word quoted in an
English mail ("CAP esthétique", "Lycée Jeanne d'Arc") does not sway it. The words are
[language] in rules/english.toml. Pure: text in, "en" or "fr" out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailflow.core.textnorm import words

FRENCH, ENGLISH = "fr", "en"
LANGS = (FRENCH, ENGLISH)


@dataclass(frozen=True)
class LanguageRules:
    """[language]: the words counted, and how many more English ones make a mail English."""

    english: frozenset[str] = frozenset()  # folded words that are English, never French
    french: frozenset[str] = frozenset()  # folded words that are French, never English
    min_english: int = 3  # at least this many English words ...
    ratio: float = 1.5  # ... and this many times the French ones
    read_words: int = 60  # among the first words: a request opens with it, a footer comes last
    opening_words: int = 15  # ... and more English than French words among these


def detect(text: str, rules: LanguageRules | None) -> str:
    """ "en" when the text's function words are English: in its first words, and more
    English than French in its opening (a French request above an English footer stays
    French); else "fr" (the default: a short or mixed mail is read, and answered, in French
    as before)."""
    if rules is None or not rules.english:
        return FRENCH
    read = words(text).split()[: rules.read_words]
    english, french = _counts(read, rules)
    opening_english, opening_french = _counts(read[: rules.opening_words], rules)
    if (
        english >= rules.min_english
        and english > french * rules.ratio
        and opening_english > opening_french
    ):
        return ENGLISH
    return FRENCH


def _counts(read: list[str], rules: LanguageRules) -> tuple[int, int]:
    english = sum(word in rules.english for word in read)
    return english, sum(word in rules.french for word in read)


def language_rules(table: Mapping[str, Any]) -> LanguageRules:
    """[language] of rules/english.toml."""
    return LanguageRules(
        english=frozenset(words(w) for w in table.get("english", [])),
        french=frozenset(words(w) for w in table.get("french", [])),
        min_english=int(table.get("min_english", 3)),
        ratio=float(table.get("ratio", 1.5)),
        read_words=int(table.get("read_words", 60)),
        opening_words=int(table.get("opening_words", 15)),
    )


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """understanding.toml's tables with [understanding] of english.toml added: lists appended,
    tables merged key by key, each of [[situations]] or [[domains]] merged into the French one
    of the same name (a new name is appended), other values replaced. Neither argument is
    changed."""
    out: dict[str, Any] = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if _named(old) and _named(value):  # [[situations]], [[domains]]
            out[key] = _by_name(old, value)
        elif isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merged(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = [*old, *value]
        else:
            out[key] = value
    return out


def _named(value: object) -> bool:
    """A list of tables each with a name: [[situations]], [[domains]]."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, Mapping) and "name" in v for v in value)
    )


def _by_name(old: list[Mapping[str, Any]], extra: list[Mapping[str, Any]]) -> list[Any]:
    by_name = {s["name"]: s for s in extra}
    out = [merged(s, by_name.pop(s["name"])) if s["name"] in by_name else s for s in old]
    return [*out, *by_name.values()]
