"""The programme's yearly figures ("Tableau 1"), aggregated in SQL, checked before printing.

Definitions (every figure is about requests *created* in the period, UTC, as stored):

- people: distinct persons with a request in the period. A person is counted once, with the
  first age and the first situation *known* among their requests of the period (in order of
  `created_at`, then id; each field on its own: a request without an age does not hide the
  age a later request of the period gives). "unknown" only when no request of the period
  gives one. Over all years that is the first known ever.
- age bands [10,16) [16,18) [18,26) [26,50) [50,+) (mailflow.values.AGE_BANDS), plus
  "under_10" (an age given below 10) and "unknown" (no age given).
- situation: collegien, lyceen, apprenti, etudiant, demandeur_emploi, salarie (compared
  without case or accents); any other value (parent, autre, ...) is "other"; none is
  "unknown".
- kind: metier, formation, vae, anything else "unknown". Domain: first 3 characters of
  code_rome. Empty or missing values are "unknown" everywhere, never dropped.
- answers: "offered" = requests with at least one conversation (offered to an ambassador at
  least once); "answered" = offered requests with `first_answer_at`; answer_rate =
  answered / offered (null when nothing was offered); median_hours_to_first_answer over the
  answered requests, of `first_answer_at - created_at`.
- reassignments: state events to "reassigned" of the period's requests (whenever they
  happened); escalations: requests with `escalated_at`.
- unmet_demand: requests ever "unmatched" (state now, or a state event to it), by trade
  (rome_label, else trade_text, else "unknown") and département.
- ambassadors: "contacted" = ambassadors with a conversation *created* in the period;
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
     "answers": {"offered", "answered", "not_answered", "answer_rate",
                 "median_hours_to_first_answer"},
     "reassignments": int, "escalations": int,
     "unmet_demand": {"requests": int,
                      "rows": [{"trade": str, "department": str, "count": int}, ...]},
     "ambassadors": {"active", "contacted", "contacted_active", "never_contacted"},
     "feedback": {"scores": {"1", ..., "5", "unknown"}, "mean_score": float | null,
                  "met": {"yes", "no", "unknown"}}}
Every breakdown adds up to its total; `check_section` raises StatsError when one does not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from functools import cache
from statistics import median
from typing import Any

from peewee import SQL, Case, PostgresqlDatabase, Select, Window, fn

from .errors import MailflowError
from .lifecycle import REASSIGNED, UNMATCHED
from .models import Ambassador, Conversation, Event, Request, database
from .textnorm import fold
from .values import AGE_BANDS, KINDS, age_band

UNKNOWN = "unknown"
UNDER = f"under_{AGE_BANDS[0][0]}"
_BAND_KEY = {label: (f"{lo}+" if hi is None else f"{lo}-{hi - 1}") for lo, hi, label in AGE_BANDS}
AGE_KEYS = (*_BAND_KEY.values(), UNDER, UNKNOWN)
NAMED_SITUATIONS = ("collegien", "lyceen", "apprenti", "etudiant", "demandeur_emploi", "salarie")
SITUATION_KEYS = (*NAMED_SITUATIONS, "other", UNKNOWN)
KIND_KEYS = (*KINDS, UNKNOWN)
SCORE_KEYS = ("1", "2", "3", "4", "5", UNKNOWN)
MET_KEYS = ("yes", "no", UNKNOWN)
ALL = "all"


class StatsError(MailflowError):
    """A breakdown does not add up to its total: a bug, reported instead of wrong figures."""


@cache
def age_key(age: int | None) -> str:
    label = age_band(age)
    return UNKNOWN if label is None else _BAND_KEY.get(label, UNDER)


@cache
def situation_key(value: str | None) -> str:
    text = fold(value or "").strip()
    if not text:
        return UNKNOWN
    return text if text in NAMED_SITUATIONS else "other"


def _plain(value: str | None) -> str:
    text = (value or "").strip()
    return text.upper() if text else UNKNOWN


def _score(value: int | None) -> str:
    return str(value) if value in (1, 2, 3, 4, 5) else UNKNOWN


def _met(value: object) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


# -- SQL, portable between SQLite (text timestamps) and PostgreSQL -------------------------


def _postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _prefix(column: Any, pattern: str) -> Any:
    """'YYYY' or 'YYYY-MM' of a naive UTC timestamp, as text (never parsed back to a date)."""
    if _postgres():
        return fn.to_char(column, pattern).coerce(False)
    return fn.substr(column, 1, len(pattern)).coerce(False)  # SQLite stores ISO text


def _month(column: Any) -> Any:
    return _prefix(column, "YYYY-MM")


def _year(column: Any) -> Any:
    return _prefix(column, "YYYY")


def _hours(later: Any, earlier: Any) -> Any:
    if _postgres():
        return fn.date_part("epoch", later - earlier).coerce(False) / 3600.0
    return (fn.julianday(later).coerce(False) - fn.julianday(earlier).coerce(False)) * 24.0


def _between(column: Any, year: int | None) -> list[Any]:
    if year is None:
        return []
    return [column >= datetime(year, 1, 1), column < datetime(year + 1, 1, 1)]


def _where(query: Any, conds: list[Any]) -> Any:
    return query.where(*conds) if conds else query


def _rows(query: Any) -> list[tuple[Any, ...]]:
    """The rows as the driver returns them: no peewee conversion per value (every column
    read here is text, a number or a flag, used as such), one fetch."""
    return database.obj.execute(query).fetchall()


def _flag(cond: Any) -> Any:
    """1 when `cond` holds, else 0: for conditional sums, on both databases."""
    return Case(None, [(cond, 1)], 0)


def _request_tables(conds: list[Any]) -> Counter[tuple[str, str, Any]]:
    """(month, table, key) -> requests, for every request-level breakdown.

    One grouped scan of the requests gives every breakdown but unmet demand: grouped by
    month, domain, département and offered (a conversation exists: looked up once per
    request), with the fixed-key tables (kind, score, met, escalated, answered) as
    conditional sums; "unknown" is the rest of each group.
    """
    month = _month(Request.created_at)
    domain = fn.substr(Request.code_rome, 1, 3)
    offered = Request.id.in_(Conversation.select(Conversation.request))
    sums = [fn.SUM(_flag(Request.kind == k)) for k in KINDS]
    sums += [fn.SUM(_flag(Request.feedback_score == int(k))) for k in SCORE_KEYS[:5]]
    sums += [fn.SUM(_flag(Request.feedback_met == v)) for v in (True, False)]
    sums += [
        fn.SUM(_flag(Request.escalated_at.is_null(False))),
        fn.SUM(_flag(Request.first_answer_at.is_null(False))),
    ]
    keys = [month, domain, Request.department, offered]
    # GROUP BY the select list's positions: repeated, the expressions would be computed
    # twice (SQLite does not match `substr(x, ?, ?)` with its own copy, parameters apart).
    q = Request.select(*keys, fn.COUNT(Request.id), *sums).group_by(
        *(SQL(str(i)) for i in range(1, len(keys) + 1))
    )
    tables: Counter[tuple[str, str, Any]] = Counter()
    fixed: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(sums) + 3))
    for m, dom, dept, off, n, *counts in _rows(_where(q, conds)):
        tables[m, "domain", _plain(dom)] += n
        tables[m, "department", _plain(dept)] += n
        acc = fixed[m]  # per month: n, offered, answered if offered, then the sums
        acc[0] += n
        if off:
            acc[1] += n
            acc[2] += counts[-1]
        for i, k in enumerate(counts, 3):
            acc[i] += k
    kinds, scores = len(KINDS), len(SCORE_KEYS) - 1
    for m, (n, offered_n, answered_n, *counts) in fixed.items():
        by_kind, counts = counts[:kinds], counts[kinds:]
        by_score, counts = counts[:scores], counts[scores:]
        yes, no, esc, _ = counts
        tables[m, "requests", "total"] += n
        for kind, k in zip(KINDS, by_kind, strict=True):
            tables[m, "kind", kind] += k
        tables[m, "kind", UNKNOWN] += n - sum(by_kind)
        for score, k in zip(SCORE_KEYS[:5], by_score, strict=True):
            tables[m, "score", score] += k
        tables[m, "score", UNKNOWN] += n - sum(by_score)
        tables[m, "met", "yes"] += yes
        tables[m, "met", "no"] += no
        tables[m, "met", UNKNOWN] += n - yes - no
        tables[m, "escalations", "total"] += esc
        tables[m, "answers", "offered"] += offered_n
        tables[m, "answers", "answered"] += answered_n
    q = (
        Event.select(month, fn.COUNT(Event.id))
        .join(Request, on=(Event.request == Request.id))
        .where(Event.kind == "state", Event.new_state == REASSIGNED)
        .group_by(month)
    )
    for m, n in _rows(_where(q, conds)):
        tables[m, "reassignments", "total"] += n
    went_unmatched = Event.select(Event.request).where(
        Event.kind == "state", Event.new_state == UNMATCHED
    )
    ever = (Request.state == UNMATCHED) | Request.id.in_(went_unmatched)
    cols = (Request.rome_label, Request.trade_text, Request.department)
    q = Request.select(month, *cols, fn.COUNT(Request.id)).where(ever).group_by(month, *cols)
    for m, label, text, dept, n in _rows(_where(q, conds)):
        trade = (label or "").strip() or (text or "").strip() or UNKNOWN
        tables[m, "unmet", (trade, _plain(dept))] += n
    return tables


def _answer_hours(conds: list[Any]) -> defaultdict[str, list[float]]:
    """month -> hours to the first answer of each answered (offered) request."""
    hours: defaultdict[str, list[float]] = defaultdict(list)
    offered = Request.id.in_(Conversation.select(Conversation.request))
    q = Request.select(
        _month(Request.created_at), _hours(Request.first_answer_at, Request.created_at)
    )
    q = q.where(offered, Request.first_answer_at.is_null(False))
    for m, h in _rows(_where(q, conds)):
        hours[m].append(float(h))
    return hours


def _people(conds: list[Any]) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
    """Distinct people per month, year and ALL; people by (scope, table, key).

    One scan of the requests in order of person, created_at, id (the index's order) with
    two windows over it. A request opens a person's month (year) when the person's
    previous request is of another month (year) or there is none (first ever, in the
    period): the people of a month (year) are the requests opening it. A person's age
    (situation) in a year is the first one known among their requests of the year: given
    by the request that knows it while no earlier one of the year did (the year of the
    person's latest earlier known value, a frame of the second window, is another or none:
    then it is also the first known ever, the total's). The rows are grouped on plain
    comparisons (true, false or null), decoded here. The people of a year (of ALL, a
    separate COUNT(DISTINCT)) of whom nothing is known are the rest: "unknown", never
    negative. (Counting them from their last request of the year instead would take a
    third window, LEAD, for a check that tests/test_stats.py makes against its tally.)
    """
    year, month = _year(Request.created_at), _month(Request.created_at)
    window = {"partition_by": [Request.person], "order_by": [Request.created_at, Request.id]}
    earlier = {**window, "start": Window.preceding(), "end": Window.preceding(1)}
    told = Request.situation.is_null(False) & (fn.TRIM(Request.situation) != "")
    fields = [
        year.alias("y"),
        month.alias("m"),
        Request.age.alias("age"),
        Case(None, [(told, Request.situation)], None).alias("sit"),  # blank: not known
        fn.LAG(year).over(**window).alias("prev_y"),
        fn.LAG(month).over(**window).alias("prev_m"),
    ]
    for name, known in (("age", Request.age.is_null(False)), ("sit", told)):
        latest = fn.MAX(Case(None, [(known, year)], None)).over(**earlier)
        fields.append(latest.alias(f"{name}_before"))  # the year of the latest earlier known
    inner = _where(Request.select(*fields), conds).alias("firsts")
    c = inner.c
    age_before, sit_before = c.age_before == c.y, c.sit_before == c.y
    cols = [
        c.y,
        c.m,
        c.prev_m == c.m,
        c.prev_y == c.y,
        c.age_before.is_null(),
        c.sit_before.is_null(),
        Case(None, [(age_before, None)], c.age),  # the first known of the year, if this is
        Case(None, [(sit_before, None)], c.sit),
    ]
    keys = [SQL(str(i)) for i in range(1, len(cols) + 1)]
    outer = Select([inner], [*cols, fn.COUNT(SQL("*"))]).group_by(*keys)
    people: Counter[str] = Counter()
    firsts: Counter[tuple[str, str, str]] = Counter()
    for y, m, same_m, same_y, *facts, n in _rows(outer):
        if same_m != 1:  # None (first request) or false: opens the month
            people[m] += n
        if same_y != 1:
            people[y] += n
        for table, key_of, none_before, value in (
            ("age", age_key, facts[0], facts[2]),
            ("situation", situation_key, facts[1], facts[3]),
        ):
            if value is not None:  # the year's first known value (and the first ever?)
                firsts[y, table, key_of(value)] += n
                if none_before:
                    firsts[ALL, table, key_of(value)] += n
    distinct = fn.COUNT(Request.person.distinct())
    people[ALL] = _where(Request.select(distinct), conds).scalar() or 0
    told: Counter[tuple[str, str]] = Counter()
    for (scope, table, _), n in firsts.items():
        told[scope, table] += n
    for scope in [k for k in people if len(k) == 4] + [ALL]:  # the years, and the total
        for table in ("age", "situation"):
            unknown = people[scope] - told[scope, table]  # nothing known in the period
            if unknown < 0:
                raise StatsError(f"internal error: stats {scope}: more {table}s than people")
            firsts[scope, table, UNKNOWN] += unknown
    return people, firsts


def gather(year: int | None) -> dict[str, Any]:
    """Raw counts from SQL, keyed by month ('YYYY-MM'), year ('YYYY') or ALL (the
    ambassadors contacted: by year)."""
    conds = _between(Request.created_at, year)
    people, firsts = _people(conds)
    contacted: defaultdict[str, set[int]] = defaultdict(set)
    q = Conversation.select(_year(Conversation.created_at), Conversation.ambassador).distinct()
    for y, amb in _rows(_where(q, _between(Conversation.created_at, year))):
        contacted[y].add(amb)
    active = {a for (a,) in Ambassador.select(Ambassador.id).where(Ambassador.active).tuples()}
    return {
        "tables": _request_tables(conds),
        "hours": _answer_hours(conds),
        "people": people,
        "firsts": firsts,
        "contacted": contacted,
        "active": active,
    }


# -- assembling and checking sections --------------------------------------------------------


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
    for name in ("requests_by_kind", "requests_by_domain", "requests_by_department"):
        _fail(where, name, sum(s[name].values()), total)
    for name in ("scores", "met"):
        _fail(where, f"feedback {name}", sum(s["feedback"][name].values()), total)
    a = s["answers"]
    _fail(where, "answered + not_answered", a["answered"] + a["not_answered"], a["offered"])
    _fail(where, "offered (at most requests)", min(a["offered"], total), a["offered"])
    u = s["unmet_demand"]
    _fail(where, "unmet_demand rows", sum(r["count"] for r in u["rows"]), u["requests"])
    b = s["ambassadors"]
    _fail(
        where,
        "contacted_active + never_contacted",
        b["contacted_active"] + b["never_contacted"],
        b["active"],
    )


def collect(year: int | None = None) -> dict[str, Any]:
    """The whole document for `year` (or every year), checked."""
    if year is not None and not 1900 <= year <= 9999:
        raise MailflowError(f"--year {year}: expected a year such as 2025")
    raw = gather(year)
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
