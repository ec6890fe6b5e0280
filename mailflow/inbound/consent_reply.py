"""Replies about a child's consent (services/consent.py asked; core/consent.py reads them).

- To the adult's consent address (`relay+TOKEN`, from the adult's address only): OUI gives
  the consent and the request is routed at once (services/intake.route_request); NON ends
  it; once given, RETIRER (or STOP) withdraws it and ends the exchange, COPIE keeps them in
  copy when the policy lets them ask; anything unclear gets "répondez OUI ou NON".
- From the child, to the child's relay address, or a new mail to the shared address while
  their request waits for an adult: the adult's address is read from the Cc or from the
  text (understand/adult_address.py), and that adult is asked.

An automatic reply never gets here (the classifier keeps it out), so it never consents.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.context import Context
from mailflow.core import consent as cs
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import message_id_of
from mailflow.core.feedback_answer import own_words
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text, subject_of
from mailflow.inbound.sender_check import check_sender
from mailflow.services import consent as consent_service
from mailflow.services.consent import GUARDIAN_ROLE, ask_adult, others_in
from mailflow.services.intake import route_request
from mailflow.services.notices import send_auto
from mailflow.store.models import Consent, InboundMessage, Person, Request
from mailflow.store.record import log_event
from mailflow.understand.adult_address import addresses_in

GIVEN = Outcome.CONSENT_GIVEN
REFUSED = Outcome.CONSENT_REFUSED
WITHDRAWN = Outcome.CONSENT_WITHDRAWN
UNCLEAR = Outcome.CONSENT_UNCLEAR
COPY = Outcome.CONSENT_COPY
OVER = Outcome.CONSENT_OVER
NAMED = Outcome.CONSENT_ADULT_NAMED
NO_ADDRESS = Outcome.CONSENT_NO_ADDRESS
AWAITING = Outcome.REQUEST_AWAITING_CONSENT


def handle_adult_reply(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, consent: Consent
) -> str:
    """Runs in the caller's transaction (the request is locked: pipeline.scope_of)."""
    request = Request.get_by_id(consent.request_id)
    inbound.request, inbound.role = request, GUARDIAN_ROLE
    own = own_words(readable_text(msg), ctx.rules.feedback)
    words = ctx.rules.minors.words
    assert words is not None  # loaded from rules/minors.toml
    read = cs.read_answer(own, subject_of(msg), words, given=consent.state == cs.GIVEN)
    log_event(
        "consent-reply",
        f"the adult answered consent #{consent.id} ({consent.state}): {read.answer}"
        + (" (asks to be in copy)" if read.copy else ""),
        request=request,
        inbound=inbound,
    )
    if consent.state not in (cs.PENDING, cs.GIVEN) or request.state in lc.FINAL_STATES:
        _short(ctx, inbound, msg, consent, request, "consent_over_adult")
        return OVER
    if consent.state == cs.PENDING:
        if read.answer == cs.Answer.YES:
            consent_service.give(ctx, consent, request, inbound, copy_asked=read.copy)
            route_request(ctx, inbound, request, request.person.email, _first_message_id(request))
            return GIVEN
        if read.answer == cs.Answer.NO:
            consent_service.refuse(ctx, consent, request, inbound)
            return REFUSED
    else:
        if read.answer == cs.Answer.WITHDRAW:
            consent_service.withdraw(ctx, consent, request, inbound)
            return WITHDRAWN
        if read.copy and consent_service.keep_in_copy(ctx, consent, request, inbound):
            return COPY
    _short(ctx, inbound, msg, consent, request, "consent_unclear")
    return UNCLEAR


def _short(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    consent: Consent,
    request: Request,
    template: str,
) -> None:
    """One short answer per reply: never a silent drop."""
    send_auto(
        ctx,
        template,
        key=f"{template}:{inbound.id}",
        to=consent.adult_address,
        role=GUARDIAN_ROLE,
        data=consent_service.mail_data(ctx, request, consent)
        | {"given": consent.state == cs.GIVEN},
        from_token=consent.token,
        in_reply_to=message_id_of(msg),
        request=request,
        inbound=inbound,
    )


def _first_message_id(request: Request) -> str | None:
    """The child's first mail, which their acknowledgement answers."""
    first = (
        InboundMessage.select(InboundMessage.message_id)
        .where(InboundMessage.request == request)
        .order_by(InboundMessage.id)
        .first()
    )
    return first.message_id if first is not None else None


# -- the child names an adult ----------------------------------------------------------------


def waiting_for_adult(address: str) -> Consent | None:
    """The pending consent of this sender's request still waiting for an adult's address
    (a child who writes again, with the adult in Cc or their address in the text)."""
    person = Person.get_or_none(Person.email == address.strip().lower())
    if person is None:
        return None
    held = Request.select(Request.id).where(
        (Request.person == person) & (Request.state == lc.AWAITING_CONSENT)
    )
    return (
        Consent.select()
        .where(
            Consent.request_id.in_(held)
            & (Consent.state == cs.PENDING)
            & (Consent.policy == cs.GUARDIAN)
            & Consent.adult_address.is_null()
            & (Consent.writer_is_adult == False)  # noqa: E712 - peewee expression
        )
        .order_by(Consent.id.desc())
        .first()
    )


def handle_child_mail(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, consent: Consent, address: str
) -> str:
    """The child's reply (or new mail) while their request waits for an adult: an adult in
    Cc, or an address in their own words, is asked; else the child is asked again, kindly."""
    request = Request.get_by_id(consent.request_id)
    inbound.request, inbound.role = request, "person"
    relay = ctx.cfg.relay
    in_copy = others_in(msg, address, relay.domain)
    own = own_words(readable_text(msg), ctx.rules.feedback)
    written = addresses_in(own, frozenset({address.lower()}), relay.domain)
    adult = in_copy[0] if in_copy else (written[0] if written else None)
    if consent.state != cs.PENDING or request.state != lc.AWAITING_CONSENT:
        log_event("consent-reply", "the child wrote: the consent is decided", request=request)
        return OVER
    if consent.policy == cs.REVIEW:  # the coordinator decides: no adult is asked by mail
        log_event("consent-reply", "the child wrote while a coordinator reviews", request=request)
        _to_child_again(ctx, inbound, msg, consent, request, address, "consent_child_review")
        return AWAITING
    if adult is None or consent.adult_address == adult:
        known = consent.adult_address is not None
        template = "consent_child_waiting" if known else "consent_child_no_address"
        log_event(
            "consent-reply",
            "the child wrote with no adult's address" if adult is None else "the child wrote",
            request=request,
            inbound=inbound,
        )
        _to_child_again(ctx, inbound, msg, consent, request, address, template)
        return NAMED if known else NO_ADDRESS
    ask_adult(ctx, consent, request, adult, inbound, with_child=bool(in_copy))
    _to_child_again(ctx, inbound, msg, consent, request, address, "consent_child_waiting")
    return NAMED


def _to_child_again(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    consent: Consent,
    request: Request,
    address: str,
    template: str,
) -> None:
    """One answer to each mail of the child, threaded under it, from the child's relay
    address (a reply there comes back here)."""
    send_auto(
        ctx,
        template,
        key=f"{template}:{consent.id}:{inbound.id}",
        to=address,
        role="person",
        data=consent_service.mail_data(ctx, request, consent),
        from_token=consent.child_token,
        in_reply_to=message_id_of(msg),
        request=request,
        inbound=inbound,
    )


def handle_consent_token(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    consent: Consent,
    side: str,
    address: str,
) -> str | None:
    """Mail to a consent's relay address from the one it was sent to; None when the sender
    is not that person (the caller refuses it as a stranger's)."""
    request = Request.get_by_id(consent.request_id)
    if side == GUARDIAN_ROLE:
        if not consent.adult_address or address.lower() != consent.adult_address:
            return None
        unproven = check_sender(ctx, inbound, msg, GUARDIAN_ROLE, request=request)
        return unproven or handle_adult_reply(ctx, inbound, msg, consent)
    if consent.writer_is_adult or address.lower() != request.person.email.lower():
        return None
    unproven = check_sender(ctx, inbound, msg, "person", request=request)
    return unproven or handle_child_mail(ctx, inbound, msg, consent, address)
