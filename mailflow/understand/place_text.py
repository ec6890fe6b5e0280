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
from mailflow.understand.place_choice import (
    after_contrast,
    follows,
    inside,
    not_origins,
    precision,
    town_follows,
    unless_alternatives,
)
from mailflow.understand.place_index import Clues, Commune, Named
from mailflow.understand.referential import Referential
from mailflow.understand.rules import Phrase, UnderstandingRules
from mailflow.understand.text import intro_name
from mailflow.understand.tokens import Token, tokenize

_CODE = re.compile(r"^(?:\d{2}|2[ab]|97\d)$")
_ARTICLES = frozenset({"le", "la", "les", "l"})
_OF_ARTICLE = {"du": "le", "des": "les"}  # "du Havre" is "de Le Havre"
# The article a place word holds: "au Havre" is "à Le Havre", "dans la Hague" names La Hague.
_ARTICLED = {"au": "le", "aux": "les", **{a: a for a in ("le", "la", "les", "l")}}
_BRACKET = ("(",)  # the phrase noted for a commune written in brackets


def find_place(
    text: str, ref: Referential, rules: UnderstandingRules, signed: bool = False
) -> Found | None:
    """The most precise place named after a place word: "près de Caen", "dans le 14", "14000".
    A département or région named too tells which of several same-named communes is meant.
    `signed`: the text is a signature block, which starts with the writer's name."""
    tokens = tokenize(text)
    skip = _first_segment_end(text) if signed else 0
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
        c
        for i in range(len(tokens))
        if (
            c := _commune_at(text, tokens, i, ref, rules, clues)
            or (tokens[i].start >= skip and _alone_at(text, tokens, i, ref, rules))
        )
    ]
    communes += [
        c for i in range(1, len(tokens)) if (c := _demonym_at(text, tokens, i, ref, rules))
    ]
    communes = [
        c for c in communes if not inside(c, pays) and not town_follows(text, c, communes, rules)
    ]
    candidates = after_contrast(text, tokens, not_origins(text, areas + communes, rules), rules)
    if not candidates:
        return None
    best = max(
        candidates,
        key=lambda c: (
            precision(c.value),
            not c.weak,
            follows(text, c, rules.home_before),
            -c.start,
        ),
    )
    return unless_alternatives(text, tokens, best, candidates, ref, rules)


def _demonym_at(
    text: str, tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    """ "l'agglomération caennaise", "la région rouennaise", "je suis cherbourgeoise": the
    town of the demonym (place_names.toml [demonyms]) after a word of demonym_after."""
    if tokens[i - 1].key not in rules.demonym_after:
        return None
    for n in (3, 2, 1):
        key = " ".join(t.key for t in tokens[i : i + n])
        commune = ref.places.demonyms.get(key) if i + n <= len(tokens) else None
        if commune:
            place = commune.place()
            start, end = tokens[i - 1].start, tokens[i + n - 1].end
            note = f"place: '{text[start:end]}' -> commune {place.commune} ({place.department})"
            return Found(place, note, start, end, weak=True)  # an area around the town
    return None


def _alone_at(
    text: str, tokens: list[Token], i: int, ref: Referential, rules: UnderstandingRules
) -> Found | None:
    """A commune or département written alone between punctuation or line breaks: "Nadia,
    Caen", "15 ans, Alençon", "Évreux. Merci", "(Seine-Maritime)"; never a first name in
    the place of one (after a closing, before an age, the name the writer gives)."""
    token = tokens[i]
    stop = token.key in rules.stop_words and token.key not in rules.everyday_names
    if token.key.isdigit() or stop or not _segment_starts(text, token.start):
        return None
    if not token.capitalized and not _all_lower(text):
        return None  # in a mail with capitals, "(camembert, livarot...)" names no town
    area = _area_alone(text, tokens, i, ref)
    if area:
        return area
    hit = ref.communes_at([t.key for t in tokens[i : i + 6]])
    if hit is None:
        return None
    n, named = hit
    name = tokens[i : i + n]
    end = name[-1].end
    product = " ".join(t.key for t in name) in rules.products
    if product and text[end:].strip(" ")[:1] not in ("", "\n"):
        return None  # "(Camembert, Livarot)": cheeses; "Julie, Livarot" ending a line: a town
    if not _segment_ends(text, end) or _name_slot(text, token.start, end, rules):
        return None
    written = text[token.start : end]
    exact = ref.places.named_exactly(" ".join(ref.places.aliases.get(t.key, t.key) for t in name))
    if not exact:
        return None  # "Havre" alone is no Le Havre: nothing says it is a place
    commune = ref.places.best(exact, written)
    home = commune.region == ref.places.home_region
    if token.capitalized:
        if not (home or commune.population >= rules.alone_min_population):
            return None
    elif not (home and commune.population >= rules.lowercase_min_population):
        return None
    everyday = " ".join(t.key for t in name) in rules.everyday_names
    if everyday and (not token.capitalized or commune.population < rules.lowercase_min_population):
        return None
    if ref.match_trade(written) is not None:
        return None  # a subject "Boulanger" is the trade
    place = commune.place()
    return Found(
        place,
        f"place: '{written}' alone -> commune {place.commune} ({place.department})",
        token.start,
        end,
        weak=True,  # a signature or an aside: a place word ("à Caen") says more
    )


@lru_cache(maxsize=8)
def _all_lower(text: str) -> bool:
    return text == text.lower()


def _area_alone(text: str, tokens: list[Token], i: int, ref: Referential) -> Found | None:
    """ "(Seine-Maritime)", "Calvados." written alone, with a capital."""
    if not tokens[i].capitalized:
        return None
    for n in range(min(5, len(tokens) - i), 0, -1):
        end = tokens[i + n - 1].end
        if not _segment_ends(text, end):
            continue
        name = " ".join(t.key for t in tokens[i : i + n])
        place = ref.places.department_named(name) or ref.places.region_named(name)
        if place:
            what = (
                f"département {place.department}" if place.department else f"région {place.region}"
            )
            return Found(
                place,
                f"place: '{text[tokens[i].start : end]}' alone -> {what}",
                tokens[i].start,
                end,
            )
    return None


_SEGMENT_MARKS = "\n,.;:!?()/"


_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:[A-Za-z]|mme|mlle|mr|dr|pr|me)\.$", re.IGNORECASE)


def _segment_starts(text: str, start: int) -> bool:
    """After punctuation or a line break; not after "M." or an initial ("M. Mathieu")."""
    before = text[:start].rstrip(" ")
    if before.endswith(".") and _ABBREVIATION.search(before[-6:]):
        return False
    return not before or before[-1] in _SEGMENT_MARKS or before.endswith(" -")


def _segment_ends(text: str, end: int) -> bool:
    after = text[end:].lstrip(" ")
    return not after or after[0] in _SEGMENT_MARKS or after.startswith("- ")


_AGE_NEXT = re.compile(r"\s*[,(]?\s*\d{1,2}\s*ans\b")


def _first_segment_end(text: str) -> int:
    """Where the first segment ends: "Mathieu" of "Mathieu\n...", "Jean Dupont, Bayeux"."""
    found = re.search(r"[\n,.;:!?()/]", text.lstrip())
    return len(text) - len(text.lstrip()) + (found.start() if found else len(text))


def _name_slot(text: str, start: int, end: int, rules: UnderstandingRules) -> bool:
    """Where a first name goes: right after a closing ("Merci,\nMathieu"), before an age
    ("Lison, 13 ans"), or the name given ("je m'appelle Lison ... Lison")."""
    if _AGE_NEXT.match(text, end):
        return True
    before = re.split(r"[\n,.;:!?()/]", text[:start].rstrip(" \n,.;:!?"))[-1]
    if words(before) in rules.closings:
        return True
    given = intro_name(text, rules)
    return given is not None and words(given[0]) == words(text[start:end])


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
    elif len(ref.places.postcodes.get(code, ())) > 1:
        # "j'habite 14100": Lisieux and a dozen villages share it; which one is not said
        place = Place(department=place.department, region=place.region, postcode=code)
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
    if phrase and _glued(text, tokens[i - len(phrase)]):
        return None  # "au Perche" of Mortagne-au-Perche, "sur Vire" of Torigni-sur-Vire
    weak = None if phrase else _weak_before(text, tokens, i, rules)
    if phrase is None and weak is None:
        return None
    if phrase and _address_at(tokens, i, rules):
        return None  # "j'habite rue de Paris": a street, not Rue (80)
    hit = ref.communes_at([t.key for t in tokens[i : i + 6]])
    if hit is None:
        return _area_named(tokens, i, ref, rules, phrase) if phrase else None
    n, named = hit
    if phrase and phrase[-1] in _ARTICLED:  # "dans la Hague", "au Havre"; not "au Perche"
        said = " ".join(t.key for t in tokens[i : i + n])
        article = _ARTICLED[phrase[-1]]
        named = ref.places.named_exactly(f"{article} {said}") or (
            () if phrase[-1] in _ARTICLES else ref.places.named_exactly(said)
        )
        if not named:
            return None
    if ref.places.cut_in_a_name(text, tokens[i:], n):
        return None  # "Condé" of an unknown "Condé-sur-Truc": not the shorter name
    end = tokens[i + n - 1].end
    if weak and " ".join(t.key for t in tokens[i : i + n]) in rules.products:
        return None  # "un fromage de Livarot": the cheese
    if weak:
        named = _weakly_named(text, tokens[i : i + n], weak, ref)
        if not named:
            return None
    commune = ref.places.best(named, text[token.start : end], clues)
    if not _written_as_a_place(tokens[i : i + n], commune, phrase, ref, rules, clues):
        return None
    if _accent_added(text[token.start : end], named):
        return None  # "sur les marchés" is no Les Marches (73): people drop accents, not add
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


def _sleeve(tokens: list[Token], i: int, n: int, rules: UnderstandingRules) -> bool:
    """ "dans la manche de sa veste": a département name in lower case followed by "de" is
    the common word, not the place ("jhabite dans la manche" still is)."""
    after = tokens[i + n].key if i + n < len(tokens) else ""
    return not tokens[i].capitalized and after in rules.of_words


def _accent_added(written: str, named: tuple[Named, ...]) -> bool:
    """Written with an accent that no name of these communes has where it stands."""
    plain = written.lower()
    if plain.isascii():
        return False
    for n in named:
        name = n.name.lower()
        if len(name) != len(plain):
            return False
        pairs = zip(plain, name, strict=True)
        if not any(a != b and not a.isascii() and b.isascii() for a, b in pairs):
            return False
    return True


def _firm_before(text: str, tokens: list[Token], i: int, rules: UnderstandingRules) -> bool:
    """ "chez Renault Cléon": a capitalised name after "chez", then the commune; not a person
    ("chez Monsieur Lison", "chez Mamie Caen": [places] not_before_of)."""
    if i < 2 or tokens[i - 2].key not in rules.company_before:
        return False
    firm, town = tokens[i - 1], tokens[i]
    if not (firm.capitalized and town.capitalized) or (firm.key,) in rules.not_before_of:
        return False
    return text[firm.end : town.start] == " "


def _glued(text: str, token: Token) -> bool:
    """The word is joined by a hyphen to the one before: part of a name ("Mortagne-au-")."""
    return text[token.start - 1 : token.start] == "-"


def _address_at(tokens: list[Token], i: int, rules: UnderstandingRules) -> bool:
    """A street word in lower case followed by more words: "rue de Paris", "place Foch"."""
    token = tokens[i]
    return token.key in rules.address_words and not token.capitalized and i + 1 < len(tokens)


def _weak_before(
    text: str, tokens: list[Token], i: int, rules: UnderstandingRules
) -> Phrase | None:
    """ "de" of "un boulanger de Lisieux" (not of "rue des Lilas"), "(" of "(Lisieux)", or a
    weak phrase: "depuis Granville", "France Travail Vire", "le SM Caen"."""
    if text[: tokens[i].start].rstrip().endswith("("):
        return _BRACKET
    phrase = _after(tokens, i, rules.weak_before)
    if phrase:
        return phrase
    if _firm_before(text, tokens, i, rules):
        return (tokens[i - 2].key, tokens[i - 1].key)  # "chez Renault Cléon"
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
    if not (capital or confirmed or home) and _articled(commune.name):
        # "je travaille à la crèche", "au port", "à la montagne": La Crèche (79), Le Port
        # (974), La Montagne (44) only in capitals, unless a big town ("au mans")
        return population >= rules.lowercase_article_min_population
    return capital or confirmed or population >= rules.lowercase_min_population


def _articled(name: str) -> bool:
    first = name.split(" ")[0].split("-")[0].lower()
    return first in ("le", "la", "les") or name.lower().startswith("l'")


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
        if place and _sleeve(tokens, i, n, rules):
            return None
        lower = not tokens[i].capitalized
        if place and name in rules.everyday_names and lower and len(phrase) < 2:
            return None  # "thanks a lot", "à vienne": not the Lot (46), the Vienne (86)
        if place:
            what = (
                f"département {place.department}" if place.department else f"région {place.region}"
            )
            said = " ".join([*phrase, *(t.text for t in tokens[i : i + n])])
            return Found(
                place, f"place: '{said}' -> {what}", tokens[i].start, tokens[i + n - 1].end
            )
    return None
