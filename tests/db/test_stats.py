"""`mailflow stats`: every figure against an independent tally of a generated data set.

The data set (seeded) spans 2024-2026 with the awkward cases: no age and edge ages, odd
situations, no kind / code / département, answers without an offer, conversations offered
in the next year, reassignments, escalations, requests that went unmatched and moved on,
out-of-range feedback scores, people asking several times in a year and across years, and
two requests of one person at the same instant, people whose first request of a year gives
no age or situation but a later one does. The tally is kept in plain dicts while
generating; it never reads the database.

Years and months are those of the local time in `[schedule] timezone` (Europe/Paris unless
a test says otherwise): the tally converts each stored UTC time itself with zoneinfo, and
the data set has requests in the first two hours after local midnight on 1 January and on
every month start (still the previous month in UTC), in the last two hours before them, on
local 31 December 23:59:59, and around the DST changes of late March and late October.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailflow.cli.main import main
from mailflow.config import load_config
from mailflow.core.values import WRITER_ROLES
from mailflow.review import stats
from mailflow.review.stats_render import _as_text
from mailflow.store.db import open_database
from mailflow.store.models import Ambassador, Conversation, Event, Person, Request, database
from tests.testconfig import write_config

YEARS = ("2024", "2025", "2026")
EDGE_AGES = (None, 9, 10, 15, 16, 17, 18, 25, 26, 49, 50, 80)
SITUATIONS = (
    None,
    "",
    "collegien",
    "lyceen",
    "apprenti",
    "etudiant",
    "demandeur_emploi",
    "salarie",
    "parent",
    "autre",
    "retraite",
)
NAMED = ("collegien", "lyceen", "apprenti", "etudiant", "demandeur_emploi", "salarie")
KINDS = (None, "metier", "formation", "vae", "")
# Offers' stored match quality (route.quality); None: offered before it was recorded.
MATCHES = (
    None,
    "exact",
    "exact",
    "stretched:trade",
    "stretched:department",
    "stretched:kind,region",
)
CODES = {
    "D1102": "Boulanger / Boulangère",
    "D1104": "Pâtissier / Pâtissière",
    "J1501": "Aide-soignant / Aide-soignante",
    "H2909": "Monteur-câbleur / Monteuse-câbleuse",
    "K2111": "Formateur / Formatrice",
    "A1203": "Jardinier / Jardinière",
}
DEPARTMENTS = (None, "", "14", "50", "61", "75", "2A", "971")
# Partner structures (stats_structures.py): (key, kind, via) as intake stores them; a kind
# alone, and none at all (most requests).
RELAYS = (
    (None, None, None),
    (None, None, None),
    ("ml-caen", "mission_locale", "from"),
    ("ml-caen", "mission_locale", "through"),
    ("cio-lisieux", "cio", "text"),
    (None, "france_travail", "text"),
)
STATES = (
    "new",
    "needs_info",
    "offered",
    "answered",
    "in_conversation",
    "feedback_asked",
    "closed",
    "reassigned",
    "unmatched",
    "expired",
    "withdrawn",
)
BAND_OF = [
    (10, 16, "10-15"),
    (16, 18, "16-17"),
    (18, 26, "18-25"),
    (26, 50, "26-49"),
    (50, 1000, "50+"),
]


def band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for low, high, key in BAND_OF:
        if low <= age < high:
            return key
    return "under_10"


@dataclass
class Tally:
    """Expected figures, per scope ("2024", "2025", "2026", "all"), counted while generating."""

    requests: Counter = field(default_factory=Counter)
    months: Counter = field(default_factory=Counter)
    month_people: defaultdict = field(default_factory=lambda: defaultdict(set))
    people: defaultdict = field(default_factory=lambda: defaultdict(set))
    first: dict = field(default_factory=dict)  # (scope, person) -> (created_at, id, age, sit)
    known: dict = field(default_factory=dict)  # (field, scope, person) -> (created_at, id, value)
    tables: defaultdict = field(default_factory=lambda: defaultdict(Counter))
    hours: defaultdict = field(default_factory=lambda: defaultdict(list))
    contacted: defaultdict = field(default_factory=lambda: defaultdict(set))
    active: set = field(default_factory=set)

    def add(self, scope: str, table: str, key: Any, n: int = 1) -> None:
        self.tables[scope, table][key] += n


def to_utc(wall: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time of `zone` as stored (naive UTC)."""
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def wall(stored: datetime, zone: tzinfo) -> datetime:
    """A stored (naive UTC) time as the wall-clock time of `zone`."""
    return stored.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def last_sunday(year: int, month: int) -> date:
    end = date(year, month, 31)
    return end - timedelta(days=(end.weekday() + 1) % 7)


def created_at(rng: random.Random, rid: int, year: int, zone: tzinfo) -> datetime:
    """When request `rid` of local `year` is created (stored, naive UTC): at random in the
    local year, or at one of the awkward moments of local time."""
    start = datetime(year, 1, 1)
    if rid % 97 == 0:  # local midnight, 1 January
        return to_utc(start, zone)
    if rid % 89 == 0:  # the last second of the local year
        return to_utc(datetime(year, 12, 31, 23, 59, 59), zone)
    if rid % 7 == 0:  # within two hours after local midnight on a month start
        month_start = datetime(year, rng.randint(1, 12), 1)
        return to_utc(month_start + timedelta(seconds=rng.randrange(7200)), zone)
    if rid % 13 == 0:  # within two hours before it
        month_start = datetime(year, rng.randint(2, 12), 1)
        return to_utc(month_start - timedelta(seconds=rng.randint(1, 7200)), zone)
    if rid % 11 == 0:  # around the DST changes (01:00 UTC, last Sunday of March, October)
        change = last_sunday(year, rng.choice((3, 10)))
        moment = datetime(change.year, change.month, change.day, 1)
        return moment + timedelta(seconds=rng.randint(-3 * 3600, 3 * 3600))
    return to_utc(start + timedelta(seconds=rng.randrange(365 * 86400)), zone)


# Who wrote (request.writer_role): mostly nobody for the person, every role, and stored
# values the section must still file ("" is nobody; another word is "autre").
WRITERS = (None, None, None, None, *WRITER_ROLES, "", "grand-mere")


def adult_of(writer: str | None, age: int | None, situation: str | None) -> str:
    """The "adults" key of one request, as stats.py's docstring defines it."""
    if writer and writer.strip():
        return writer if writer in WRITER_ROLES else "autre"
    return "self" if age is not None or (situation or "").strip() else "unknown"


def generate(rng: random.Random, zone: tzinfo) -> Tally:
    """Rows straight into the database, and the tally of what they should give (years and
    months of the local time in `zone`)."""
    t = Tally()
    matches = random.Random(12)  # offers' match quality, apart: the rest of the data as before
    relays = random.Random(16)  # partner structures, apart too
    writers = random.Random(14)  # who wrote each request (issue 14), apart too
    base = datetime(2024, 1, 1)
    ambassadors = []
    for i in range(1, 51):  # 41..50 are never offered anything
        active = i % 5 != 0
        ambassadors.append(
            {
                "id": i,
                "email": f"amb{i}@pros.test",
                "first_name": f"Amb{i}",
                "last_name": "Test",
                "kind": "metier",
                "title": "Boulanger",
                "title_words": "boulanger",
                "department": "14",
                "active": active,
                "created_at": base,
                "updated_at": base,
            }
        )
        if active:
            t.active.add(i)
    people = [
        {"id": i, "email": f"p{i}@users.test", "first_name": f"P{i}", "created_at": base}
        for i in range(1, 901)
    ]
    requests, conversations, events = [], [], []
    for rid in range(1, 2401):
        person = rng.choice((rng.randint(1, 60), rng.randint(1, 900)))  # some ask often
        year = rng.choice((2024, 2025, 2026))
        created = created_at(rng, rid, year, zone)
        if rid % 83 == 0 and requests:  # same person, same instant: the lower id is first
            prev = requests[-1]
            person, created = prev["person"], prev["created_at"]
            year = wall(created, zone).year
        age = rng.choice(EDGE_AGES) if rng.random() < 0.6 else rng.randint(5, 90)
        situation = rng.choice(SITUATIONS)
        kind = rng.choice(KINDS)
        code = rng.choice((*CODES, None, None))
        trade_text = rng.choice((None, "boulangerie", "mécanique vélo", "soins"))
        dept = rng.choice(DEPARTMENTS)
        state = rng.choice(STATES)
        score = rng.choice((None, None, 1, 2, 3, 4, 5, 5, 0, 7))
        met = rng.choice((None, True, False))
        escalated = created + timedelta(days=9) if rng.random() < 0.1 else None
        offered = rng.random() < 0.7
        answer = None
        if rng.random() < (0.6 if offered else 0.05):  # rarely an answer without an offer
            answer = created + timedelta(minutes=rng.randint(1, 20000))
        relay, relay_kind, relay_via = relays.choice(RELAYS)
        writer = writers.choice(WRITERS)
        requests.append(
            {
                "structure": relay,
                "structure_kind": relay_kind,
                "structure_via": relay_via,
                "id": rid,
                "writer_role": writer,
                "person": person,
                "state": state,
                "kind": kind,
                "trade_text": trade_text,
                "code_rome": code,
                "rome_label": CODES.get(code),
                "department": dept,
                "age": age,
                "situation": situation,
                "created_at": created,
                "updated_at": created,
                "first_answer_at": answer,
                "escalated_at": escalated,
                "feedback_score": score,
                "feedback_met": met,
            }
        )
        local = wall(created, zone)
        assert local.year == year  # the data set stays within the local years
        y, month = str(year), local.strftime("%Y-%m")
        for scope in (y, "all"):
            t.requests[scope] += 1
            t.people[scope].add(person)
            key = (scope, person)
            if key not in t.first or (created, rid) < t.first[key][:2]:
                t.first[key] = (created, rid, age, situation)
            for name, value in (("age", age), ("situation", situation)):
                known = (name, scope, person)  # the first request that gives a value
                if value not in (None, "") and (
                    known not in t.known or (created, rid) < t.known[known][:2]
                ):
                    t.known[known] = (created, rid, value)
            t.add(scope, "kind", kind if kind in ("metier", "formation", "vae") else "unknown")
            t.add(scope, "domain", code[:3] if code else "unknown")
            t.add(scope, "department", dept or "unknown")
            t.add(scope, "score", str(score) if score in (1, 2, 3, 4, 5) else "unknown")
            t.add(scope, "met", {None: "unknown", True: "yes", False: "no"}[met])
            t.add(scope, "escalations", "n", 1 if escalated else 0)
            named = relay or ("unnamed" if relay_kind else "none")
            t.add(scope, "structure", named)
            t.add(scope, "structure_kind", relay_kind or "none")
            t.add(scope, "structure_via", relay_via or "none")
            t.add(scope, "adults", adult_of(writer, age, situation))
        t.months[month] += 1
        t.month_people[month].add(person)
        n_conv = rng.randint(1, 3) if offered else 0
        match = None  # the latest offer's quality (a separate generator: the rest unchanged)
        for _ in range(n_conv):
            match = matches.choice(MATCHES)
            amb = rng.randint(1, 30 if year < 2026 else 40)  # 31..40: only from 2026
            at = created + timedelta(hours=rng.randint(0, 24 * 40))  # may fall next year
            cid = len(conversations) + 1
            conversations.append(
                {
                    "id": cid,
                    "request": rid,
                    "ambassador": amb,
                    "ambassador_token": f"a{cid}",
                    "person_token": f"p{cid}",
                    "created_at": at,
                    "match_quality": match,
                }
            )
            t.contacted[str(wall(at, zone).year)].add(amb)
            t.contacted["all"].add(amb)
        reassigned = rng.choice((0, 0, 1, 2)) if offered else 0
        went_unmatched = state == "unmatched" or rng.random() < 0.08
        for new_state in ["reassigned"] * reassigned + ["unmatched"] * (state != "unmatched"):
            if new_state == "unmatched" and not went_unmatched:
                continue
            events.append({"at": created, "kind": "state", "request": rid, "new_state": new_state})
        if rng.random() < 0.3:  # noise that must not count
            events.append({"at": created, "kind": "reminder", "request": rid, "new_state": None})
            events.append({"at": created, "kind": "state", "request": rid, "new_state": "offered"})
        trade = CODES.get(code) or trade_text or "unknown"
        for scope in (y, "all"):
            t.add(scope, "offered", "n", 1 if offered else 0)
            t.add(scope, "answered", "n", 1 if offered and answer else 0)
            if offered and answer:
                t.hours[scope].append((answer - created).total_seconds() / 3600)
            t.add(scope, "reassignments", "n", reassigned)
            if went_unmatched and answer is None:  # met later (a late answer...): not unmet
                t.add(scope, "unmet", (trade, dept or "unknown"))
            if not n_conv:
                t.add(scope, "match", "unmet" if went_unmatched else "not_offered")
            else:
                name, _, made = (match or "unknown").partition(":")
                t.add(scope, "match", name)
                for what in filter(None, made.split(",")):
                    t.add(scope, "stretched_by", what)
    with database.atomic():
        Ambassador.insert_many(ambassadors).execute()
        Person.insert_many(people).execute()
        for chunk in range(0, len(requests), 400):
            Request.insert_many(requests[chunk : chunk + 400]).execute()
        for chunk in range(0, len(conversations), 400):
            Conversation.insert_many(conversations[chunk : chunk + 400]).execute()
        for chunk in range(0, len(events), 400):
            Event.insert_many(events[chunk : chunk + 400]).execute()
    return t


def expected_section(t: Tally, scope: str, months: list[str]) -> dict[str, Any]:
    def known(name: str, person: int) -> Any:
        return t.known.get((name, scope, person), (None, None, None))[2]

    people = t.people[scope]
    ages = Counter(band(known("age", p)) for p in people)
    sits = Counter(
        "unknown" if not sit else sit if sit in NAMED else "other"
        for sit in (known("situation", p) for p in people)
    )
    tab = {name: t.tables[scope, name] for name in ("kind", "domain", "department", "score")}
    offered, answered = t.tables[scope, "offered"]["n"], t.tables[scope, "answered"]["n"]
    scores = {k: tab["score"][k] for k in ("1", "2", "3", "4", "5", "unknown")}
    rated = [int(k) for k in "12345" for _ in range(scores[k])]
    active = t.active
    contacted = t.contacted[scope]
    unmet = t.tables[scope, "unmet"]
    return {
        "requests": t.requests[scope],
        "people": len(t.people[scope]),
        "per_month": {
            m: {"requests": t.months[m], "people": len(t.month_people[m])} for m in months
        },
        "people_by_age_band": {
            k: ages[k] for k in ("10-15", "16-17", "18-25", "26-49", "50+", "under_10", "unknown")
        },
        "people_by_situation": {k: sits[k] for k in (*NAMED, "other", "unknown")},
        "requests_by_kind": {k: tab["kind"][k] for k in ("metier", "formation", "vae", "unknown")},
        "requests_by_domain": dict(tab["domain"]),
        "requests_by_department": dict(tab["department"]),
        "requests_by_match": {
            k: t.tables[scope, "match"][k]
            for k in ("exact", "stretched", "unmet", "not_offered", "unknown")
        },
        "stretched_by": {
            k: t.tables[scope, "stretched_by"][k] for k in ("trade", "kind", "department", "region")
        },
        "adults": {k: t.tables[scope, "adults"][k] for k in (*WRITER_ROLES, "self", "unknown")},
        "answers": {
            "offered": offered,
            "answered": answered,
            "not_answered": offered - answered,
            "answer_rate": round(answered / offered, 4),
            "median_hours_to_first_answer": round(statistics.median(t.hours[scope]), 2),
        },
        "reassignments": t.tables[scope, "reassignments"]["n"],
        "escalations": t.tables[scope, "escalations"]["n"],
        "unmet_demand": {
            "requests": sum(unmet.values()),
            "rows": sorted(
                ({"trade": k[0], "department": k[1], "count": n} for k, n in unmet.items()),
                key=lambda r: (r["trade"], r["department"]),
            ),
        },
        "ambassadors": {
            "active": len(active),
            "contacted": len(contacted),
            "contacted_active": len(contacted & active),
            "never_contacted": len(active - contacted),
        },
        "feedback": {
            "scores": scores,
            "mean_score": round(sum(rated) / len(rated), 2),
            "met": {k: t.tables[scope, "met"][k] for k in ("yes", "no", "unknown")},
        },
        "structures": expected_structures(t, scope),
    }


def expected_structures(t: Tally, scope: str) -> dict[str, Any]:
    by = t.tables[scope, "structure"]
    kinds = ("cio", "mission_locale", "etablissement", "association", "france_travail")
    return {
        "relayed": t.requests[scope] - by["none"],
        "none": by["none"],
        "by_structure": {k: by[k] for k in ("cio-lisieux", "ml-caen", "unnamed", "none")},
        "by_kind": {k: t.tables[scope, "structure_kind"][k] for k in (*kinds, "autre", "none")},
        "by_via": {
            k: t.tables[scope, "structure_via"][k] for k in ("from", "through", "text", "none")
        },
    }


def months_of(*years: str) -> list[str]:
    return [f"{y}-{m:02d}" for y in years for m in range(1, 13)]


def comparable(section: dict[str, Any]) -> dict[str, Any]:
    """The section with unmet rows in a fixed order and the median left for approx."""
    copy = json.loads(json.dumps(section))
    copy["unmet_demand"]["rows"].sort(key=lambda r: (r["trade"], r["department"]))
    copy["answers"].pop("median_hours_to_first_answer")
    return copy


def assert_section(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert comparable(got) == comparable(want)
    median = got["answers"]["median_hours_to_first_answer"]
    assert median == pytest.approx(want["answers"]["median_hours_to_first_answer"], abs=0.011)
    assert "unknown" in got["requests_by_domain"] and "unknown" in got["requests_by_department"]
    rows = got["unmet_demand"]["rows"]
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    assert_adds_up(got)


def assert_adds_up(s: dict[str, Any]) -> None:
    """Unknowns included, every breakdown adds up to its total."""
    assert sum(v["requests"] for v in s["per_month"].values()) == s["requests"]
    for name in ("people_by_age_band", "people_by_situation"):
        assert sum(s[name].values()) == s["people"]
    for name in ("requests_by_kind", "requests_by_domain", "requests_by_department"):
        assert sum(s[name].values()) == s["requests"]
    assert sum(s["requests_by_match"].values()) == s["requests"]
    assert max(s["stretched_by"].values()) <= s["requests_by_match"]["stretched"]
    assert sum(s["feedback"]["scores"].values()) == s["requests"]
    assert sum(s["feedback"]["met"].values()) == s["requests"]
    a = s["answers"]
    assert a["answered"] + a["not_answered"] == a["offered"] <= s["requests"]
    assert sum(r["count"] for r in s["unmet_demand"]["rows"]) == s["unmet_demand"]["requests"]
    b = s["ambassadors"]
    assert b["contacted_active"] + b["never_contacted"] == b["active"]
    st = s["structures"]
    assert st["relayed"] + st["none"] == s["requests"]
    for name in ("by_structure", "by_kind", "by_via"):
        assert sum(st[name].values()) == s["requests"], name


@pytest.fixture
def zone_name() -> str:
    """The configured zone: the default unless a test is parametrized with another."""
    return "Europe/Paris"


@pytest.fixture
def config(tmp_path: Path, zone_name: str) -> Iterator[Path]:
    extra = ""
    if zone_name != "Europe/Paris":  # else the default, the example's commented-out line
        extra = f'\n[schedule]\ntimezone = "{zone_name}"\n'
    path = write_config(tmp_path, extra, database="stats.sqlite3")
    assert str(load_config(path).schedule.zone) == zone_name
    open_database(load_config(path).database.url, tmp_path)
    yield path
    database.obj.close()
    database.initialize(None)


@pytest.fixture
def tally(config: Path, zone_name: str) -> Tally:
    return generate(random.Random(20240917), ZoneInfo(zone_name))


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["--config", str(config), "stats", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


ZONES = pytest.mark.parametrize(
    "zone_name",
    [
        "Europe/Paris",  # the default: UTC+1, +2 in summer
        "UTC",  # stored times as they are
        "Asia/Kolkata",  # UTC+5:30 all year
    ],
)


@ZONES
def test_every_figure_per_year_and_overall(
    config: Path, tally: Tally, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(run(config, capsys, "--json"))
    assert list(doc) == ["year", "years", "by_year", "total"]
    assert doc["year"] is None and doc["years"] == list(YEARS)
    assert tally.requests["all"] >= 2000
    for year in YEARS:
        assert_section(doc["by_year"][year], expected_section(tally, year, months_of(year)))
    assert_section(doc["total"], expected_section(tally, "all", months_of(*YEARS)))
    total = doc["total"]
    assert total["requests"] == sum(doc["by_year"][y]["requests"] for y in YEARS)
    assert total["people"] < sum(doc["by_year"][y]["people"] for y in YEARS)  # counted once
    ages = total["people_by_age_band"]
    assert ages["unknown"] > 0 and ages["under_10"] > 0  # neither dropped nor misfiled
    for year in (*YEARS, "all"):  # people whose first request of the year has no age, a
        told_later = [  # later one has: they are counted with that age, not as unknown
            p
            for (scope, p), (_, _, age, _) in tally.first.items()
            if scope == year and age is None and ("age", scope, p) in tally.known
        ]
        assert len(told_later) >= 5, year
    assert total["people_by_situation"]["other"] > 0
    assert total["requests_by_kind"]["unknown"] > 0
    contacted = [doc["by_year"][y]["ambassadors"]["contacted"] for y in YEARS]
    assert contacted[0] < contacted[2] < total["ambassadors"]["active"] + 10
    assert total["ambassadors"]["never_contacted"] > 0
    adults = total["adults"]  # who wrote: every request once, unknowns and "self" included
    assert sum(adults.values()) == total["requests"]
    assert adults["unknown"] > 0 and adults["self"] > 0 and all(adults.values())


def test_adults_that_do_not_add_up_are_an_internal_error(
    config: Path, tally: Tally, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stats.section

    def broken(*args: Any) -> dict[str, Any]:
        s = real(*args)
        s["adults"].pop("unknown")  # as if the requests of unknown writers were dropped
        return s

    monkeypatch.setattr(stats, "section", broken)
    assert main(["--config", str(config), "stats", "--json"]) == 2
    assert "adults adds up to" in capsys.readouterr().err


@ZONES
def test_one_year(config: Path, tally: Tally, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(run(config, capsys, "--year", "2025", "--json"))
    assert doc["year"] == 2025 and doc["years"] == ["2025"]
    want = expected_section(tally, "2025", months_of("2025"))
    assert_section(doc["by_year"]["2025"], want)
    assert comparable(doc["total"]) == comparable(doc["by_year"]["2025"])


def test_csv_gives_the_same_figures(
    config: Path, tally: Tally, capsys: pytest.CaptureFixture[str]
) -> None:
    text = run(config, capsys, "--csv")
    assert text.splitlines()[0] == "year,table,key,value"
    rows = list(csv.DictReader(io.StringIO(text)))
    got: dict[tuple[str, str, str], str] = {}
    for row in rows:
        triple = (row["year"], row["table"], row["key"])
        assert triple not in got
        got[triple] = row["value"]
    assert {r["year"] for r in rows} == {*YEARS, "all"}
    for scope, months in [(y, months_of(y)) for y in YEARS] + [("all", months_of(*YEARS))]:
        want = expected_section(tally, scope, months)

        def value(table: str, key: str, scope: str = scope) -> str:
            return got.pop((scope, table, key))

        assert int(value("requests", "total")) == want["requests"]
        assert int(value("people", "total")) == want["people"]
        for month, v in want["per_month"].items():
            assert int(value("per_month_requests", month)) == v["requests"]
            assert int(value("per_month_people", month)) == v["people"]
        for table in (
            "people_by_age_band",
            "people_by_situation",
            "requests_by_kind",
            "requests_by_domain",
            "requests_by_department",
            "requests_by_match",
            "stretched_by",
            "adults",
        ):
            for key, n in want[table].items():
                assert int(value(table, key)) == n, (scope, table, key)
        a = want["answers"]
        for key in ("offered", "answered", "not_answered"):
            assert int(value("answers", key)) == a[key]
        assert float(value("answers", "answer_rate")) == a["answer_rate"]
        median = float(value("answers", "median_hours_to_first_answer"))
        assert median == pytest.approx(a["median_hours_to_first_answer"], abs=0.011)
        assert int(value("reassignments", "total")) == want["reassignments"]
        assert int(value("escalations", "total")) == want["escalations"]
        assert int(value("unmet_demand", "total")) == want["unmet_demand"]["requests"]
        for r in want["unmet_demand"]["rows"]:
            assert int(value("unmet_demand_rows", f"{r['department']}|{r['trade']}")) == r["count"]
        for key, n in want["ambassadors"].items():
            assert int(value("ambassadors", key)) == n
        for key, n in want["feedback"]["scores"].items():
            assert int(value("feedback_scores", key)) == n
        for key, n in want["feedback"]["met"].items():
            assert int(value("feedback_met", key)) == n
        assert float(value("feedback", "mean_score")) == want["feedback"]["mean_score"]
        st = want["structures"]
        assert int(value("structures", "relayed")) == st["relayed"]
        assert int(value("structures", "none")) == st["none"]
        for name in ("by_structure", "by_kind", "by_via"):
            for key, n in st[name].items():
                assert int(value(f"structures_{name}", key)) == n
    assert got == {}  # nothing unexplained


def test_text_output_is_readable(
    config: Path, tally: Tally, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(config, capsys, "--year", "2024")
    assert "=== 2024 ===" in out and "Total" not in out
    assert re.search(rf"demandes +{tally.requests['2024']}\n", out)
    assert "Personnes par tranche d'âge" in out and "People" not in out
    assert "@" not in out
    # French words, never the stored codes (rules/labels.toml), ages youngest first
    for code in ("collegien", "demandeur_emploi", "under_10", "unknown", "metier", "D11 "):
        assert not re.search(rf"(?<![\w·]){re.escape(code)}(?![\w·])", out), code
    assert "collégien·ne" in out and "demandeur·se d'emploi" in out
    assert "D11 · Commerce alimentaire et métiers de bouche" in out
    ages = ("moins de 10 ans", "10 à 15 ans", "16 à 17 ans", "18 à 25 ans", "26 à 49 ans")
    places = [out.index(f"  {a}") for a in (*ages, "50 ans et plus")]
    assert places == sorted(places)
    assert "correspondance élargie" in out and "autre métier du même domaine" in out
    # who wrote (issue 14): the seed's Tableau 1 "Adultes — Qualité", in French, adding up
    assert "Adultes — Qualité" in out and "conseillers d'insertion professionnelle" in out
    assert "conseiller_insertion" not in out and "la personne elle-même" in out
    n = tally.tables["2024", "adults"]["conseiller_insertion"]
    assert re.search(rf"conseillers d'insertion professionnelle +{n}\n", out)


def test_excel_csv_opens_as_columns_in_french_excel(
    config: Path, tally: Tally, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`--excel`: a UTF-8 BOM, `;`, CRLF, a decimal comma; today's four columns (the
    `--csv` contract) plus a French label; the same figures as `--csv`."""
    assert main(["--config", str(config), "stats", "--excel"]) == 0
    data = capsysbinary.readouterr().out
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    text = data[3:].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == ["year", "table", "key", "value", "libelle"]
    assert all(len(r) == 5 for r in rows)
    got = {(y, t, k): (v, label) for y, t, k, v, label in rows[1:]}
    rate, label = got["2025", "answers", "answer_rate"]
    assert (
        "," in rate and "." not in rate and label == "Réponses des ambassadeurs : taux de réponse"
    )
    assert float(rate.replace(",", ".")) == round(
        tally.tables["2025", "answered"]["n"] / tally.tables["2025", "offered"]["n"], 4
    )
    assert got["all", "requests", "total"] == (str(tally.requests["all"]), "Demandes : total")
    assert got["2025", "people_by_situation", "collegien"][1].endswith(": collégien·ne")
    assert got["2025", "requests_by_domain", "D11"][1].endswith("métiers de bouche")
    # Keys Excel would read as dates or numbers stay text: ="2025-03" shows 2025-03, the
    # age band 16-17 is no 16 July, a département keeps its leading zero
    assert got["2025", "per_month_requests", '="2025-03"'][1] == "Demandes par mois : mars 2025"
    assert got["2025", "people_by_age_band", '="16-17"'][1].startswith("Personnes par tranche")
    assert got["2025", "people_by_age_band", "50+"]  # not a date: as it is
    coerced = re.compile(r"0\d+|\d{1,4}[-/.]\d{1,4}([-/.]\d{1,4})?")
    assert not [k for _, _, k in got if coerced.fullmatch(k)]
    assert _as_text("01") == '="01"' and _as_text("14") == "14" and _as_text("2A") == "2A"


def test_empty_database_and_empty_year(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(run(config, capsys, "--json"))
    assert doc["years"] == [] and doc["by_year"] == {} and doc["total"]["requests"] == 0
    assert doc["total"]["answers"]["answer_rate"] is None
    assert "No requests recorded yet" in run(config, capsys)
    doc = json.loads(run(config, capsys, "--json", "--year", "2023"))
    section = doc["by_year"]["2023"]
    assert section["requests"] == 0 and section["people_by_age_band"]["unknown"] == 0
    assert section["feedback"]["mean_score"] is None
    assert len(section["per_month"]) == 12 and section["requests_by_domain"] == {"unknown": 0}
    assert run(config, capsys, "--csv", "--year", "2023").startswith("year,table,key,value\n")


def test_a_breakdown_that_does_not_add_up_is_an_internal_error(
    config: Path, tally: Tally, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stats.section

    def broken(*args: Any) -> dict[str, Any]:
        s = real(*args)
        s["requests_by_department"].pop("unknown")  # as if unknowns were dropped
        return s

    monkeypatch.setattr(stats, "section", broken)
    code = main(["--config", str(config), "stats", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" in err and "requests_by_department" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(stats.StatsError):
        stats.check_section({**real(stats.gather(None), ["2024"], "2024"), "people": -1}, "x")


def test_bad_year_is_reported(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for year in ("20", "9999", "-1"):  # 9999: its end, 1 January 10000, is no date
        assert main(["--config", str(config), "stats", "--year", year]) == 2
        err = capsys.readouterr().err
        assert err == f"mailflow: --year {year}: expected a year such as 2025\n", err


@pytest.mark.parametrize(
    "zone_name",
    [
        "Asia/Kathmandu",  # UTC+5:45
        "Australia/Lord_Howe",  # +10:30, +11 in its summer: a half-hour DST
        "America/Sao_Paulo",  # DST until 2019, starting at midnight
        "Pacific/Apia",  # skipped 30 December 2011 (-10 to +14), DST until 2021
        "America/St_Johns",  # -3:30, -2:30 in summer: behind UTC
        "Africa/Casablanca",  # +1, back to +0 each Ramadan since 2019
    ],
)
def test_local_months_in_odd_zones(config: Path, zone_name: str) -> None:
    """The SQL files each stored time under the year and month of its wall-clock time as
    zoneinfo gives it: around every local month start of 2010-2026 (to the microsecond)
    and at random. On SQLite the lookup is built for 2015 to mid-2020 only: the times
    outside go through the registered function."""
    from mailflow.review.stats_sql import _postgres
    from mailflow.review.stats_time import LocalTime

    zone = ZoneInfo(zone_name)
    rng = random.Random(zone_name)
    moments = [
        to_utc(datetime(y, m, 1), zone) + timedelta(seconds=d)
        for y in range(2010, 2027)
        for m in range(1, 13)
        for d in (-7200, -3600, -1, -0.000001, 0, 1, 3599, 3600, 7200)
    ]
    start = datetime(2010, 1, 1)
    moments += [start + timedelta(seconds=rng.randrange(17 * 365 * 86400)) for _ in range(500)]
    Person.insert(id=1, email="p@users.test", created_at=start).execute()
    rows = [
        {"id": i, "person": 1, "state": "new", "created_at": at, "updated_at": at}
        for i, at in enumerate(moments, start=1)
    ]
    with database.atomic():
        for chunk in range(0, len(rows), 400):
            Request.insert_many(rows[chunk : chunk + 400]).execute()
    if _postgres():
        local = LocalTime(zone, start, start, None)
    else:
        local = LocalTime(zone, datetime(2015, 1, 1), datetime(2020, 6, 30), database.connection())
    year, month = local.year(Request.created_at), local.month(Request.created_at)
    query = Request.select(Request.id, year, month).order_by(Request.id)
    got = {i: (y, m) for i, y, m in database.execute(query).fetchall()}
    want = {i: (str(wall(at, zone).year), wall(at, zone).strftime("%Y-%m")) for i, at in
            enumerate(moments, start=1)}  # fmt: skip
    assert got == want


def test_report_takes_the_same_local_year(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mailflow report --year` lists the requests `mailflow stats --year` counts: those of
    the local year (Europe/Paris here), not of the stored UTC one."""
    stored = {
        1: datetime(2024, 12, 31, 23, 30),  # 00:30 on 1 January 2025 in Paris: 2025
        2: datetime(2025, 7, 1, 12, 0),
        3: datetime(2025, 12, 31, 22, 59, 59),  # 23:59:59 in Paris: still 2025
        4: datetime(2025, 12, 31, 23, 0),  # midnight in Paris: 2026
    }
    Person.insert(id=1, email="p@users.test", created_at=stored[1]).execute()
    for rid, at in stored.items():
        Request.create(id=rid, person=1, state="new", created_at=at, updated_at=at)
    doc = json.loads(run(config, capsys, "--year", "2025", "--json"))
    assert doc["total"]["requests"] == 3
    assert doc["by_year"]["2025"]["per_month"]["2025-01"]["requests"] == 1
    assert doc["by_year"]["2025"]["per_month"]["2025-12"]["requests"] == 1
    out = tmp_path / "site"
    assert main(["--config", str(config), "report", "--year", "2025", "--out", str(out)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (out / "requests").iterdir()) == ["1.html", "2.html", "3.html"]
