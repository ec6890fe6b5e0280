"""French places by name, code or postcode: communes, départements, régions (Etalab data).

Names are compared as folded word keys ("Saint-Lô", "saint lo", "St Lo" -> "saint lo").
When several communes share a name the most populous wins (people name the town they know).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .tokens import keys, tokenize
from .values import Place

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
class PlaceIndex:
    """Immutable name and code tables for places."""

    aliases: Mapping[str, str]  # word -> word ("st" -> "saint")
    departments: Mapping[str, tuple[str, str]]  # code -> (name, region code)
    regions: Mapping[str, str]  # code -> name
    department_keys: Mapping[str, str]  # name key -> code
    region_keys: Mapping[str, str]  # name key -> code
    communes: Mapping[str, tuple[Commune, ...]]  # name key -> communes, most populous first
    postcodes: Mapping[str, tuple[Commune, ...]]  # postcode -> communes, most populous first
    longest_name: int  # words in the longest commune name
    capitals: Mapping[str, str]  # département code -> INSEE code of its chef-lieu

    @classmethod
    def build(
        cls,
        departments: Iterable[Mapping[str, str]],
        regions: Iterable[Mapping[str, str]],
        communes: Iterable[Mapping[str, str]],
        aliases: Mapping[str, str],
        name_synonyms: Mapping[str, str],
    ) -> PlaceIndex:
        """Index the rows of departements.json, regions.json and communes.csv."""
        departments = list(departments)
        depts = {d["code"]: (d["nom"], d["region"]) for d in departments}
        capitals = {d["code"]: d.get("chefLieu", "") for d in departments}
        regs = {r["code"]: r["nom"] for r in regions}
        by_name: dict[str, list[Commune]] = defaultdict(list)
        by_postcode: dict[str, list[Commune]] = defaultdict(list)
        for row in communes:
            commune = Commune(
                row["code_insee"],
                row["nom"],
                row["departement"],
                row["region"],
                tuple(row["codes_postaux"].split()),
                int(row["population"] or 0),
            )
            by_name[name_key(commune.name, aliases)].append(commune)
            for code in commune.postcodes:
                by_postcode[code].append(commune)
        dept_keys = {name_key(name, aliases): code for code, (name, _) in depts.items()}
        region_keys = {name_key(name, aliases): code for code, name in regs.items()}
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
            communes=MappingProxyType(_by_population(by_name)),
            postcodes=MappingProxyType(_by_population(by_postcode)),
            longest_name=max(len(k.split()) for k in by_name),
            capitals=MappingProxyType(capitals),
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

    def commune_named(self, key: str) -> Commune | None:
        """The most populous commune with this name key; "havre" also finds "Le Havre"."""
        for candidate in (key, *(f"{article} {key}" for article in _ARTICLES)):
            found = self.communes.get(candidate)
            if found:
                return found[0]
        return None

    def commune_prefix(self, keys: Sequence[str]) -> tuple[int, Commune] | None:
        """The longest run of leading words that names a commune: (words used, commune)."""
        for n in range(min(self.longest_name, len(keys)), 0, -1):
            commune = self.commune_named(" ".join(keys[:n]))
            if commune:
                return n, commune
        return None

    def match(self, text: str) -> Place | None:
        """A whole place phrase: postcode, département code or name, région, then commune."""
        keys = [self.aliases.get(t.key, t.key) for t in tokenize(text)]
        while keys and keys[0] in _LEADING:
            keys = keys[1:]
        if not keys:
            return None
        for key in keys:
            if len(key) == 5 and key.isdigit():
                return self._with_postcode(key, [k for k in keys if k != key])
        if len(keys) == 1 and _DEPT_CODE.match(keys[0]):
            return self.department(keys[0])
        phrase = " ".join(keys)
        found = self.department_named(phrase)
        commune = self.commune_named(phrase)
        if found and commune and self.capitals.get(found.department or "") == commune.insee:
            return commune.place()  # "Paris": the city says more than the département
        found = found or self.region_named(phrase)
        if found:
            return found
        hit = self.commune_prefix(keys)
        return hit[1].place() if hit else None

    def _with_postcode(self, code: str, name_keys: list[str]) -> Place | None:
        """ "Vaux-sur-Aure 14400": the named commune if it has that postcode, else the biggest."""
        named = self.communes.get(" ".join(name_keys), ())
        for commune in named:
            if code in commune.postcodes:
                return commune.place(code)
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


def name_key(text: str, aliases: Mapping[str, str]) -> str:
    """Folded words with abbreviations expanded: "St-Lô" -> "saint lo"."""
    return " ".join(aliases.get(w, w) for w in keys(text))


def _by_population(table: Mapping[str, list[Commune]]) -> dict[str, tuple[Commune, ...]]:
    return {k: tuple(sorted(v, key=lambda c: -c.population)) for k, v in table.items()}
