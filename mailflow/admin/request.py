"""The coordinator's hand on one request: `mailflow request assign`, `close` and `merge`.

`set ID --trade ... --age ...` corrects what was understood (admin/correction.py); `assign`
takes the same options, applied before the mails are written.

`assign ID EMAIL` offers an open request to the ambassador named, with the usual mails:
the introduction to the ambassador, and to the person the news in words that fit (ack.txt
for a request waiting for details, found.txt for an unmatched one, reassigned.txt or
handover.txt when it leaves another ambassador, whose relay addresses then close). It
refuses an ambassador who left, was deactivated or whose address bounces; one who is
paused, absent or at capacity only with `force`. The trade is not checked: the coordinator
knows best.

`close ID` ends an open request: `closed`, or `withdrawn` (the person gave up), with the
reason in the log. Nobody is mailed unless `notify`: the coordinator usually closes after
talking to the person, or because the request is a duplicate or a mistake; with `notify`
the person gets a kind last mail and the ambassador of a live exchange a short notice.
Either way the relay addresses close, and a later mail through them is answered with a
notice saying the request is closed. A duplicate is not closed but merged: closing it
leaves it counted as a request of its own.

`merge A B` makes B, a duplicate of A from the same person, join A (see `merge`).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from mailflow.admin.correction import Given, apply, resolve
from mailflow.admin.directory import normalise_email
from mailflow.clock import local_today, stamp
from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.core.charter import Refusal, refusal
from mailflow.core.duplicates import PLACE, completion
from mailflow.core.route import Candidate
from mailflow.errors import MailflowError
from mailflow.services.charter import need_for, standing_of
from mailflow.services.consent import needs_consent
from mailflow.services.ending import end_request
from mailflow.services.handover import (
    COORDINATOR,
    REQUEST_CLOSED,
    close_conversation,
    open_conversations,
)
from mailflow.services.intake import offer
from mailflow.services.notices import send_auto
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.leases import lock_routing, lock_scope, write_transaction
from mailflow.store.models import Ambassador, Conversation, Request
from mailflow.store.record import log_event, move_request

ASSIGNABLE = (lc.NEEDS_INFO, lc.UNMATCHED, lc.OFFERED, lc.ANSWERED, lc.IN_CONVERSATION)


@dataclass(frozen=True)
class Named:
    """The coordinator's choice, in the shape `intake.offer` takes (a route.Choice)."""

    candidate: Candidate
    why: str


def _request(request_id: int) -> Request:
    request = Request.get_or_none(Request.id == request_id)
    if request is None:
        raise MailflowError(f"no request #{request_id}")
    return request


def _ambassador(address: str) -> Ambassador:
    try:
        email = normalise_email(address)
    except ValueError as exc:
        raise MailflowError(f"{address!r} is not an email address: {exc}") from exc
    ambassador = Ambassador.get_or_none(fn.LOWER(Ambassador.email) == email)
    if ambassador is None:
        raise MailflowError(f"no ambassador with the address {email}")
    return ambassador


def _busy(ambassador: Ambassador) -> list[str]:
    """Why routing would not choose them now (what --force overrides)."""
    reasons = []
    if ambassador.paused:
        reasons.append("paused")
    if ambassador.absent_until is not None and ambassador.absent_until > stamp():
        reasons.append(f"absent until {ambassador.absent_until:%Y-%m-%d}")
    load = (
        Conversation.select()
        .where((Conversation.ambassador == ambassador) & (Conversation.state == "open"))
        .count()
    )
    if load >= ambassador.capacity:
        reasons.append(f"at capacity ({load} open of {ambassador.capacity})")
    return reasons


def _unvetted(ctx: Context, ambassador: Ambassador, request: Request) -> list[str]:
    """What the charter's policy misses for this ambassador and request (core/charter.py)."""
    need = need_for(ctx, request.minor)
    why = refusal(standing_of(ambassador), need, local_today(ctx.cfg.schedule.zone))
    return [CHARTER_REASONS[why]] if why is not None else []


CHARTER_REASONS = {
    Refusal.UNSIGNED: "without the charter in force accepted",
    Refusal.MINORS_NOT_COVERED: "without a charter covering minors (the request is under 15)",
    Refusal.NO_CHECK: "without an honorability check (the request is under 15)",
    Refusal.CHECK_EXPIRED: "with an honorability check not valid today (the request is under 15)",
}


def set_fields(ctx: Context, request_id: int, given: Given) -> str:
    """Correct what was understood of the request; returns a one-line summary."""
    if not given.any():
        raise MailflowError(
            "rien à corriger : donnez --trade, --kind, --place, --department, --age ou --situation"
        )
    columns = resolve(given, ctx.ref, ctx.understanding)
    with write_transaction():
        lock_scope([request_id])
        request = _request(request_id)
        cause = apply(request, columns)
    if cause is None:
        return f"demande n°{request.id} : rien ne change"
    summary = f"demande n°{request.id} corrigée ({cause.split(': ', 1)[1]})"
    if request.state in (lc.NEEDS_INFO, lc.UNMATCHED):
        summary += (
            f" ; elle attend toujours un ambassadeur : mailflow request assign {request.id} ADRESSE"
        )
    return summary


def assign(
    ctx: Context, request_id: int, address: str, force: bool = False, given: Given | None = None
) -> str:
    """Offer the request to this ambassador (after the coordinator's corrections, when
    given); returns a one-line summary."""
    columns = resolve(given, ctx.ref, ctx.understanding) if given else {}
    with write_transaction():
        lock_scope([request_id])
        request = _request(request_id)
        if request.state not in ASSIGNABLE:
            raise MailflowError(
                f"request #{request.id} is {request.state}: only a request "
                f"{', '.join(ASSIGNABLE)} can be assigned"
            )
        if needs_consent(ctx, request):  # a child's request: the consent comes first
            raise MailflowError(
                f"request #{request.id} is from a child under 15 and has no consent yet "
                f"(rules/minors.toml); `mailflow minors approve {request.id}` routes it"
            )
        a = _ambassador(address)
        who = f"ambassador #{a.id} ({a.email})"
        if not a.active:
            left = "left the network" if a.left_at else "is deactivated in the directory"
            raise MailflowError(f"{who} {left}: nothing assigned")
        if a.bounce_state == "failing":
            raise MailflowError(
                f"{who}: the address bounces; once it works again, "
                f"`mailflow ambassadors clear-bounce {a.email}`, then assign"
            )
        current = open_conversations(request=request)
        if any(c.ambassador_id == a.id for c in current):
            raise MailflowError(f"request #{request.id} is already with {who}")
        lock_routing()  # the load read below stays true until commit
        busy = _busy(a) + _unvetted(ctx, a, request)
        if busy and not force:
            raise MailflowError(f"{who} is {', '.join(busy)}: add --force to assign anyway")
        apply(request, columns)  # the mails below read the corrected request
        cause = f"assigned by the coordinator to {who.split(' (')[0]}"
        cause += f" (forced: {', '.join(busy)})" if busy else ""
        log_event("assigned", cause, request=request)
        template, extra = {lc.UNMATCHED: "found"}.get(request.state, "ack"), {}
        for conv in current:  # the request leaves the ambassador it was with
            close_conversation(conv, COORDINATOR, cause)
            live = conv.ambassador_answered_at is not None
            template = "handover" if live else "reassigned"
            extra = {"previous": ambassador_view(conv.ambassador), "why": COORDINATOR}
        if current:
            move_request(request, lc.REASSIGNED, cause)
        candidate = Candidate(
            a.id, a.kind, a.code_rome, a.title_words, a.department, a.region, a.insee,
            a.capacity, 0, a.last_contacted_at, a.active,
        )  # fmt: skip
        offer(ctx, None, request, Named(candidate, cause), None, template, extra)
    return f"request #{request.id} offered to {who}; the person gets the {template} mail"


def close(
    ctx: Context,
    request_id: int,
    reason: str | None = None,
    withdrawn: bool = False,
    notify: bool = False,
) -> str:
    """End an open request (closed, or withdrawn); returns a one-line summary."""
    state = lc.WITHDRAWN if withdrawn else lc.CLOSED
    with write_transaction():
        lock_scope([request_id])
        request = _request(request_id)
        if request.state not in lc.OPEN_STATES:
            raise MailflowError(f"request #{request.id} is already {request.state}")
        cause = f"{state} by the coordinator" + (f": {reason.strip()}" if reason else "")
        told = end_request(ctx, request, state, REQUEST_CLOSED, cause, tell_ambassador=notify)
        if notify:
            send_auto(
                ctx,
                "request_closed_person",
                key=f"request-closed:{request.id}",
                to=request.person.email,
                role="person",
                data={"request": request_view(request, ctx.ref), "withdrawn": withdrawn},
                request=request,
            )
    mailed = "the person" + (f" and {', '.join(told)}" if told else "") if notify else "nobody"
    return f"request #{request.id} {state}; mailed: {mailed}"


def merge(ctx: Context, keep_id: int, duplicate_id: int) -> str:
    """The duplicate joins the request kept: it completes what the kept one lacks, ends
    (its relay addresses close; the ambassador of a live exchange is told), and is no
    longer counted as a request (stats, report); its messages show in the kept one's log.
    A duplicate closed already (`request close --reason doublon`) may still be merged."""
    if keep_id == duplicate_id:
        raise MailflowError("a request cannot be merged into itself")
    with write_transaction():
        lock_scope(sorted({keep_id, duplicate_id}))
        keep, duplicate = _request(keep_id), _request(duplicate_id)
        for r in (keep, duplicate):
            if r.merged_into is not None:
                raise MailflowError(f"request #{r.id} is already merged into #{r.merged_into}")
        if keep.person_id != duplicate.person_id:
            raise MailflowError(
                f"requests #{keep.id} and #{duplicate.id} are not from the same person"
            )
        fields = ("kind", "age", "situation", "first_name", "diploma", *PLACE)
        filled = completion(
            {k: getattr(keep, k) for k in fields}, {k: getattr(duplicate, k) for k in fields}
        )
        for key, value in filled.items():
            setattr(keep, key, value)
        keep.minor = keep.minor or duplicate.minor
        keep.updated_at = stamp()
        keep.save()
        cause = f"merged into request #{keep.id} by the coordinator (duplicate)"
        if duplicate.state in lc.OPEN_STATES:
            end_request(ctx, duplicate, lc.CLOSED, REQUEST_CLOSED, cause)
        duplicate.merged_into = keep.id
        duplicate.save()
        log_event("merged", cause, request=duplicate)
        completed = ", ".join(sorted(filled)) or "nothing new"  # the log keeps its codes
        log_event(
            "merged",
            f"request #{duplicate.id} merged into this one by the coordinator "
            f"(completed: {completed})",
            request=keep,
        )
    added = ", ".join(sorted(filled)) or "rien"
    return (
        f"demande n°{duplicate.id} rattachée à la n°{keep.id} (elle ne compte plus à part) ; "
        f"complété : {added}"
    )
