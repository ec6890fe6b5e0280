"""Retention of what no request and no inbound mail holds: mail sent on no one's behalf
(the coordinator's digest, which names quarantined senders and their subjects; newsletters;
notices tied to no message) and the log's events outside any request (a bounce, a
quarantine, a send failure quoting an address).

Such a mail, `[privacy] retention_days` after it was sent (or queued), is emptied like any
erased mail (`privacy.blank`): the row stays, with its purpose, status, dates and
idempotency key, so the digest still knows its last period and a newsletter campaign is
still finished and never mails anyone twice. Its recipient stays only when it is one of
ours (the coordinator, the relay) or an ambassador still in the network, whom the
directory names anyway; any other address quoted by its SMTP error, or by an event that
old, is replaced. Kinds, times and states stay: statistics read those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from mailflow.config import Config
from mailflow.masking.address_scrub import ERASED, is_placeholder, scrub_addresses
from mailflow.privacy.erasure import blank
from mailflow.store.models import Ambassador, Event, OutboundMail


@dataclass(frozen=True)
class Kept:
    """The addresses an old mail or event may go on naming."""

    named: frozenset[str]  # the coordinator, the relay, the ambassadors still in the network
    relay_prefix: str  # "relay+": a relay address names a conversation, not a mailbox
    relay_domain: str

    def __call__(self, address: str) -> bool:
        address = address.strip().lower()
        if address in self.named or is_placeholder(address):
            return True
        local, _, domain = address.rpartition("@")
        return domain == self.relay_domain and local.startswith(self.relay_prefix)


def kept_addresses(cfg: Config) -> Kept:
    network = Ambassador.select(Ambassador.email).where(
        (Ambassador.active == True) & Ambassador.left_at.is_null()  # noqa: E712 - peewee
    )
    named = {a.email.lower() for a in network}
    named |= {cfg.coordinator.email.lower(), cfg.relay.address.lower()}
    return Kept(frozenset(named), f"{cfg.relay.local_part.lower()}+", cfg.relay.domain.lower())


@dataclass(frozen=True)
class Unlinked:
    """An outgoing mail caused by nothing, read without its bytes."""

    id: int
    held: bool  # bytes or subject still there
    recipient: str
    last_error: str | None


def expired_unlinked_mail(limit: datetime, kept: Kept) -> list[Unlinked]:
    """Mail of no request and no inbound, sent (or queued) before `limit`, that still holds
    something to erase."""
    rows = (
        OutboundMail.select(
            OutboundMail.id,
            OutboundMail.subject,
            OutboundMail.recipient,
            OutboundMail.last_error,
            fn.LENGTH(OutboundMail.raw).alias("size"),
        )
        .where(
            OutboundMail.request.is_null()
            & OutboundMail.conversation.is_null()
            & OutboundMail.inbound.is_null()
            & (fn.COALESCE(OutboundMail.sent_at, OutboundMail.created_at) < limit)
        )
        .order_by(OutboundMail.id)
    )
    found = [
        Unlinked(m.id, bool(m.size or m.subject), m.recipient, m.last_error) for m in rows.objects()
    ]
    return [m for m in found if m.held or _recipient_change(m, kept) or _error_change(m, kept)]


def _recipient_change(mail: Unlinked, kept: Kept) -> bool:
    return mail.recipient != ERASED and not kept(mail.recipient)


def _error_change(mail: Unlinked, kept: Kept) -> bool:
    return bool(mail.last_error) and scrub_addresses(mail.last_error or "", kept) != mail.last_error


def erase_unlinked_mail(mails: list[Unlinked], kept: Kept) -> int:
    """Empty each mail (one still queued is cancelled, not sent empty) and replace the
    addresses that are not kept; returns how many mails changed."""
    for mail in mails:
        blank(OutboundMail.select().where(OutboundMail.id == mail.id), cancel_queued=True)
        row = OutboundMail.get_by_id(mail.id)  # blank() may have written its own last_error
        if _recipient_change(mail, kept):
            row.recipient = ERASED
        if row.last_error:
            row.last_error = scrub_addresses(row.last_error, kept)
        row.save()
    return len(mails)


def expired_event_causes(limit: datetime, kept: Kept) -> dict[int, str]:
    """Events outside any request, older than `limit`, whose cause quotes an address that
    is not kept: their id and the cause with those addresses replaced."""
    events = Event.select(Event.id, Event.cause).where(
        Event.request.is_null()
        & Event.conversation.is_null()
        & (Event.at < limit)
        & Event.cause.contains("@")
    )
    changed = {}
    for event in events.order_by(Event.id):
        scrubbed = scrub_addresses(event.cause, kept)
        if scrubbed != event.cause:
            changed[event.id] = scrubbed
    return changed


def scrub_event_causes(causes: dict[int, str]) -> int:
    for event_id, cause in causes.items():
        Event.update(cause=cause).where(Event.id == event_id).execute()
    return len(causes)
