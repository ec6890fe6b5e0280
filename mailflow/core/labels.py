"""French words for the codes mailflow stores: rules/labels.toml, and the ROME domains'
names from rules/rome/domaines.csv.

The database keeps its codes (`collegien`, `D11`, `request received by mail`); the report
and `mailflow stats` show people these labels instead. One file, so that a coordinator can
correct a word once for every page and table.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from mailflow.errors import RulesError

TABLES = (
    "situations",
    "kinds",
    "age_bands",
    "states",
    "matches",
    "stretches",
    "outcomes",
    "statuses",
    "purposes",
    "events",
    "event_details",
    "causes",
)
# Tables added later, read when there: a deployment's own older copy of labels.toml still
# loads (a code without its label is shown as stored).
OPTIONAL = ("writer_roles", "writer_roles_short", "writer_phrases")
NUMBER = re.compile(r"#\d+")
FIGURE = re.compile(r"\d+(?:[/.-]\d+)*")  # 7, 21/12/2026, 2026-12-21


@dataclass(frozen=True)
class Labels:
    tables: Mapping[str, Mapping[str, str]]
    domains: Mapping[str, str]  # "D11" -> "Commerce alimentaire et métiers de bouche"
    departments: Mapping[str, str]  # "14" -> "Calvados" (rules/geo/departements.json)

    def of(self, table: str, code: str | None, default: str | None = None) -> str:
        """The label of `code` in `table`; the code itself (or `default`) without one."""
        found = self.tables[table].get(code or "")
        if found is not None:
            return found
        return default if default is not None else (code or "")

    def domain(self, code: str) -> str:
        """'D11' -> 'D11 · Commerce alimentaire et métiers de bouche'; unknown: unknown."""
        name = self.domains.get(code)
        if name:
            return f"{code} · {name}"
        return self.of("situations", "unknown") if code == "unknown" else code

    def cause(self, text: str | None) -> str:
        """A stored cause in French, each of its parts ("...; no other ambassador available")
        on its own: the label of the longest key a part starts with, its "{}" filled with the
        figures and dates the part names ("no answer after 7 business days" -> "pas de
        réponse après 7 jours ouvrés"), or else followed by the numbers it names ("#12"); a
        part without a label is shown as stored."""
        if not text:
            return "–"
        return " ; ".join(self._cause_part(part) for part in text.split("; "))

    def _cause_part(self, text: str) -> str:
        causes = self.tables["causes"]
        keys = [k for k in causes if text.startswith(k)]
        if not keys:
            return text
        key = max(keys, key=len)
        label, rest = causes[key], text[len(key) :]
        if "{}" in label:
            figures = FIGURE.findall(rest)
            if len(figures) >= label.count("{}"):
                return label.format(*figures[: label.count("{}")])
            return label.replace(" {}", "").replace("{}", "")
        numbers = NUMBER.findall(rest)
        return " ".join((label, *numbers))


def load_labels(rules_dir: Path) -> Labels:
    """Read rules/labels.toml, rules/rome/domaines.csv and the départements' names;
    a missing table is a RulesError."""
    path = Path(rules_dir) / "labels.toml"
    domains_path = Path(rules_dir) / "rome" / "domaines.csv"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        tables = {name: MappingProxyType(dict(data[name])) for name in TABLES}
        tables |= {name: MappingProxyType(dict(data.get(name, {}))) for name in OPTIONAL}
        with domains_path.open(encoding="utf-8", newline="") as f:
            domains = {
                r["code_domaine_professionnel"]: r["libelle_domaine_professionnel"]
                for r in csv.DictReader(f)
            }
        departments_path = Path(rules_dir) / "geo" / "departements.json"
        departments = {
            d["code"]: d["nom"] for d in json.loads(departments_path.read_text(encoding="utf-8"))
        }
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"{path}: {type(exc).__name__}: {exc}") from exc
    return Labels(
        MappingProxyType(tables), MappingProxyType(domains), MappingProxyType(departments)
    )
