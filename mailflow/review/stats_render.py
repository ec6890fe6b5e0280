"""`mailflow stats` output: CSV rows `year,table,key,value` (`--csv`, a contract), the same
rows for French Excel (`--excel`), or a readable table in French (rules/labels.toml).

Both read the document built by `mailflow.review.stats.collect` and nothing else.

CSV tables (one row per key; `year` is the year, or "all" for the total over every year,
written only when no --year was given):
requests/total, people/total, per_month_requests/YYYY-MM, per_month_people/YYYY-MM,
people_by_age_band/<band>, people_by_situation/<situation>, requests_by_kind/<kind>,
requests_by_domain/<domain>, requests_by_department/<code>, requests_by_match/<exact|
stretched|unmet|not_offered|unknown>, stretched_by/<trade|kind|department|region>,
answers/<offered|answered|not_answered|answer_rate|median_hours_to_first_answer>,
reassignments/total,
escalations/total, unmet_demand/total, unmet_demand_rows/<département>|<trade>,
ambassadors/<active|contacted|contacted_active|never_contacted>, feedback_scores/<1..5|unknown>,
feedback_met/<yes|no|unknown>, feedback/mean_score, adults/<parent|enseignant|
conseiller_orientation|cpe|conseiller_insertion|animateur|educateur|autre|self|unknown>
(written just before answers). A missing figure (no rate, no median) is
an empty value.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from mailflow.core.labels import Labels
from mailflow.review.stats_keys import UNKNOWN
from mailflow.review.stats_structures import TITLE as STRUCTURES_TITLE
from mailflow.review.stats_structures import StructureWords
from mailflow.review.stats_structures import key_label as structure_key_label
from mailflow.review.stats_structures import rows as structure_lines

HEADER = ("year", "table", "key", "value")
_DICT_TABLES = (
    "people_by_age_band",
    "people_by_situation",
    "requests_by_kind",
    "requests_by_domain",
    "requests_by_department",
    "requests_by_match",
    "stretched_by",
    "adults",  # who wrote: the adults writing for a young person (Tableau 1)
    "answers",
)


def _value(value: Any) -> str:
    return "" if value is None else str(value)


def section_rows(s: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(table, key, value) of one section, in a stable order."""
    yield "requests", "total", s["requests"]
    yield "people", "total", s["people"]
    for month, v in s["per_month"].items():
        yield "per_month_requests", month, v["requests"]
    for month, v in s["per_month"].items():
        yield "per_month_people", month, v["people"]
    for table in _DICT_TABLES:
        for key, value in s[table].items():
            yield table, key, value
    yield "reassignments", "total", s["reassignments"]
    yield "escalations", "total", s["escalations"]
    yield "unmet_demand", "total", s["unmet_demand"]["requests"]
    for row in s["unmet_demand"]["rows"]:
        yield "unmet_demand_rows", f"{row['department']}|{row['trade']}", row["count"]
    for key, value in s["ambassadors"].items():
        yield "ambassadors", key, value
    for key, value in s["feedback"]["scores"].items():
        yield "feedback_scores", key, value
    for key, value in s["feedback"]["met"].items():
        yield "feedback_met", key, value
    yield "feedback", "mean_score", s["feedback"]["mean_score"]
    yield from structure_rows(s)


def structure_rows(s: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """The structures section (stats_structures.py) as CSV rows."""
    st = s["structures"]
    yield "structures", "relayed", st["relayed"]
    yield "structures", "none", st["none"]
    for name in ("by_structure", "by_kind", "by_via"):
        for key, value in st[name].items():
            yield f"structures_{name}", key, value


def render_csv(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    sections = list(doc["by_year"].items())
    if doc["year"] is None:
        sections.append(("all", doc["total"]))
    for year, s in sections:
        for table, key, value in section_rows(s):
            writer.writerow((year, table, key, _value(value)))
    return out.getvalue()


def render_excel(doc: dict[str, Any], labels: Labels) -> str:
    """The CSV rows for French Excel: `;` between columns, decimal comma, CRLF, a UTF-8 BOM
    (the caller writes it as UTF-8), today's four columns and a fifth, `libelle`, that says
    each row in French. A key Excel would turn into a date or a number is written as a
    formula that keeps it as text (`_as_text`)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow((*HEADER, "libelle"))
    sections = list(doc["by_year"].items())
    if doc["year"] is None:
        sections.append(("all", doc["total"]))
    for year, s in sections:
        for table, key, value in section_rows(s):
            text = _value(value).replace(".", ",") if isinstance(value, float) else _value(value)
            writer.writerow((year, table, _as_text(key), text, row_label(labels, table, key)))
    return "\ufeff" + out.getvalue()


# What Excel would read as a date or a number, losing the key: a month (2025-03 becomes
# "mars-25"), an age band read as day-month (10-12 would become 10 December), a
# département with its leading zero (01 becomes 1).
_COERCED = re.compile(r"0\d+|\d{1,4}[-/.]\d{1,4}([-/.]\d{1,4})?")


def _as_text(key: str) -> str:
    """A key Excel would change, as the formula ="KEY" (shown as KEY, kept as text)."""
    return f'="{key}"' if _COERCED.fullmatch(key) else key


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août")
MONTHS += ("septembre", "octobre", "novembre", "décembre")
_TITLES = {
    "requests": "Demandes",
    "people": "Personnes",
    "per_month_requests": "Demandes par mois",
    "per_month_people": "Personnes par mois",
    "people_by_age_band": "Personnes par tranche d'âge",
    "people_by_situation": "Personnes par situation",
    "requests_by_kind": "Demandes par type",
    "requests_by_domain": "Demandes par domaine ROME",
    "requests_by_department": "Demandes par département",
    "requests_by_match": "Demandes par correspondance",
    "stretched_by": "Correspondances élargies : ce qui diffère",
    "adults": "Adultes — Qualité (qui a écrit la demande)",
    "answers": "Réponses des ambassadeurs",
    "reassignments": "Réattributions",
    "escalations": "Escalades",
    "unmet_demand": "Demandes non satisfaites",
    "unmet_demand_rows": "Demandes non satisfaites par département et métier",
    "ambassadors": "Ambassadeurs",
    "feedback_scores": "Avis : notes",
    "feedback_met": "Avis : rencontre",
    "feedback": "Avis",
    "structures": STRUCTURES_TITLE,
    "structures_by_structure": f"{STRUCTURES_TITLE} : par structure",
    "structures_by_kind": f"{STRUCTURES_TITLE} : par type",
    "structures_by_via": f"{STRUCTURES_TITLE} : par voie",
}
_KEY_TABLES = {
    "people_by_age_band": "age_bands",
    "people_by_situation": "situations",
    "requests_by_kind": "kinds",
    "requests_by_match": "matches",
    "stretched_by": "stretches",
    "adults": "writer_roles",
}
_WORDS = {
    "total": "total",
    "offered": "proposées",
    "answered": "répondues",
    "not_answered": "sans réponse",
    "answer_rate": "taux de réponse",
    "median_hours_to_first_answer": "délai médian de 1re réponse (h)",
    "active": "actifs",
    "contacted": "sollicités",
    "contacted_active": "actifs sollicités",
    "never_contacted": "actifs jamais sollicités",
    "mean_score": "note moyenne",
    "yes": "oui",
    "no": "non",
}


def key_label(labels: Labels, table: str, key: str) -> str:
    """A key of `table` in French: a labels.toml entry, a ROME domain's name, a month."""
    if table in _KEY_TABLES:
        return labels.of(_KEY_TABLES[table], key)
    if table.startswith("structures"):
        return structure_key_label(table, key)
    if table == "requests_by_domain":
        return labels.domain(key)
    if table.startswith("per_month"):
        return f"{MONTHS[int(key[5:]) - 1]} {key[:4]}"
    if key == UNKNOWN:
        return labels.of("kinds", UNKNOWN)
    if table == "feedback_scores":
        return f"note {key}"
    return _WORDS.get(key, key)


def row_label(labels: Labels, table: str, key: str) -> str:
    return f"{_TITLES.get(table, table)} : {key_label(labels, table, key)}"


def _table(title: str, pairs: list[tuple[str, Any]]) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [title, *(f"  {k.ljust(width)}  {_shown(v)}" for k, v in pairs), ""]


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return str(value).replace(".", ",") if isinstance(value, float) else str(value)


def render_section(
    name: str, s: dict[str, Any], labels: Labels, words: StructureWords | None = None
) -> list[str]:
    a, b, f, u = s["answers"], s["ambassadors"], s["feedback"], s["unmet_demand"]
    lines = [f"=== {name} ===", ""]
    lines += _table(
        "Activité",
        [
            ("demandes", s["requests"]),
            ("personnes", s["people"]),
            ("réattributions", s["reassignments"]),
            ("escalades", s["escalations"]),
        ],
    )
    months = [
        (key_label(labels, "per_month", m), f"{v['requests']} / {v['people']}")
        for m, v in s["per_month"].items()
    ]
    lines += _table("Par mois (demandes / personnes)", months)
    for table in _DICT_TABLES[:-1]:  # every breakdown but the answers
        pairs = [(key_label(labels, table, k), v) for k, v in s[table].items()]
        lines += _table(_TITLES[table], pairs)
    rate = "-" if a["answer_rate"] is None else f"{_shown(round(a['answer_rate'] * 100, 1))} %"
    lines += _table(
        _TITLES["answers"],
        [
            ("proposées", a["offered"]),
            ("répondues", a["answered"]),
            ("sans réponse", a["not_answered"]),
            ("taux", rate),
            ("délai médian (h)", a["median_hours_to_first_answer"]),
        ],
    )
    unknown = labels.of("kinds", UNKNOWN)
    lines += _table(
        f"{_TITLES['unmet_demand']} : {u['requests']}",
        [
            (
                f"{unknown if r['trade'] == UNKNOWN else r['trade']} "
                f"({unknown if r['department'] == UNKNOWN else r['department']})",
                r["count"],
            )
            for r in u["rows"]
        ],
    )
    lines += _table(
        _TITLES["ambassadors"],
        [(_WORDS[k], b[k]) for k in ("active", "contacted", "contacted_active", "never_contacted")],
    )
    lines += _table(
        _TITLES["feedback"],
        [
            *((key_label(labels, "feedback_scores", k), v) for k, v in f["scores"].items()),
            ("moyenne", f["mean_score"]),
            *((f"rencontre : {_WORDS.get(k, unknown)}", v) for k, v in f["met"].items()),
        ],
    )
    lines += _table(
        STRUCTURES_TITLE,
        [
            (f"{group} : {label}", n)
            for group, label, n in structure_lines(s, words or StructureWords())
        ],
    )
    return lines


def render_text(doc: dict[str, Any], labels: Labels, words: StructureWords | None = None) -> str:
    if not doc["years"] and not doc["total"]["requests"]:
        return "Aucune demande enregistrée / No requests recorded yet.\n"
    lines: list[str] = []
    for year, s in doc["by_year"].items():
        lines += render_section(year, s, labels, words)
    if doc["year"] is None:
        lines += render_section("Total (toutes années)", doc["total"], labels, words)
    return "\n".join(lines).rstrip() + "\n"
