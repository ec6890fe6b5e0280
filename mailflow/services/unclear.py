"""Someone who does not know yet which trade: their answer to the help mail still names
none. They get a shorter mail made for that (help_unclear.txt): the trades of the family
they named that our ambassadors can talk about, or a few families to pick from, and the
promise that a coordinator will write; the coordinator is told with the request number.
Never silence: when the same answer was already sent lately, the coordinator's notice says
the person got nothing new this time. The coordinator's notice is one an hour at most: the
next ones of the hour go in the hourly summary of alerts (services/alerts.py).
"""

from __future__ import annotations

from mailflow.context import Context
from mailflow.core.alerts import AlertKind
from mailflow.services.alerts import alert, is_capped
from mailflow.services.intake import available_now, eligible
from mailflow.services.notices import notify_coordinator, reply
from mailflow.services.views import in_sentence, request_view
from mailflow.store.models import Ambassador, InboundMessage, OutboundMail, Request
from mailflow.understand.rules import Domain

MAX_TRADES = 6  # a short list a pupil reads to the end


def domain_trades(domain: Domain, only=None) -> list[dict[str, str]]:  # noqa: ANN001
    """The trades of the family that available ambassadors can talk about (title, city),
    one line per title, in alphabetical order; with `only` (intake.eligible), those the
    charter's policy lets this request reach."""
    starts = None
    for prefix in domain.rome:
        clause = Ambassador.code_rome.startswith(prefix)
        starts = clause if starts is None else starts | clause
    rows = (
        Ambassador.select(Ambassador.title, Ambassador.city)
        .where(available_now() & starts if only is None else available_now() & starts & only)
        .order_by(Ambassador.title, Ambassador.city)
    )
    seen: dict[str, dict[str, str]] = {}
    for title, city in rows.tuples():
        seen.setdefault(title.strip().lower(), {"title": in_sentence(title), "city": city})
    return list(seen.values())[:MAX_TRADES]


def answer_unclear(
    ctx: Context,
    inbound: InboundMessage,
    request: Request,
    address: str,
    original_id: str | None,
    domain_name: str | None,
) -> None:
    """The person's mail, then the coordinator's notice (runs in the caller's transaction)."""
    rules = ctx.understanding
    domain = rules.domain(domain_name)
    trades = domain_trades(domain, eligible(ctx, request)) if domain else []
    # the person's words: in English for a request written in English (rules/english.toml)
    own = rules.english if request.lang == "en" and rules.english else rules
    said = own.domain(domain_name)
    data = {
        "first_name": request.first_name,
        "domain": {"label": said.label} if said else None,
        "trades": trades,
        "domains": [d.label for d in own.domains],
    }
    told = reply(ctx, inbound, "help_unclear", address, original_id, data, request=request)
    view = request_view(request, ctx.ref)
    place = view["place"] or "lieu non précisé"
    age = f"{request.age} ans" if request.age else "âge non précisé"
    what = f"métier pas encore compris, {place}, {age}"
    if is_capped(ctx, AlertKind.HELP_UNCLEAR):  # one mail of the kind this hour already:
        if not told:  # said in the summary, as the notice would have said it
            what += " ; la personne n'a rien reçu de nouveau cette fois (réponse déjà envoyée)"
        alert(ctx, AlertKind.HELP_UNCLEAR, request.id, what)  # in the next hourly summary
        return
    shown = {"label": domain.label} if domain else None  # the coordinator reads French
    notice = {"request": view, "told": told, "domain": shown, "trades": trades}
    key = f"help_unclear_coordinator:{inbound.id}"
    notify_coordinator(ctx, inbound, "help_unclear_coordinator", notice, request=request, key=key)
    # Recorded as an alert already told by that notice (like an escalation), so the digest
    # lists it with the others of its kind and the hourly summary does not mail it twice.
    told_by = OutboundMail.get_or_none(OutboundMail.idempotency_key == key)
    alert(ctx, AlertKind.HELP_UNCLEAR, request.id, what, told_by)
