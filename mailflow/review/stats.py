"""The programme's yearly figures ("Tableau 1"), aggregated in SQL, checked before printing.

Definitions (every figure is about requests *created* in the period). Periods are local:
a year or a month is that of the wall-clock time in `[schedule] timezone` (Europe/Paris by
default, DST included), so a request sent at 00:30 on 1 January in Paris (23:30 UTC on 31
December, as stored) is one of January of the new year; `--year Y` is from local midnight
on 1 January Y to 1 January Y+1 (stats_time.py turns stored UTC times into local years and
months, in SQL on both databases). Durations are real time between stored UTC times.

- people: distinct persons with a request in the period. A person is counted once, with the
  first age and the first situation *known* among their requests of the period (in order of
  `created_at`, then id; each field on its own: a request without an age does not hide the
  age a later request of the period gives). "unknown" only when no request of the period
  gives one. Over all years that is the first known ever.
- age bands [10,16) [16,18) [18,26) [26,50) [50,+) (mailflow.core.values.AGE_BANDS), plus
  "under_10" (an age given below 10) and "unknown" (no age given).
- situation: collegien, lyceen, apprenti, etudiant, demandeur_emploi, salarie (compared
  without case or accents); any other value (parent, autre, ...) is "other"; none is
  "unknown".
- adults (the programme's Tableau 1 "Adultes — Qualité"): requests by who wrote them,
  `request.writer_role`: parent, enseignant, conseiller_orientation, cpe,
  conseiller_insertion, animateur, educateur, autre (any other stored value too); "self"
  when no adult wrote for the person and something of them is known (an age, a situation);
  "unknown" when neither (nothing tells who wrote). Adds up to the requests.
- kind: metier, formation, vae, anything else "unknown". Domain: first 3 characters of
  code_rome. Empty or missing values are "unknown" everywhere, never dropped.
- answers: "offered" = requests with at least one conversation (offered to an ambassador at
  least once); "answered" = offered requests with `first_answer_at`; answer_rate =
  answered / offered (null when nothing was offered); median_hours_to_first_answer over the
  answered requests, of `first_answer_at - created_at` (real hours: a DST change between
  them does not count), filed under the period of `created_at`.
- match: each request by its latest offer's stored quality (route.quality, rules/matching.toml):
  "exact", "stretched" (another trade of the ROME domain, another kind, département or
  region than asked); never offered: "unmet" when it was ever unmatched (no candidate
  within the policy), else "not_offered" (not understood yet, withdrawn...); "unknown": an
  offer made before the quality was recorded. "stretched_by" counts the stretched requests
  by what differs (one may count under several, each at most "stretched").
- reassignments: state events to "reassigned" of the period's requests (whenever they
  happened); escalations: requests with `escalated_at`.
- unmet_demand: requests ever "unmatched" (state now, or a state event to it) that no
  ambassador ever answered (`first_answer_at` null: a request escalated, then met by a late
  answer, the daily retry or the coordinator, is not unmet), by trade (rome_label, else
  trade_text, else "unknown") and département.
- ambassadors: "contacted" = ambassadors with a conversation *created* in the period (the
  local year of the conversation's own `created_at`);
  "never_contacted" = active ambassadors without one; active = contacted_active +
  never_contacted.
- feedback: scores 1..5 (any other value or none: "unknown"), mean over 1..5 scores; met
  yes / no / unknown. Over every request of the period.

JSON document (keys always present, in this order):
    {"year": 2025 | null, "years": ["2024", ...],
     "by_year": {"2024": SECTION, ...}, "total": SECTION}
SECTION:
    {"requests": int, "people": int,
     "per_month": {"YYYY-MM": {"requests": int, "people": int}, ...},   # every month
     "people_by_age_band": {"10-15", "16-17", "18-25", "26-49", "50+", "under_10", "unknown"},
     "people_by_situation": {"collegien", ..., "salarie", "other", "unknown"},
     "requests_by_kind": {"metier", "formation", "vae", "unknown"},
     "requests_by_domain": {"D11": int, ..., "unknown": int},
     "requests_by_department": {"14": int, ..., "unknown": int},
     "requests_by_match": {"exact", "stretched", "unmet", "not_offered", "unknown"},
     "stretched_by": {"trade", "kind", "department", "region"},
     "adults": {"parent", "enseignant", "conseiller_orientation", "cpe",
                "conseiller_insertion", "animateur", "educateur", "autre", "self", "unknown"},
     "answers": {"offered", "answered", "not_answered", "answer_rate",
                 "median_hours_to_first_answer"},
     "reassignments": int, "escalations": int,
     "unmet_demand": {"requests": int,
                      "rows": [{"trade": str, "department": str, "count": int}, ...]},
     "ambassadors": {"active", "contacted", "contacted_active", "never_contacted"},
     "feedback": {"scores": {"1", ..., "5", "unknown"}, "mean_score": float | null,
                  "met": {"yes", "no", "unknown"}},
     "structures": {"relayed", "none", "by_structure", "by_kind", "by_via"}}
                  # requests relayed by partner structures: stats_structures.py
Every breakdown adds up to its total; `check_section` raises StatsError when one does not.

The raw counts come from stats_sql.py (the queries, timed by bench/statsdb.py), filed under
the keys of stats_keys.py and the local years and months of stats_time.py; this module
shapes them into sections and checks them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, tzinfo
from statistics import median
from typing import Any

from mailflow.core.textnorm import fold
from mailflow.errors import MailflowError
from mailflow.review.stats_keys import (
    ADULT_KEYS,
    AGE_KEYS,
    ALL,
    KIND_KEYS,
    MATCH_KEYS,
    MET_KEYS,
    SCORE_KEYS,
    SITUATION_KEYS,
    STRETCH_KEYS,
    UNKNOWN,
    StatsError,
)
from mailflow.review.stats_sql import gather
from mailflow.review.stats_structures import check_structures, structures_section


def _months(years: list[str]) -> list[str]:
    return [f"{y}-{m:02d}" for y in years for m in range(1, 13)]


def _ordered(counts: Counter[Any], fixed: tuple[str, ...] | None = None) -> dict[str, int]:
    """Fixed keys in their order (zeros kept), or sorted keys with "unknown" always last."""
    if fixed is not None:
        return {k: counts[k] for k in fixed}
    keys = sorted(k for k in counts if k != UNKNOWN)
    return {k: counts[k] for k in (*keys, UNKNOWN)}


def section(raw: dict[str, Any], years: list[str], scope: str) -> dict[str, Any]:
    """The figures of `years` (one year, or every year for the total), `scope` keying people."""
    months = _months(years)
    wanted = set(months)
    t: defaultdict[str, Counter[Any]] = defaultdict(Counter)
    for (m, table, key), n in raw["tables"].items():
        if m in wanted:
            t[table][key] += n
    firsts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for (y, table, key), n in raw["firsts"].items():
        if y == scope:
            firsts[table][key] += n
    hours = [h for m in months for h in raw["hours"].get(m, [])]
    offered, answered = t["answers"]["offered"], t["answers"]["answered"]
    spans = raw["contacted"] if scope == ALL else years  # the total: every conversation
    contacted = set().union(*(raw["contacted"].get(m, set()) for m in spans))
    scores = _ordered(t["score"], SCORE_KEYS)
    rated = sum(scores[k] for k in SCORE_KEYS[:5])
    unmet = sorted(t["unmet"].items(), key=lambda kv: (-kv[1], fold(kv[0][0]), kv[0]))
    return {
        "requests": t["requests"]["total"],
        "people": raw["people"][scope],
        "per_month": {
            m: {
                "requests": raw["tables"][m, "requests", "total"],
                "people": raw["people"][m],
            }
            for m in months
        },
        "people_by_age_band": _ordered(firsts["age"], AGE_KEYS),
        "people_by_situation": _ordered(firsts["situation"], SITUATION_KEYS),
        "requests_by_kind": _ordered(t["kind"], KIND_KEYS),
        "requests_by_domain": _ordered(t["domain"]),
        "requests_by_department": _ordered(t["department"]),
        "requests_by_match": _ordered(t["match"], MATCH_KEYS),
        "stretched_by": _ordered(t["stretched_by"], STRETCH_KEYS),
        "adults": _ordered(t["adults"], ADULT_KEYS),
        "answers": {
            "offered": offered,
            "answered": answered,
            "not_answered": offered - answered,
            "answer_rate": round(answered / offered, 4) if offered else None,
            "median_hours_to_first_answer": round(median(hours), 2) if hours else None,
        },
        "reassignments": t["reassignments"]["total"],
        "escalations": t["escalations"]["total"],
        "unmet_demand": {
            "requests": sum(t["unmet"].values()),
            "rows": [{"trade": tr, "department": d, "count": n} for (tr, d), n in unmet],
        },
        "ambassadors": {
            "active": len(raw["active"]),
            "contacted": len(contacted),
            "contacted_active": len(contacted & raw["active"]),
            "never_contacted": len(raw["active"] - contacted),
        },
        "feedback": {
            "scores": scores,
            "mean_score": (
                round(sum(int(k) * scores[k] for k in SCORE_KEYS[:5]) / rated, 2) if rated else None
            ),
            "met": _ordered(t["met"], MET_KEYS),
        },
        "structures": structures_section(raw["structures"], wanted),  # stats_structures.py
    }


def _fail(where: str, what: str, got: int, want: int) -> None:
    if got != want:
        raise StatsError(f"internal error: stats {where}: {what} adds up to {got}, not {want}")


def check_section(s: dict[str, Any], where: str) -> None:
    """Every breakdown must add up to its total, unknowns included."""
    total, people = s["requests"], s["people"]
    _fail(where, "per_month requests", sum(v["requests"] for v in s["per_month"].values()), total)
    for name in ("people_by_age_band", "people_by_situation"):
        _fail(where, name, sum(s[name].values()), people)
    names = ("requests_by_kind", "requests_by_domain", "requests_by_department")
    for name in (*names, "requests_by_match", "adults"):
        _fail(where, name, sum(s[name].values()), total)
    for name in ("scores", "met"):
        _fail(where, f"feedback {name}", sum(s["feedback"][name].values()), total)
    a = s["answers"]
    _fail(where, "answered + not_answered", a["answered"] + a["not_answered"], a["offered"])
    _fail(where, "offered (at most requests)", min(a["offered"], total), a["offered"])
    most = max(s["stretched_by"].values(), default=0)
    stretched = s["requests_by_match"]["stretched"]
    _fail(where, "stretched_by (at most stretched)", most, min(most, stretched))
    u = s["unmet_demand"]
    _fail(where, "unmet_demand rows", sum(r["count"] for r in u["rows"]), u["requests"])
    check_structures(s, where)
    b = s["ambassadors"]
    _fail(
        where,
        "contacted_active + never_contacted",
        b["contacted_active"] + b["never_contacted"],
        b["active"],
    )


def collect(year: int | None = None, zone: tzinfo = UTC) -> dict[str, Any]:
    """The whole document for `year` (or every year), checked; years and months are those
    of the local time in `zone` (the configuration's `[schedule] timezone`)."""
    if year is not None and not 1900 <= year <= 9998:  # its end, 1 January year+1, exists
        raise MailflowError(f"--year {year}: expected a year such as 2025")
    raw = gather(year, zone)
    if year is not None:
        years = [str(year)]
    else:
        seen = {m[:4] for m, _, _ in raw["tables"]}
        years = [str(y) for y in range(int(min(seen)), int(max(seen)) + 1)] if seen else []
    by_year = {y: section(raw, [y], y) for y in years}
    total = section(raw, years, ALL)
    for y, s in by_year.items():
        check_section(s, y)
    check_section(total, ALL)
    for name in ("requests", "reassignments", "escalations"):
        _fail(ALL, f"{name} over the years", sum(s[name] for s in by_year.values()), total[name])
    return {"year": year, "years": years, "by_year": by_year, "total": total}
