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
_SENTENCE = re.compile(r"[.;!?\n]")
_CONTEXT = 300  # characters read before a training for what bears on it
_WISH_REACH = 8  # "je veux intégrer l'ENSICAEN en prépa": a wish reaches this many words
_APPOSED_EN = re.compile(r"(?:^|[,(:])\s*en\s*$")  # "Camille, 17 ans, en CAP ...": held
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
    """VAE when named; formation when a training is wished ("je veux intégrer un IFSI pour
    devenir infirmier") or a diploma is named that is not the person's own schooling; metier
    for someone who does not know what to do yet; else the first kind phrase met."""
    padded = f" {words(text)} "
    reading = rules.kind_reading
    for phrase in rules.kind_phrases["vae"]:
        if f" {phrase} " in padded:
            return Found("vae", f"kind: '{phrase}' -> vae")
    for phrase in reading.not_requests:
        if f" {phrase} " in padded:  # a Found without a value: no kind, even with a trade
            return Found(None, f"kind: '{phrase}' is no request -> none")
    wished = training_wished(text, rules)
    if wished:
        return Found("formation", f"kind: '{wished}' is wished -> formation")
    if has_diploma:
        return Found("formation", "kind: a diploma is named -> formation")
    first: tuple[int, str, str] | None = None
    for kind in ("formation", "metier"):
        for phrase in rules.kind_phrases[kind]:
            at = _first_met(
                padded, phrase, reading.negations, rules if kind == "formation" else None
            )
            if at >= 0 and (first is None or at < first[0]):
                first = (at, kind, phrase)
    if first is None:
        said = next((p for p in reading.orientation if f" {p} " in padded), None)
        return Found("metier", f"kind: '{said}' (no idea yet) -> metier") if said else None
    return Found(first[1], f"kind: '{first[2]}' -> {first[1]}")


def _first_met(
    padded: str, phrase: str, negations: tuple[str, ...], held: UnderstandingRules | None
) -> int:
    """Where the phrase is first said, not right after a negation ("sans diplôme") nor, with
    `held` rules, as the person's own schooling ("je suis en CAP au CFA"); -1 when never."""
    at = padded.find(f" {phrase} ")
    while at >= 0:
        before = padded[: at + 1]
        negated = any(before.endswith(f" {negation} ") for negation in negations)
        if not negated and not (held and _said_after(_before(padded, at), held) == "held"):
            return at
        at = padded.find(f" {phrase} ", at + 1)
    return -1


def training_wished(text: str, rules: UnderstandingRules) -> str | None:
    """The first training named after a wish in its sentence ("je pense au PASS", "passer le
    BAFA", "je veux faire un BTS"), none of [kinds.training] held or other between, and no
    trade wished before it in the sentence ("je voudrais devenir prof, faut-il passer un
    concours ?" asks about the trade; "un IFSI pour devenir infirmier", about the training)."""
    reading = rules.kind_reading
    phrases = (*reading.trainings, *(" ".join(p) for p, _ in rules.diplomas))
    for sentence in _SENTENCE.split(text):
        padded = f" {words(sentence)} "
        found = [
            (at, phrase)
            for phrase in phrases
            for at in _offsets(padded, phrase)
            if _said_after(_before(padded, at), rules, _WISH_REACH) == "wish"
            and not any(f" {other} " in _before(padded, at) for other in reading.other)
        ]
        if found:
            return min(found)[1]
    return None


def training_held(text: str, said: str, rules: UnderstandingRules) -> bool:
    """The training `said` is named as the person's own schooling or diploma ("je suis en
    terminale bac pro ASSP", "une élève de 1ère bac pro"), wherever it is in the text."""
    key = words(said)
    for sentence in _SENTENCE.split(text):
        padded = f" {words(sentence)} "
        for at in _offsets(padded, key):
            if _said_after(_before(padded, at), rules) == "held":
                return True
    return False


def _held_at(text: str, start: int, rules: UnderstandingRules) -> bool:
    """The training named at `start` follows one of [kinds.training] held in its sentence."""
    begin = max(
        (m.end() for m in _SENTENCE.finditer(text, max(0, start - _CONTEXT), start)),
        default=max(0, start - _CONTEXT),
    )
    if _APPOSED_EN.search(text[begin:start]):
        return True
    return _said_after(f" {words(text[begin:start])} ", rules) == "held"


def _before(padded: str, at: int) -> str:
    """The padded words before offset `at`, at most _CONTEXT characters of them: what is
    said before a training that far back no longer bears on it (and a long mail stays
    linear)."""
    return padded[max(0, at + 1 - _CONTEXT) : at + 1]


def _offsets(padded: str, phrase: str) -> list[int]:
    out, at = [], padded.find(f" {phrase} ")
    while at >= 0:
        out.append(at)
        at = padded.find(f" {phrase} ", at + 1)
    return out


def _said_after(before: str, rules: UnderstandingRules, reach: int = 0) -> str | None:
    """ "wish", "held" or "other": the last of [kinds.training] wish / held / other in the
    padded words before a training (within `reach` words when given), None when none is."""
    reading = rules.kind_reading
    if reach:
        before = " " + " ".join(before.split()[-reach:]) + " "
    best, label = -1, None
    for name, phrases in (("wish", reading.wish), ("held", reading.held), ("other", reading.other)):
        for phrase in phrases:
            at = before.rfind(f" {phrase} ")
            end = at + len(phrase)
            if at >= 0 and end > best:
                best, label = end, name
    return label


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
            if not in_form and (
                _is_background(keys[max(0, i - 8) : i], rules)
                or _held_at(text, tokens[i].start, rules)
            ):
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
