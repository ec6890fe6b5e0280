"""Finding one field each in free French text: kind, diploma, place (age and situation:
person.py).

Each finder returns the value and a short note saying what words gave it, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailflow.core.textnorm import words
from mailflow.core.values import Place
from mailflow.understand.place_index import Clues
from mailflow.understand.referential import Referential
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
        if not picked and token.key in ("en", "de", "d", "du", "option"):
            continue
        if token.key in rules.speciality_stop or token.key in rules.stop_words:
            break
        picked.append(token)
    return text[picked[0].start : picked[-1].end] if picked else None


def find_place(text: str, ref: Referential, rules: UnderstandingRules) -> Found | None:
    """The most precise place named after a place word: "près de Caen", "dans le 14", "14000".
    A département or région named too tells which of several same-named communes is meant."""
    tokens = tokenize(text)
    areas = [
        c
        for i in range(len(tokens))
        for c in (
            _postcode_at(text, tokens, i, ref, rules),
            _code_at(text, tokens, i, ref, rules),
            _area_at(tokens, i, ref, rules),
        )
        if c is not None
    ]
    clues = Clues(
        frozenset(c.value.department for c in areas if c.value.department),  # type: ignore[attr-defined]
        frozenset(c.value.region for c in areas if c.value.region),  # type: ignore[attr-defined]
    )
    communes = [_commune_at(text, tokens, i, ref, rules, clues) for i in range(len(tokens))]
    candidates = areas + [c for c in communes if c is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (_precision(c.value), -c.start))


def _precision(place: object) -> int:
    assert isinstance(place, Place)
    return 3 if place.commune else 2 if place.department else 1


@lru_cache(maxsize=32)
def _by_last_word(phrases: tuple[Phrase, ...]) -> dict[str, tuple[Phrase, ...]]:
    """Phrases by their last word, longest first, so most tokens are ruled out at once."""
    out: dict[str, list[Phrase]] = {}
    for phrase in phrases:
        out.setdefault(phrase[-1], []).append(phrase)
    return {word: tuple(sorted(found, key=len, reverse=True)) for word, found in out.items()}


def _after(tokens: list[Token], i: int, phrases: tuple[Phrase, ...]) -> Phrase | None:
    """The place word (phrase) that ends just before token i, if any."""
    candidates = _by_last_word(phrases).get(tokens[i - 1].key) if i else None
    if not candidates:
        return None
    keys = tuple(t.key for t in tokens[max(0, i - 4) : i])
    for phrase in candidates:
        if keys[len(keys) - len(phrase) :] == phrase and len(keys) >= len(phrase):
            return phrase
    return None


def _postcode_at(
    text: str, tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    """ "14000", "code postal 14 000" after a place word, or before the commune's name."""
    token, n = tokens[i], 1
    code = token.key
    if len(code) == 2 and code.isdigit() and i + 1 < len(tokens):  # "14 000"
        nxt = tokens[i + 1]
        if len(nxt.key) == 3 and nxt.key.isdigit() and text[token.end : nxt.start] == " ":
            code, n = code + nxt.key, 2
    if not (len(code) == 5 and code.isdigit()):
        return None
    after = tokens[i + n].key if i + n < len(tokens) else ""
    place = ref.match_postcode(code)
    if place is None or after in rules.not_after_code:
        return None
    following = [t.key for t in tokens[i + n : i + n + 4]]
    named = ref.communes_at(following) if following else None
    confirmed = [c.commune for c in named[1] if code in c.commune.postcodes] if named else []
    before = _after(tokens, i, rules.commune_before + rules.area_before + (("cp",), ("postal",)))
    if not (confirmed or before):
        return None
    if confirmed:
        place = confirmed[0].place(code)
    end = tokens[i + n - 1].end
    return Found(place, f"place: '{text[token.start : end]}' -> postcode {code}", token.start, end)


def _code_at(
    text: str, tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    """ "dans le 14", "du 50", or "Caen (14)"."""
    token = tokens[i]
    if not _CODE.match(token.key):
        return None
    nxt = tokens[i + 1].key if i + 1 < len(tokens) else ""
    bracketed = (
        text[token.start - 1 : token.start] == "(" and text[token.end : token.end + 1] == ")"
    )
    phrase = _after(tokens, i, rules.code_before)
    if not (bracketed or phrase) or nxt in rules.not_after_code or nxt.isdigit():
        return None
    place = ref.match_department_code(token.key)
    if place is None:
        return None
    how = "(" + token.text + ")" if bracketed else f"{' '.join(phrase or ())} {token.text}"
    return Found(place, f"place: '{how}' -> département {place.department}", token.start, token.end)


def _commune_at(
    text: str,
    tokens: list[Token],
    i: int,
    ref: Referential,
    rules: UnderstandingRules,
    clues: Clues,
) -> Found | None:
    phrase = _after(tokens, i, rules.commune_before)
    if phrase is None or tokens[i].key in rules.stop_words or tokens[i].key.isdigit():
        return None
    hit = ref.communes_at([t.key for t in tokens[i : i + 6]])
    if hit is None:
        return _area_named(tokens, i, ref, rules, phrase)
    n, named = hit
    if ref.places.cut_in_a_name(text, tokens[i:], n):
        return None  # "Condé" of an unknown "Condé-sur-Truc": not the shorter name
    end = tokens[i + n - 1].end
    commune = ref.places.best(named, text[tokens[i].start : end], clues)
    if not tokens[i].capitalized and commune.population < rules.lowercase_min_population:
        return None
    place = commune.place()
    words_ = " ".join([*phrase, *(t.text for t in tokens[i : i + n])])
    return Found(
        place,
        f"place: '{words_}' -> commune {place.commune} ({place.department})",
        tokens[i].start,
        end,
    )


def _area_at(
    tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    phrase = _after(tokens, i, rules.area_before)
    return _area_named(tokens, i, ref, rules, phrase) if phrase else None


def _area_named(
    tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules, phrase: Phrase
) -> Found | None:
    """A département or région name starting at token i ("Calvados", "Seine-Maritime")."""
    if tokens[i].key in rules.stop_words or tokens[i].key.isdigit():
        return None
    for n in range(min(5, len(tokens) - i), 0, -1):
        name = " ".join(t.key for t in tokens[i : i + n])
        place = ref.places.department_named(name) or ref.places.region_named(name)
        if place:
            what = (
                f"département {place.department}" if place.department else f"région {place.region}"
            )
            said = " ".join([*phrase, *(t.text for t in tokens[i : i + n])])
            return Found(
                place, f"place: '{said}' -> {what}", tokens[i].start, tokens[i + n - 1].end
            )
    return None
