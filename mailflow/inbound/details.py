"""The person answers our request for details: the request waiting in `needs_info` is
completed (needs_info -> offered, or unmatched), instead of a second one being opened.

The help mail (templates/mails/help.txt) goes from the shared address, threaded under the
person's first mail; a reply to it, or any new mail of theirs to the shared address, comes
back there without a relay token. The request it completes is the one whose help mail it
answers (In-Reply-To / References), else their latest one waiting for details. Whatever
they add is appended to the request's message and kept on the request even when the trade
is still unknown (core/completion.py): what the new mail says wins, what it does not say
(place, age...) is kept from the first one. Still no trade: services/unclear.py answers.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import local_today, stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import header_text, message_id_of, message_ids
from mailflow.core.completion import completed
from mailflow.core.minors import likely_under_15
from mailflow.core.readable import readable_text, subject_of
from mailflow.masking.scrub import Secret, scrub_text
from mailflow.services.intake import NEEDS_INFO, request_fields, route_request
from mailflow.services.unclear import answer_unclear
from mailflow.store.models import InboundMessage, OutboundMail, Person, Request
from mailflow.store.record import log_event
from mailflow.understand.mail import understand


def pending_request(address: str, msg: EmailMessage) -> Request | None:
    """The sender's request waiting for details that this mail answers, if any."""
    person = Person.get_or_none(Person.email == address.strip().lower())  # stored lower-case
    if person is None:
        return None
    waiting = list(
        Request.select()
        .where((Request.person == person) & (Request.state == lc.NEEDS_INFO))
        .order_by(Request.id.desc())
    )
    if not waiting:
        return None
    ids = message_ids(header_text(msg, "In-Reply-To")) + message_ids(header_text(msg, "References"))
    if ids:
        answered = (
            OutboundMail.select(OutboundMail.request)
            .where(
                OutboundMail.message_id.in_(ids) & OutboundMail.request.in_([r.id for r in waiting])
            )
            .first()
        )
        if answered is not None:
            return next(r for r in waiting if r.id == answered.request_id)
    return waiting[0]


def complete_request(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    request: Request,
    name: str,
    address: str,
) -> str:
    """Runs inside the caller's transaction, which holds the request's lock."""
    inbound.request = request
    today = local_today(ctx.cfg.schedule.zone)  # the day a birth date is counted from
    parsed = understand(subject_of(msg), readable_text(msg), ctx.ref, ctx.understanding, today)
    secret = Secret(address=address, replacement="[adresse masquée]")
    added = scrub_text(parsed.message, [secret]).strip()
    if added:
        request.message = f"{request.message.rstrip()}\n\n{added}".strip()
    if parsed.notes:
        log_event("understood", "; ".join(parsed.notes), request=request, inbound=inbound)
    said = request_fields(request.person, parsed, address, name)
    changes = completed({key: getattr(request, key) for key in said}, said, parsed.quoted)
    for key, value in changes.items():
        setattr(request, key, value)
    if parsed.lang == "en" and request.lang != "en":  # a short first mail read as French
        request.lang = parsed.lang  # from now on, the person's mails are in English
    earlier = [(r.age, r.created_at) for r in _other_ages(request)]
    request.minor = likely_under_15(request.age, request.situation, earlier, stamp())
    request.save()
    kept = f" ({_listed(changes)})" if changes else ""
    original_id = message_id_of(msg)
    if not parsed.understood:
        log_event(
            "details",
            f"new mail from the person, still not understood: added to the request{kept}",
            request=request,
            inbound=inbound,
        )
        answer_unclear(ctx, inbound, request, address, original_id, parsed.domain)
        return NEEDS_INFO
    log_event(
        "details",
        f"the person's new mail gives the details asked for: request completed{kept}",
        request=request,
        inbound=inbound,
    )
    return route_request(ctx, inbound, request, address, original_id, msg)


def _other_ages(request: Request) -> list[Request]:
    """The ages the person gave in their other requests (core/minors.py)."""
    return list(
        Request.select(Request.age, Request.created_at).where(
            (Request.person == request.person_id)
            & (Request.id != request.id)
            & Request.age.is_null(False)
        )
    )


def _listed(changes: dict[str, object]) -> str:
    """'age 17, situation lyceen' for the log (codes stay codes there)."""
    shown = {k: v for k, v in changes.items() if k not in ("region", "insee", "postcode")}
    return ", ".join(f"{key} {value if value is not None else '-'}" for key, value in shown.items())
