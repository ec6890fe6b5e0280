"""Whether a mail proves its sender: the provider's verdict, else the envelope's alignment.

The decisions of inbound/sender_check.py (which holds a mail that fails) and of
services/confirm.py (a command from mail the provider did not pass waits for a
confirmation) read the same proof, so it lives here, below both.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from peewee import fn

from mailflow.config import Config
from mailflow.core.authresults import AUTHENTICATED, FAILED, Verdict, aligned, from_domain, verdict
from mailflow.core.outcomes import Outcome
from mailflow.store.models import Event, InboundMessage
from mailflow.store.record import RELEASED

UNAUTHENTICATED = Outcome.UNAUTHENTICATED
ALIGNED = "aligned"  # no provider verdict, but the envelope matches the From domain


def sender_verdict(cfg: Config, msg: EmailMessage) -> Verdict | None:
    """The receiving server's verdict; None when no check is configured."""
    ids = cfg.mailbox.authserv_id
    return verdict(msg.raw_items(), ids) if ids else None


def envelope_sender(msg: EmailMessage) -> str | None:
    """The topmost Return-Path's address, lower-cased: the one the delivering server wrote.
    "" for the null path `<>`; None when the message has none."""
    for name, value in msg.raw_items():
        if name.strip().lower() == "return-path":
            return _readable(parseaddr(str(value))[1].strip().lower())
    return None


def _readable(text: str) -> str:
    """Undecodable bytes (kept by the parser as surrogates) as U+FFFD: storable, and never
    aligned with anything."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def envelope_verdict(msg: EmailMessage) -> Verdict | None:
    """ALIGNED or FAILED from the envelope alone; None when there is no Return-Path."""
    envelope = envelope_sender(msg)
    if envelope is None:
        return None
    domain = from_domain(msg.raw_items())
    if domain is None:
        return Verdict(FAILED, "envelope: not exactly one From address to check")
    domain = _readable(domain)
    if "@" in envelope and aligned(envelope.rpartition("@")[2], domain):
        return Verdict(ALIGNED, f"envelope sender {envelope} aligned with {domain}")
    shown = envelope or "<>"
    return Verdict(FAILED, f"envelope sender {shown} (Return-Path) not aligned with {domain}")


def sender_proof(cfg: Config, msg: EmailMessage) -> Verdict | None:
    """The provider's verdict when configured, else the envelope's; None: nothing to judge."""
    return sender_verdict(cfg, msg) if cfg.mailbox.authserv_id else envelope_verdict(msg)


def passes(found: Verdict | None) -> bool:
    return found is None or found.status in (AUTHENTICATED, ALIGNED)


def authenticated(cfg: Config, inbound: InboundMessage, msg: EmailMessage) -> bool:
    """Whether the sender is proven enough for a command to act at once: the provider said
    pass, or the coordinator released the message from quarantine (vouched for it)."""
    found = sender_verdict(cfg, msg)
    return (found is not None and found.authenticated) or _vouched(inbound)


def _vouched(inbound: InboundMessage) -> bool:
    """Released from quarantine after a failed sender check (check_sender has logged
    another `unauthenticated` event since, so _released no longer says it)."""
    first = (
        Event.select(fn.MIN(Event.id))
        .where((Event.inbound == inbound.id) & (Event.kind == UNAUTHENTICATED))
        .scalar()
    )
    return first is not None and (
        Event.select()
        .where((Event.inbound == inbound.id) & (Event.kind == RELEASED) & (Event.id > first))
        .exists()
    )
