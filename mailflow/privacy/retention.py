"""Retention (RGPD): personal data kept only as long as needed, then anonymised.

Due `[privacy] retention_days` after its last change:

- a request that can no longer progress: closed, expired or withdrawn (judged by when it
  ended), or unmatched, which nothing moves on once the coordinator has been told (judged
  by its last change, `updated_at` or `escalated_at`; it ends as expired);
- a stored inbound mail linked to no request (a stranger's, a bounce, a quarantined mail,
  an ambassador's command...), by when it was received, with the answers it caused;
- a mail sent on no one's behalf (no request, no inbound: the digest, a newsletter) and an
  event outside any request quoting an address, by when it was sent or logged
  (retention_unlinked.py).

A person whose requests are all anonymised is forgotten altogether. The server copies of
the erased mail are queued for removal (transport/server_copies.py), and the database is compacted
once the erasure has committed (`compact_now_or_later`): the daemon's follow-ups run it in
a transaction, where a VACUUM cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import fn

from mailflow.clock import stamp
from mailflow.config import Config
from mailflow.core import lifecycle as lc
from mailflow.masking.address_scrub import ERASED, is_placeholder, scrub_addresses
from mailflow.privacy.erasure import (
    ANONYMISED,
    FINISHED_STATES,
    anonymise_request,
    anonymised_ids,
    blank,
    compact,
    find_person,
    forget_person_rows,
    scrub_everywhere,
    secure_delete,
)
from mailflow.privacy.retention_unlinked import (
    Kept,
    erase_unlinked_mail,
    expired_event_causes,
    expired_unlinked_mail,
    kept_addresses,
    scrub_event_causes,
)
from mailflow.store.leases import lock_scope, write_transaction
from mailflow.store.models import (
    Ambassador,
    Event,
    InboundMessage,
    OutboundMail,
    PendingCommand,
    Person,
    Request,
    Setting,
)
from mailflow.store.record import log_event
from mailflow.transport.server_copies import Removal, pending, remove_now

ENDED_STATES = (*FINISHED_STATES, lc.UNMATCHED)  # requests that can no longer progress
COMPACT_PENDING = "privacy.compact-pending"  # a compaction failed: the next tick tries again


@dataclass(frozen=True)
class Purged:
    """What one retention run anonymised."""

    requests: int
    mails: int  # inbound mails linked to no request
    unlinked: int = 0  # outgoing mails sent on no one's behalf
    events: int = 0  # events outside any request whose addresses were replaced

    def __bool__(self) -> bool:
        return bool(self.requests or self.mails or self.unlinked or self.events)

    def figures(self) -> str:
        """The run's figures, as its event and `privacy purge` say them."""
        return (
            f"{self.requests} request(s) and {self.mails} mail(s) linked to no request "
            f"anonymised; {self.unlinked} mail(s) sent on no one's behalf erased; "
            f"{self.events} event(s) outside any request cleared of addresses"
        )


@dataclass(frozen=True)
class PurgeReport:
    """`mailflow privacy purge`: what was (or would be) done, and the server's part."""

    requests: list[Request]
    mails: int
    unlinked: int  # outgoing mails sent on no one's behalf
    events: int  # events outside any request quoting addresses
    server: Removal | None  # None: nothing was to remove from the server (or a dry run)


def _limit(retention_days: int, now: datetime) -> datetime:
    naive = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    return naive - timedelta(days=retention_days)


def expired_requests(retention_days: int, now: datetime) -> list[Request]:
    """Requests that can no longer progress, unchanged for longer than the retention period
    and not yet anonymised."""
    limit = _limit(retention_days, now)
    ended = (Request.state << FINISHED_STATES) & (
        fn.COALESCE(Request.closed_at, Request.updated_at) < limit
    )
    stuck = (
        (Request.state == lc.UNMATCHED)
        & (Request.updated_at < limit)
        & (Request.escalated_at.is_null() | (Request.escalated_at < limit))
    )
    return list(
        Request.select()
        .where((ended | stuck) & ~(Request.id << anonymised_ids()))
        .order_by(Request.id)
    )


def last_change(request: Request) -> datetime:
    """When retention starts counting for this request."""
    if request.state in FINISHED_STATES and request.closed_at:
        return request.closed_at
    return max(d for d in (request.updated_at, request.escalated_at) if d is not None)


def expired_inbound(retention_days: int, now: datetime) -> list[InboundMessage]:
    """Processed inbound mail linked to no request, received before the retention period,
    not yet anonymised (read without its bytes)."""
    done = Event.select(Event.inbound).where(
        (Event.kind == ANONYMISED) & Event.inbound.is_null(False)
    )
    columns = (InboundMessage.id, InboundMessage.sender, InboundMessage.status)
    return list(
        InboundMessage.select(*columns)
        .where(
            InboundMessage.request.is_null()
            & InboundMessage.conversation.is_null()
            & (InboundMessage.status != "stored")  # not processed yet: not ours to erase
            & (InboundMessage.received_at < _limit(retention_days, now))
            & ~(InboundMessage.id << done)
        )
        .order_by(InboundMessage.id)
    )


def anonymise_inbound(inbound: InboundMessage, cause: str, kept: Kept) -> int:
    """A mail linked to no request: its bytes, subject and sender go, and so do the answers
    it caused (the coordinator keeps being named as the recipient of a notice), and the
    addresses its quarantine reason quotes. A quarantined one is dropped: there is nothing
    left to retry."""
    erased = blank(InboundMessage.select().where(InboundMessage.id == inbound.id))
    caused = (OutboundMail.inbound == inbound.id) & OutboundMail.request.is_null()
    erased += blank(OutboundMail.select().where(caused), cancel_queued=True)
    OutboundMail.update(recipient=ERASED).where(
        caused & (OutboundMail.recipient_role != "coordinator")
    ).execute()
    changes: dict[Any, Any] = {InboundMessage.sender: ERASED if inbound.sender else None}
    reason = InboundMessage.get_by_id(inbound.id).reason
    if reason:
        changes[InboundMessage.reason] = scrub_addresses(reason, kept)
    if inbound.status == "quarantined":
        changes[InboundMessage.status] = "dropped"
    InboundMessage.update(changes).where(InboundMessage.id == inbound.id).execute()
    log_event(ANONYMISED, f"{cause}: mail linked to no request erased", inbound=inbound.id)
    return erased


def anonymise_expired(ctx_or_cfg: Any, now: datetime) -> Purged:
    """The retention job: anonymise what is due at `now`; a person with nothing left is
    forgotten altogether. Runs in one transaction (a savepoint inside the daemon's step);
    the caller compacts after the commit (`compact_now_or_later`)."""
    cfg: Config = getattr(ctx_or_cfg, "cfg", ctx_or_cfg)
    days = cfg.privacy.retention_days
    due = expired_requests(days, now)
    mails = expired_inbound(days, now)
    kept = kept_addresses(cfg)
    unlinked = expired_unlinked_mail(_limit(days, now), kept)
    causes = _old_causes(days, now, kept)  # counted before the steps below scrub some
    stale = _stale_commands(_limit(days, now))
    if not due and not mails and not unlinked and not causes and not stale:
        return Purged(0, 0)
    secure_delete()
    with write_transaction():
        lock_scope(whole_directory=True)  # other daemons' decisions wait for this one
        for request in due:
            anonymise_request(
                request, f"retention: ended more than {days} days ago", end=lc.EXPIRED, kept=kept
            )
        gone = [
            person
            for person in Person.select().where(Person.id << {r.person_id for r in due})
            if not _has_live_requests(person)
        ]
        addresses = {p.email.lower() for p in gone if not is_placeholder(p.email)}
        for person in gone:
            forget_person_rows(person, person.email.lower())
        senders = {m.sender.lower() for m in mails if m.sender}
        for mail in mails:
            anonymise_inbound(mail, f"retention: received more than {days} days ago", kept)
        scrub_everywhere(addresses | _known_nowhere_else(senders, cfg))
        erase_unlinked_mail(unlinked, kept)
        scrub_event_causes(_old_causes(days, now, kept))  # what the steps above left
        PendingCommand.delete().where(PendingCommand.id << stale).execute()
        done = Purged(len(due), len(mails), len(unlinked), len(causes))
        log_event("privacy-purge", f"retention ({days} days): {done.figures()}")
    return done


def _old_causes(days: int, now: datetime, kept: Kept) -> dict[int, str]:
    return expired_event_causes(_limit(days, now), kept)


def _stale_commands(limit: datetime) -> list[int]:
    """Commands confirmed or expired before `limit` (services/confirm.py): their address goes with
    them; a pending one is never older than its short delay."""
    query = PendingCommand.select(PendingCommand.id).where(
        (PendingCommand.created_at < limit)
        & ((PendingCommand.state != "pending") | (PendingCommand.expires_at < limit))
    )
    return [row.id for row in query]


def _has_live_requests(person: Person) -> bool:
    return (
        Request.select()
        .where((Request.person == person) & ~(Request.id << anonymised_ids()))
        .exists()
    )


def _known_nowhere_else(senders: set[str], cfg: Config) -> set[str]:
    """Senders of erased mail that nothing kept names (a stranger's address): no person,
    no ambassador, no mail still kept, not our own addresses. Those are scrubbed
    everywhere; the others are still needed where they stand."""
    own = {cfg.relay.address.lower(), cfg.coordinator.email.lower()}
    gone = set()
    for address in senders - own:
        if is_placeholder(address) or address == ERASED or find_person(address):
            continue
        if Ambassador.get_or_none(fn.LOWER(Ambassador.email) == address):
            continue
        if InboundMessage.select().where(fn.LOWER(InboundMessage.sender) == address).exists():
            continue
        gone.add(address)
    return gone


def purge(cfg: Config, dry_run: bool) -> PurgeReport:
    """`mailflow privacy purge`: the retention job now, with the removal of the server
    copies still queued; or only the list of what it would do."""
    now = stamp()
    days = cfg.privacy.retention_days
    due = expired_requests(days, now)
    mails = len(expired_inbound(days, now))
    kept = kept_addresses(cfg)
    unlinked = len(expired_unlinked_mail(_limit(days, now), kept))
    events = len(_old_causes(days, now, kept))
    if dry_run:
        log_event(
            "privacy-purge",
            f"dry run: {len(due)} request(s) and {mails} mail(s) linked to no request "
            f"would be anonymised; {unlinked} mail(s) sent on no one's behalf would be "
            f"erased; {events} event(s) outside any request would be cleared of addresses",
        )
        return PurgeReport(due, mails, unlinked, events, None)
    done = anonymise_expired(cfg, now)
    if not done:
        log_event("privacy-purge", "retention: nothing to anonymise")
    else:
        compact_now_or_later()
        mails, unlinked, events = done.mails, done.unlinked, done.events
    server = remove_now(cfg.mailbox) if pending() else None
    return PurgeReport(due, mails, unlinked, events, server)


def compact_now_or_later() -> bool:
    """Compact after an erasure has committed; when another process keeps the tables busy,
    remember it so the daemon's next follow-up run tries again (`compact_if_due`)."""
    done = compact()
    if done:
        Setting.delete().where(Setting.key == COMPACT_PENDING).execute()
    else:
        Setting.insert(key=COMPACT_PENDING, value=stamp().isoformat()).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: stamp().isoformat()}
        ).execute()
    return done


def compact_if_due() -> bool:
    """The daemon, outside its transactions: a compaction that failed earlier, again."""
    if Setting.get_or_none(Setting.key == COMPACT_PENDING) is None:
        return False
    return compact_now_or_later()
