"""The reference data (ROME jobs, French places) loaded once into one immutable, indexed object.

Files under rules/ (see rules/README.md): rome/appellations.csv, rome/codes_rome.csv,
geo/departements.json, geo/regions.json, geo/communes.csv, the optional
geo/communes_deleguees.csv and place_names.toml (other names of communes), diplomas.toml
(diplomas and titles -> the trade they lead to), and the
[referential] and [places] tables of understanding.toml (stop words, aliases, synonyms, fuzzy
threshold, home région).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rapidfuzz import fuzz, process

from mailflow.core.rules_file import read_toml
from mailflow.core.textnorm import fold, words
from mailflow.core.values import Place, Trade
from mailflow.errors import RulesError
from mailflow.understand.english_trades import EnglishTrades
from mailflow.understand.place_index import Commune, Named, PlaceIndex
from mailflow.understand.tokens import stem
from mailflow.understand.trade_index import TradeHit, TradeIndex, TradeSettings


@dataclass(frozen=True)
class Referential:
    """Read-only lookups over trades and places; build it with load_referential()."""

    trades: TradeIndex
    places: PlaceIndex
    close: Mapping[str, frozenset[str]] = field(default_factory=dict)  # `close_codes`
    english: EnglishTrades | None = None  # English trade names, for a mail in English
    near: Mapping[str, frozenset[str]] = field(default_factory=dict)  # `near_codes`

    def match_trade(self, text: str) -> Trade | None:
        """The ROME trade named in the text ("boulangère", "coifeuse", "agent de sécurité")."""
        hit = self.trades.match(text)
        return hit.trade if hit else None

    def find_trades(self, text: str) -> list[TradeHit]:
        """Every trade mention with its position and how it matched (for choosing and notes)."""
        return self.trades.find(text)

    def match_place(self, text: str) -> Place | None:
        """A place phrase: "14", "dans le 14", "Calvados", "Caen", "St Lo", "14000", "Normandie"."""
        return self.places.match(text)

    def match_postcode(self, code: str) -> Place | None:
        return self.places.postcode(code)

    def match_department_code(self, code: str) -> Place | None:
        return self.places.department(code)

    def match_department_name(self, text: str) -> Place | None:
        return self.places.department_named(self.places.key(text))

    def match_region_name(self, text: str) -> Place | None:
        return self.places.region_named(self.places.key(text))

    def match_commune(self, text: str) -> Place | None:
        commune = self.places.commune_named(self.places.key(text))
        return commune.place() if commune else None

    def commune_prefix(self, keys: list[str]) -> tuple[int, Commune] | None:
        """Longest commune name at the start of already folded words (for the parser)."""
        return self.places.commune_prefix([self.places.aliases.get(k, k) for k in keys])

    def communes_at(self, keys: list[str]) -> tuple[int, tuple[Named, ...]] | None:
        """Every commune named by the longest run of leading folded words (homonyms too)."""
        return self.places.names_at([self.places.aliases.get(k, k) for k in keys])

    def region_of(self, department_code: str) -> str | None:
        return self.places.region_of(department_code)

    def department_name(self, code: str) -> str | None:
        return self.places.department_name(code)

    def region_name(self, code: str) -> str | None:
        return self.places.regions.get(code)

    def rome_label(self, code: str) -> str | None:
        return self.trades.rome_labels.get(code.strip().upper())

    def close_codes(self, code: str | None) -> frozenset[str]:
        """The ROME codes closest to `code`, tried before the rest of its domain: the same
        family in ROME 4.0 (`code_rome_parent`), or a label of the domain with the same
        head word ("Infirmier / Infirmière scolaire" J1511 -> the other nurses, J1506...,
        before the aide-soignants J1501)."""
        return self.close.get((code or "").strip().upper(), frozenset())

    def near_codes(self, code: str | None) -> frozenset[str]:
        """The closest of close_codes: the code's ROME parent and children ("Développeur
        jeux vidéo" M1831 -> "Développeur informatique" M1805, before the web one M1855)."""
        return self.near.get((code or "").strip().upper(), frozenset())

    def closest_titles(self, text: str, count: int = 3) -> list[str]:
        """The ROME appellations nearest to a title no trade matched (by spelling), for
        whoever has to correct it: "Paysagiste" -> "Jardinier paysagiste / …"."""
        labels = sorted({entry.label for entry in self.trades.entries})
        found = process.extract(text, labels, scorer=fuzz.WRatio, processor=fold, limit=count)
        return [label for label, _, _ in found]


def load_referential(rules_dir: Path) -> Referential:
    """Read and index the reference files (a few seconds: done once, in context.load_rules)."""
    try:
        return _load(Path(rules_dir))
    except KeyError as exc:
        raise RulesError(f"{rules_dir}: a reference file lacks the column or key {exc}") from exc
    except ValueError as exc:
        raise RulesError(f"{rules_dir}: {exc}") from exc


def _load(rules_dir: Path) -> Referential:
    understanding = read_toml(rules_dir / "understanding.toml")
    table = understanding.get("referential", {})
    home = understanding.get("places", {})
    settings = _trade_settings(table, read_toml(rules_dir / "diplomas.toml", optional=True))
    names = read_toml(rules_dir / "place_names.toml", optional=True)
    rome_rows = _read_csv(rules_dir / "rome" / "codes_rome.csv")
    rome_labels = {r["code_rome"]: r["libelle_rome"] for r in rome_rows}
    trades = TradeIndex.build(
        _read_csv(rules_dir / "rome" / "appellations.csv"), rome_labels, settings
    )
    places = PlaceIndex.build(
        _read_json(rules_dir / "geo" / "departements.json"),
        _read_json(rules_dir / "geo" / "regions.json"),
        _read_csv(rules_dir / "geo" / "communes.csv"),
        {words(k): words(v) for k, v in table.get("place_aliases", {}).items()},
        dict(table.get("place_synonyms", {})),
        former=_read_csv(rules_dir / "geo" / "communes_deleguees.csv", optional=True),
        other_names=names.get("names", {}),
        pays=names.get("pays", {}),
        demonyms=names.get("demonyms", {}),
        home_region=str(home.get("home_region", "")),
        home_factor=float(home.get("home_factor", 1)),
        name_links=[words(w) for w in home.get("name_links", [])],
    )
    english = read_toml(rules_dir / "english.toml", optional=True).get("trades", {})
    return Referential(
        trades,
        places,
        MappingProxyType(_close_codes(rome_rows)),
        EnglishTrades.build(english, trades) if english else None,
        MappingProxyType(_near_codes(rome_rows)),
    )


def _near_codes(rows: list[dict[str, str]]) -> dict[str, frozenset[str]]:
    """code -> its ROME parent and its children (`code_rome_parent`), itself excluded."""
    near: dict[str, set[str]] = {}
    for r in rows:
        code, up = r["code_rome"], r.get("code_rome_parent") or r["code_rome"]
        if up != code:
            near.setdefault(code, set()).add(up)
            near.setdefault(up, set()).add(code)
    return {code: frozenset(codes) for code, codes in near.items()}


def _close_codes(rows: list[dict[str, str]]) -> dict[str, frozenset[str]]:
    """code -> the codes of its ROME family (same `code_rome_parent`, or parent and child)
    and of its domain whose label starts with the same word, itself excluded."""
    parent = {r["code_rome"]: (r.get("code_rome_parent") or r["code_rome"]) for r in rows}
    head = {
        r["code_rome"]: stem(words(r["libelle_rome"]).split()[0])
        for r in rows
        if words(r["libelle_rome"])
    }
    family: dict[str, set[str]] = {}
    for code, up in parent.items():
        family.setdefault(up, set()).add(code)
    by_head: dict[tuple[str, str], set[str]] = {}
    for code, word in head.items():
        by_head.setdefault((code[:3], word), set()).add(code)
    close = {}
    for code in parent:
        near = family.get(parent[code], set()) | family.get(code, set()) | {parent[code]}
        near |= by_head.get((code[:3], head.get(code, "")), set())
        close[code] = frozenset(near - {code})
    return close


def _trade_settings(table: dict[str, Any], diplomas: dict[str, Any]) -> TradeSettings:
    try:
        titles = {
            words(phrase): (str(t["rome"]).strip().upper(), str(t["title"]))
            for phrase, t in diplomas.get("titles", {}).items()
        }
        return TradeSettings(
            stop_words=frozenset(words(w) for w in table.get("stop_words", [])),
            glue_words=frozenset(words(w) for w in table.get("glue_words", [])),
            aliases={words(k): words(v) for k, v in table.get("trade_aliases", {}).items()},
            synonyms=dict(table.get("trade_synonyms", {})),
            fields=dict(table.get("trade_fields", {})),
            titles=titles,
            upper_only=frozenset(words(w) for w in table.get("upper_only", [])),
            endings=tuple(
                (words(field), words(trade))
                for field, trades in table.get("field_endings", {}).items()
                for trade in ([trades] if isinstance(trades, str) else trades)
            ),
            weak_words=frozenset(stem(words(w)) for w in table.get("weak_words", [])),
            fuzzy_min_length=int(table.get("fuzzy_min_length", 5)),
            fuzzy_cutoff=float(table.get("fuzzy_cutoff", 85)),
            head_min_share=float(table.get("head_min_share", 0.5)),
        )
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RulesError(f"understanding.toml [referential] or diplomas.toml: {exc}") from exc


def _read_csv(path: Path, optional: bool = False) -> list[dict[str, str]]:
    if optional and not path.exists():
        return []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: {exc}") from exc


def _read_json(path: Path) -> list[dict[str, str]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesError(f"{path}: {exc}") from exc
