"""Finding one field each in free French text: kind and diploma (the place: place_text.py;
age and situation: person.py).

Each finder returns the value and a short note saying what words gave it, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.core.textnorm import words
from mailflow.understand.rules import Phrase, UnderstandingRules
from mailflow.understand.tokens import Token, tokenize

_BREAK = re.compile(r"[.,;:!?()\n\"]")
_CODE = re.compile(r"^(?:\d{2}|2[ab]|97\d)$")
_WORD = re.compile(r"[a-z0-9]+")
_JOIN = re.compile(r"[ -]+")
_NUMBER_WORDS = 6  # "quatre vingt dix et neuf": the longest spelling tried


@dataclass(frozen=True)
class Found:
    """A value and how it was found (for ParsedRequest.notes)."""

    value: object
    note: str
    start: int = 0  # character span in the searched text, when it matters
    end: int = 0
    weak: bool = False  # a place found only after "de" ("un boulanger de Lisieux")


def with_digits(folded: str, rules: UnderstandingRules) -> str:
    """Number words as digits: "j ai dix-sept ans" -> "j ai 17 ans" (folded text)."""
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(folded)]
    if not any(word in rules.number_starts for _, _, word in spans):
        return folded
    out: list[str] = []
    last = i = 0
    while i < len(spans):
        size = _number_at(folded, spans, i, rules) if spans[i][2] in rules.number_starts else None
        if size is None:
            i += 1
            continue
        n, value = size
        out += [folded[last : spans[i][0]], str(value)]
        last, i = spans[i + n - 1][1], i + n
    return "".join([*out, folded[last:]])


def _number_at(
    folded: str, spans: list[tuple[int, int, str]], i: int, rules: UnderstandingRules
) -> tuple[int, int] | None:
    """(words used, value) of the longest number spelt from word i, joined by - or spaces."""
    n = 1
    while (
        i + n < len(spans)
        and n < _NUMBER_WORDS
        and _JOIN.fullmatch(folded[spans[i + n - 1][1] : spans[i + n][0]])
    ):
        n += 1
    for size in range(n, 0, -1):
        value = rules.numbers.get(" ".join(word for _, _, word in spans[i : i + size]))
        if value is not None:
            return size, value
    return None


def find_kind(text: str, rules: UnderstandingRules, has_diploma: bool) -> Found | None:
    """VAE when named; formation when a diploma is named; else the first kind phrase met."""
    padded = f" {words(text)} "
    for phrase in rules.kind_phrases["vae"]:
        if f" {phrase} " in padded:
            return Found("vae", f"kind: '{phrase}' -> vae")
    if has_diploma:
        return Found("formation", "kind: a diploma is named -> formation")
    first: tuple[int, str, str] | None = None
    for kind in ("formation", "metier"):
        for phrase in rules.kind_phrases[kind]:
            at = padded.find(f" {phrase} ")
            if at >= 0 and (first is None or at < first[0]):
                first = (at, kind, phrase)
    return Found(first[1], f"kind: '{first[2]}' -> {first[1]}") if first else None


def find_diploma(text: str, rules: UnderstandingRules, in_form: bool = False) -> Found | None:
    """ "un CAP Pâtissier" -> ("CAP", "Pâtissier"); skips "je suis en BTS" (current schooling)."""
    tokens = tokenize(text)
    keys = [t.key for t in tokens]
    found: Found | None = None
    for i in range(len(tokens)):
        for phrase, name in rules.diplomas:
            end = i + len(phrase)
            if tuple(keys[i:end]) != phrase or not _diploma_ok(tokens, i, phrase, rules, in_form):
                continue
            if not in_form and _is_background(keys[max(0, i - 8) : i], rules):
                break
            speciality = _speciality(text, tokens, end, rules)
            note = f"diploma: '{text[tokens[i].start : tokens[end - 1].end]}' -> {name}"
            current = Found((name, speciality), note, tokens[i].start, tokens[end - 1].end)
            if speciality:
                return current
            found = found or current
            break
    return found


def _diploma_ok(
    tokens: list[Token], i: int, phrase: Phrase, rules: UnderstandingRules, in_form: bool
) -> bool:
    if len(phrase) == 1 and phrase[0] in rules.diploma_uppercase and not in_form:
        shouting = sum(t.text.isupper() for t in tokens) > len(tokens) / 2
        return tokens[i].text.isupper() and not shouting  # "BUT" but not an all-caps "MON BUT"
    return True


def _is_background(before: list[str], rules: UnderstandingRules) -> bool:
    text = " ".join(before)
    trimmed = text
    for article in (" un", " une", " mon", " ma", " le", " la", " l", " d", " des", " du"):
        trimmed = trimmed.removesuffix(article)
    return any(t.endswith(bg) for bg in rules.diploma_background for t in (text, trimmed) if t)


def _speciality(
    text: str, tokens: list[Token], start: int, rules: UnderstandingRules
) -> str | None:
    """Words after the diploma, up to punctuation, a digit or a stop word ("près", "pour")."""
    picked: list[Token] = []
    for j in range(start, min(start + 7, len(tokens))):
        token = tokens[j]
        gap = text[tokens[j - 1].end : token.start]
        if _BREAK.search(gap) or token.key[0].isdigit():
            break
        if not picked and token.key in rules.speciality_skip:
            continue
        if token.key in rules.speciality_stop or token.key in rules.stop_words:
            break
        picked.append(token)
    return text[picked[0].start : picked[-1].end] if picked else None
