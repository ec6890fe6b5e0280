"""The console's pages: each reads through the same review/ and admin/ functions as its
CLI twin (`mailflow log`, `message show`, `stats --excel`, `quarantine list`) and writes
its line in the access journal when it shows personal data.

An observer (a partner structure, an evaluator) sees the statistics and the timelines
anonymised: no name, no subject, no cause text (causes may quote people), no message; the
anonymising is done here, on the data, before any template sees it.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

from mailflow.clock import local_today
from mailflow.core import lifecycle as lc
from mailflow.core.readable import readable_text
from mailflow.errors import MailflowError
from mailflow.review.directory_view import directory_rows
from mailflow.review.log_filters import FILTER_OPTIONS, make_filter, matching_requests
from mailflow.review.log_timeline import request_timeline
from mailflow.review.messageview import message_view, raw_bytes
from mailflow.review.stats import collect as collect_stats
from mailflow.review.stats_render import render_excel, row_label, section_rows
from mailflow.store.models import Request
from mailflow.web import todo
from mailflow.web.accounts import journal
from mailflow.web.visit import COORDINATOR, Reply, Visit
from mailflow.web.words import journal_line

LIST_LIMIT = 300  # requests on one page of Demandes, newest first
DONE = {  # ?fait=...: what the action just did, said once above the page
    "fermee": "La demande est fermée.",
    "relance": "Le message sera traité de nouveau au prochain passage du service.",
    "abandon": "Le message est abandonné (il reste dans la base pour le journal).",
    "corrigee": "La demande est corrigée.",
    "confiee": "La demande est confiée à l'ambassadeur ; la personne est prévenue.",
    "rattachee": "Le doublon a rejoint cette demande.",
    "adresse": "L'adresse de l'ambassadeur fonctionne de nouveau : il peut recevoir des demandes.",
}
OBSERVER_FILTERS = ("trade", "department", "state", "since", "until", "outcome")


def _coordinator(visit: Visit) -> bool:
    return visit.account is not None and visit.account.role == COORDINATOR


def signin_form(visit: Visit) -> Reply:
    if visit.account is not None:
        return Reply(redirect="/")
    return visit.page("signin.html", message=None, email="")


def link_form(visit: Visit) -> Reply:
    """A mailed link opens this page, whose button signs in: a mail scanner that follows
    links (GET) does not spend it, and the POST carries the CSRF token."""
    return visit.page("signin_link.html", token=visit.path["token"])


def home(visit: Visit) -> Reply:
    return Reply(redirect="/a-traiter" if _coordinator(visit) else "/statistiques")


def todo_page(visit: Visit) -> Reply:
    sections = todo.collect(visit.console.rules)
    visit.record("web-view", "viewed À traiter")
    return visit.page(
        "todo.html",
        sections=sections,
        titles=todo.SECTIONS,
        done=DONE.get(visit.params.get("fait")),
    )


def requests_page(visit: Visit) -> Reply:
    allowed = FILTER_OPTIONS if _coordinator(visit) else OBSERVER_FILTERS
    given = {k: visit.params.get(k) or None for k in allowed}
    problem = None
    try:
        found = matching_requests(None, make_filter(**given), visit.console.ctx.cfg.schedule.zone)
    except MailflowError as exc:
        problem, found = str(exc), []
    rows = sorted(found, key=lambda r: r.id, reverse=True)[:LIST_LIMIT]
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v) or "no filter"
    visit.record("web-view", f"listed requests ({shown}): {len(rows)} shown")
    return visit.page(
        "requests.html",
        rows=[_row(r, _coordinator(visit)) for r in rows],
        given={k: v or "" for k, v in given.items()},
        coordinator=_coordinator(visit),
        problem=problem,
        total=len(found),
        limit=LIST_LIMIT,
    )


def _row(r: Request, named: bool) -> dict[str, Any]:
    return {
        "id": r.id,
        "created_at": r.created_at,
        "state": r.state,
        "kind": r.kind,
        "trade": r.rome_label or r.trade_text,
        "department": r.department,
        "minor": r.minor,
        "name": (r.first_name or r.person.first_name) if named else None,
    }


def _anonymised(timeline: dict[str, Any]) -> dict[str, Any]:
    """What an observer may see of a timeline: roles, states, purposes, outcomes, times."""
    keep = ("at", "type", "direction", "from_role", "to_role", "purpose", "outcome", "status")
    entries = []
    for e in timeline["timeline"]:
        entry = {k: e[k] for k in keep if k in e}
        if e["type"] == "state":
            entry.update({"from": e["from"], "to": e["to"]})
        entries.append(entry)
    fields = ("id", "state", "kind", "trade", "code_rome", "department", "minor", "situation")
    return {k: timeline[k] for k in fields} | {"timeline": entries, "anonymised": True}


def request_page(visit: Visit) -> Reply:
    request_id = visit.path["id"]
    request = Request.get_or_none(Request.id == request_id)
    if request is None:
        raise MailflowError(f"Il n'y a pas de demande n° {request_id}.")
    data = request_timeline(request)
    if not _coordinator(visit):
        data = _anonymised(data)
    visit.record("web-view", f"viewed the timeline of request #{request_id}", request_id)
    return visit.page(
        "request.html",
        r=data,
        coordinator=_coordinator(visit),
        can_close=request.state in lc.OPEN_STATES,
        done=DONE.get(visit.params.get("fait")),
    )


def message_page(visit: Visit) -> Reply:
    direction, message_id = visit.path["direction"], visit.path["id"]
    if direction not in ("entrant", "sortant"):
        raise MailflowError("Ce message n'existe pas.")
    outbound = direction == "sortant"
    view = message_view(message_id, outbound)
    raw = raw_bytes(message_id, outbound)
    want_raw = visit.params.get("brut") == "1"
    text = ""
    if raw and not want_raw:
        text = readable_text(message_from_bytes(raw, policy=policy.default))
    request_id = view["request"]["id"] if view["request"] else None
    what = "raw source" if want_raw else "text"
    visit.record("web-view", f"read the {what} of {direction} message #{message_id}", request_id)
    return visit.page(
        "message.html",
        view=view,
        direction=direction,
        text=text,
        raw=raw.decode("utf-8", "replace") if want_raw else None,
    )


def _year(visit: Visit) -> int:
    text = visit.params.get("annee", "").strip()
    if not text:
        return local_today(visit.console.ctx.cfg.schedule.zone).year
    if not text.isdigit():
        raise MailflowError(f"« {text} » n'est pas une année (par exemple 2025).")
    return int(text)


def stats_page(visit: Visit) -> Reply:
    year = _year(visit)
    doc = collect_stats(year, visit.console.ctx.cfg.schedule.zone)
    labels = visit.console.labels
    tables: list[tuple[str, list[tuple[str, Any]]]] = []
    for table, key, value in section_rows(doc["by_year"][str(year)]):
        title, _, label = row_label(labels, table, key).partition(" : ")
        if not tables or tables[-1][0] != title:
            tables.append((title, []))
        shown = "—" if value is None else str(value).replace(".", ",")
        tables[-1][1].append((label or key, shown))
    return visit.page("stats.html", year=year, tables=tables)


def stats_csv(visit: Visit) -> Reply:
    """The `stats --excel` rows: `;`, decimal comma, UTF-8 with its BOM, for French Excel."""
    year = _year(visit)
    doc = collect_stats(year, visit.console.ctx.cfg.schedule.zone)
    body = render_excel(doc, visit.console.labels).encode("utf-8")
    return Reply(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="mailflow-stats-{year}.csv"'},
    )


_AVAILABILITY = (
    ("available", "disponible"),
    ("paused", "en pause"),
    ("bouncing", "adresse en échec"),
    ("inactive", "inactif"),
    ("absent until ", "absent, de retour le "),
    ("left ", "parti le "),
)


def _availability(text: str) -> str:
    for english, french in _AVAILABILITY:
        if text.startswith(english):
            return french + text.removeprefix(english)
    return text


def ambassadors_page(visit: Visit) -> Reply:
    """The directory with each one's load and activity (`mailflow ambassadors`), read-only."""
    rows = directory_rows(visit.console.ctx.cfg.schedule.zone)
    for row in rows:
        row["availability"] = _availability(row["availability"])
    visit.record("web-view", f"viewed the ambassador directory: {len(rows)} shown")
    return visit.page("ambassadors.html", rows=rows)


def journal_page(visit: Visit) -> Reply:
    rows = [row | dict(zip(("who", "what"), journal_line(row["cause"]), strict=True))
            for row in journal()]  # fmt: skip
    visit.record("web-view", "viewed the access journal")
    return visit.page("journal.html", rows=rows)
