"""The flow of one inbound message, in order: parse, classify, then relay or take a request.

Ingest (ingest.py) has already stored the raw bytes; everything decided here, including the
mails it causes (outbox), is written in one transaction, so a crash replays it whole or not
at all. Sending (send.py) and the server-side move (ingest.py) come after.

Several daemons may run this at once on one database: each message is claimed inside its
transaction and the request it concerns is locked before anything is read (leases.py), so
a message is processed by exactly one of them, once, and two messages of one conversation
are decided one after the other. A conflict with another process (a unique key taken
meanwhile, a deadlock) rolls the transaction back and the message is tried again.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from .addresses import relay_token, sender
from .ambassador_mail import (
    find_ambassador,
    handle_ambassador_mail,
    note_autoreply_absence,
    refuse_stray_command,
)
from .automated import (
    record_auto_reply,
    record_spam,
    return_path_address,
    returned_mail,
    to_return_path,
)
from .bounces import handle_bounce
from .budget import CpuBudgetExceeded, cpu_budget
from .classify import AUTO_REPLY, BOUNCE, OWN_LOOP, SPAM, Classification, classify
from .clock import stamp
from .context import Context
from .crashpoints import burn_point, crash_point
from .details import complete_request, pending_request
from .ending import handle_person_stop, is_person_stop, open_requests
from .ingest import parse_headers
from .intake import handle_new_request
from .leases import claim_inbound, lock_scope, worker_name, write_transaction
from .limits import TOO_LARGE, oversize_reason, refuse_too_large
from .models import InboundMessage, Request
from .readable import subject_of
from .record import log_event
from .relay import find_conversation, handle_relay
from .resilience import DATABASE_ERRORS
from .sender_check import check_sender, held

log = logging.getLogger(__name__)

QUARANTINED = "quarantined"
NO_SENDER = "no-sender"
OWN_ADDRESS = "own-address"
CONFLICT_ATTEMPTS = 3  # a conflict with another process is retried; a lasting one quarantines
_CONFLICT_CODES = {"23505", "40001", "40P01"}  # unique violation, serialization, deadlock


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def _parse_for(ctx: Context, inbound: InboundMessage) -> EmailMessage:
    """The whole message, or only its headers when it is above the size cap and will be
    refused unread (dispatch looks at nothing else before the cap). Bounces and
    auto-replies, handled before the cap and from their body, are parsed whole."""
    raw = inbound.raw
    raw = raw if isinstance(raw, bytes) else bytes(raw)  # PostgreSQL gives a memoryview
    if oversize_reason(len(raw), ctx.cfg.limits) is None:
        return parse(raw)
    msg = parse_headers(raw)
    verdict = classify(msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain)
    return parse(raw) if verdict.outcome in (BOUNCE, AUTO_REPLY) else msg


def dispatch(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    token: str | None = None,
    verdict: Classification | None = None,
) -> str:
    """Decide what this message is and what to do; returns the named outcome."""
    token = token or relay_token(msg, ctx.cfg.relay)
    verdict = verdict or classify(
        msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain
    )
    inbound.reason = verdict.reason
    if verdict.outcome == BOUNCE:  # mapped to the mail it is about; never answered
        inbound.relay_token = token
        return handle_bounce(ctx, inbound, msg)
    if verdict.outcome != OWN_LOOP and return_path_address(msg, ctx.cfg.relay):
        if verdict.outcome == AUTO_REPLY:  # an ambassador's out-of-office may give a date
            note_autoreply_absence(ctx, inbound, msg)
        return to_return_path(ctx, inbound, msg, verdict)  # nobody writes there: recorded
    if verdict.automated:
        inbound.relay_token = token
        if verdict.outcome == SPAM:
            record_spam(ctx, inbound, msg, token, verdict)
        if verdict.outcome == AUTO_REPLY:  # an ambassador's out-of-office may give a date
            note_autoreply_absence(ctx, inbound, msg)
            record_auto_reply(ctx, inbound, msg, token)
        return verdict.outcome
    who = sender(msg)
    if who is None:
        return NO_SENDER
    name, address = who
    inbound.sender = address
    if address == ctx.cfg.relay.address.lower():
        return OWN_ADDRESS
    oversize = oversize_reason(inbound.size, ctx.cfg.limits)
    if oversize:  # kept in quarantine, the sender told; nothing forwarded
        return refuse_too_large(ctx, inbound, msg, address, oversize)
    if token:
        return handle_relay(ctx, inbound, msg, token, address)
    ambassador = find_ambassador(address)  # any registered address, even a former one
    if ambassador is not None:  # a command changes what the directory says of them
        inbound.role = "ambassador"
        unproven = check_sender(ctx, inbound, msg, "ambassador")
        return unproven or handle_ambassador_mail(ctx, inbound, msg, ambassador)
    inbound.role = "person"
    if is_person_stop(ctx, msg):  # withdraws their requests, ends their exchanges
        unproven = check_sender(ctx, inbound, msg, "person")
        return unproven or handle_person_stop(ctx, inbound, msg, address)
    refused = refuse_stray_command(ctx, inbound, msg, address)  # "PAUSE" alone, etc.
    if refused:
        return refused
    pending = pending_request(address, msg)  # their request waiting for details
    if pending is not None:
        return complete_request(ctx, inbound, msg, pending, name, address)
    return handle_new_request(ctx, inbound, msg, name, address)


def lock_for(ctx: Context, msg: EmailMessage, token: str | None, verdict: Classification) -> None:
    """Serialise with every other transaction about the same request or sender (leases.py).

    Mail that may change many requests at once takes the whole directory: a bounce or an
    out-of-office (they may reassign an ambassador's conversations) and any mail from an
    ambassador's registered address without a relay token (PAUSE, STOP, ...). A person's
    mail locks their open requests too: their STOP withdraws them all, and a new mail may
    complete the one waiting for details."""
    who = sender(msg)
    address = who[1] if who else ""
    requests: list[int] = []
    if token:
        conv, _ = find_conversation(token)
        if conv is not None:
            requests.append(conv.request_id)
        else:
            asked = Request.get_or_none(Request.feedback_token == token)
            requests += [asked.id] if asked is not None else []
    returned = returned_mail(return_path_address(msg, ctx.cfg.relay), ctx.cfg.relay)
    if returned is not None and returned.request_id is not None:
        requests.append(returned.request_id)
    wide = verdict.outcome in (BOUNCE, AUTO_REPLY) or (
        not verdict.automated and not token and bool(address) and find_ambassador(address)
    )
    if address and not verdict.automated:  # a person's STOP, or a completed request
        requests += [r.id for r in open_requests(address)]
    lock_scope(requests, [address], whole_directory=bool(wide))


def process(ctx: Context, inbound: InboundMessage) -> str | None:
    """Process one stored message exactly once; an error quarantines it, never loses it.

    None when another process has it (claimed, or processed meanwhile)."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            with cpu_budget(ctx.cfg.limits.cpu_seconds):
                return _process_claimed(ctx, inbound.id)
        except CpuBudgetExceeded as exc:  # rolled back: kept, visibly, the daemon goes on
            log.warning("message %s quarantined: %s", inbound.id, exc.reason())
            quarantine(inbound.id, exc.reason())
            return QUARANTINED
        except DATABASE_ERRORS as exc:
            if not _conflict(exc):
                raise  # a locked or absent database is passing: the message stays stored
            why = exc
        except Exception as exc:  # any other failure: keep the message, visibly
            if not _conflict(exc):
                log.exception("message %s quarantined", inbound.id)
                quarantine(inbound.id, f"{type(exc).__name__}: {exc}")
                return QUARANTINED
            why = exc
        log.warning(
            "message %s: conflict with another process (%s), try %s", inbound.id, why, attempt
        )
    quarantine(inbound.id, f"conflict repeated {CONFLICT_ATTEMPTS} times: {why}")
    return QUARANTINED


def _process_claimed(ctx: Context, inbound_id: int) -> str | None:
    with write_transaction():
        inbound = claim_inbound(inbound_id)
        if inbound is None:
            return None
        burn_point("claimed")
        msg = _parse_for(ctx, inbound)
        inbound.subject = subject_of(msg)[:998]
        token = relay_token(msg, ctx.cfg.relay)
        verdict = classify(msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain)
        lock_for(ctx, msg, token, verdict)
        outcome = dispatch(ctx, inbound, msg, token, verdict)
        kept = outcome == TOO_LARGE or held(ctx.cfg, outcome)
        status = QUARANTINED if kept else "processed"
        inbound.outcome, inbound.status, inbound.processed_at = outcome, status, stamp()
        inbound.processed_by = worker_name()
        inbound.save()
        log_event(
            "processed",
            f"inbound message: {outcome}",
            inbound=inbound,
            request=inbound.request_id,
            conversation=inbound.conversation_id,
        )
    crash_point("decided")
    return outcome


def _conflict(exc: BaseException) -> bool:
    """A clash with another process's transaction, which a new attempt resolves."""
    for candidate in (exc, *exc.args, exc.__cause__):
        if getattr(candidate, "pgcode", None) in _CONFLICT_CODES:
            return True
    return False


def quarantine(inbound_id: int, reason: str) -> None:
    """Only a message still `stored`: another process may have processed it meanwhile."""
    with write_transaction():
        done = (
            InboundMessage.update(
                status="quarantined",
                outcome=QUARANTINED,
                reason=reason[:2000],
                processed_at=stamp(),
                processed_by=worker_name(),
            )
            .where((InboundMessage.id == inbound_id) & (InboundMessage.status == "stored"))
            .execute()
        )
        if done:
            log_event("quarantine", reason[:2000], inbound=inbound_id)


def process_pending(ctx: Context) -> dict[str, int]:
    """Every stored, unprocessed message, oldest first; those another process holds are
    left to it."""
    counts: dict[str, int] = {}
    pending = InboundMessage.select(InboundMessage.id).where(InboundMessage.status == "stored")
    for row in list(pending.order_by(InboundMessage.id)):
        outcome = process(ctx, row)
        if outcome is not None:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts
