"""A message to a relay address: check the sender, forward a masked copy, track the thread."""

from __future__ import annotations

import dataclasses
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import header_text, message_id_of, message_ids
from mailflow.core.late_answer import LateAnswer, LateSituation, is_late_answer, late_answer
from mailflow.core.outcomes import Outcome
from mailflow.errors import MailflowError
from mailflow.inbound.charter_reply import handle_charter_reply
from mailflow.inbound.confirm_reply import handle_confirmation
from mailflow.inbound.consent_reply import handle_consent_token
from mailflow.inbound.feedback import handle_feedback
from mailflow.inbound.limits import explain_removed, strip_attachments, warn_cc
from mailflow.inbound.rate_hold import hold, relay_over_limit, released_by_coordinator
from mailflow.inbound.sender_check import check_sender
from mailflow.masking.message import RelaySpec, build_relayed
from mailflow.masking.scrub import Secret
from mailflow.services.charter import find_invitation
from mailflow.services.compose import LOOP_HEADER, new_message_id
from mailflow.services.confirm import find_pending, role_of
from mailflow.services.consent import GUARDIAN_ROLE, copy_consent, find_consent
from mailflow.services.ending import handle_person_stop, is_person_stop
from mailflow.services.handover import (
    EARLIER_ANSWERED,
    close_conversation,
    closed_notice_data,
    open_conversations,
    reason_of,
)
from mailflow.services.notices import notify_coordinator, reply, send_auto
from mailflow.services.ratelimit import (
    RATE_LIMITED,
    STRANGER_CAP_REACHED,
    refusals_last_day,
)
from mailflow.services.structures import tell_adviser
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.leases import lock_scope, write_transaction
from mailflow.store.models import (
    Ambassador,
    Conversation,
    InboundMessage,
    MessageIdMap,
    OutboundMail,
    Request,
)
from mailflow.store.outbox import queue_mail
from mailflow.store.record import log_event, move_request
from mailflow.transport.ingest import content_key
from mailflow.understand.first_names import first_name_or_none

RELAYED = Outcome.RELAYED
REFUSED_STRANGER = Outcome.REFUSED_STRANGER
REFUSED_UNKNOWN = Outcome.REFUSED_UNKNOWN_TOKEN
CLOSED_NOTICE = Outcome.CLOSED_ADDRESS
LATE_RELAYED = Outcome.LATE_ANSWER_RELAYED
LATE_KEPT = Outcome.LATE_ANSWER_KEPT
DUPLICATE = Outcome.DUPLICATE  # every conversation it was addressed to had it from another copy
AMBASSADOR, PERSON = "ambassador", "person"


def find_conversation(token: str) -> tuple[Conversation | None, str | None]:
    """The conversation and the side expected to write through this token."""
    conv = Conversation.get_or_none(Conversation.ambassador_token == token)
    if conv is not None:
        return conv, AMBASSADOR
    conv = Conversation.get_or_none(Conversation.person_token == token)
    return (conv, PERSON) if conv is not None else (None, None)


def handle_relay(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    token: str,
    address: str,
    also: tuple[tuple[Conversation, str], ...] = (),
) -> str:
    """Runs inside the caller's transaction. `also`: the other open conversations (and the
    sender's side in each) the message was addressed to; it goes to each of them too, once
    (relay_targets.py), or, over the hourly cap in any of them, to none yet."""
    conv, side = find_conversation(token)
    inbound.relay_token = token
    if conv is None:
        request = Request.get_or_none(Request.feedback_token == token)
        if request is not None and address == request.person.email.lower():
            inbound.request, inbound.role = request, PERSON
            unproven = check_sender(ctx, inbound, msg, PERSON, request=request)
            if unproven:
                return unproven
            if is_person_stop(ctx, msg):
                return handle_person_stop(ctx, inbound, msg, address)
            return handle_feedback(ctx, inbound, msg, request, address)
        consent, whose = find_consent(token)  # about a child's consent (services/consent.py)
        if consent is not None and whose is not None:
            handled = handle_consent_token(ctx, inbound, msg, consent, whose, address)
            if handled is not None:  # None: not from the one it was sent to, a stranger
                return handled
        pending = find_pending(token)  # the answer to a confirmation mail (services/confirm.py)
        if pending is not None and address == pending.address:
            unproven = check_sender(ctx, inbound, msg, role_of(pending.kind))
            return unproven or handle_confirmation(ctx, inbound, msg, pending)
        invited = find_invitation(token)  # the answer to the charter (services/charter.py)
        ambassador = (
            Ambassador.get_or_none(Ambassador.id == invited.ambassador_id) if invited else None
        )
        if invited is not None and ambassador is not None and address == ambassador.email.lower():
            unproven = check_sender(ctx, inbound, msg, AMBASSADOR)
            return unproven or handle_charter_reply(ctx, inbound, msg, invited, ambassador)
        inbound.role = "stranger"
        return _refuse(ctx, inbound, msg, None, address, REFUSED_UNKNOWN, "unknown relay token")
    inbound.conversation, inbound.request = conv, conv.request
    if not is_party(conv, side, address):
        inbound.role = "stranger"
        why = f"sender is not the conversation's {side}"
        return _refuse(ctx, inbound, msg, conv, address, REFUSED_STRANGER, why)
    inbound.role = side
    unproven = check_sender(ctx, inbound, msg, side, conversation=conv, request=conv.request)
    if unproven:  # a forged party: nothing forwarded, nobody answered
        return unproven
    if side == PERSON and is_person_stop(ctx, msg):  # through any of their relay addresses
        return handle_person_stop(ctx, inbound, msg, address)
    if conv.state == "closed":
        if side == AMBASSADOR and is_late_answer(_late_situation(conv)):
            return _late_answer(ctx, inbound, msg, conv, address)
        return _closed_notice(ctx, inbound, msg, conv, side, address)
    targets = [(c, s) for c, s in ((conv, side), *also) if not relayed_before(inbound, c)]
    if not targets:  # another copy of this mail went to each of them already
        log_event(
            "duplicate",
            "a copy of this mail was relayed already: nothing forwarded",
            request=conv.request,
            conversation=conv,
            inbound=inbound,
        )
        return DUPLICATE
    if released_by_coordinator(inbound):
        log_event(
            "rate-limit-waived",
            "released from quarantine by the coordinator: relayed without the hourly cap",
            request=conv.request,
            conversation=conv,
            inbound=inbound,
        )
    elif any(relay_over_limit(ctx, inbound, c) for c, _ in targets):  # a loop stops here
        return hold(ctx, inbound, msg, conv, side, address)  # a person's mail: kept
    for target, target_side in targets:
        key = f"relay:{inbound.id}" if target.id == conv.id else f"relay:{inbound.id}:{target.id}"
        _forward(ctx, inbound, msg, target, target_side, key)
        _advance(ctx, target, target_side, inbound)
    return RELAYED


def is_party(conv: Conversation, side: str, address: str) -> bool:
    """`address` may write as `side` of the conversation: the ambassador's, the person's,
    or, on the person's side, the young person's own address an adult gave when writing
    for them (request.young_address, services/intake.note_writer)."""
    if side == AMBASSADOR:
        return address.lower() == conv.ambassador.email.lower()
    request = conv.request
    parties = {request.person.email.lower()}
    if request.young_address:
        parties.add(request.young_address.lower())
    return address.lower() in parties


def relayed_before(inbound: InboundMessage, conv: Conversation) -> bool:
    """Whether this mail, this stored copy or another copy of it (same Message-ID, sender
    and body: a Bcc'd relay address gets a delivery of its own), went to `conv` already."""
    copies = [inbound.id]
    if inbound.message_id:
        key = content_key(_raw(inbound))
        same_id = InboundMessage.select(InboundMessage.id, InboundMessage.raw).where(
            (InboundMessage.message_id == inbound.message_id) & (InboundMessage.id != inbound.id)
        )
        copies += [row.id for row in same_id if content_key(_raw(row)) == key]
    return (
        OutboundMail.select()
        .where(
            (OutboundMail.purpose == "relay")
            & (OutboundMail.conversation == conv)
            & OutboundMail.inbound.in_(copies)
        )
        .exists()
    )


def _raw(row: InboundMessage) -> bytes:
    return row.raw if isinstance(row.raw, bytes) else bytes(row.raw)


def _closed_notice(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation,
    side: str,
    address: str,
) -> str:
    """A party writing through a closed relay address gets a polite notice, once per side,
    saying why it closed and where the request stands now (services/handover.py)."""
    log_event(
        "closed-address",
        f"{side} wrote through a relay address closed ({reason_of(conv.closed_reason)}); "
        "not forwarded",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )
    reply(
        ctx,
        inbound,
        f"relay_closed_{side}",
        address,
        message_id_of(msg),
        {
            "request": request_view(conv.request, ctx.ref),
            "ambassador": ambassador_view(conv.ambassador),
            "coordinator": ctx.cfg.coordinator.email,
            **closed_notice_data(conv),
        },
        request=conv.request,
        conversation=conv,
        role=side,
        key=f"closed-notice:{conv.id}:{side}",
    )
    return CLOSED_NOTICE


def _late_situation(conv: Conversation) -> LateSituation:
    request = conv.request
    others = [c for c in request.conversations if c.id != conv.id]
    return LateSituation(
        closed_reason=reason_of(conv.closed_reason),
        ambassador_answered=conv.ambassador_answered_at is not None,
        request_state=request.state,
        others_answered=any(c.ambassador_answered_at is not None for c in others),
    )


def _late_answer(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, conv: Conversation, address: str
) -> str:
    """An ambassador answers after their offer was handed on (core/late_answer.py): relayed
    when the person has no answer yet, else kept for the coordinator; never dropped
    without a word to the ambassador and to the coordinator."""
    request = conv.request
    decision = late_answer(_late_situation(conv))
    current = open_conversations(request=request)
    data = {
        "request": request_view(request, ctx.ref),
        "ambassador": ambassador_view(conv.ambassador),
        "outcome": str(decision),
        "current": ambassador_view(current[-1].ambassador) if current else None,
        "inbound_id": inbound.id,
        "coordinator": ctx.cfg.coordinator.email,
    }
    if decision == LateAnswer.RELAYED:
        for other in current:  # they had not answered either: told kindly, offer withdrawn
            _withdraw(ctx, inbound, other, conv)
        conv.state, conv.closed_at, conv.closed_reason = "open", None, None
        conv.save()
        log_event(
            "reopened",
            f"ambassador #{conv.ambassador_id} answered after the request was handed on, "
            "before anyone else: their answer is relayed and the request is theirs again",
            request=request,
            conversation=conv,
            inbound=inbound,
        )
        if request.state in (lc.REASSIGNED, lc.UNMATCHED):
            move_request(request, lc.OFFERED, "the earlier ambassador answered late", inbound)
        _forward(ctx, inbound, msg, conv, AMBASSADOR)
        _advance(ctx, conv, AMBASSADOR, inbound)
        outcome = LATE_RELAYED
    else:
        log_event(
            "late-answer",
            f"ambassador #{conv.ambassador_id} answered after the request was handed on "
            f"({decision}): not forwarded, kept for the coordinator (message #{inbound.id})",
            request=request,
            conversation=conv,
            inbound=inbound,
        )
        outcome = LATE_KEPT
    # alerts: late-answer
    notify_coordinator(
        ctx,
        inbound,
        "late_answer_coordinator",
        data,
        request=request,
        conversation=conv,
        key=f"late-answer-coordinator:{inbound.id}",
    )
    send_auto(  # not `reply`: its once-per-interval cap would hide the next late answer
        ctx,
        "late_answer_ambassador",
        key=f"late-answer:{conv.id}:{decision}",
        to=address,
        role=AMBASSADOR,
        data=data,
        in_reply_to=message_id_of(msg),
        request=request,
        conversation=conv,
        inbound=inbound,
    )
    return outcome


def relay_late(ctx: Context, inbound_id: int) -> str:
    """The coordinator's decision on a late answer kept for them (`mailflow request
    relay-late`, named in their mail): the answer goes to the person after all, from the
    earlier ambassador's relay address, so that either may write on. The exchange already
    under way stays open (the person now has two); the ambassador is told. Returns the
    line the command prints."""
    with write_transaction():
        inbound = InboundMessage.get_or_none(InboundMessage.id == inbound_id)
        if inbound is None:
            raise MailflowError(f"no message #{inbound_id}")
        if inbound.outcome != LATE_KEPT or inbound.conversation_id is None:
            raise MailflowError(
                f"message #{inbound_id} is not a late answer kept for the coordinator "
                f"(outcome: {inbound.outcome or 'none'}); see mailflow message show {inbound_id}"
            )
        lock_scope([inbound.request_id] if inbound.request_id else [])
        conv = Conversation.get_by_id(inbound.conversation_id)
        request = conv.request
        if request.state in lc.FINAL_STATES or request.merged_into is not None:
            raise MailflowError(
                f"request #{request.id} is over ({request.state}): nothing to relay to"
            )
        if relayed_before(inbound, conv):
            return f"message n°{inbound_id} : déjà transmis à la personne, rien de plus à faire"
        conv.state, conv.closed_at, conv.closed_reason = "open", None, None
        conv.save()
        log_event(
            "reopened",
            f"the coordinator relayed the late answer of ambassador #{conv.ambassador_id} "
            f"(message #{inbound.id}): both may write on",
            request=request,
            conversation=conv,
            inbound=inbound,
        )
        msg = BytesParser(policy=policy.default).parsebytes(_raw(inbound))
        _forward(ctx, inbound, msg, conv, AMBASSADOR, key=f"relay-late:{inbound.id}")
        _advance(ctx, conv, AMBASSADOR, inbound)
        send_auto(
            ctx,
            "late_answer_relayed_ambassador",
            key=f"late-answer-relayed:{inbound.id}",
            to=conv.ambassador.email,
            role=AMBASSADOR,
            data={
                "request": request_view(request, ctx.ref),
                "ambassador": ambassador_view(conv.ambassador),
            },
            in_reply_to=message_id_of(msg),
            request=request,
            conversation=conv,
            inbound=inbound,
        )
    name = conv.ambassador.first_name
    return (
        f"demande n°{request.id} : la réponse de {name} (message n°{inbound_id}) est transmise "
        f"à la personne, et {name} en est prévenu·e"
    )


def _withdraw(
    ctx: Context, inbound: InboundMessage, other: Conversation, earlier: Conversation
) -> None:
    """The request goes back to the earlier ambassador who answered: the one who has it
    now and has not answered is thanked, with nothing left to do."""
    close_conversation(
        other,
        EARLIER_ANSWERED,
        f"ambassador #{earlier.ambassador_id}, offered this request earlier, answered",
        inbound,
    )
    send_auto(
        ctx,
        "offer_withdrawn_ambassador",
        key=f"offer-withdrawn:{other.id}",
        to=other.ambassador.email,
        role=AMBASSADOR,
        data={
            "request": request_view(other.request, ctx.ref),
            "ambassador": ambassador_view(other.ambassador),
            "earlier": ambassador_view(earlier.ambassador),
        },
        request=other.request,
        conversation=other,
        inbound=inbound,
    )


def secrets_of(ctx: Context, conv: Conversation) -> tuple[Secret, ...]:
    """Each real address is replaced by the relay address the other side knows it by."""
    relay = ctx.cfg.relay
    young = conv.request.young_address  # the young person an adult wrote for: as the person
    return (
        Secret(conv.request.person.email, relay.token_address(conv.ambassador_token)),
        Secret(conv.ambassador.email, relay.token_address(conv.person_token)),
        *((Secret(young, relay.token_address(conv.ambassador_token)),) if young else ()),
    )


def _forward(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation,
    side: str,
    key: str | None = None,
) -> None:
    relay = ctx.cfg.relay
    request, ambassador = conv.request, conv.ambassador
    if side == AMBASSADOR:  # to the person, from the masked ambassador
        display, reply_token = ambassador.first_name, conv.person_token
        recipient, role = request.person.email, PERSON
    else:
        display = first_name_or_none(request.first_name) or "Votre contact"
        reply_token, recipient, role = conv.ambassador_token, ambassador.email, AMBASSADOR
    new_id = new_message_id(relay.domain)
    original_id = message_id_of(msg) or ""
    spec = RelaySpec(
        from_display=f"{display} via {relay.display_name}",
        from_address=relay.token_address(reply_token),
        to_address=recipient,
        message_id=new_id,
        in_reply_to=_last(_mapped(conv, message_ids(header_text(msg, "In-Reply-To")))),
        references=tuple(_mapped(conv, message_ids(header_text(msg, "References")))),
        secrets=secrets_of(ctx, conv),
        extra_headers=((LOOP_HEADER, ctx.loop_marker),),
        keep_addresses=(relay.address,),
    )
    copy, removed = strip_attachments(build_relayed(msg, spec), ctx.cfg.limits)
    if original_id:
        MessageIdMap.create(conversation=conv, original_id=original_id, relayed_id=new_id)
    queue_mail(
        copy,
        key=key or f"relay:{inbound.id}",
        purpose="relay",
        envelope_from=relay.address,
        recipient=recipient,
        recipient_role=role,
        request=request,
        conversation=conv,
        inbound=inbound,
    )
    if side == AMBASSADOR:  # to a child whose adult asked to be kept in copy
        _copy_to_guardian(ctx, inbound, msg, conv, spec, key or f"relay:{inbound.id}")
    if removed:  # the sender learns what the other side did not get
        explain_removed(ctx, inbound, msg, conv, side, removed)
    warn_cc(ctx, inbound, msg, conv, side)


def _copy_to_guardian(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation,
    spec: RelaySpec,
    key: str,
) -> None:
    """The same masked copy to the adult kept in copy ([minors] guardian_copy), from their
    consent address: a reply there reaches us (RETIRER withdraws), never the ambassador,
    and neither real address is in it (the child's is replaced as in the child's copy)."""
    consent = copy_consent(conv.request)
    if consent is None:
        return
    relay = ctx.cfg.relay
    adult = consent.adult_address
    spec = dataclasses.replace(
        spec,
        from_display=f"{conv.ambassador.first_name} via {relay.display_name} (copie)",
        from_address=relay.token_address(consent.token),
        to_address=adult,
        message_id=new_message_id(relay.domain),
        in_reply_to=None,
        references=(),
        secrets=(*spec.secrets, Secret(adult, "[adresse masquée]")),
    )
    copy, _ = strip_attachments(build_relayed(msg, spec), ctx.cfg.limits)
    queue_mail(
        copy,
        key=f"guardian-copy:{key}",
        purpose="guardian_copy",
        envelope_from=relay.address,
        recipient=adult,
        recipient_role=GUARDIAN_ROLE,
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )
    log_event(
        "guardian-copy",
        f"a copy of the ambassador's mail goes to the adult (consent #{consent.id})",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )


def _mapped(conv: Conversation, ids: list[str]) -> list[str]:
    """Translate ids the sender knows into the ids the recipient received; drop the rest."""
    out: list[str] = []
    for mid in ids:
        row = MessageIdMap.get_or_none(
            (MessageIdMap.conversation == conv)
            & ((MessageIdMap.original_id == mid) | (MessageIdMap.relayed_id == mid))
        )
        if row is not None:
            partner = row.relayed_id if row.original_id == mid else row.original_id
            if partner not in out:
                out.append(partner)
    return out


def _last(ids: list[str]) -> str | None:
    return ids[-1] if ids else None


def _advance(ctx: Context, conv: Conversation, side: str, inbound: InboundMessage) -> None:
    """Record who wrote when (the follow-up policy reads it) and move the request on."""
    request, now = conv.request, stamp()
    if side == AMBASSADOR:
        conv.ambassador_last_at = now
        conv.ambassador_answered_at = conv.ambassador_answered_at or now
        if request.first_answer_at is None:
            request.first_answer_at = now
            request.save()
            tell_adviser(ctx, request, inbound)  # its partner structure, when the policy says
    else:
        conv.person_last_at = now
    conv.save()
    if side == AMBASSADOR and request.state == lc.OFFERED:
        move_request(request, lc.ANSWERED, "the ambassador replied", inbound)
    elif side == PERSON and request.state == lc.ANSWERED:
        move_request(request, lc.IN_CONVERSATION, "the person replied to the ambassador", inbound)


def _refuse(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation | None,
    address: str,
    outcome: str,
    why: str,
) -> str:
    """Nothing is forwarded. The sender gets one polite refusal (once per sender and
    interval, and within the daily cap on refusals to strangers: a forged sender must not
    get backscatter); the coordinator hears of it once a day per conversation, and once a
    day for all unknown relay addresses together; the rest is only logged."""
    request = conv.request if conv else None
    log_event(
        "refused", f"{why}: nothing forwarded", request=request, conversation=conv, inbound=inbound
    )
    reached = refusals_last_day(ctx.cfg.limits, "stranger_refused")
    if reached is not None:
        log_event(
            RATE_LIMITED,
            f"{STRANGER_CAP_REACHED}: {reached} refusals to strangers within 24 hours "
            f"(cap {ctx.cfg.limits.max_stranger_refusals_per_day})",
            request=request,
            conversation=conv,
            inbound=inbound,
        )
    else:
        reply(
            ctx,
            inbound,
            "stranger_refused",
            address,
            message_id_of(msg),
            {},
            request=request,
            conversation=conv,
            role="stranger",
        )
    _tell_coordinator(ctx, inbound, msg, conv, address)
    return outcome


def _tell_coordinator(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation | None,
    address: str,
) -> None:
    request = conv.request if conv else None
    day = stamp().date().isoformat()
    key = f"stranger:{conv.id}:{day}" if conv else f"stranger-unknown:{day}"
    earlier = OutboundMail.get_or_none(OutboundMail.idempotency_key == key)
    if earlier is not None and earlier.inbound_id != inbound.id:
        where = "this conversation" if conv else "unknown relay addresses"
        log_event(
            RATE_LIMITED,
            f"stranger_coordinator not sent: the coordinator was told today of a message "
            f"refused on {where} (mail #{earlier.id}); this one is only logged",
            request=request,
            conversation=conv,
            inbound=inbound,
        )
        return
    notify_coordinator(
        ctx,
        inbound,
        "stranger_coordinator",
        {
            "sender": address,
            "subject": header_text(msg, "Subject"),
            "conversation_id": conv.id if conv else None,
            "request_id": request.id if request else None,
            "inbound_id": inbound.id,
        },
        request=request,
        conversation=conv,
        key=key,
    )
