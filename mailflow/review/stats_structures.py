"""The `structures` section of `mailflow stats`: requests relayed by partner structures
(docs/structures.md), per structure, per kind and by how they came, each adding up to the
requests of the period.

SECTION["structures"]:
    {"relayed": int,            # requests with a structure, or a kind alone
     "none": int,               # the rest: relayed + none = requests
     "by_structure": {"<key>": int, ..., "unnamed": int, "none": int},  # unnamed: kind alone
     "by_kind": {"cio", "mission_locale", "etablissement", "association", "france_travail",
                 "autre", "none"},
     "by_via": {"from", "through", "text", "none"}}

A structure is counted by the key stored on the request when it arrived (a structure
removed from the list since keeps its requests, under its key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peewee import SQL, fn

from mailflow.core.structures import KINDS, VIAS, StructureRules
from mailflow.review.stats_keys import StatsError
from mailflow.review.stats_time import LocalTime
from mailflow.services.structures import imported
from mailflow.store.models import Request, database

NONE, UNNAMED = "none", "unnamed"
KIND_KEYS = (*KINDS, NONE)
VIA_KEYS = (*VIAS, NONE)
TITLE = "Relayées par les structures partenaires"
VIA_WORDS = {
    "from": "écrites par un conseiller de la structure",
    "through": "conseiller de la structure en copie",
    "text": "structure nommée dans le message",
    NONE: "aucune structure",
}


def structure_tables(conds: list[Any], local: LocalTime) -> Counter[tuple[str, str, str]]:
    """(month, table, key) -> requests, one grouped scan."""
    month = local.month(Request.created_at)
    cols = (month, Request.structure, Request.structure_kind, Request.structure_via)
    q = Request.select(*cols, fn.COUNT(Request.id)).group_by(SQL("1"), SQL("2"), SQL("3"), SQL("4"))
    q = q.where(*conds) if conds else q
    tables: Counter[tuple[str, str, str]] = Counter()
    for m, key, kind, via, n in database.obj.execute(q).fetchall():
        relayed = bool(key or kind)
        tables[m, "structure", key or (UNNAMED if relayed else NONE)] += n
        tables[
            m, "structure_kind", kind if kind in KINDS else NONE if not relayed else "autre"
        ] += n
        tables[m, "structure_via", via if relayed and via in VIAS else NONE] += n
    return tables


def structures_section(counts: Counter[tuple[str, str, str]], months: set[str]) -> dict[str, Any]:
    t: dict[str, Counter[str]] = {"structure": Counter(), "kind": Counter(), "via": Counter()}
    for (m, table, key), n in counts.items():
        if m in months:
            t[table.removeprefix("structure_")][key] += n
    named = sorted(k for k in t["structure"] if k not in (UNNAMED, NONE))
    none = t["structure"][NONE]
    return {
        "relayed": sum(t["structure"].values()) - none,
        "none": none,
        "by_structure": {k: t["structure"][k] for k in (*named, UNNAMED, NONE)},
        "by_kind": {k: t["kind"][k] for k in KIND_KEYS},
        "by_via": {k: t["via"][k] for k in VIA_KEYS},
    }


def check_structures(s: dict[str, Any], where: str) -> None:
    total, st = s["requests"], s["structures"]
    sums = {
        "relayed + none": st["relayed"] + st["none"],
        **{name: sum(st[name].values()) for name in ("by_structure", "by_kind", "by_via")},
    }
    for what, got in sums.items():
        if got != total:
            raise StatsError(
                f"internal error: stats {where}: structures {what} adds up to {got}, not {total}"
            )


# -- words, for the text and the report -----------------------------------------------------


@dataclass(frozen=True)
class StructureWords:
    """The French names of structures (the list in use) and of their kinds."""

    names: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)

    def structure(self, key: str) -> str:
        if key == UNNAMED:
            return "structure non nommée (type seulement)"
        if key == NONE:
            return "aucune structure"
        return self.names.get(key, key)

    def kind(self, key: str) -> str:
        return "aucune structure" if key == NONE else self.kinds.get(key, key)


def structure_words(rules: StructureRules) -> StructureWords:
    """Names from the rules file and the imported list (the imported one wins)."""
    names = {s.key: s.name for s in rules.structures}
    names |= {s.key: s.name for s in imported()}
    return StructureWords(names, {k: v.label for k, v in rules.kinds.items()})


def rows(s: dict[str, Any], words: StructureWords) -> list[tuple[str, str, int]]:
    """(group, label, count): the section as the text and the report show it."""
    st = s["structures"]
    out = [("total", "relayées par une structure", st["relayed"]), ("total", "aucune", st["none"])]
    out += [("structure", words.structure(k), n) for k, n in st["by_structure"].items()]
    out += [("type", words.kind(k), n) for k, n in st["by_kind"].items()]
    out += [("voie", VIA_WORDS[k], n) for k, n in st["by_via"].items()]
    return out


def key_label(table: str, key: str, words: StructureWords | None = None) -> str:
    """A key of the CSV's structures tables in French (`stats --excel`'s libelle)."""
    words = words or StructureWords()
    if table == "structures":
        return {"relayed": "relayées par une structure", NONE: "aucune"}.get(key, key)
    if table == "structures_by_via":
        return VIA_WORDS.get(key, key)
    if table == "structures_by_kind":
        return words.kind(key)
    return words.structure(key)
