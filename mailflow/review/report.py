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

from mailflow import clock
from mailflow.config import DATA_ROOT
from mailflow.errors import MailflowError
from mailflow.review import report_svg, stats, stats_keys
from mailflow.review.log_timeline import request_timeline
from mailflow.store.models import Request
from mailflow.store.record import log_event

TEMPLATES = DATA_ROOT / "templates" / "report"
# From a run start only (linear on long runs without "@", as dsn.ADDRESS).
ADDRESS = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
MASK = "[adresse masquée]"
UNKNOWN_FR = "non précisé"

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin")
MONTHS += ("juil.", "août", "sept.", "oct.", "nov.", "déc.")
AGES = {"under_10": "moins de 10 ans", "50+": "50 ans et plus", "unknown": UNKNOWN_FR}
SITUATIONS = {
    "collegien": "collégien·ne",
    "lyceen": "lycéen·ne",
    "apprenti": "apprenti·e",
    "etudiant": "étudiant·e",
    "demandeur_emploi": "demandeur·se d'emploi",
    "salarie": "salarié·e",
    "other": "autre situation",
    "unknown": UNKNOWN_FR,
}
KINDS = {"metier": "métier", "formation": "formation", "vae": "VAE"}
STATES = {
    "new": "nouvelle",
    "needs_info": "infos demandées",
    "offered": "proposée",
    "answered": "répondue",
    "in_conversation": "en conversation",
    "feedback_asked": "avis demandé",
    "closed": "close",
    "reassigned": "réattribuée",
    "unmatched": "sans ambassadeur",
    "expired": "expirée",
    "withdrawn": "retirée",
}
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


def age_label(key: str) -> str:
    return AGES.get(key) or f"{key} ans"


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


def overview(section: dict[str, Any], hours: list[float]) -> dict[str, Any]:
    """Headline figures and the charts of one year's stats section."""
    a = section["answers"]
    rate = a["answer_rate"]
    median_h = a["median_hours_to_first_answer"]
    feedback, ambassadors = section["feedback"], section["ambassadors"]
    mean = feedback["mean_score"]
    months = [(MONTHS[int(m[5:]) - 1], v["requests"]) for m, v in section["per_month"].items()]
    ages = [(age_label(k), n) for k, n in section["people_by_age_band"].items()]
    situations = [(SITUATIONS[k], n) for k, n in section["people_by_situation"].items()]
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
            (
                "Personnes par situation",
                report_svg.bars("Personnes par situation", situations, "personnes"),
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


def request_row(r: Request, zone: tzinfo = UTC) -> dict[str, Any]:
    return {
        "id": r.id,
        "date": clock.wall(r.created_at, zone, "%d/%m/%Y"),  # the day it was in `zone`
        "kind": KINDS.get(r.kind or "", UNKNOWN_FR),
        "trade": r.rome_label or r.trade_text or UNKNOWN_FR,
        "department": (r.department or "").upper() or "–",
        "state": STATES.get(r.state, r.state),
        "age": age_label(stats_keys.age_key(r.age)),
        "minor": is_minor(r.minor, r.age),
    }


def _party(p: dict[str, Any]) -> str:
    role = ROLES.get(p["role"], p["role"])
    return f"{role} {p['name']}" if p.get("name") else role


def entry_view(e: dict[str, Any], zone: tzinfo = UTC) -> dict[str, Any]:
    """One timeline entry as the page shows it: words, not codes, `zone`'s time."""
    view = {"at": when(e["at"], zone), "type": e["type"]}
    if e["type"] == "message":
        inbound = e["direction"] == "in"
        view |= {
            "label": "Message reçu" if inbound else "Message envoyé",
            "direction": "in" if inbound else "out",
            "from": _party(e["from"]),
            "to": _party(e["to"]),
            "subject": e["subject"] or "(sans objet)",
            "outcome": (e.get("outcome") or e["status"]) if inbound else e["status"],
            "purpose": e.get("purpose"),
        }
    elif e["type"] == "state":
        old = STATES.get(e["from"] or "", e["from"] or "–")
        view |= {"label": "Changement d'état", "change": f"{old} → {STATES.get(e['to'], e['to'])}"}
        view["cause"] = e["cause"] or "–"
    else:
        view |= {"label": e["type"], "cause": e["cause"] or "–"}
    return view


def request_view(tl: dict[str, Any], zone: tzinfo = UTC) -> dict[str, Any]:
    return {
        "id": tl["id"],
        "state": STATES.get(tl["state"], tl["state"]),
        "kind": KINDS.get(tl["kind"] or "", UNKNOWN_FR),
        "trade": tl["trade"] or UNKNOWN_FR,
        "place": tl["commune"] or (tl["department"] or "").upper() or UNKNOWN_FR,
        "age": "–" if tl["age"] is None else f"{tl['age']} ans",
        "minor": is_minor(tl["minor"], tl["age"]),
        "situation": SITUATIONS.get(stats_keys.situation_key(tl["situation"]), UNKNOWN_FR),
        "created": when(tl["created_at"], zone),
        "first_answer": when(tl["first_answer_at"], zone),
        "entries": [entry_view(e, zone) for e in tl["timeline"]],
    }


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build(year: int, zone: tzinfo = UTC) -> dict[str, str]:
    """Relative path -> HTML of every page of `year`'s site: the local year of `zone`,
    times in `zone` (named on every page)."""
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
            **common, root="", **overview(mask(section), hours)
        ),
        "requests.html": env.get_template("requests.html").render(
            **common, root="", rows=mask([request_row(r, zone) for r in requests])
        ),
    }
    page = env.get_template("request.html")
    for r in requests:
        view = mask(request_view(request_timeline(r), zone))
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


def make_report(year: int, out: Path, zone: tzinfo = UTC) -> int:
    """Build and write the site (the local year of `zone`, times in `zone`), and record
    it; the number of pages written."""
    pages = build(year, zone)
    try:
        write(out, pages)
    except OSError as exc:
        raise MailflowError(f"--out {out}: {exc.strerror or exc}") from None
    log_event("report", f"report {year} written to {out.resolve()}: {len(pages)} pages")
    return len(pages)
