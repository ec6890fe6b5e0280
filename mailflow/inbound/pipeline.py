"""The flow of one inbound message, in order: parse, classify, then relay or take a request.

`STAGES` is the flow as a table, read from top to bottom: each row names a kind of mail,
the test that recognises it (on data), what it locks and the handler that does the work and
returns the named outcome (core/outcomes.py). The first row whose test holds handles the
message. Automated mail comes first (a bounce, mail to a signed return address, an
auto-reply or spam: recorded, never answered); then mail a person wrote but that cannot be
read (no sender, our own address, too large, nested too deep); then mail to relay addresses
(relay_targets.py); then mail to the main address: an ambassador's command, a person's STOP,
a command word from a stranger, the details of a waiting request, or a new request.

Ingest (ingest.py) has already stored the raw bytes; everything decided here, including the
mails it causes (outbox), is written in one transaction, so a crash replays it whole or not
at all. Sending (transport/send.py) and the server-side move (transport/ingest.py) come after.

Several daemons may run this at once on one database: each message is claimed inside its
transaction and the request it concerns is locked before anything is read (store/leases.py), so
a message is processed by exactly one of them, once, and two messages of one conversation
are decided one after the other. What is locked is read from the same table (`lock_for`):
the locks of the stage that will handle the message. A conflict with another process (a
unique key taken meanwhile, a deadlock) rolls the transaction back and the message is tried
again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesFeedParser
from email.policy import Policy
from enum import Enum
from functools import cached_property

from mailflow.budget import CpuBudgetExceeded, cpu_budget
from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import relay_token, relay_tokens, sender
from mailflow.core.classify import AUTO_REPLY, BOUNCE, OWN_LOOP, SPAM, Classification, classify
from mailflow.core.commands import Command, command_of
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import subject_of
from mailflow.crashpoints import burn_point, crash_point
from mailflow.inbound.ambassador_mail import (
    REFUSED,
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
from mailflow.inbound.consent_reply import handle_child_mail, waiting_for_adult
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
from mailflow.inbound.rate_hold import calm_releases
from mailflow.inbound.relay import find_conversation
from mailflow.inbound.relay_targets import handle_relays
from mailflow.inbound.sender_check import check_sender, held
from mailflow.services.confirm import AMBASSADOR, find_pending
from mailflow.services.consent import find_consent
from mailflow.services.ending import handle_person_stop, is_person_stop, open_requests
from mailflow.services.intake import handle_new_request
from mailflow.services.ratelimit import RATE_LIMITED
from mailflow.store.directory import find_ambassador
from mailflow.store.leases import (
    claim_inbound,
    conflict,
    lock_scope,
    worker_name,
    write_transaction,
)
from mailflow.store.models import Ambassador, Consent, InboundMessage, Request
from mailflow.store.record import log_event
from mailflow.transport.ingest import parse_headers
from mailflow.transport.resilience import DATABASE_ERRORS

log = logging.getLogger(__name__)

QUARANTINED = Outcome.QUARANTINED
NO_SENDER = Outcome.NO_SENDER
OWN_ADDRESS = Outcome.OWN_ADDRESS
PARSE_CHUNK = 1 << 16
CONFLICT_ATTEMPTS = 3  # a conflict with another process is retried; a lasting one quarantines


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


class Mail:
    """One inbound message as the stages see it: what they test is read once, when first
    asked (the sender, the ambassador of that address, the request waiting for details)."""

    def __init__(
        self,
        ctx: Context,
        inbound: InboundMessage,
        msg: EmailMessage,
        token: str | None,
        verdict: Classification,
    ) -> None:
        self.ctx, self.inbound, self.msg = ctx, inbound, msg
        self.token, self.verdict = token, verdict

    @cached_property
    def who(self) -> tuple[str, str] | None:
        return sender(self.msg)

    @property
    def name(self) -> str:
        return self.who[0] if self.who else ""

    @property
    def address(self) -> str:
        return self.who[1] if self.who else ""

    @cached_property
    def oversize(self) -> str | None:
        limits = self.ctx.cfg.limits
        return oversize_reason(self.inbound.size, limits) or heavy_reason(self.msg, limits)

    @cached_property
    def too_deep(self) -> str | None:
        return depth_reason(_raw(self.inbound), self.ctx.cfg.limits)

    @cached_property
    def ambassador(self) -> Ambassador | None:
        return find_ambassador(self.address)  # any registered address, even a former one

    @cached_property
    def command(self) -> Command | None:
        return command_of(self.msg, self.ctx.rules.commands, strict=True)

    @cached_property
    def pending(self) -> Request | None:
        return pending_request(self.address, self.msg)

    @cached_property
    def held_child(self) -> Consent | None:
        return waiting_for_adult(self.address)


class Lock(Enum):
    """What a stage locks before anything is read (store/leases.py), so that two messages
    that may change the same things are decided one after the other."""

    REQUESTS = "the requests of its relay addresses and of the mail it answers by return path"
    SENDER = "the sender's address"
    SENDER_REQUESTS = "the sender's open requests, unless automated: a STOP withdraws them all"
    AMBASSADOR_COMMAND = (
        "the directory, if an ambassador writes without a relay address or confirms a command"
    )
    OUT_OF_OFFICE = "the directory, for an auto-reply: an out-of-office may reassign conversations"
    DIRECTORY = "the whole directory"


@dataclass(frozen=True)
class Stage:
    """One row of the flow: which kind of mail, how it is recognised (a test on the data),
    what it locks, and what is done with it (the handler returns the named outcome).
    `then`: what is recorded on the message once it goes past this stage untaken."""

    kind: str
    test: Callable[[Mail], bool]
    locks: frozenset[Lock]
    handle: Callable[[Mail], str]
    then: Callable[[Mail], None] | None = None


# -- tests (on data) and handlers (the work), in the order of STAGES


def _is_bounce(mail: Mail) -> bool:
    return mail.verdict.outcome == BOUNCE


def _bounce(mail: Mail) -> str:
    """Mapped to the mail it is about; never answered."""
    mail.inbound.relay_token = mail.token
    return handle_bounce(mail.ctx, mail.inbound, mail.msg)


def _is_to_return_path(mail: Mail) -> bool:
    own_loop = mail.verdict.outcome == OWN_LOOP
    return not own_loop and bool(return_path_address(mail.msg, mail.ctx.cfg.relay))


def _to_return_path(mail: Mail) -> str:
    """Nobody writes there: recorded."""
    if mail.verdict.outcome == AUTO_REPLY:  # an ambassador's out-of-office may give a date
        note_autoreply_absence(mail.ctx, mail.inbound, mail.msg)
    return to_return_path(mail.ctx, mail.inbound, mail.msg, mail.verdict)


def _is_automated(mail: Mail) -> bool:
    return mail.verdict.automated


def _automated(mail: Mail) -> str:
    """Spam and out-of-office recorded, never answered; the verdict is the outcome."""
    ctx, inbound, msg, token, verdict = mail.ctx, mail.inbound, mail.msg, mail.token, mail.verdict
    inbound.relay_token = token
    if verdict.outcome == SPAM:
        record_spam(ctx, inbound, msg, token, verdict)
    if verdict.outcome == AUTO_REPLY:  # an ambassador's out-of-office may give a date
        note_autoreply_absence(ctx, inbound, msg)
        record_auto_reply(ctx, inbound, msg, token)
    return verdict.outcome


def _has_no_sender(mail: Mail) -> bool:
    return mail.who is None


def _no_sender(mail: Mail) -> str:
    return NO_SENDER


def _note_sender(mail: Mail) -> None:
    mail.inbound.sender = mail.address


def _is_own_address(mail: Mail) -> bool:
    return mail.address == mail.ctx.cfg.relay.address.lower()


def _own_address(mail: Mail) -> str:
    return OWN_ADDRESS


def _is_too_large(mail: Mail) -> bool:
    return bool(mail.oversize)


def _too_large(mail: Mail) -> str:
    """Too many bytes, parts or text to scrub: kept in quarantine, the sender told (limits.py)."""
    return refuse_too_large(mail.ctx, mail.inbound, mail.msg, mail.address, mail.oversize or "")


def _is_too_deep(mail: Mail) -> bool:
    return bool(mail.too_deep)


def _too_deep(mail: Mail) -> str:
    """Likewise: only its headers were read."""
    return refuse_too_deep(mail.ctx, mail.inbound, mail.msg, mail.address, mail.too_deep or "")


def _is_relayed(mail: Mail) -> bool:
    return bool(mail.token)


def _relays(mail: Mail) -> str:
    """Every relay address it was sent to, this delivery's first (relay_targets.py)."""
    tokens = relay_tokens(mail.msg, mail.ctx.cfg.relay)
    token = mail.token or ""
    targets = tokens if token in tokens else [token]
    return handle_relays(mail.ctx, mail.inbound, mail.msg, targets, mail.address)


def _is_ambassador(mail: Mail) -> bool:
    return mail.ambassador is not None


def _ambassador_mail(mail: Mail) -> str:
    """A command changes what the directory says of them."""
    assert mail.ambassador is not None  # _is_ambassador
    mail.inbound.role = "ambassador"
    unproven = check_sender(mail.ctx, mail.inbound, mail.msg, "ambassador")
    return unproven or handle_ambassador_mail(mail.ctx, mail.inbound, mail.msg, mail.ambassador)


def _note_person(mail: Mail) -> None:
    mail.inbound.role = "person"


def _is_person_stop(mail: Mail) -> bool:
    return is_person_stop(mail.ctx, mail.msg)


def _person_stop(mail: Mail) -> str:
    """Withdraws their requests, ends their exchanges."""
    unproven = check_sender(mail.ctx, mail.inbound, mail.msg, "person")
    return unproven or handle_person_stop(mail.ctx, mail.inbound, mail.msg, mail.address)


def _is_stray_command(mail: Mail) -> bool:
    return mail.command is not None


def _stray_command(mail: Mail) -> str:
    """ "PAUSE" alone, etc., from an address that is no ambassador: refused."""
    refused = refuse_stray_command(mail.ctx, mail.inbound, mail.msg, mail.address)
    return refused or REFUSED  # always refused: the test found the command


def _child_names_an_adult(mail: Mail) -> bool:
    return mail.held_child is not None


def _child_mail(mail: Mail) -> str:
    """A child whose request waits for an adult writes again (the adult in Cc, or their
    address in the text): that adult is asked (inbound/consent_reply.py)."""
    assert mail.held_child is not None  # _child_names_an_adult
    ctx, inbound, msg = mail.ctx, mail.inbound, mail.msg
    unproven = check_sender(ctx, inbound, msg, "person")
    return unproven or handle_child_mail(ctx, inbound, msg, mail.held_child, mail.address)


def _completes_a_request(mail: Mail) -> bool:
    return mail.pending is not None


def _details(mail: Mail) -> str:
    """Their request waiting for details."""
    assert mail.pending is not None  # _completes_a_request
    return complete_request(mail.ctx, mail.inbound, mail.msg, mail.pending, mail.name, mail.address)


def _always(mail: Mail) -> bool:
    return True


def _new_request(mail: Mail) -> str:
    return handle_new_request(mail.ctx, mail.inbound, mail.msg, mail.name, mail.address)


_AUTOMATED = frozenset({Lock.REQUESTS, Lock.SENDER, Lock.OUT_OF_OFFICE})
# A person's or an ambassador's own mail. Locked alike whichever stage takes it, on purpose:
# the sender's open requests and, for an ambassador's command, the whole directory (a
# superset for the early exits, so that locking needs none of their tests).
_WRITTEN = frozenset({Lock.REQUESTS, Lock.SENDER, Lock.SENDER_REQUESTS, Lock.AMBASSADOR_COMMAND})
# Mail to a return address may be either (SENDER_REQUESTS and AMBASSADOR_COMMAND hold only
# for mail that is not automated, OUT_OF_OFFICE only for an auto-reply).
_RETURNED = _AUTOMATED | _WRITTEN

# The inbound flow, in order: the first stage whose test holds handles the message.
STAGES: tuple[Stage, ...] = (
    # automated mail, never answered
    Stage("a bounce", _is_bounce, _AUTOMATED | {Lock.DIRECTORY}, _bounce),
    Stage("to a signed return address", _is_to_return_path, _RETURNED, _to_return_path),
    Stage("automated: auto-reply, spam, list, our own loop", _is_automated, _AUTOMATED, _automated),
    # mail a person wrote: refused before it is read
    Stage("no sender", _has_no_sender, _WRITTEN, _no_sender, then=_note_sender),
    Stage("from our own address", _is_own_address, _WRITTEN, _own_address),
    Stage("too large to scrub", _is_too_large, _WRITTEN, _too_large),
    Stage("nested too deep", _is_too_deep, _WRITTEN, _too_deep),
    # to a relay address: a conversation, a feedback, a confirmation
    Stage("to relay addresses", _is_relayed, _WRITTEN, _relays),
    # to the main address
    Stage("from an ambassador", _is_ambassador, _WRITTEN, _ambassador_mail, then=_note_person),
    Stage("a person's STOP", _is_person_stop, _WRITTEN, _person_stop),
    Stage("a command from a stranger", _is_stray_command, _WRITTEN, _stray_command),
    Stage("a child names an adult for consent", _child_names_an_adult, _WRITTEN, _child_mail),
    Stage("details of a waiting request", _completes_a_request, _WRITTEN, _details),
    Stage("a new request", _always, _WRITTEN, _new_request),
)


def dispatch(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    token: str | None = None,
    verdict: Classification | None = None,
) -> str:
    """Decide what this message is and what to do (the first stage of STAGES whose test
    holds); returns the named outcome."""
    token = token or relay_token(msg, ctx.cfg.relay)
    verdict = verdict or classify(
        msg, ctx.classify, ctx.loop_marker, own_domain=ctx.cfg.relay.domain
    )
    inbound.reason = verdict.reason
    mail = Mail(ctx, inbound, msg, token, verdict)
    for stage in STAGES:
        if stage.test(mail):
            return stage.handle(mail)
        if stage.then is not None:
            stage.then(mail)
    raise AssertionError("the last stage takes every message")


def locking_stage(mail: Mail) -> Stage:
    """The stage whose locks are taken: the one that will handle the message, or the first
    of the stages left once they all lock alike. Tests are evaluated only while the stages
    left lock differently (so not the size or command tests: locking comes first)."""
    for at, stage in enumerate(STAGES):
        if len({s.locks for s in STAGES[at:]}) == 1 or stage.test(mail):
            return stage
    return STAGES[-1]


@dataclass(frozen=True)
class LockScope:
    requests: tuple[int, ...]
    addresses: tuple[str, ...]
    whole_directory: bool


def scope_of(locks: frozenset[Lock], mail: Mail, others: list[str] | None = None) -> LockScope:
    """What `locks` mean for this mail (read from the database, before anything is locked).

    `others`: the other relay tokens it was addressed to; their requests are locked too
    (it is relayed to each of them, relay_targets.py)."""
    msg, token, verdict, relay = mail.msg, mail.token, mail.verdict, mail.ctx.cfg.relay
    address = mail.address
    requests: list[int] = []
    confirming = False  # the answer to an ambassador command's confirmation
    if Lock.REQUESTS in locks:
        for each in [token] + (others or []) if token else []:
            conv, _ = find_conversation(each)
            if conv is not None:
                requests.append(conv.request_id)
            else:
                asked = Request.get_or_none(Request.feedback_token == each)
                requests += [asked.id] if asked is not None else []
                pending = find_pending(each) if asked is None else None  # confirm.py
                requests += [pending.request_id] if pending and pending.request_id else []
                consent, _ = find_consent(each) if asked is None else (None, None)
                requests += [consent.request_id] if consent is not None else []
                confirming = confirming or (pending is not None and pending.kind == AMBASSADOR)
        returned = returned_mail(return_path_address(msg, relay), relay)
        if returned is not None and returned.request_id is not None:
            requests.append(returned.request_id)
    wide = (
        Lock.DIRECTORY in locks
        or (Lock.OUT_OF_OFFICE in locks and verdict.outcome == AUTO_REPLY)
        or (
            Lock.AMBASSADOR_COMMAND in locks
            and not verdict.automated
            and (confirming or not token)
            and bool(address)
            and find_ambassador(address) is not None
        )
    )
    if Lock.SENDER_REQUESTS in locks and address and not verdict.automated:
        requests += [r.id for r in open_requests(address)]  # a STOP, a completed request
    addresses = (address,) if Lock.SENDER in locks else ()
    return LockScope(tuple(requests), addresses, wide)


def lock_for(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    token: str | None,
    verdict: Classification,
    others: list[str] | None = None,
) -> LockScope:
    """Serialise with every other transaction about the same request or sender
    (store/leases.py): the locks of the stage that will handle the message (STAGES).

    Mail that may change many requests at once takes the whole directory: a bounce or an
    out-of-office (they may reassign an ambassador's conversations) and any mail from an
    ambassador's registered address without a relay token (PAUSE, STOP, ...) or answering
    a command's confirmation. A person's mail locks their open requests too: their STOP
    withdraws them all, and a new mail may complete the one waiting for details."""
    mail = Mail(ctx, inbound, msg, token, verdict)
    scope = scope_of(locking_stage(mail).locks, mail, others)
    lock_scope(scope.requests, scope.addresses, whole_directory=scope.whole_directory)
    return scope


def release_calm(ctx: Context, now: datetime) -> Counter[str]:
    """Held mail of every conversation calm again (inbound/rate_hold.py) processed, oldest
    first, each message in its own transaction; returns the outcomes (`released-relayed`...)."""
    done: Counter[str] = Counter()
    for inbound_id in calm_releases(ctx, now):
        outcome = process(ctx, InboundMessage(id=inbound_id))
        if outcome is not None:
            done[f"released-{outcome}"] += 1
    return done


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
            if not conflict(exc):
                raise  # a locked or absent database is passing: the message stays stored
            why = exc
        except Exception as exc:  # any other failure: keep the message, visibly
            if not conflict(exc):
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
        lock_for(ctx, inbound, msg, token, verdict, tokens[1:])
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
