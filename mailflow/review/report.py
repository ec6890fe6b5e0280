"""`mailflow report`: a static site of one year, for coordinators who would rather look.

The figures come from `mailflow.review.stats` (the same checked numbers as `mailflow stats`),
the timelines from `mailflow.review.log_timeline`; this module only shapes them for
French-speaking eyes, renders `templates/report/*.html` and writes the files. Everything is
self-contained (inline CSS and SVG, relative links) so the site opens from disk. Addresses
never reach a page: every text is masked before rendering and every page is checked before
writing.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from peewee import fn

from mailflow import clock
from mailflow.config import DATA_ROOT
from mailflow.core.labels import Labels
from mailflow.errors import MailflowError
from mailflow.review import report_svg, stats, stats_keys
from mailflow.review.log_timeline import request_timeline
from mailflow.review.stats_structures import TITLE as STRUCTURES_TITLE
from mailflow.review.stats_structures import StructureWords
from mailflow.review.stats_structures import rows as structure_lines
from mailflow.store.models import Ambassador, Request
from mailflow.store.record import log_event

TEMPLATES = DATA_ROOT / "templates" / "report"
# From a run start only (linear on long runs without "@", as dsn.ADDRESS).
ADDRESS = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
MASK = "[adresse masquée]"
UNKNOWN_FR = "non précisé"

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin")
MONTHS += ("juil.", "août", "sept.", "oct.", "nov.", "déc.")
ROLES = {
    "person": "personne",
    "ambassador": "ambassadeur·rice",
    "mailflow": "mailflow",
    "coordinator": "coordination",
    "stranger": "inconnu",
    "sender": "expéditeur",
    "unknown": "inconnu",
}
BUCKETS = ("moins de 24 h", "1 à 3 j", "3 à 7 j", "plus de 7 j", "sans réponse")
SCORES = {str(n): f"note {n}" for n in range(1, 6)} | {"unknown": "sans note"}
MINOR_AGE = 15  # as `mailflow minors`: requests from people under 15 are reviewed
OWNED = re.compile(r"(index|requests)\.html|requests/\d+\.html")  # what a run writes


def mask(value: Any) -> Any:
    """The same data with anything that looks like an email address replaced."""
    if isinstance(value, str):
        return ADDRESS.sub(MASK, value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


def number(n: float | None, digits: int = 0) -> str:
    """French number: narrow no-break space for thousands, comma for decimals."""
    if n is None:
        return "–"
    text = f"{n:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return text


def when(iso: str | None, zone: tzinfo = UTC, with_time: bool = True) -> str:
    """'2025-03-04T10:05:00Z' as '04/03/2025 11:05' in Paris: coordinators read their own
    clock (each page names the zone), not the stored UTC."""
    return clock.wall_iso(iso, zone, "%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y") or "–"


def age_label(labels: Labels, key: str) -> str:
    return labels.of("age_bands", key, f"{key} ans")


def department_name(labels: Labels, code: str) -> str:
    """'14' -> '14 · Calvados'; the unknown one in words."""
    if code == stats.UNKNOWN:
        return UNKNOWN_FR
    name = labels.departments.get(code)
    return f"{code} · {name}" if name else code


def ambassadors_by_department() -> Counter[str]:
    """Active ambassadors per département, today (the directory has no history)."""
    rows = (
        Ambassador.select(Ambassador.department, fn.COUNT(Ambassador.id))
        .where(Ambassador.active == True)  # noqa: E712 - peewee expression
        .group_by(Ambassador.department)
        .tuples()
    )
    found: Counter[str] = Counter()
    for dept, n in rows:
        found[(dept or "").strip().upper() or stats.UNKNOWN] += n
    return found


def breakdowns(
    section: dict[str, Any], labels: Labels, ambassadors: Counter[str]
) -> list[dict[str, Any]]:
    """Every breakdown of `mailflow stats` as a table: (id, title, columns, rows), in French."""

    def pairs(table: str, label: Any) -> list[tuple[str, str]]:
        return [(label(k), number(n)) for k, n in section[table].items()]

    unmet_by_dept: Counter[str] = Counter()
    for row in section["unmet_demand"]["rows"]:
        unmet_by_dept[row["department"]] += row["count"]
    demand = section["requests_by_department"]
    depts = sorted(set(demand) | set(ambassadors), key=lambda d: (d == stats.UNKNOWN, d))
    kind = lambda k: labels.of("kinds", k)  # noqa: E731 - one-line label functions
    return [
        {
            "id": "departements",
            "title": "Demande et ambassadeurs par département",
            "columns": ("Département", "Demandes", "dont sans ambassadeur", "Ambassadeurs actifs"),
            "rows": [
                (
                    department_name(labels, d),
                    number(demand.get(d, 0)),
                    number(unmet_by_dept[d]),
                    number(ambassadors[d]),
                )
                for d in depts
            ],
            "note": "Ambassadeurs actifs : l'annuaire d'aujourd'hui.",
        },
        {
            "id": "types",
            "title": "Demandes par type",
            "columns": ("Type", "Demandes"),
            "rows": pairs("requests_by_kind", kind),
        },
        {
            "id": "domaines",
            "title": "Demandes par domaine professionnel ROME",
            "columns": ("Domaine", "Demandes"),
            "rows": pairs(
                "requests_by_domain",
                lambda k: UNKNOWN_FR if k == stats.UNKNOWN else labels.domain(k),
            ),
        },
        {
            "id": "correspondances",
            "title": "Demandes par correspondance avec l'ambassadeur",
            "columns": ("Correspondance", "Demandes"),
            "rows": pairs("requests_by_match", lambda k: labels.of("matches", k)),
        },
        {
            "id": "elargies",
            "title": "Correspondances élargies : ce qui diffère de la demande",
            "columns": ("Différence", "Demandes"),
            "rows": pairs("stretched_by", lambda k: labels.of("stretches", k)),
            "note": "Une demande peut compter dans plusieurs lignes.",
        },
        {
            "id": "ages",
            "title": "Personnes par tranche d'âge",
            "columns": ("Tranche d'âge", "Personnes"),
            "rows": pairs("people_by_age_band", lambda k: age_label(labels, k)),
        },
        {
            "id": "situations",
            "title": "Personnes par situation",
            "columns": ("Situation", "Personnes"),
            "rows": pairs("people_by_situation", lambda k: labels.of("situations", k)),
        },
        {
            "id": "adultes",
            "title": "Adultes — Qualité : qui a écrit la demande",
            "columns": ("Qualité", "Demandes"),
            "rows": pairs("adults", lambda k: labels.of("writer_roles", k)),
            "note": "Un adulte qui écrit pour un jeune (ou pour une autre personne) ; "
            "« la personne elle-même » : personne n'a écrit pour elle.",
        },
        {
            "id": "non-satisfaites",
            "title": "Demandes non satisfaites par métier et département",
            "columns": ("Métier ou formation", "Département", "Demandes"),
            "rows": [
                (
                    UNKNOWN_FR if r["trade"] == stats.UNKNOWN else r["trade"],
                    department_name(labels, r["department"]),
                    number(r["count"]),
                )
                for r in section["unmet_demand"]["rows"]
            ],
        },
    ]


def answer_buckets(hours: list[float], not_answered: int) -> list[tuple[str, int]]:
    """Hours to the first answer in the coordinators' buckets, plus the unanswered offers."""
    limits = (24.0, 72.0, 168.0)
    counts = Counter(sum(h >= limit for limit in limits) for h in hours)
    return [
        *zip(BUCKETS[:4], (counts[i] for i in range(4)), strict=True),
        (BUCKETS[4], not_answered),
    ]


def unmet_by_trade(rows: list[dict[str, Any]], top: int = 10) -> list[tuple[str, int]]:
    """Unmet requests per trade over every département, the `top` largest."""
    trades: Counter[str] = Counter()
    for row in rows:
        trades[UNKNOWN_FR if row["trade"] == stats.UNKNOWN else row["trade"]] += row["count"]
    return sorted(trades.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def overview(section: dict[str, Any], hours: list[float], labels: Labels) -> dict[str, Any]:
    """Headline figures and the charts of one year's stats section."""
    a = section["answers"]
    rate = a["answer_rate"]
    median_h = a["median_hours_to_first_answer"]
    feedback, ambassadors = section["feedback"], section["ambassadors"]
    mean = feedback["mean_score"]
    months = [(MONTHS[int(m[5:]) - 1], v["requests"]) for m, v in section["per_month"].items()]
    ages = [(age_label(labels, k), n) for k, n in section["people_by_age_band"].items()]
    situations = [
        (labels.of("situations", k), n) for k, n in section["people_by_situation"].items()
    ]
    kinds = [(labels.of("kinds", k), n) for k, n in section["requests_by_kind"].items()]
    short = lambda k: labels.of("writer_roles_short", k, labels.of("writer_roles", k))  # noqa: E731
    adults = [(short(k), n) for k, n in section["adults"].items()]
    scores = [(SCORES[k], n) for k, n in feedback["scores"].items()]
    unmet = unmet_by_trade(section["unmet_demand"]["rows"])
    return {
        "totals": [
            ("Demandes", number(section["requests"])),
            ("Personnes", number(section["people"])),
            ("Taux de réponse", "–" if rate is None else f"{number(rate * 100, 1)} %"),
            (
                "Délai médian de 1re réponse",
                "aucune réponse" if median_h is None else f"{number(median_h, 1)} h",
            ),
            ("Escalades", number(section["escalations"])),
            ("Note moyenne des avis", "aucun avis" if mean is None else f"{number(mean, 1)} / 5"),
            ("Ambassadeurs sollicités", number(ambassadors["contacted"])),
            ("Ambassadeurs actifs jamais sollicités", number(ambassadors["never_contacted"])),
        ],
        "details": {
            "offered": number(a["offered"]),
            "answered": number(a["answered"]),
            "reassignments": number(section["reassignments"]),
            "unmet": number(section["unmet_demand"]["requests"]),
            "rated": number(sum(n for k, n in feedback["scores"].items() if k != stats.UNKNOWN)),
            "met": number(feedback["met"]["yes"]),
            "not_met": number(feedback["met"]["no"]),
            "active": number(ambassadors["active"]),
        },
        "charts": [
            ("Demandes par mois", report_svg.columns("Demandes par mois", months, "demandes")),
            ("Personnes par tranche d'âge", report_svg.bars("Personnes par âge", ages, "pers.")),
            ("Demandes par type", report_svg.bars("Demandes par type", kinds, "demandes")),
            (
                "Personnes par situation",
                report_svg.bars("Personnes par situation", situations, "personnes"),
            ),
            (
                "Adultes — Qualité : qui a écrit la demande",
                report_svg.bars("Qui a écrit la demande", adults, "demandes"),
            ),
            (
                "Délai avant la première réponse (demandes proposées)",
                report_svg.bars(
                    "Délai avant la première réponse",
                    answer_buckets(hours, a["not_answered"]),
                    "demandes",
                    color="#2f855a",
                ),
            ),
            (
                "Demande non satisfaite par métier (10 premiers)",
                report_svg.bars("Demande non satisfaite", unmet, "demandes", color="#c05621"),
            ),
            (
                "Avis des personnes : notes données",
                report_svg.bars("Notes des avis", scores, "demandes", color="#6b46c1"),
            ),
        ],
    }


def year_requests(year: int, zone: tzinfo = UTC) -> list[Request]:
    """The requests of `year` in `zone`'s local time, as `mailflow stats` counts them."""
    start = clock.from_local(datetime(year, 1, 1), zone)
    end = clock.from_local(datetime(year + 1, 1, 1), zone)
    query = Request.select().where(
        Request.created_at >= start, Request.created_at < end, Request.merged_into.is_null()
    )  # a duplicate merged into another (request merge) is not a request
    return list(query.order_by(Request.created_at, Request.id))


def is_minor(flagged: bool, age: int | None) -> bool:
    """Under 15: flagged at intake, or an age below it (the flag's own rule)."""
    return bool(flagged) or (age is not None and age < MINOR_AGE)


def request_row(r: Request, labels: Labels, zone: tzinfo = UTC) -> dict[str, Any]:
    return {
        "id": r.id,
        "date": clock.wall(r.created_at, zone, "%d/%m/%Y"),  # the day it was in `zone`
        "kind": labels.of("kinds", r.kind, UNKNOWN_FR),
        "trade": r.rome_label or r.trade_text or UNKNOWN_FR,
        "department": (r.department or "").upper() or "–",
        "state": labels.of("states", r.state),
        "age": age_label(labels, stats_keys.age_key(r.age)),
        "minor": is_minor(r.minor, r.age),
    }


def _party(p: dict[str, Any]) -> str:
    role = ROLES.get(p["role"], p["role"])
    return f"{role} {p['name']}" if p.get("name") else role


def entry_view(e: dict[str, Any], labels: Labels, zone: tzinfo = UTC) -> dict[str, Any]:
    """One timeline entry as the page shows it: words, not codes (rules/labels.toml),
    `zone`'s time."""
    view = {"at": when(e["at"], zone), "type": e["type"]}
    if e["type"] == "message":
        inbound = e["direction"] == "in"
        fate = e.get("outcome") if inbound else None
        view |= {
            "label": "Message reçu" if inbound else "Message envoyé",
            "direction": "in" if inbound else "out",
            "from": _party(e["from"]),
            "to": _party(e["to"]),
            "subject": e["subject"] or "(sans objet)",
            "outcome": labels.of("outcomes", fate) if fate else labels.of("statuses", e["status"]),
            "purpose": labels.of("purposes", e.get("purpose")) if e.get("purpose") else None,
        }
    elif e["type"] == "state":
        old = labels.of("states", e["from"], "–")
        new = labels.of("states", e["to"])
        view |= {"label": "Changement d'état", "change": f"{old} → {new}"}
        view["cause"] = labels.cause(e["cause"])
    else:
        detail = labels.tables["event_details"].get(e["type"]) or labels.cause(e["cause"])
        view |= {"label": labels.of("events", e["type"]), "cause": detail}
    return view


def request_view(tl: dict[str, Any], labels: Labels, zone: tzinfo = UTC) -> dict[str, Any]:
    situation = labels.of("situations", stats_keys.situation_key(tl["situation"]), UNKNOWN_FR)
    return {
        "id": tl["id"],
        "state": labels.of("states", tl["state"]),
        "kind": labels.of("kinds", tl["kind"], UNKNOWN_FR),
        "trade": tl["trade"] or UNKNOWN_FR,
        "place": tl["commune"] or (tl["department"] or "").upper() or UNKNOWN_FR,
        "age": "–" if tl["age"] is None else f"{tl['age']} ans",
        "minor": is_minor(tl["minor"], tl["age"]),
        "situation": situation,
        "created": when(tl["created_at"], zone),
        "first_answer": when(tl["first_answer_at"], zone),
        "entries": [entry_view(e, labels, zone) for e in tl["timeline"]],
    }


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def structures_table(section: dict[str, Any], words: StructureWords) -> dict[str, Any]:
    """The requests relayed by partner structures (stats_structures.py), as one table."""
    return {
        "id": "structures",
        "title": STRUCTURES_TITLE,
        "columns": ("Regroupement", "Structure, type ou voie", "Demandes"),
        "rows": [(group, label, number(n)) for group, label, n in structure_lines(section, words)],
        "note": "Chaque regroupement compte toutes les demandes de l'année, « aucune » comprise.",
    }


def build(
    year: int, zone: tzinfo, labels: Labels, words: StructureWords | None = None
) -> dict[str, str]:
    """Relative path -> HTML of every page of `year`'s site: the local year of `zone`,
    times in `zone` (named on every page), words from `labels` (rules/labels.toml)."""
    doc = stats.collect(year, zone)
    section = doc["by_year"][str(year)]
    raw_hours = stats.gather(year, zone)["hours"]
    hours = [h for m, hs in raw_hours.items() if m[:4] == str(year) for h in hs]
    env = environment()
    common = {
        "year": year,
        "generated": clock.wall(clock.stamp(), zone, "%d/%m/%Y %H:%M"),
        "zone": clock.zone_name(zone),
    }
    requests = year_requests(year, zone)
    pages = {
        "index.html": env.get_template("index.html").render(
            **common,
            root="",
            **overview(mask(section), hours, labels),
            tables=mask(
                breakdowns(section, labels, ambassadors_by_department())
                + [structures_table(section, words or StructureWords())]
            ),
        ),
        "requests.html": env.get_template("requests.html").render(
            **common, root="", rows=mask([request_row(r, labels, zone) for r in requests])
        ),
    }
    page = env.get_template("request.html")
    for r in requests:
        view = mask(request_view(request_timeline(r), labels, zone))
        pages[f"requests/{r.id}.html"] = page.render(**common, root="../", r=view)
    for path, html in pages.items():
        if ADDRESS.search(html):
            raise MailflowError(f"internal error: report page {path} would show an address")
    return pages


def stale_pages(out: Path, pages: dict[str, str]) -> list[Path]:
    """Pages an earlier report left in `out` that this one does not write (a request of
    another year...). Only the report's own file names: anything else there stays."""
    found = [out / name for name in ("index.html", "requests.html")]
    if (out / "requests").is_dir():
        found += sorted((out / "requests").iterdir())
    return [
        p
        for p in found
        if p.is_file()
        and OWNED.fullmatch(p.relative_to(out).as_posix())
        and p.relative_to(out).as_posix() not in pages
    ]


def write(out: Path, pages: dict[str, str]) -> None:
    for path in stale_pages(out, pages):
        path.unlink()
    for rel, html in pages.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")


def make_report(
    year: int, out: Path, zone: tzinfo, labels: Labels, words: StructureWords | None = None
) -> int:
    """Build and write the site (the local year of `zone`, times in `zone`), and record
    it; the number of pages written."""
    pages = build(year, zone, labels, words)
    try:
        write(out, pages)
    except OSError as exc:
        raise MailflowError(f"--out {out}: {exc.strerror or exc}") from None
    log_event("report", f"report {year} written to {out.resolve()}: {len(pages)} pages")
    return len(pages)
