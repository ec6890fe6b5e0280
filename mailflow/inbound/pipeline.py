"""The flow of one inbound message, in order: parse, classify, then relay or take a request.

Ingest (ingest.py) has already stored the raw bytes; everything decided here, including the
mails it causes (outbox), is written in one transaction, so a crash replays it whole or not
at all. Sending (transport/send.py) and the server-side move (transport/ingest.py) come after.

Several daemons may run this at once on one database: each message is claimed inside its
transaction and the request it concerns is locked before anything is read (store/leases.py), so
a message is processed by exactly one of them, once, and two messages of one conversation
are decided one after the other. A conflict with another process (a unique key taken
meanwhile, a deadlock) rolls the transaction back and the message is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesFeedParser
from email.policy import Policy

from mailflow.budget import CpuBudgetExceeded, cpu_budget
from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import relay_token, relay_tokens, sender
from mailflow.core.classify import AUTO_REPLY, BOUNCE, OWN_LOOP, SPAM, Classification, classify
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import subject_of
from mailflow.crashpoints import burn_point, crash_point
from mailflow.inbound.ambassador_mail import (
    find_ambassador,
    handle_ambassador_mail,
    note_autoreply_absence,
    refuse_stray_command,
)
from mailflow.inbound.automated import (
    record_auto_reply,
    record_spam,
    return_path_address,
    returned_mail,
    to_return_path,
)
from mailflow.inbound.bounces import handle_bounce
from mailflow.inbound.confirm import AMBASSADOR, find_pending
from mailflow.inbound.details import complete_request, pending_request
from mailflow.inbound.limits import (
    TOO_DEEP,
    TOO_LARGE,
    TooManyParts,
    depth_reason,
    heavy_reason,
    oversize_reason,
    refuse_too_deep,
    refuse_too_large,
)
from mailflow.inbound.relay import find_conversation
from mailflow.inbound.relay_targets import handle_relays
from mailflow.inbound.sender_check import check_sender, held
from mailflow.services.ending import handle_person_stop, is_person_stop, open_requests
from mailflow.services.intake import handle_new_request
from mailflow.services.ratelimit import RATE_LIMITED
from mailflow.store.leases import claim_inbound, lock_scope, worker_name, write_transaction
from mailflow.store.models import InboundMessage, Request
from mailflow.store.record import log_event
from mailflow.transport.ingest import parse_headers
from mailflow.transport.resilience import DATABASE_ERRORS

log = logging.getLogger(__name__)

QUARANTINED = Outcome.QUARANTINED
NO_SENDER = Outcome.NO_SENDER
OWN_ADDRESS = Outcome.OWN_ADDRESS
PARSE_CHUNK = 1 << 16
CONFLICT_ATTEMPTS = 3  # a conflict with another process is retried; a lasting one quarantines
_CONFLICT_CODES = {"23505", "40001", "40P01"}  # unique violation, serialization, deadlock


class _PartsCap(Exception):
    pass


def parse(raw: bytes | memoryview, max_parts: int = 0) -> EmailMessage:
    """The message, fed to the parser in chunks as `BytesParser.parse` reads a file (the same
    result): `parsebytes` first decodes all of it into one string and splits that into a
    list of every line, twice the memory at the peak. A memoryview (PostgreSQL's) is read
    as it is, not copied whole. Past `max_parts` parts (0: no cap) parsing stops, and the
    headers alone come back, marked with a TooManyParts defect (limits.heavy_reason)."""
    factory = _counting_factory(max_parts) if max_parts > 0 else None
    feeder = BytesFeedParser(factory, policy=policy.default)
    view = memoryview(raw)
    try:
        for start in range(0, len(view), PARSE_CHUNK):
            feeder.feed(view[start : start + PARSE_CHUNK].tobytes())
        return feeder.close()  # type: ignore[return-value]
    except _PartsCap:
        msg = parse_headers(view.tobytes())
        msg.defects.append(TooManyParts(f"more than {max_parts} MIME parts"))
        return msg


def _counting_factory(max_parts: int) -> Callable[..., EmailMessage]:
    """The parser's message factory, raising at part `max_parts + 1`: each part costs about
    a kilobyte and half a millisecond to parse, and a 20 MB mail may hold 200,000."""
    made = -1  # the parser calls it once to try it before any part

    def factory(policy: Policy) -> EmailMessage:
        nonlocal made
        made += 1
        if made > max_parts:
            raise _PartsCap
        return EmailMessage(policy=policy)

    return factory


def _parse_for(ctx: Context, inbound: InboundMessage) -> EmailMessage:
    """The whole message, or only its headers when it is above the size cap and will be
    refused unread (dispatch looks at nothing else before the cap). Bounces and
    auto-replies, handled before the cap and from their body, are parsed whole. Parts
    nested too deeply to parse (limits.depth_reason) leave the headers only, always."""
    if depth_reason(_raw(inbound), ctx.cfg.limits) is not None:
        return parse_headers(_raw(inbound))
    raw = inbound.raw  # PostgreSQL gives a memoryview: parse reads it without a copy
    max_parts = ctx.cfg.limits.max_parts
    if oversize_reason(len(raw), ctx.cfg.limits) is None:
        return parse(raw, max_parts)
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    msg = parse_headers(raw)
    verdict = classify(msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain)
    return parse(raw, max_parts) if verdict.outcome in (BOUNCE, AUTO_REPLY) else msg


def _raw(inbound: InboundMessage) -> bytes:
    raw = inbound.raw
    return raw if isinstance(raw, bytes) else bytes(raw)  # PostgreSQL gives a memoryview


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
    # Too many bytes, parts or text to scrub: kept in quarantine, the sender told; nothing
    # forwarded (limits.py).
    oversize = oversize_reason(inbound.size, ctx.cfg.limits) or heavy_reason(msg, ctx.cfg.limits)
    if oversize:
        return refuse_too_large(ctx, inbound, msg, address, oversize)
    too_deep = depth_reason(_raw(inbound), ctx.cfg.limits)
    if too_deep:  # likewise: only its headers were read
        return refuse_too_deep(ctx, inbound, msg, address, too_deep)
    if token:  # every relay address it was sent to, this delivery's first
        tokens = relay_tokens(msg, ctx.cfg.relay)
        return handle_relays(ctx, inbound, msg, tokens if token in tokens else [token], address)
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


def lock_for(
    ctx: Context,
    msg: EmailMessage,
    token: str | None,
    verdict: Classification,
    others: list[str] | None = None,
) -> None:
    """Serialise with every other transaction about the same request or sender (store/leases.py).

    `others`: the other relay tokens it was addressed to; their requests are locked too
    (it is relayed to each of them, relay_targets.py).

    Mail that may change many requests at once takes the whole directory: a bounce or an
    out-of-office (they may reassign an ambassador's conversations) and any mail from an
    ambassador's registered address without a relay token (PAUSE, STOP, ...). A person's
    mail locks their open requests too: their STOP withdraws them all, and a new mail may
    complete the one waiting for details."""
    who = sender(msg)
    address = who[1] if who else ""
    requests: list[int] = []
    confirming = False  # the answer to an ambassador command's confirmation
    for each in [token] + (others or []) if token else []:
        conv, _ = find_conversation(each)
        if conv is not None:
            requests.append(conv.request_id)
        else:
            asked = Request.get_or_none(Request.feedback_token == each)
            requests += [asked.id] if asked is not None else []
            pending = find_pending(each) if asked is None else None  # confirm.py
            requests += [pending.request_id] if pending and pending.request_id else []
            confirming = confirming or (pending is not None and pending.kind == AMBASSADOR)
    returned = returned_mail(return_path_address(msg, ctx.cfg.relay), ctx.cfg.relay)
    if returned is not None and returned.request_id is not None:
        requests.append(returned.request_id)
    wide = verdict.outcome in (BOUNCE, AUTO_REPLY) or (
        not verdict.automated
        and (confirming or not token)
        and bool(address)
        and find_ambassador(address)
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
        tokens = relay_tokens(msg, ctx.cfg.relay)
        token = tokens[0] if tokens else None
        verdict = classify(msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain)
        lock_for(ctx, msg, token, verdict, tokens[1:])
        outcome = dispatch(ctx, inbound, msg, token, verdict)
        # a person's mail over the hourly relay cap waits there to be passed on (rate_hold.py)
        kept = outcome in (TOO_LARGE, TOO_DEEP, RATE_LIMITED) or held(ctx.cfg, outcome)
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
