"""The SQL behind `mailflow stats`: a few grouped scans that give every raw count at once.

Apart from the shaping (stats.py) because this is where the time goes (bench/statsdb.py
measures it): each query is written so that SQLite and PostgreSQL both do one pass over the
requests, and its rows are read without per-value conversion. Portable between SQLite
(timestamps stored as ISO text) and PostgreSQL. Months and years are local, in the zone
given to `gather` (stats_time.py: one expression per stored time, no Python per row).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, tzinfo
from typing import Any

from peewee import JOIN, SQL, Case, PostgresqlDatabase, Select, Window, fn

from mailflow.clock import from_local
from mailflow.core.lifecycle import REASSIGNED, UNMATCHED
from mailflow.core.values import KINDS
from mailflow.review.stats_keys import (
    ALL,
    SCORE_KEYS,
    STRETCH_KEYS,
    UNKNOWN,
    StatsError,
    adult_key,
    age_key,
    situation_key,
)
from mailflow.review.stats_structures import structure_tables
from mailflow.review.stats_time import LocalTime
from mailflow.store.models import Ambassador, Conversation, Event, Request, database


def _plain(value: str | None) -> str:
    text = (value or "").strip()
    return text.upper() if text else UNKNOWN


# -- SQL, portable between SQLite (text timestamps) and PostgreSQL -------------------------


def _postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _hours(later: Any, earlier: Any) -> Any:
    if _postgres():
        return fn.date_part("epoch", later - earlier).coerce(False) / 3600.0
    return (fn.julianday(later).coerce(False) - fn.julianday(earlier).coerce(False)) * 24.0


def _bounds(year: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """The stored (naive UTC) instants of local 1 January `year` and `year + 1`."""
    return from_local(datetime(year, 1, 1), zone), from_local(datetime(year + 1, 1, 1), zone)


def _between(column: Any, bounds: tuple[datetime, datetime] | None) -> list[Any]:
    if bounds is None:
        return []
    return [column >= bounds[0], column < bounds[1]]


def _span(bounds: tuple[datetime, datetime] | None) -> tuple[datetime, datetime]:
    """The stored times of requests stats will read: those of the year, else from the
    earliest to the latest (two lookups in the index). On SQLite the local months of that
    span are looked up in SQL, and any other time converted by a function (stats_time)."""
    if bounds is not None:
        return bounds
    found = [Request.select(f(Request.created_at)).scalar() for f in (fn.MIN, fn.MAX)]
    if None in found:
        return datetime(2000, 1, 1), datetime(2000, 1, 1)
    return tuple(v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in found)


def _where(query: Any, conds: list[Any]) -> Any:
    return query.where(*conds) if conds else query


def _rows(query: Any) -> list[tuple[Any, ...]]:
    """The rows as the driver returns them: no peewee conversion per value (every column
    read here is text, a number or a flag, used as such), one fetch."""
    return database.obj.execute(query).fetchall()


def _flag(cond: Any) -> Any:
    """1 when `cond` holds, else 0: for conditional sums, on both databases."""
    return Case(None, [(cond, 1)], 0)


def _request_tables(conds: list[Any], local: LocalTime) -> Counter[tuple[str, str, Any]]:
    """(month, table, key) -> requests, for every request-level breakdown.

    One grouped scan of the requests gives every breakdown but unmet demand: grouped by
    month, domain, département and offered (a conversation exists: looked up once per
    request), with the fixed-key tables (kind, score, met, escalated, answered) as
    conditional sums; "unknown" is the rest of each group.
    """
    month = local.month(Request.created_at)
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
    # Demand met in the end (a late answer relayed, the daily retry, the coordinator's
    # assign) is not unmet: only the requests no ambassador ever answered.
    never_met = ever & Request.first_answer_at.is_null()
    q = Request.select(month, *cols, fn.COUNT(Request.id)).where(never_met)
    q = q.group_by(month, *cols)
    for m, label, text, dept, n in _rows(_where(q, conds)):
        trade = (label or "").strip() or (text or "").strip() or UNKNOWN
        tables[m, "unmet", (trade, _plain(dept))] += n
    tables.update(_match_tables(conds, local, ever))
    return tables


def _match_tables(conds: list[Any], local: LocalTime, ever: Any) -> Counter[tuple[str, str, Any]]:
    """(month, "match", key) by the match quality of each request's latest offer, and
    (month, "stretched_by", what) over the stretched ones (one request may count under
    several). Never offered: "unmet" when it was ever unmatched, else "not_offered"."""
    month = local.month(Request.created_at)
    inner = Conversation.alias()
    latest = inner.select(fn.MAX(inner.id)).where(inner.request == Request.id)
    q = (
        Request.select(month, Conversation.id.is_null(False), Conversation.match_quality, ever)
        .join(Conversation, JOIN.LEFT_OUTER, on=(Conversation.id == latest))
        .select_extend(fn.COUNT(Request.id))
        .group_by(SQL("1"), SQL("2"), SQL("3"), SQL("4"))
    )
    tables: Counter[tuple[str, str, Any]] = Counter()
    for m, offered, match, unmet, n in _rows(_where(q, conds)):
        if not offered:
            tables[m, "match", "unmet" if unmet else "not_offered"] += n
            continue
        name, _, made = (match or "").partition(":")
        tables[m, "match", name if name in ("exact", "stretched") else UNKNOWN] += n
        for what in made.split(","):
            if what in STRETCH_KEYS:
                tables[m, "stretched_by", what] += n
    return tables


def _adult_tables(conds: list[Any], local: LocalTime) -> Counter[tuple[str, str, Any]]:
    """(month, "adults", key): requests by who wrote them (stats_keys.adult_key), one
    grouped scan."""
    month = local.month(Request.created_at)
    known = Request.age.is_null(False) | (fn.COALESCE(fn.TRIM(Request.situation), "") != "")
    q = Request.select(month, Request.writer_role, _flag(known), fn.COUNT(Request.id))
    q = q.group_by(SQL("1"), SQL("2"), SQL("3"))
    tables: Counter[tuple[str, str, Any]] = Counter()
    for m, role, told, n in _rows(_where(q, conds)):
        tables[m, "adults", adult_key(role, bool(told))] += n
    return tables


def _answer_hours(conds: list[Any], local: LocalTime) -> defaultdict[str, list[float]]:
    """month -> hours to the first answer of each answered (offered) request."""
    hours: defaultdict[str, list[float]] = defaultdict(list)
    offered = Request.id.in_(Conversation.select(Conversation.request))
    q = Request.select(
        local.month(Request.created_at), _hours(Request.first_answer_at, Request.created_at)
    )
    q = q.where(offered, Request.first_answer_at.is_null(False))
    for m, h in _rows(_where(q, conds)):
        hours[m].append(float(h))
    return hours


def _people(
    conds: list[Any], local: LocalTime
) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
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
    third window, LEAD, for a check that tests/db/test_stats.py makes against its tally.)
    """
    year, month = local.year(Request.created_at), local.month(Request.created_at)
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


def gather(year: int | None, zone: tzinfo = UTC) -> dict[str, Any]:
    """Raw counts from SQL, keyed by local month ('YYYY-MM'), local year ('YYYY') or ALL
    (the ambassadors contacted: by year), in `zone`; `year` is local 1 January to the next."""
    bounds = None if year is None else _bounds(year, zone)
    if _postgres():
        local = LocalTime(zone, datetime.min, datetime.min, None)
    else:
        local = LocalTime(zone, *_span(bounds), database.obj.connection())
    # A duplicate merged into the request it repeats (request merge) is not a request.
    conds = _between(Request.created_at, bounds) + [Request.merged_into.is_null()]
    people, firsts = _people(conds, local)
    contacted: defaultdict[str, set[int]] = defaultdict(set)
    year_of = local.year(Conversation.created_at)
    q = Conversation.select(year_of, Conversation.ambassador).distinct()
    for y, amb in _rows(_where(q, _between(Conversation.created_at, bounds))):
        contacted[y].add(amb)
    active = {a for (a,) in Ambassador.select(Ambassador.id).where(Ambassador.active).tuples()}
    tables = _request_tables(conds, local)
    tables.update(_adult_tables(conds, local))  # who wrote: adults for a young person
    return {
        "tables": tables,
        "hours": _answer_hours(conds, local),
        "people": people,
        "firsts": firsts,
        "contacted": contacted,
        "active": active,
        "structures": structure_tables(conds, local),  # stats_structures.py
    }
