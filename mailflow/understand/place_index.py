"""French places by name, code or postcode: communes, départements, régions (Etalab data).

Names are compared as folded word keys ("Saint-Lô", "saint lo", "St Lo" -> "saint lo"). A
commune is also found by a former or delegated name ("Vire", "Cherbourg": today Vire Normandie,
Cherbourg-en-Cotentin). When several communes share a key, the one consistent with the other
clues (a département or région named too) wins, then the one spelt exactly as written ("Vire",
not "Viré"), then the most populous, those of the programme's home region counting
`home_factor` times (people name the town they know, mostly near them).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from mailflow.core.values import Place
from mailflow.understand.tokens import Token, keys, tokenize

_DEPT_CODE = re.compile(r"^(?:\d{2}|2[ab]|97\d)$")
_POSTCODE = re.compile(r"^\d{5}$")
_ARTICLES = ("le", "la", "les", "l")


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    department: str
    region: str
    postcodes: tuple[str, ...]
    population: int

    def place(self, postcode: str | None = None) -> Place:
        """The commune as a Place; the postcode only when it is certain."""
        if postcode is None and len(self.postcodes) == 1:
            postcode = self.postcodes[0]
        return Place(self.department, self.region, self.name, self.insee, postcode)


@dataclass(frozen=True)
class Named:
    """A commune under one of its names: its own, an everyday one, or a delegated one."""

    commune: Commune
    name: str  # as the data spells it: "Vire", "Cherbourg", "Caen"
    former: bool  # a commune déléguée, not its seat: a village, though its commune may be big


@dataclass(frozen=True)
class Clues:
    """What else the text says about the place: départements and régions named."""

    departments: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def fit(self, commune: Commune) -> bool:
        if not (self.departments or self.regions):
            return True
        return commune.department in self.departments or commune.region in self.regions


NO_CLUES = Clues()


@dataclass(frozen=True)
class PlaceIndex:
    """Immutable name and code tables for places."""

    aliases: Mapping[str, str]  # word -> word ("st" -> "saint")
    departments: Mapping[str, tuple[str, str]]  # code -> (name, region code)
    regions: Mapping[str, str]  # code -> name
    department_keys: Mapping[str, str]  # name key -> code
    region_keys: Mapping[str, str]  # name key -> code
    communes: Mapping[str, tuple[Named, ...]]  # name key -> communes, most populous first
    postcodes: Mapping[str, tuple[Commune, ...]]  # postcode -> communes, most populous first
    longest_name: int  # words in the longest commune name
    capitals: Mapping[str, str]  # département code -> INSEE code of its chef-lieu
    home_region: str = ""  # the programme's région: its communes win homonyms more easily
    home_factor: float = 1.0
    name_links: frozenset[str] = frozenset()  # "sur" of "Condé-sur-": a longer name goes on
    pays: Mapping[str, str] = field(default_factory=dict)  # key -> département ("pays d auge")
    longest_pays: int = 0  # words in the longest pays name
    demonyms: Mapping[str, Commune] = field(default_factory=dict)  # "caennaise" -> Caen

    @classmethod
    def build(
        cls,
        departments: Iterable[Mapping[str, str]],
        regions: Iterable[Mapping[str, str]],
        communes: Iterable[Mapping[str, str]],
        aliases: Mapping[str, str],
        name_synonyms: Mapping[str, str],
        former: Iterable[Mapping[str, str]] = (),
        other_names: Mapping[str, str] = MappingProxyType({}),
        home_region: str = "",
        home_factor: float = 1.0,
        name_links: Iterable[str] = (),
        pays: Mapping[str, str] = MappingProxyType({}),
        demonyms: Mapping[str, str] = MappingProxyType({}),
    ) -> PlaceIndex:
        """Index the rows of departements.json, regions.json and communes.csv; `former` are
        the rows of communes_deleguees.csv, `other_names` name -> INSEE code of today's
        commune, `pays` name -> département code, `demonyms` adjective -> INSEE code of its
        town (all from place_names.toml)."""
        departments = list(departments)
        depts = {d["code"]: (d["nom"], d["region"]) for d in departments}
        capitals = {d["code"]: d.get("chefLieu", "") for d in departments}
        regs = {r["code"]: r["nom"] for r in regions}
        by_name: dict[str, list[Named]] = defaultdict(list)
        by_postcode: dict[str, list[Commune]] = defaultdict(list)
        by_insee: dict[str, Commune] = {}
        for row in communes:
            commune = Commune(
                row["code_insee"],
                row["nom"],
                row["departement"],
                row["region"],
                tuple(row["codes_postaux"].split()),
                int(row["population"] or 0),
            )
            by_insee[commune.insee] = commune
            by_name[name_key(commune.name, aliases)].append(Named(commune, commune.name, False))
            for code in commune.postcodes:
                by_postcode[code].append(commune)
        # The seat of a commune nouvelle keeps its INSEE code ("Domfront" of Domfront en
        # Poiraie, "Torigni-sur-Vire" of Torigny-les-Villes): the town people mean, not a
        # village merged into a bigger one.
        others = [
            (row["nom"], row["commune"], row["code_insee"] != row["commune"]) for row in former
        ]
        others += [(name, insee, False) for name, insee in other_names.items()]
        for name, insee, delegated in others:
            if insee not in by_insee:
                raise ValueError(f"commune name {name!r}: no commune with INSEE code {insee}")
            listed = by_name[name_key(name, aliases)]
            if all(n.commune.insee != insee for n in listed):
                listed.append(Named(by_insee[insee], name, delegated))
        dept_keys = {name_key(name, aliases): code for code, (name, _) in depts.items()}
        region_keys = {name_key(name, aliases): code for code, name in regs.items()}
        pays_keys = {name_key(name, aliases): code for name, code in pays.items()}
        for name, insee in demonyms.items():
            if insee not in by_insee:
                raise ValueError(f"demonym {name!r}: no commune with INSEE code {insee}")
        for name, code in pays.items():
            if code not in depts:
                raise ValueError(f"pays {name!r}: no département with code {code}")
        for phrase, target in name_synonyms.items():  # "idf" -> "Île-de-France"
            target_key = name_key(target, aliases)
            table = region_keys if target_key in region_keys else dept_keys
            if target_key in table:
                table[name_key(phrase, aliases)] = table[target_key]
        return cls(
            aliases=MappingProxyType(dict(aliases)),
            departments=MappingProxyType(depts),
            regions=MappingProxyType(regs),
            department_keys=MappingProxyType(dept_keys),
            region_keys=MappingProxyType(region_keys),
            communes=MappingProxyType(
                {
                    k: tuple(sorted(v, key=lambda n: -n.commune.population))
                    for k, v in by_name.items()
                }
            ),
            postcodes=MappingProxyType(_by_population(by_postcode)),
            longest_name=max(len(k.split()) for k in by_name),
            capitals=MappingProxyType(capitals),
            home_region=home_region,
            home_factor=home_factor,
            name_links=frozenset(name_links),
            pays=MappingProxyType(pays_keys),
            longest_pays=max((len(k.split()) for k in pays_keys), default=0),
            demonyms=MappingProxyType(
                {name_key(k, aliases): by_insee[v] for k, v in demonyms.items()}
            ),
        )

    def key(self, text: str) -> str:
        return name_key(text, self.aliases)

    def department(self, code: str) -> Place | None:
        """A département by code ("14", "2a", "971"), with its region."""
        code = code.strip().upper()
        if not _DEPT_CODE.match(code.lower()) or code not in self.departments:
            return None
        return Place(department=code, region=self.departments[code][1])

    def postcode(self, code: str) -> Place | None:
        """The most populous commune served by a postcode ("14000" -> Caen)."""
        code = code.strip()
        found = self.postcodes.get(code) if _POSTCODE.match(code) else None
        return found[0].place(code) if found else None

    def department_named(self, key: str) -> Place | None:
        code = self.department_keys.get(key)
        return Place(department=code, region=self.departments[code][1]) if code else None

    def region_named(self, key: str) -> Place | None:
        code = self.region_keys.get(key)
        return Place(region=code) if code else None

    def pays_at(self, keys: Sequence[str]) -> tuple[int, Place, str] | None:
        """The longest pays named by the leading words: (words used, its département, key)."""
        for n in range(min(self.longest_pays, len(keys)), 0, -1):
            key = " ".join(keys[:n])
            code = self.pays.get(key)
            if code:
                return n, Place(department=code, region=self.departments[code][1]), key
        return None

    def named_exactly(self, key: str) -> tuple[Named, ...]:
        """Communes with exactly this name key: "havre" does not find "Le Havre" here."""
        return self.communes.get(key, ())

    def named(self, key: str) -> tuple[Named, ...]:
        """Every commune with this name key; "havre" also finds "Le Havre"."""
        for candidate in (key, *(f"{article} {key}" for article in _ARTICLES)):
            found = self.communes.get(candidate)
            if found:
                return found
        return ()

    def best(self, named: Sequence[Named], written: str = "", clues: Clues = NO_CLUES) -> Commune:
        """Among communes of one name: consistent with the clues, spelt as written, a commune
        of today rather than a delegated village, then the biggest (home region weighted)."""
        if len(named) == 1:
            return named[0].commune
        spelt = spelling(written, self.aliases) if written else ""

        def rank(n: Named) -> tuple[bool, bool, float, bool]:
            as_written = spelling(n.name, self.aliases)
            exact = not spelt or spelt in (as_written, _without_article(as_written))
            home = self.home_factor if n.commune.region == self.home_region else 1.0
            return (not clues.fit(n.commune), not exact, n.former, -n.commune.population * home)

        return min(named, key=rank).commune

    def commune_named(self, key: str, written: str = "", clues: Clues = NO_CLUES) -> Commune | None:
        """The commune this name key means (see best()); None when no commune has it."""
        named = self.named(key)
        return self.best(named, written, clues) if named else None

    def names_at(self, keys: Sequence[str]) -> tuple[int, tuple[Named, ...]] | None:
        """The longest run of leading words that names communes: (words used, communes)."""
        for n in range(min(self.longest_name, len(keys)), 0, -1):
            named = self.named(" ".join(keys[:n]))
            if named:
                return n, named
        return None

    def commune_prefix(self, keys: Sequence[str]) -> tuple[int, Commune] | None:
        """The longest run of leading words that names a commune: (words used, commune)."""
        found = self.names_at(keys)
        return (found[0], self.best(found[1])) if found else None

    def match(self, text: str) -> Place | None:
        """A whole place phrase: postcode, département code or name, région, then commune.
        "Vire (14)", "Vire 14": the département says which Vire."""
        tokens = tokenize(text)
        keys = [self.aliases.get(t.key, t.key) for t in tokens]
        while keys and keys[0] in _LEADING:
            keys, tokens = keys[1:], tokens[1:]
        keys, tokens = _joined_postcode(text, keys, tokens)
        if not keys:
            return None
        for key in keys:
            if len(key) == 5 and key.isdigit():
                return self._with_postcode(key, [k for k in keys if k != key])
        if len(keys) == 1 and _DEPT_CODE.match(keys[0]):
            return self.department(keys[0])
        clues = NO_CLUES
        if len(keys) > 1 and _DEPT_CODE.match(keys[-1]) and self.department(keys[-1]):
            clues = Clues(departments=frozenset({keys[-1].upper()}))
            keys, tokens = keys[:-1], tokens[:-1]
        phrase = " ".join(keys)
        found = self.department_named(phrase)
        commune = self.commune_named(phrase)
        if found and commune and self.capitals.get(found.department or "") == commune.insee:
            return commune.place()  # "Paris": the city says more than the département
        found = found or self.region_named(phrase)
        if found:
            return found
        hit = self.names_at(keys)
        if hit is None or self.cut_in_a_name(text, tokens, hit[0]):
            return None
        written = text[tokens[0].start : tokens[hit[0] - 1].end]
        return self.best(hit[1], written, clues).place()

    def cut_in_a_name(self, text: str, tokens: Sequence[Token], n: int) -> bool:
        """The first n words stop inside a longer hyphenated name ("Condé" of "Condé-sur-Truc"):
        the person named another place, unknown here, not the shorter one. "Caen-centre" is
        Caen: only a linking word ("sur", "en", "la"...) goes on with a name."""
        if n >= len(tokens) or text[tokens[n - 1].end : tokens[n].start] != "-":
            return False
        return tokens[n].key in self.name_links

    def _with_postcode(self, code: str, name_keys: list[str]) -> Place | None:
        """ "Vaux-sur-Aure 14400": the named commune if it has that postcode, else the biggest."""
        for named in self.communes.get(" ".join(name_keys), ()):
            if code in named.commune.postcodes:
                return named.commune.place(code)
        return self.postcode(code)

    def region_of(self, department_code: str) -> str | None:
        found = self.departments.get(department_code.strip().upper())
        return found[1] if found else None

    def department_name(self, code: str) -> str | None:
        found = self.departments.get(code.strip().upper())
        return found[0] if found else None


_LEADING = frozenset(
    ["a", "au", "aux", "pres", "de", "du", "des", "d", "dans", "le", "la", "les", "l", "en", "sur"]
    + ["vers", "autour", "cote", "secteur", "region", "departement", "dept", "proche", "pas"]
    + ["loin", "ville", "commune"]
)


def spelling(text: str, aliases: Mapping[str, str]) -> str:
    """Lower-case words with their accents, abbreviations expanded: "St-Lô" -> "saint lô"."""
    return " ".join(aliases.get(t.key, t.text.lower()) for t in tokenize(text))


def _without_article(spelt: str) -> str:
    first, _, rest = spelt.partition(" ")
    return rest if first in _ARTICLES and rest else spelt


def _joined_postcode(
    text: str, keys: list[str], tokens: list[Token]
) -> tuple[list[str], list[Token]]:
    """ "14 000" written with a space is the postcode 14000."""
    for i in range(len(keys) - 1):
        a, b = tokens[i], tokens[i + 1]
        spaced = not text[a.end : b.start].strip()
        if len(a.key) == 2 and len(b.key) == 3 and (a.key + b.key).isdigit() and spaced:
            joined = Token(text[a.start : b.end], a.key + b.key, a.start, b.end)
            return [*keys[:i], joined.key, *keys[i + 2 :]], [*tokens[:i], joined, *tokens[i + 2 :]]
    return keys, tokens


def name_key(text: str, aliases: Mapping[str, str]) -> str:
    """Folded words with abbreviations expanded: "St-Lô" -> "saint lo"."""
    return " ".join(aliases.get(w, w) for w in keys(text))


def _population(named: Named) -> int:
    return -named.commune.population


def _by_population(table: Mapping[str, list[Commune]]) -> dict[str, tuple[Commune, ...]]:
    return {k: tuple(sorted(v, key=lambda c: -c.population)) for k, v in table.items()}
