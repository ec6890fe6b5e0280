"""The place a person names in free text: "près de Caen", "dans le 14", "14000", "un boulanger
de Lisieux", "le lycée Malherbe de Caen", "dans le Pays d'Auge".

The words around a place are rules/understanding.toml [places]; the names are the reference data
(Referential). Candidates are gathered over the tokens; the most precise wins (commune, then
département, then région), a commune after a place word ("à", "près de") before one found only
after "de" ("un boulanger de Lisieux"), then the first written.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mailflow.core.textnorm import words
from mailflow.core.values import Place
from mailflow.understand.fields import Found
from mailflow.understand.place_index import Clues, Commune, Named
from mailflow.understand.referential import Referential
from mailflow.understand.rules import Phrase, UnderstandingRules
from mailflow.understand.tokens import Token, tokenize

_CODE = re.compile(r"^(?:\d{2}|2[ab]|97\d)$")
_ARTICLES = frozenset({"le", "la", "les", "l"})
_OF_ARTICLE = {"du": "le", "des": "les"}  # "du Havre" is "de Le Havre"
_BRACKET = ("(",)  # the phrase noted for a commune written in brackets


def find_place(text: str, ref: Referential, rules: UnderstandingRules) -> Found | None:
    """The most precise place named after a place word: "près de Caen", "dans le 14", "14000".
    A département or région named too tells which of several same-named communes is meant."""
    tokens = tokenize(text)
    pays = [p for i in range(len(tokens)) if (p := _pays_at(text, tokens, i, ref, rules))]
    areas = pays + [
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
    communes = [
        c for i in range(len(tokens)) if (c := _commune_at(text, tokens, i, ref, rules, clues))
    ]
    communes = [
        c for c in communes if not _inside(c, pays) and not _town_follows(text, c, communes, rules)
    ]
    candidates = areas + communes
    if not candidates:
        return None
    return max(candidates, key=lambda c: (_precision(c.value), not c.weak, -c.start))


def _precision(place: object) -> int:
    assert isinstance(place, Place)
    return 3 if place.commune else 2 if place.department else 1


def _inside(found: Found, others: list[Found]) -> bool:
    """Within a longer place: "Bray" of "Pays de Bray", "Caen" of "Plaine de Caen"."""
    return any(
        o.start <= found.start and found.end <= o.end and o.end - o.start > found.end - found.start
        for o in others
    )


def _town_follows(
    text: str, found: Found, communes: list[Found], rules: UnderstandingRules
) -> bool:
    """ "à l'hôpital de Rouen", "à la poste de Caen": the common noun before "de <commune>" is
    no commune of its own (L'Hôpital, 57); the town after it is the place."""
    return any(
        other.start > found.end and words(text[found.end : other.start]) in rules.of_words
        for other in communes
    )


@lru_cache(maxsize=32)
def _by_last_word(phrases: tuple[Phrase, ...]) -> dict[str, tuple[Phrase, ...]]:
    """Phrases by their last word, longest first, so most tokens are ruled out at once."""
    out: dict[str, list[Phrase]] = {}
    for phrase in phrases:
        out.setdefault(phrase[-1], []).append(phrase)
    return {word: tuple(sorted(found, key=len, reverse=True)) for word, found in out.items()}


def _after(tokens: list[Token], i: int, phrases: tuple[Phrase, ...]) -> Phrase | None:
    """The place word (phrase) that ends just before token i, if any."""
    candidates = _by_last_word(phrases).get(tokens[i - 1].key) if i > 0 else None
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
    """ "dans le 14", "du 50", or "Caen (14)"; never "ma fille (13)"."""
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
    if not phrase and not _place_ends_at(tokens, i, ref, rules):
        return None  # "(13)" says a département only after a place: "Caen (14)"
    place = ref.match_department_code(token.key)
    if place is None:
        return None
    how = "(" + token.text + ")" if bracketed else f"{' '.join(phrase or ())} {token.text}"
    return Found(place, f"place: '{how}' -> département {place.department}", token.start, token.end)


def _place_ends_at(
    tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> bool:
    """A commune or département name ends just before token i ("Vire (71)", "Calvados (14)");
    not an everyday word that some village bears ("ma fille (13)": Fillé, 72)."""
    aliases = ref.places.aliases
    for k in range(1, min(i, ref.places.longest_name) + 1):
        name = tokens[i - k : i]
        keys = [aliases.get(t.key, t.key) for t in name]
        if ref.places.department_named(" ".join(keys)):
            return True
        hit = ref.places.names_at(keys)
        if not hit or hit[0] != k or name[0].key in rules.stop_words:
            continue
        biggest = max(n.commune.population for n in hit[1])
        if name[0].capitalized or biggest >= rules.lowercase_min_population:
            return True
    return False


def _commune_at(
    text: str,
    tokens: list[Token],
    i: int,
    ref: Referential,
    rules: UnderstandingRules,
    clues: Clues,
) -> Found | None:
    token = tokens[i]
    if token.key.isdigit() or (
        token.key in rules.stop_words and token.key not in rules.everyday_names
    ):
        return None
    phrase = _after(tokens, i, rules.commune_before)
    weak = None if phrase else _weak_before(text, tokens, i, rules)
    if phrase is None and weak is None:
        return None
    hit = ref.communes_at([t.key for t in tokens[i : i + 6]])
    if hit is None:
        return _area_named(tokens, i, ref, rules, phrase) if phrase else None
    n, named = hit
    if ref.places.cut_in_a_name(text, tokens[i:], n):
        return None  # "Condé" of an unknown "Condé-sur-Truc": not the shorter name
    end = tokens[i + n - 1].end
    if weak:
        named = _weakly_named(text, tokens[i : i + n], weak, ref)
        if not named:
            return None
    commune = ref.places.best(named, text[token.start : end], clues)
    if not _written_as_a_place(tokens[i : i + n], commune, phrase, ref, rules, clues):
        return None
    place = commune.place()
    said = " ".join([*(phrase or weak or ()), *(t.text for t in tokens[i : i + n])])
    if weak == _BRACKET:
        said = f"({text[token.start : end]})"
    return Found(
        place,
        f"place: '{said}' -> commune {place.commune} ({place.department})",
        token.start,
        end,
        weak=weak is not None,
    )


def _weak_before(
    text: str, tokens: list[Token], i: int, rules: UnderstandingRules
) -> Phrase | None:
    """ "de" of "un boulanger de Lisieux" (not of "rue des Lilas"), or "(" of "(Lisieux)"."""
    if text[: tokens[i].start].rstrip().endswith("("):
        return _BRACKET
    if i == 0 or tokens[i - 1].key not in rules.of_words:
        return None
    if _after(tokens, i - 1, rules.not_before_of):
        return None
    return (tokens[i - 1].key,)


def _weakly_named(
    text: str, name: list[Token], weak: Phrase, ref: Referential
) -> tuple[Named, ...]:
    """The communes named exactly so after "de" ("du Havre" is Le Havre, "de Pierre" is not La
    Pierre), or filling the brackets of "(Lisieux)"."""
    aliases = ref.places.aliases
    written = " ".join(aliases.get(t.key, t.key) for t in name)
    if weak == _BRACKET:
        if not text[name[-1].end :].lstrip().startswith(")"):
            return ()
        return ref.places.named(written)
    article = _OF_ARTICLE.get(weak[0])
    return ref.places.named_exactly(f"{article} {written}" if article else written)


def _written_as_a_place(
    name: list[Token],
    commune: Commune,
    phrase: Phrase | None,
    ref: Referential,
    rules: UnderstandingRules,
    clues: Clues,
) -> bool:
    """A commune in lower case only for a town or with its département named ("vire (71)"); a
    commune named like an everyday word ("eu", "l'hôpital") in capitals or after a place phrase
    of two words ("j'habite a eu"); after "de", a town of some size or of the home région, in
    lower case only a town of the home région."""
    population = commune.population
    home = commune.region == ref.places.home_region
    capital = name[0].capitalized
    everyday = " ".join(t.key for t in name) in rules.everyday_names
    if everyday and not capital and len(phrase or ()) < 2:
        return False
    if phrase is None:
        if capital:
            return home or population >= rules.of_min_population
        return home and population >= rules.lowercase_min_population
    confirmed = commune.department in clues.departments
    return capital or confirmed or population >= rules.lowercase_min_population


def _pays_at(
    text: str, tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    """ "dans le Pays d'Auge", "en Cotentin", "sur la Côte fleurie": the département of a pays
    (place_names.toml [pays]), after a place word; not the "Perche" of Mortagne-au-Perche."""
    if not ref.places.pays or i == 0:
        return None
    phrase = _after(tokens, i, rules.pays_before)
    if phrase is None and tokens[i - 1].key in _ARTICLES:
        phrase = _after(tokens, i - 1, rules.pays_before)
    if phrase is None:
        return None
    aliases = ref.places.aliases
    keys = [aliases.get(t.key, t.key) for t in tokens[i : i + ref.places.longest_pays]]
    hit = ref.places.pays_at(keys)
    if hit is None:
        return None
    n, place, _ = hit
    start, end = tokens[i].start, tokens[i + n - 1].end
    if text[start - 1 : start] == "-" or text[end : end + 1] == "-":
        return None  # part of a commune's hyphenated name
    said = text[start:end]
    return Found(
        place, f"place: '{' '.join(phrase)} {said}' -> département {place.department}", start, end
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
