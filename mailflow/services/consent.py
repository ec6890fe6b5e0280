"""Consent for a child's request (core/consent.py decides, this module acts and records).

A request from someone likely under 15 (core/minors.py), under `[minors] consent` guardian
or review (rules/minors.toml), is held in `awaiting_consent` before anything of it goes to
an ambassador (`hold_for_consent`, called by services/intake.route_request). One Consent
row records whom we asked, from which relay tokens, and what became of it, with the reply
that decided as proof; every change is logged.

- The adult's mail comes from `relay+TOKEN@...` (`Consent.token`): only they receive it,
  their reply lands in inbound/consent_reply.py. It never names the child's address.
- The child's mail asking for an adult comes from `relay+CHILD_TOKEN@...`: the child's reply
  with an address (or a new mail with the adult in Cc) names the adult.
- Given: the request is routed (inbound/consent_reply.py, admin/minors.py), routing lives
  above this module. Refused, expired (followup/consent.py) or withdrawn: the request ends,
  both told kindly.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import consent as cs
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import header_addresses, new_token
from mailflow.core.outcomes import Outcome
from mailflow.services.ending import end_request
from mailflow.services.handover import REQUEST_CLOSED
from mailflow.services.notices import send_auto
from mailflow.services.views import trade_label
from mailflow.store.models import Consent, InboundMessage, Request
from mailflow.store.record import log_event, move_request
from mailflow.understand.first_names import first_name_or_none

AWAITING = Outcome.REQUEST_AWAITING_CONSENT
EVENT = "consent"
GUARDIAN_ROLE = "guardian"  # OutboundMail.recipient_role of the adult's mails


def needs_consent(ctx: Context, request: Request) -> bool:
    """Whether this request must wait for a consent before it is routed: a child's, under a
    policy that holds, and not consented yet."""
    if not request.minor or not ctx.rules.minors.holds:
        return False
    return not (
        Consent.select()
        .where((Consent.request_id == request.id) & (Consent.state == cs.GIVEN))
        .exists()
    )


def current_consent(request_id: int) -> Consent | None:
    """The request's latest consent row."""
    return (
        Consent.select().where(Consent.request_id == request_id).order_by(Consent.id.desc()).first()
    )


def find_consent(token: str) -> tuple[Consent | None, str | None]:
    """The consent a relay token belongs to, and whose it is (guardian or child)."""
    row = Consent.get_or_none(Consent.token == token)
    if row is not None:
        return row, GUARDIAN_ROLE
    row = Consent.get_or_none(Consent.child_token == token)
    return (row, "person") if row is not None else (None, None)


def others_in(msg: EmailMessage | None, sender: str, domain: str) -> tuple[str, ...]:
    """The other people a mail was written to (To and Cc), without the sender and our own
    addresses: an adult the child put in copy."""
    if msg is None:
        return ()
    found: list[str] = []
    for _, address in header_addresses(msg, "To") + header_addresses(msg, "Cc"):
        address = address.lower()
        if address == sender.lower() or address.rsplit("@", 1)[-1] == domain.lower():
            continue
        if address not in found:
            found.append(address)
    return tuple(found)


def child_address(request: Request, consent: Consent) -> str | None:
    """Where the child is written to: the request's person, unless an adult wrote it."""
    return None if consent.writer_is_adult else request.person.email


def mail_data(ctx: Context, request: Request, consent: Consent | None = None) -> dict[str, Any]:
    """What the consent mails show: the child's first name and the trade, never an address
    nor the child's message."""
    policy = ctx.rules.minors
    return {
        "first_name": first_name_or_none(request.first_name),
        "trade": trade_label(request),
        "days": policy.expire_after_days,
        "copy": policy.guardian_copy,
        "retention_days": ctx.cfg.privacy.retention_days,
        "coordinator": ctx.cfg.coordinator.email,
        "writer_is_adult": bool(consent and consent.writer_is_adult),
        "with_child": bool(consent and consent.with_child),
        "review": bool(consent and consent.policy == cs.REVIEW),
    }


def hold_for_consent(
    ctx: Context,
    inbound: InboundMessage | None,
    request: Request,
    address: str,
    original_id: str | None,
    msg: EmailMessage | None = None,
) -> str:
    """Hold the request in `awaiting_consent` and ask: the adult who wrote or was in Cc
    (core/consent.consent_plan), else the child for an adult's address; under the review
    policy, the coordinator (who gets the under-15 alert) while the child is told to wait."""
    policy = ctx.rules.minors
    plan = cs.consent_plan(
        policy.consent,
        address,
        others_in(msg, address, ctx.cfg.relay.domain),
        getattr(request, "writer_role", None),  # the adults' part of issue 14 adds it
    )
    consent = Consent.create(
        request_id=request.id,
        policy=cs.REVIEW if plan.ask == cs.Ask.COORDINATOR else cs.GUARDIAN,
        token=new_token(),
        child_token=new_token() if plan.child_mail else None,
        created_at=stamp(),
        writer_is_adult=plan.writer_is_adult,
    )
    move_request(request, lc.AWAITING_CONSENT, f"held for consent ({plan.ask})", inbound)
    log_event(
        EVENT,
        f"consent #{consent.id} asked ({consent.policy}, ask {plan.ask}): nothing goes to an "
        "ambassador before it is given",
        request=request,
        inbound=inbound,
    )
    if plan.ask == cs.Ask.COORDINATOR:
        _to_child(ctx, request, consent, "consent_child_review", "review", inbound, original_id)
    elif plan.adult is not None:
        ask_adult(ctx, consent, request, plan.adult, inbound, with_child=plan.with_child)
        if plan.child_mail:
            _to_child(ctx, request, consent, "consent_child_waiting", "0", inbound, original_id)
    else:
        _to_child(ctx, request, consent, "consent_child_ask", "ask", inbound, original_id)
    return AWAITING


def _to_child(
    ctx: Context,
    request: Request,
    consent: Consent,
    template: str,
    step: str,
    inbound: InboundMessage | None,
    in_reply_to: str | None = None,
) -> None:
    to = child_address(request, consent)
    if to is None:
        return
    send_auto(
        ctx,
        template,
        key=f"{template}:{consent.id}:{step}",
        to=to,
        role="person",
        data=mail_data(ctx, request, consent) | {"days_left": _days_left(ctx, consent)},
        from_token=consent.child_token,
        in_reply_to=in_reply_to,
        request=request,
        inbound=inbound,
    )


def _to_adult(
    ctx: Context,
    request: Request,
    consent: Consent,
    template: str,
    key: str,
    inbound: InboundMessage | None,
    in_reply_to: str | None = None,
    **extra: Any,
) -> None:
    if not consent.adult_address:
        return
    send_auto(
        ctx,
        template,
        key=key,
        to=consent.adult_address,
        role=GUARDIAN_ROLE,
        data=mail_data(ctx, request, consent) | {"days_left": _days_left(ctx, consent)} | extra,
        from_token=consent.token,
        in_reply_to=in_reply_to,
        request=request,
        inbound=inbound,
    )


def _days_left(ctx: Context, consent: Consent) -> int:
    since = consent.asked_at or consent.created_at
    left = ctx.rules.minors.expire_after_days - (stamp() - since).days
    return max(left, 1)


def ask_adult(
    ctx: Context,
    consent: Consent,
    request: Request,
    adult: str,
    inbound: InboundMessage | None,
    *,
    with_child: bool = False,
) -> None:
    """The adult gets the mail explaining the programme, from the consent's relay token;
    reminders and expiry count from now."""
    consent.adult_address = adult.lower()
    consent.asked_at, consent.reminders_sent, consent.with_child = stamp(), 0, with_child
    consent.save()
    log_event(
        EVENT,
        f"consent #{consent.id}: the adult is asked"
        + (" (they wrote the request)" if consent.writer_is_adult else "")
        + (" (in copy of the child's mail)" if with_child else ""),
        request=request,
        inbound=inbound,
    )
    _to_adult(
        ctx, request, consent, "consent_adult_ask", f"consent-ask:{consent.id}:{adult}", inbound
    )


def give(
    ctx: Context,
    consent: Consent,
    request: Request,
    inbound: InboundMessage | None,
    *,
    copy_asked: bool = False,
    by: str = "adult",
) -> None:
    """Record the consent given (the caller routes the request next)."""
    consent.state, consent.decided_at, consent.decided_by = cs.GIVEN, stamp(), by
    consent.proof_inbound_id = inbound.id if inbound is not None else None
    consent.guardian_copy = (  # an adult who wrote is the exchange's party, not in copy
        bool(consent.adult_address)
        and not consent.writer_is_adult
        and cs.keeps_copy(ctx.rules.minors.guardian_copy, copy_asked)
    )
    consent.save()
    proof = f"reply message #{inbound.id}" if inbound is not None else "the coordinator's command"
    log_event(
        EVENT,
        f"consent #{consent.id} given by the {by} ({proof})"
        + ("; the adult is kept in copy" if consent.guardian_copy else ""),
        request=request,
        inbound=inbound,
    )
    _to_adult(
        ctx,
        request,
        consent,
        "consent_given_adult",
        f"consent-given:{consent.id}",
        inbound,
        message_id_of_inbound(inbound),
        copy_kept=consent.guardian_copy,
    )


def keep_in_copy(ctx: Context, consent: Consent, request: Request, inbound: InboundMessage) -> bool:
    """The adult asks, after consenting, to be kept in copy: granted when the policy lets
    them ask (returns whether it changed anything)."""
    if consent.guardian_copy or consent.writer_is_adult or ctx.rules.minors.guardian_copy != cs.ASK:
        return False
    consent.guardian_copy = True
    consent.save()
    log_event(EVENT, f"consent #{consent.id}: the adult asked to be kept in copy", request=request)
    _to_adult(
        ctx,
        request,
        consent,
        "consent_copy_adult",
        f"consent-copy:{consent.id}",
        inbound,
        message_id_of_inbound(inbound),
    )
    return True


def message_id_of_inbound(inbound: InboundMessage | None) -> str | None:
    return inbound.message_id if inbound is not None else None


def _end(
    ctx: Context,
    consent: Consent,
    request: Request,
    state: str,
    request_state: str,
    cause: str,
    inbound: InboundMessage | None,
    by: str,
) -> None:
    consent.state, consent.decided_at, consent.decided_by = state, stamp(), by
    consent.proof_inbound_id = inbound.id if inbound is not None else None
    consent.save()
    log_event(EVENT, f"consent #{consent.id} {state}: {cause}", request=request, inbound=inbound)
    if request.state in lc.OPEN_STATES and request_state in lc.TRANSITIONS[request.state]:
        end_request(ctx, request, request_state, REQUEST_CLOSED, cause, inbound)
    elif request.state in lc.OPEN_STATES:  # e.g. an exchange under way cannot "expire"
        end_request(ctx, request, lc.WITHDRAWN, REQUEST_CLOSED, cause, inbound)


def refuse(
    ctx: Context,
    consent: Consent,
    request: Request,
    inbound: InboundMessage | None,
    by: str = "adult",
) -> None:
    """The adult (or, in review, the coordinator) says no: the request ends, both told."""
    _end(ctx, consent, request, cs.REFUSED, lc.CLOSED, f"consent refused by the {by}", inbound, by)
    reply_to = message_id_of_inbound(inbound)
    key = f"consent-refused:{consent.id}"
    _to_adult(ctx, request, consent, "consent_refused_adult", key, inbound, reply_to)
    _to_child(ctx, request, consent, "consent_refused_child", "refused", inbound)


def withdraw(ctx: Context, consent: Consent, request: Request, inbound: InboundMessage) -> None:
    """The adult withdraws a consent given: the exchange ends (the ambassador told kindly,
    with no reason that names anyone: services/ending.py), the child and the adult told."""
    _end(
        ctx,
        consent,
        request,
        cs.WITHDRAWN,
        lc.WITHDRAWN,
        "the adult withdrew their consent",
        inbound,
        "adult",
    )
    key = f"consent-withdrawn:{consent.id}"
    _to_adult(ctx, request, consent, "consent_withdrawn_adult", key, inbound, inbound.message_id)
    _to_child(ctx, request, consent, "consent_withdrawn_child", "withdrawn", inbound)


def remind(ctx: Context, consent: Consent, request: Request) -> str:
    """The next reminder: to the adult once asked, else to the child for an address."""
    consent.reminders_sent += 1
    consent.reminded_at = stamp()
    consent.save()
    n = consent.reminders_sent
    who = "adult" if consent.adult_address else "child"
    log_event(EVENT, f"consent #{consent.id}: reminder {n} to the {who}", request=request)
    if consent.adult_address:
        key = f"consent-remind:{consent.id}:{consent.adult_address}:{n}"
        _to_adult(ctx, request, consent, "consent_adult_reminder", key, None)
    else:
        _to_child(ctx, request, consent, "consent_child_reminder", f"remind-{n}", None)
    return "consent-reminded"


def expire(ctx: Context, consent: Consent, request: Request) -> str:
    """No consent in time: the request expires, with a kind word to both."""
    days = ctx.rules.minors.expire_after_days
    _end(
        ctx,
        consent,
        request,
        cs.EXPIRED,
        lc.EXPIRED,
        f"no consent within {days} days",
        None,
        "expiry",
    )
    _to_adult(ctx, request, consent, "consent_expired_adult", f"consent-expired:{consent.id}", None)
    _to_child(ctx, request, consent, "consent_expired_child", "expired", None)
    return "consent-expired"


def copy_consent(request: Request) -> Consent | None:
    """The given consent whose adult is kept in copy of the exchange, if any."""
    return (
        Consent.select()
        .where(
            (Consent.request_id == request.id)
            & (Consent.state == cs.GIVEN)
            & (Consent.guardian_copy == True)  # noqa: E712 - peewee expression
            & Consent.adult_address.is_null(False)
        )
        .order_by(Consent.id.desc())
        .first()
    )
