"""`mailflow stats` output: CSV rows `year,table,key,value`, or a readable bilingual table.

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
feedback_met/<yes|no|unknown>, feedback/mean_score. A missing figure (no rate, no median) is
an empty value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

HEADER = ("year", "table", "key", "value")
_DICT_TABLES = (
    "people_by_age_band",
    "people_by_situation",
    "requests_by_kind",
    "requests_by_domain",
    "requests_by_department",
    "requests_by_match",
    "stretched_by",
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


_TITLES = {
    "people_by_age_band": "Personnes par tranche d'âge / People by age band",
    "people_by_situation": "Personnes par situation / People by situation",
    "requests_by_kind": "Demandes par type / Requests by kind",
    "requests_by_domain": "Demandes par domaine ROME / Requests by ROME domain",
    "requests_by_department": "Demandes par département / Requests by département",
}


def _table(title: str, pairs: list[tuple[str, Any]]) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [title, *(f"  {k.ljust(width)}  {_value(v) or '-'}" for k, v in pairs), ""]


def render_section(name: str, s: dict[str, Any]) -> list[str]:
    a, b, f, u = s["answers"], s["ambassadors"], s["feedback"], s["unmet_demand"]
    lines = [f"=== {name} ===", ""]
    lines += _table(
        "Activité / Activity",
        [
            ("demandes / requests", s["requests"]),
            ("personnes / people", s["people"]),
            ("réattributions / reassignments", s["reassignments"]),
            ("escalades / escalations", s["escalations"]),
        ],
    )
    months = [(m, f"{v['requests']} / {v['people']}") for m, v in s["per_month"].items()]
    lines += _table("Par mois (demandes / personnes) / Per month (requests / people)", months)
    for table, title in _TITLES.items():
        lines += _table(title, list(s[table].items()))
    rate = "-" if a["answer_rate"] is None else f"{a['answer_rate'] * 100:.1f} %"
    lines += _table(
        "Réponses des ambassadeurs / Ambassador answers",
        [
            ("proposées / offered", a["offered"]),
            ("répondues / answered", a["answered"]),
            ("sans réponse / not answered", a["not_answered"]),
            ("taux / rate", rate),
            ("délai médian (h) / median delay (h)", a["median_hours_to_first_answer"]),
        ],
    )
    lines += _table(
        f"Demandes non satisfaites / Unmet demand: {u['requests']}",
        [(f"{r['trade']} ({r['department']})", r["count"]) for r in u["rows"]],
    )
    lines += _table(
        "Ambassadeurs / Ambassadors",
        [
            ("actifs / active", b["active"]),
            ("sollicités / contacted", b["contacted"]),
            ("actifs sollicités / active contacted", b["contacted_active"]),
            ("jamais sollicités / never contacted", b["never_contacted"]),
        ],
    )
    lines += _table(
        "Retours / Feedback",
        [
            *((f"note / score {k}", v) for k, v in f["scores"].items()),
            ("moyenne / mean", f["mean_score"]),
            *((f"rencontre / met: {k}", v) for k, v in f["met"].items()),
        ],
    )
    return lines


def render_text(doc: dict[str, Any]) -> str:
    if not doc["years"] and not doc["total"]["requests"]:
        return "Aucune demande enregistrée / No requests recorded yet.\n"
    lines: list[str] = []
    for year, s in doc["by_year"].items():
        lines += render_section(year, s)
    if doc["year"] is None:
        lines += render_section("Total (toutes années / all years)", doc["total"])
    return "\n".join(lines).rstrip() + "\n"
