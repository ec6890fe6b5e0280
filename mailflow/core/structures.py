"""Partner structures (*structures relais*): which one a request came from or through, and
whether its adviser is told when the young person got an answer (docs/structures.md).

The list and the policy are data: rules/structures.toml (example data as shipped), or the
coordinator's CSV once imported (admin/structures.py writes it to the `structure` table,
which then replaces the file's list). This module reads the file, checks a structure's
values (both sources), and decides, from data alone:

- `attribute`: the sender's address or domain is a structure's ("from"); else an address in
  To/Cc is ("through", that adviser); else the text names a known structure ("text"); else
  the text mentions an adviser of a kind of structure without naming one ("ma conseillère
  Mission Locale", "mon conseiller France Travail"): the kind alone, no structure ("text").
  From beats through beats text.
- `adviser_to_tell`: the address to tell when the request is first answered, or None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import words
from mailflow.errors import RulesError

RULES_FILE = "structures.toml"
KINDS = ("cio", "mission_locale", "etablissement", "association", "france_travail", "autre")
FROM, THROUGH, TEXT = "from", "through", "text"  # request.structure_via
VIAS = (FROM, THROUGH, TEXT)
KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # a structure's key: stored on requests
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_ADDRESS = re.compile(r"[^@\s]+@" + _DOMAIN.pattern)
MAX_NAME = 200


@dataclass(frozen=True)
class Structure:
    key: str
    name: str
    kind: str
    domains: tuple[str, ...] = ()  # lower-case; a subdomain matches too
    addresses: tuple[str, ...] = ()  # lower-case, exact
    aliases: tuple[str, ...] = ()  # names people write, besides `name`
    notify: bool | None = None  # None: the policy's default


@dataclass(frozen=True)
class KindWords:
    label: str  # French, for the stats and the report
    words: tuple[str, ...] = ()  # a generic mention of this kind, after an adviser word


@dataclass(frozen=True)
class StructureRules:
    notify_default: bool = False
    adviser_words: tuple[str, ...] = ()  # "conseiller", "conseillère", "référente"...
    window: int = 4  # words allowed between the adviser word and the kind's words
    kinds: Mapping[str, KindWords] = field(default_factory=dict)
    structures: tuple[Structure, ...] = ()  # the file's list (example data as shipped)
    example: bool = False  # the file says its list is example data

    def label(self, kind: str) -> str:
        found = self.kinds.get(kind)
        return found.label if found else kind


@dataclass(frozen=True)
class Attribution:
    """What a request says of the structure that relayed it; `key` None: the kind alone."""

    key: str | None
    kind: str
    via: str  # from | through | text
    adviser: str | None = None  # the adviser's address (from, through), to tell them


DEFAULT_RULES = StructureRules()


# -- checking one structure (the rules file and the CSV import share it) -----------------


def structure(
    key: str,
    name: str,
    kind: str,
    domains: Iterable[str] = (),
    addresses: Iterable[str] = (),
    aliases: Iterable[str] = (),
    notify: bool | None = None,
) -> Structure:
    """A checked Structure; ValueError names the value at fault."""
    key = key.strip().lower()
    if not KEY.fullmatch(key):
        raise ValueError(f"key {key!r}: lower-case letters, digits, '-' or '_' (64 at most)")
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"name of {key}: empty or longer than {MAX_NAME} characters")
    kind = words(kind).replace(" ", "_")
    if kind not in KINDS:
        raise ValueError(f"kind of {key}: {kind!r} is not one of {', '.join(KINDS)}")
    doms = tuple(dict.fromkeys(d.strip().lower().lstrip("@").rstrip(".") for d in domains))
    for d in doms:
        if not _DOMAIN.fullmatch(d):
            raise ValueError(f"domains of {key}: {d!r} is not a mail domain (ml-caen.fr)")
    addrs = tuple(dict.fromkeys(a.strip().lower() for a in addresses))
    for a in addrs:
        if not _ADDRESS.fullmatch(a):
            raise ValueError(f"addresses of {key}: {a!r} is not a mail address")
    names = tuple(dict.fromkeys(n for n in (" ".join(a.split()) for a in aliases) if n))
    for n in names:
        if len(words(n)) < 2:
            raise ValueError(f"aliases of {key}: {n!r} has no letters or digits")
    return Structure(key, name, kind, doms, addrs, names, notify)


def check_unique(structures: Sequence[Structure]) -> None:
    """Two structures may not share a key, an address or a domain (which one would count?)."""
    owners: dict[tuple[str, str], str] = {}
    for s in structures:
        if ("key", s.key) in owners:
            raise ValueError(f"key {s.key!r} is given twice")
        owners["key", s.key] = s.key
        for what, values in (("domain", s.domains), ("address", s.addresses)):
            for v in values:
                other = owners.setdefault((what, v), s.key)
                if other != s.key:
                    raise ValueError(f"{what} {v!r} is given for both {other} and {s.key}")


# -- the rules file -----------------------------------------------------------------------


def load_structure_rules(rules_dir: Path) -> StructureRules:
    """rules/structures.toml; no file: no structures, nobody told."""
    path = Path(rules_dir) / RULES_FILE
    data = read_toml(path, optional=True)
    if not data:
        return DEFAULT_RULES
    try:
        policy = data.get("policy", {})
        kinds = {
            k: KindWords(str(v["label"]), tuple(str(w) for w in v.get("words", ())))
            for k, v in data.get("kinds", {}).items()
        }
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"kinds.{unknown[0]}: not one of {', '.join(KINDS)}")
        listed = []
        for i, s in enumerate(data.get("structure", ())):
            try:
                listed.append(_from_table(s))
            except BUILD_ERRORS as exc:
                key = s.get("key", f"number {i + 1}") if isinstance(s, dict) else i + 1
                raise ValueError(f"structure {key}: {_said(exc)}") from exc
        check_unique(listed)
        window = int(policy.get("window", 4))
        if not 0 <= window <= 10:
            raise ValueError("policy.window: between 0 and 10 words")
        return StructureRules(
            notify_default=_bool(policy.get("notify", False), "policy.notify"),
            adviser_words=tuple(str(w) for w in policy.get("adviser_words", ())),
            window=window,
            kinds=kinds,
            structures=tuple(listed),
            example=_bool(data.get("example", False), "example"),
        )
    except RulesError:
        raise
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


def _said(exc: Exception) -> str:
    return f"the key {exc.args[0]!r} is missing" if isinstance(exc, KeyError) else str(exc)


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: true or false, not {value!r}")
    return value


def _strings(table: Mapping, name: str) -> tuple[str, ...]:
    value = table.get(name, ())
    if isinstance(value, str):
        value = [value]
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}: a list of strings")
    return tuple(value)


def _from_table(s: Mapping) -> Structure:
    notify = s.get("notify")
    return structure(
        str(s["key"]),
        str(s["name"]),
        str(s["kind"]),
        _strings(s, "domains"),
        _strings(s, "addresses"),
        _strings(s, "aliases"),
        None if notify is None else _bool(notify, "notify"),
    )


# -- the decision -------------------------------------------------------------------------


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def by_address(address: str, structures: Sequence[Structure]) -> Structure | None:
    """The structure this address belongs to: an exact address first, then its domain or a
    parent domain ("conseil.ml-caen.fr" is ml-caen.fr's; "notml-caen.fr" is not)."""
    address = address.strip().lower()
    if "@" not in address:
        return None
    for s in structures:
        if address in s.addresses:
            return s
    host = _domain_of(address)
    best: tuple[int, Structure] | None = None
    for s in structures:
        for d in s.domains:
            if (host == d or host.endswith("." + d)) and (best is None or len(d) > best[0]):
                best = (len(d), s)  # the most specific domain wins
    return best[1] if best else None


def by_name(text: str, structures: Sequence[Structure]) -> Structure | None:
    """The structure the text names (its name or an alias, as whole words, without case or
    accents); the longest name found wins ("Mission Locale de Caen" over "Mission Locale")."""
    folded = f" {words(text)} "  # words: single spaces between [a-z0-9] runs
    best: tuple[int, Structure] | None = None
    for s in structures:
        for n in (s.name, *s.aliases):
            key = words(n)
            if key and (best is None or len(key) > best[0]) and f" {key} " in folded:
                best = (len(key), s)
    return best[1] if best else None


def kind_mentioned(text: str, rules: StructureRules) -> str | None:
    """A kind of structure mentioned after an adviser word, without a name ("ma conseillère
    de la Mission Locale", "mon conseiller France Travail"): the kind, else None. The kind's
    words alone ("je suis inscrit à France Travail") are a situation, not a relay."""
    folded = words(text)
    advisers = "|".join(re.escape(words(w)) for w in rules.adviser_words if words(w))
    if not advisers:
        return None
    gap = rf"(?:\s+[a-z0-9]+){{0,{rules.window}}}?\s+"
    found: list[tuple[int, int, str]] = []
    for kind, kw in rules.kinds.items():
        names = "|".join(re.escape(words(w)) for w in kw.words if words(w))
        hit = re.search(rf"\b(?:{advisers}){gap}(?:{names})\b", folded) if names else None
        if hit:
            found.append((hit.start(), hit.end(), kind))
    return min(found)[2] if found else None  # the first mentioned


def attribute(
    sender: str,
    copied: Iterable[str],
    text: str,
    rules: StructureRules,
    structures: Sequence[Structure],
) -> Attribution | None:
    """Which structure relayed this request, and how (module docstring); None: none.
    `copied`: the To and Cc addresses other than the programme's own and the sender's."""
    found = by_address(sender, structures)
    if found is not None:
        return Attribution(found.key, found.kind, FROM, sender.strip().lower())
    for address in copied:
        found = by_address(address, structures)
        if found is not None:
            return Attribution(found.key, found.kind, THROUGH, address.strip().lower())
    found = by_name(text, structures)
    if found is not None:
        return Attribution(found.key, found.kind, TEXT)
    kind = kind_mentioned(text, rules)
    return Attribution(None, kind, TEXT) if kind else None


def notifies(key: str | None, rules: StructureRules, structures: Sequence[Structure]) -> bool:
    """Whether this structure's adviser is told: its own `notify`, else the default."""
    found = next((s for s in structures if s.key == key), None)
    if found is None:
        return False
    return rules.notify_default if found.notify is None else found.notify


def adviser_to_tell(
    key: str | None,
    adviser: str | None,
    party: str,
    rules: StructureRules,
    structures: Sequence[Structure],
) -> str | None:
    """Who is told, when the request is first answered: the adviser who wrote or was in
    copy, when the policy says so, unless they are the party the answer went to (an
    adviser writing for a young person reads the answer already)."""
    if not adviser or not notifies(key, rules, structures):
        return None
    return None if adviser.lower() == party.strip().lower() else adviser
