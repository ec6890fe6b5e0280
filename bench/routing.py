"""Routing: one request matched against 10,000 ambassadors and the full ROME title list.

The directory is generated from the ROME appellations themselves (random titles, random
départements, communes of the referential) and imported through the real CSV import;
5,000 open conversations give the ambassadors a load. Each request is timed in two parts:
understanding its text (trade against every ROME title, place, age) and routing it
(`intake.best_choice`: the ids that can match from the in-memory trade index, their state
and load from SQL, then `route.choose`), in process, on SQLite.
"""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path
from typing import Any

from bench.measure import summary
from mailflow.admin.directory import import_file
from mailflow.clock import stamp
from mailflow.config import PROJECT_ROOT
from mailflow.core.route import Want
from mailflow.services.intake import best_choice
from mailflow.store.db import open_database
from mailflow.store.models import Conversation, Person, Request, database
from mailflow.understand.mail import load_understanding_rules, understand
from mailflow.understand.referential import load_referential

AMBASSADORS = 10_000
OPEN_CONVERSATIONS = 5_000
RULES = PROJECT_ROOT / "rules"


def _appellations() -> list[str]:
    with (RULES / "rome" / "appellations.csv").open(encoding="utf-8") as handle:
        return [row["libelle_appellation_court"] for row in csv.DictReader(handle)]


def _communes() -> list[tuple[str, str, str]]:
    """(name, département, first postcode) of every commune of the referential."""
    with (RULES / "geo" / "communes.csv").open(encoding="utf-8") as handle:
        return [
            (r["nom"], r["departement"], (r["codes_postaux"].split() or [""])[0])
            for r in csv.DictReader(handle)
        ]


def _directory(
    path: Path, titles: list[str], communes: list[tuple[str, str, str]], count: int
) -> None:
    rng = random.Random(6)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["email", "first_name", "last_name", "kind", "title", "sector"]
            + ["department", "city", "postcode", "capacity"]
        )
        for i in range(count):
            city, dept, postcode = rng.choice(communes)
            out.writerow(
                [f"a{i}@pros.test", "Prénom", "Nom", "metier", rng.choice(titles), ""]
                + [dept, city, postcode, rng.randint(1, 5)]
            )


def _load(count: int, ambassadors: int) -> None:
    """Open conversations on random ambassadors, so routing sees a realistic load."""
    now = stamp()
    person = Person.create(email="load@users.test", created_at=now)
    with database.atomic():
        Request.insert_many(
            [{"person": person.id, "state": "offered", "created_at": now, "updated_at": now}]
            * count
        ).execute()
        ids = [r.id for r in Request.select(Request.id)]
        rng = random.Random(7)
        rows = [
            {
                "request": rid,
                "ambassador": rng.randint(1, ambassadors),
                "ambassador_token": f"a{rid}",
                "person_token": f"p{rid}",
                "created_at": now,
            }
            for rid in ids
        ]
        for start in range(0, len(rows), 500):
            Conversation.insert_many(rows[start : start + 500]).execute()


def run(workdir: Path, requests: int, ambassadors: int = AMBASSADORS) -> dict[str, Any]:
    """Route `requests` made-up requests over a directory of `ambassadors` (10,000; fewer
    for the smoke run of the test suite, which only checks that the figures come)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ref = load_referential(RULES)
    rules = load_understanding_rules(RULES)
    titles, communes = _appellations(), _communes()
    open_database("sqlite:///routing.sqlite3", workdir)
    csv_path = workdir / "ambassadors.csv"
    _directory(csv_path, titles, communes, ambassadors)
    start = time.perf_counter()
    import_file(csv_path, ref)
    import_seconds = time.perf_counter() - start
    opened = min(OPEN_CONVERSATIONS, ambassadors)
    _load(opened, ambassadors)
    rng = random.Random(8)
    timings: dict[str, list[float]] = {"understand": [], "route": [], "total": []}
    matched = 0
    for _ in range(requests):
        title, (city, _, _) = rng.choice(titles), rng.choice(communes)
        text = f"Bonjour, j'ai {rng.randint(12, 40)} ans et je voudrais rencontrer un {title} "
        text += f"près de {city}. Merci !"
        t0 = time.perf_counter()
        parsed = understand("Rencontre métier", text, ref, rules)
        t1 = time.perf_counter()
        place = parsed.place
        want = Want(
            kind=parsed.kind,
            code_rome=parsed.trade.code_rome if parsed.trade else None,
            title_words=parsed.trade_text,
            department=place.department if place else None,
            region=place.region if place else None,
            insee=place.insee if place else None,
        )
        choice = best_choice(want) if parsed.understood else None
        t2 = time.perf_counter()
        matched += choice is not None
        timings["understand"].append(t1 - t0)
        timings["route"].append(t2 - t1)
        timings["total"].append(t2 - t0)
    database.close()
    return {
        "ambassadors": ambassadors,
        "titles": len(titles),
        "requests": requests,
        "matched": matched,
        "open_conversations": opened,
        "import_seconds": import_seconds,
        **{name: summary(values) for name, values in timings.items()},
    }
