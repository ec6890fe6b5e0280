"""A new request: understand it, route it, introduce both sides (or explain why not)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from peewee import JOIN, fn

from mailflow.clock import local, local_today, stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.addresses import header_addresses, message_id_of, new_token
from mailflow.core.alerts import AlertKind
from mailflow.core.consent import GUARDIAN, REVIEW, MinorsPolicy
from mailflow.core.duplicates import Asked, OpenRequest, completion, joins
from mailflow.core.minors import MINOR_AGE, likely_under_15
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text, subject_of
from mailflow.core.route import (
    DEFAULT_POLICY,
    Candidate,
    Choice,
    MatchingPolicy,
    Want,
    choose,
    quality,
    stretch_of,
)
from mailflow.core.values import ParsedRequest
from mailflow.masking.scrub import Secret, scrub_text
from mailflow.services.alerts import alert
from mailflow.services.charter import need_for, vetted
from mailflow.services.compose import automatic_mail, new_message_id, render
from mailflow.services.consent import hold_for_consent, needs_consent
from mailflow.services.conversation_mail import AMBASSADOR, PERSON, relay_from
from mailflow.services.notices import notify_coordinator, reply
from mailflow.services.route_index import trade_ids
from mailflow.services.structures import attribute_request
from mailflow.services.views import ambassador_view, request_view, writer_view
from mailflow.store.leases import lock_routing
from mailflow.store.models import (
    Ambassador,
    Conversation,
    InboundMessage,
    MessageIdMap,
    Person,
    Request,
)
from mailflow.store.outbox import queue_mail
from mailflow.store.record import log_event, move_request
from mailflow.understand.first_names import first_name_or_none
from mailflow.understand.mail import understand
from mailflow.understand.referential import Referential

OFFERED = Outcome.REQUEST_OFFERED
NEEDS_INFO = Outcome.REQUEST_NEEDS_INFO
UNMATCHED = Outcome.REQUEST_UNMATCHED
JOINED = Outcome.REQUEST_JOINED
MAX_IDS = 5000  # ids read by id (best_choice); SQLite allows 32,766 parameters


def handle_new_request(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, name: str, address: str
) -> str:
    """Runs inside the caller's transaction; every mail it decides is queued there too."""
    person = _person(address)
    today = local_today(ctx.cfg.schedule.zone)  # the day a birth date is counted from
    subject, text = subject_of(msg), readable_text(msg)
    parsed = understand(subject, text, ctx.ref, ctx.understanding, today)
    repeated = _repeated(ctx, person, parsed)
    if repeated is not None:
        if not (repeated.structure or repeated.structure_kind):  # written again via a structure
            attribute_request(ctx, repeated, msg, f"{subject}\n{text}", address)
        return join_request(ctx, inbound, msg, repeated, parsed, address, name)
    request = _create_request(person, parsed, address, name)
    inbound.request = request
    log_event(
        "state", "request received by mail", request=request, inbound=inbound, new_state=lc.NEW
    )
    if parsed.notes:
        log_event("understood", "; ".join(parsed.notes), request=request, inbound=inbound)
    attribute_request(ctx, request, msg, f"{subject}\n{text}", address)
    if parsed.writer_role:
        note_writer(ctx, inbound, msg, request, parsed, address)
    if request.minor:
        alert(ctx, AlertKind.UNDER_15, request.id, minor_detail(request, ctx.rules.minors))
    original_id = message_id_of(msg)
    if not parsed.understood:
        move_request(request, lc.NEEDS_INFO, "trade or training not understood", inbound)
        reply(
            ctx,
            inbound,
            "help",
            address,
            original_id,
            {"first_name": request.first_name},
            request=request,
        )
        return NEEDS_INFO
    return route_request(ctx, inbound, request, address, original_id, msg)


def note_writer(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    request: Request,
    parsed: ParsedRequest,
    address: str,
) -> None:
    """An adult wrote for someone else: the request's log says so, with the young person's
    own address when the mail gives it ("il vous écrira de son adresse : ...") or has it in
    Cc. The conversation runs with the writer; that address (request.young_address) may
    also write through the person's relay addresses (inbound/relay.py), and is masked from
    the ambassador like the person's (docs/adults.md)."""
    relay = ctx.cfg.relay
    copied = [
        a.lower()
        for _, a in header_addresses(msg, "Cc")
        if a.lower() not in (address.lower(), relay.address.lower())
        and not a.lower().endswith(f"@{relay.domain.lower()}")
    ]
    young = parsed.young_address if parsed.young_address != address.lower() else None
    where = "given in the mail" if young else "in Cc" if copied else None
    young = young or (copied[0] if copied else None)
    said = ""
    if young:
        request.young_address = young
        request.save()
        said = (
            f"; the young person's own address ({where}): {young}, who may write through "
            "the person's relay addresses too"
        )
    log_event(
        "writer",
        f"written by an adult for someone else ({parsed.writer_role}); the conversation runs "
        f"with the writer{said}",
        request=request,
        inbound=inbound,
    )


def route_request(
    ctx: Context,
    inbound: InboundMessage | None,
    request: Request,
    address: str,
    original_id: str | None,
    msg: EmailMessage | None = None,
) -> str:
    """An understood request (new, or completed from needs_info) is offered to the best
    ambassador, or waits `unmatched` for the coordinator. A child's request waits for an
    adult's consent first (services/consent.py; `msg`: the child's mail, whose Cc may name
    the adult)."""
    if needs_consent(ctx, request):
        return hold_for_consent(ctx, inbound, request, address, original_id, msg)
    lock_routing()  # several daemons: one choice at a time sees every ambassador's load
    want = want_of(request, ctx.ref)
    choice = best_choice(want, policy=ctx.matching, only=eligible(ctx, request))
    if choice is None:
        why = unmatched_why(ctx, request, want)
        move_request(request, lc.UNMATCHED, UNMATCHED_CAUSES[why], inbound)
        view = request_view(request, ctx.ref)
        reply(ctx, inbound, "unmatched", address, original_id, {"request": view}, request=request)
        notify_coordinator(
            ctx, inbound, "unmatched_coordinator", {"request": view, "why": why}, request=request
        )
        return UNMATCHED
    offer(ctx, inbound, request, choice, original_id)
    return OFFERED


# Why a request found nobody, as the log's cause (and `why` in unmatched_coordinator.txt).
NOBODY, UNSIGNED, NOT_VETTED = "nobody", "unsigned", "not-vetted"
UNMATCHED_CAUSES = {
    NOBODY: "no available ambassador matches",
    UNSIGNED: "no available ambassador matches who accepted the charter in force",
    NOT_VETTED: "no vetted ambassador (charter covering minors and a valid honorability "
    "check) matches this request from someone under 15",
}


def eligible(ctx: Context, request: Request):  # noqa: ANN201 - a peewee expression or None
    """Who may be offered `request` under the charter's policy (services/charter.py): keyed
    on `request.minor`, on the local day (an honorability check's last day counts)."""
    return vetted(need_for(ctx, request.minor), local_today(ctx.cfg.schedule.zone))


def unmatched_why(ctx: Context, request: Request, want: Want) -> str:
    """Whether the charter's policy is what left the request without an ambassador: someone
    matches under a lighter condition (an adult's request's, or none at all)."""
    today = local_today(ctx.cfg.schedule.zone)
    if request.minor and need_for(ctx, True) != need_for(ctx, False):
        adult = vetted(need_for(ctx, False), today)
        if best_choice(want, policy=ctx.matching, only=adult) is not None:
            return NOT_VETTED
    if need_for(ctx, False) is not None and best_choice(want, policy=ctx.matching) is not None:
        return UNSIGNED if not request.minor else NOT_VETTED
    return NOBODY


def minor_detail(request: Request, policy: MinorsPolicy | None = None) -> str:
    """Why the request is flagged under 15, for the coordinator's alert, and what it waits
    for under the consent policy (rules/minors.toml)."""
    if request.age is not None and request.age < MINOR_AGE:
        why = f"âge indiqué : {request.age} ans"
    elif request.age is None and request.situation == "collegien":
        why = "au collège, âge non précisé"
    else:
        why = "d'après l'âge donné dans une demande précédente"
    waits = CONSENT_WAITS.get(policy.consent) if policy is not None else None
    return f"{why} ; {waits.format(id=request.id)}" if waits else why


CONSENT_WAITS = {  # what the alert says the request waits for, by [minors] consent
    GUARDIAN: "en attente de l'accord d'un adulte",
    REVIEW: "en attente de votre accord : mailflow minors approve {id} (ou refuse {id})",
}


def _asked(
    code_rome: str | None, trade_text: str | None, diploma: str | None, unlisted: bool
) -> Asked:
    """As ParsedRequest.understood: a ROME match, a training named with its words, or a
    trade ROME lacks (for a stored request: its words, once it left needs_info)."""
    understood = code_rome is not None or bool(trade_text and (diploma or unlisted))
    return Asked(code_rome, trade_text, understood)


def _repeated(ctx: Context, person: Person, parsed: ParsedRequest) -> Request | None:
    """The person's open request this new mail repeats (core/duplicates.py), if any.
    (A request waiting for details takes any new mail of theirs before: inbound/details.py.)"""
    code = parsed.trade.code_rome if parsed.trade else None
    open_requests = (
        Request.select()
        .where(
            (Request.person == person)
            & Request.state.in_(sorted(lc.OPEN_STATES))
            & Request.merged_into.is_null()
        )
        .order_by(Request.id)
    )
    found = {r.id: r for r in open_requests}
    window = ctx.rules.followup.duplicate_window_days
    chosen = joins(
        _asked(code, parsed.trade_text, parsed.diploma, parsed.trade_unlisted),
        [
            OpenRequest(
                r.id,
                _asked(r.code_rome, r.trade_text, r.diploma, r.state != lc.NEEDS_INFO),
                r.created_at,
            )
            for r in found.values()
        ],
        stamp(),
        window,
    )
    return found[chosen] if chosen is not None else None


FIELD_WORDS = {  # what the person is told was added (already_open.txt)
    "age": "votre âge",
    "situation": "votre situation",
    "department": "le lieu",
    "kind": "ce que vous cherchez (métier, formation ou VAE)",
    "diploma": "le diplôme",
}


def join_request(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    request: Request,
    parsed: ParsedRequest,
    address: str,
    name: str,
) -> str:
    """The same person asks again for the same thing: their open request is completed by
    what the new mail adds, and they are told kindly it is already being handled; no
    second request, no second notice to the coordinator."""
    inbound.request = request
    new = request_fields(request.person, parsed, address, name)
    filled = completion({k: getattr(request, k) for k in new}, new)
    for key, value in filled.items():
        setattr(request, key, value)
    request.minor = request.minor or new["minor"]
    added = (new["message"] or "").strip()
    if added and added not in request.message:
        request.message = f"{request.message.rstrip()}\n\n{added}".strip()
    request.updated_at = stamp()
    request.save()
    if parsed.notes:
        log_event("understood", "; ".join(parsed.notes), request=request, inbound=inbound)
    completed = ", ".join(sorted(filled)) or "nothing new"
    log_event(
        "joined",
        f"the same person asked again for the same thing: joined request #{request.id} "
        f"(completed: {completed})",
        request=request,
        inbound=inbound,
    )
    current = [c for c in request.conversations if c.state == "open"]
    told = sorted({FIELD_WORDS[k] for k in filled if k in FIELD_WORDS})
    reply(
        ctx,
        inbound,
        "already_open",
        address,
        message_id_of(msg),
        {
            "request": request_view(request, ctx.ref),
            "added": told,
            "ambassador": ambassador_view(current[-1].ambassador) if current else None,
            "asked_on": f"{local(request.created_at, ctx.cfg.schedule.zone):%d/%m/%Y}",
        },
        request=request,
        key=f"already_open:{inbound.id}",
    )
    return JOINED


def _person(address: str) -> Person:
    person, _ = Person.get_or_create(email=address, defaults={"created_at": stamp()})
    return person


def _create_request(person: Person, parsed: ParsedRequest, address: str, name: str) -> Request:
    now = stamp()
    return Request.create(
        person=person,
        state=lc.NEW,
        **request_fields(person, parsed, address, name),
        lang=parsed.lang,  # set once: a short reply ("Caen, 15") reads as French
        created_at=now,
        updated_at=now,
    )


def request_fields(person: Person, parsed: ParsedRequest, address: str, name: str) -> dict:
    """The request's columns from what was understood (the person's first name is kept
    on the person too)."""
    place = parsed.place
    secret = Secret(address=address, replacement="[adresse masquée]")
    first_name = first_name_or_none(parsed.first_name) or first_name_from_display(name)
    if first_name and person.first_name != first_name:
        person.first_name = first_name
        person.save()
    return dict(
        kind=parsed.kind,
        trade_text=parsed.trade_text,
        code_rome=parsed.trade.code_rome if parsed.trade else None,
        rome_label=parsed.trade.label if parsed.trade else None,
        diploma=parsed.diploma,
        department=place.department if place else None,
        region=place.region if place else None,
        commune=place.commune if place else None,
        insee=place.insee if place else None,
        postcode=place.postcode if place else None,
        age=parsed.age,
        minor=likely_under_15(parsed.age, parsed.situation, _ages_stated(person), stamp()),
        situation=parsed.situation,
        writer_role=parsed.writer_role,
        first_name=first_name or first_name_or_none(person.first_name),
        message=scrub_text(parsed.message, [secret]),
    )


def _ages_stated(person: Person) -> list[tuple[int, datetime]]:
    """The ages this person gave in earlier requests, with when they gave them."""
    rows = Request.select(Request.age, Request.created_at).where(
        (Request.person == person) & Request.age.is_null(False)
    )
    return [(r.age, r.created_at) for r in rows]


def first_name_from_display(display: str) -> str | None:
    """'Léa Martin' -> 'Léa'; nothing from 'lea.martin@x', 'LM' or 'Famille Martin'."""
    first = display.strip().strip('"').split(" ")[0] if display else ""
    plain = first.replace("-", "")
    if len(plain) < 2 or not plain.isalpha() or not first[0].isupper():
        return None
    if first.lower() in {"famille", "mme", "madame", "monsieur", "m.", "mr", "mrs", "ms"}:
        return None
    return first_name_or_none(first)


def want_of(request: Request, ref: Referential | None = None) -> Want:
    """What routing compares; with the referential, the codes close to the one asked
    (Referential.close_codes), tried before the rest of its domain."""
    return Want(
        kind=request.kind,
        code_rome=request.code_rome,
        title_words=request.trade_text,
        department=request.department,
        region=request.region,
        insee=request.insee,
        close_codes=ref.close_codes(request.code_rome) if ref is not None else frozenset(),
        near_codes=ref.near_codes(request.code_rome) if ref is not None else frozenset(),
    )


def available_now():  # noqa: ANN201 - a peewee expression
    """In the network, not paused, not absent at this instant (MAILFLOW_NOW included)."""
    return (
        (Ambassador.active == True)  # noqa: E712 - peewee expression
        & (Ambassador.paused == False)  # noqa: E712
        & (Ambassador.bounce_state != "failing")  # their address bounced (inbound/bounces.py)
        & (Ambassador.absent_until.is_null() | (Ambassador.absent_until <= stamp()))
    )


def best_choice(
    want: Want,
    exclude: frozenset[int] = frozenset(),
    policy: MatchingPolicy = DEFAULT_POLICY,
    only=None,  # noqa: ANN001 - a peewee expression: `eligible` (None: every available one)
) -> Choice | None:
    """`route.choose` over the whole directory, from far fewer rows: the ids that can match
    come from the in-memory trade index (route_index), their current state and load from
    the database. The same trade ranks first, so the ROME domain is only loaded when nobody
    of the same trade is free (and the policy lets a match stretch to another trade)."""
    index = trade_ids()
    for domain in (False, True):
        ids = index.matching(want, domain)
        if ids is None:
            return None
        if domain and (not want.code_rome or "trade" not in policy.allow):
            return None  # no domain without a code (the same ids again) or the policy's leave
        # Very many ids (a word in most titles of a huge directory): everyone available
        # instead, under the databases' limits on parameters; `choose` gives the same.
        wanted = sorted(ids) if len(ids) <= MAX_IDS else None
        choice = choose(want, candidates(wanted, only), exclude, policy) if ids else None
        if choice is not None:
            return choice
    return None


def candidates(ids: list[int] | None = None, only=None) -> list[Candidate]:  # noqa: ANN001
    """Every available ambassador (or those of `ids`) with their current load; with `only`
    (intake.eligible), those of them the charter's policy allows."""
    where = available_now() if ids is None else available_now() & Ambassador.id.in_(ids)
    where = where if only is None else where & only
    open_count = fn.COUNT(Conversation.id)
    columns = (
        Ambassador.id,
        Ambassador.kind,
        Ambassador.code_rome,
        Ambassador.title_words,
        Ambassador.department,
        Ambassador.region,
        Ambassador.insee,
        Ambassador.capacity,
        open_count,
        Ambassador.last_contacted_at,
        Ambassador.active,
    )
    query = (
        Ambassador.select(*columns)
        .join(
            Conversation,
            JOIN.LEFT_OUTER,
            on=(Conversation.ambassador == Ambassador.id) & (Conversation.state == "open"),
        )
        .where(where)
        .group_by(Ambassador.id)
    )
    return [Candidate(*row) for row in query.tuples()]  # tuples: no model objects to build


def offer(
    ctx: Context,
    inbound: InboundMessage | None,
    request: Request,
    choice: Choice,
    original_id: str | None,
    person_template: str = "ack",
    extra: dict | None = None,
) -> Conversation:
    """Open a conversation: the ambassador gets the introduction, the person the ack (or,
    after a reassignment, the news that someone else will answer). What differs from the
    request (route.stretch_of, also for a coordinator's choice) is stored with the offer
    and said to both sides (`stretch` in the templates). The person's mail waits until the
    server accepted the introduction: if it refuses it, the person is never told of an
    ambassador who will not hear of them (services/unreachable.py)."""
    ambassador = Ambassador.get_by_id(choice.candidate.id)
    stretched = stretch_of(want_of(request), choice.candidate)
    conv = Conversation.create(
        request=request,
        ambassador=ambassador,
        ambassador_token=new_token(),
        person_token=new_token(),
        created_at=stamp(),
        match_quality=quality(stretched),
    )
    relay = ctx.cfg.relay
    view = request_view(request, ctx.ref, keep=(relay.address,))
    view["writer"] = writer_view(request, ctx.rules.labels)  # an adult wrote for them
    data = {
        "request": view,
        "ambassador": ambassador_view(ambassador),
        "relay": relay,
        "stretch": list(stretched),
    }
    data.update(extra or {})
    intro_id, ack_id = new_message_id(relay.domain), new_message_id(relay.domain)
    intro_from, intro_token = relay_from(ctx, conv, AMBASSADOR, request)
    _, ack_token = relay_from(ctx, conv, PERSON, request)
    # Not "Marie via Ambassadeurs": Marie has not written yet, the programme has (issue 12,
    # item 9); the address is Marie's relay all the same, so that a reply reaches her.
    ack_from = f"{relay.display_name} - pour écrire à {ambassador.first_name}"
    if request.lang == "en":  # the person reads English (ack.en.txt)
        ack_from = f"{relay.display_name} - to write to {ambassador.first_name}"
    intro = automatic_mail(
        render(ctx.templates, "intro", data),
        from_display=intro_from,
        from_address=relay.token_address(intro_token),
        to_address=ambassador.email,
        message_id=intro_id,
        loop_marker=ctx.loop_marker,
    )
    ack = automatic_mail(
        render(ctx.templates, person_template, data, request.lang),
        from_display=ack_from,
        from_address=relay.token_address(ack_token),
        to_address=request.person.email,
        message_id=ack_id,
        loop_marker=ctx.loop_marker,
        in_reply_to=original_id,
        references=(original_id,) if original_id else (),
    )
    MessageIdMap.create(conversation=conv, original_id=ack_id, relayed_id=intro_id)
    common = {
        "envelope_from": relay.address,
        "request": request,
        "conversation": conv,
        "inbound": inbound,
    }
    intro_row = queue_mail(
        intro,
        key=f"intro:{conv.id}",
        purpose="intro",
        recipient=ambassador.email,
        recipient_role="ambassador",
        **common,
    )
    queue_mail(
        ack,
        key=f"{person_template}:{conv.id}",
        purpose=person_template,
        recipient=request.person.email,
        recipient_role="person",
        held_for=intro_row,
        **common,
    )
    ambassador.last_contacted_at = stamp()
    ambassador.save()
    log_event(
        "offered",
        f"offered to ambassador #{ambassador.id} ({choice.why})",
        request=request,
        conversation=conv,
        inbound=inbound,
    )
    move_request(request, lc.OFFERED, f"offered to ambassador #{ambassador.id}", inbound)
    return conv
