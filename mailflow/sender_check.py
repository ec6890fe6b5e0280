"""Mail that speaks for someone mailflow knows must prove its sender, when configured.

The From header is what the relay and the commands trust to say who writes; anyone can
forge it. With `[mailbox] authserv_id` set, mail that claims to come from a conversation's
party (through a relay address), an ambassador's mail to the shared address (commands,
out-of-office dates) and a person's STOP must carry the provider's SPF/DKIM/DMARC pass
(authresults.py). A person's mail that opens or completes a request is not checked: people
write from any provider, and a forged request reaches nobody's conversation.

Mail that fails is never answered: its From is forged or unproven, so an answer would
reach the real owner of the address (backscatter). It gets the outcome `unauthenticated`,
an event with the server's verdict, and is kept in quarantine for the coordinator
(`unauthenticated = "quarantine"`, the default: `mailflow quarantine retry ID` lets it
through without the check, the coordinator having vouched for it) or only recorded
(`"refuse"`). The coordinator hears of it at most once a day.
"""

from __future__ import annotations

from email.message import EmailMessage

from peewee import fn

from .addresses import header_text
from .authresults import Verdict, verdict
from .clock import stamp
from .config import Config
from .context import Context
from .models import Conversation, Event, InboundMessage, Request
from .notices import notify_coordinator
from .record import log_event

UNAUTHENTICATED = "unauthenticated"
QUARANTINE, REFUSE = "quarantine", "refuse"
RELEASED = "quarantine-retry"  # quarantine.py's event when the coordinator lets it through


def sender_verdict(cfg: Config, msg: EmailMessage) -> Verdict | None:
    """The receiving server's verdict; None when no check is configured."""
    ids = cfg.mailbox.authserv_id
    return verdict(msg.raw_items(), ids) if ids else None


def held(cfg: Config, outcome: str) -> bool:
    """Whether a message of this outcome stays in quarantine."""
    return outcome == UNAUTHENTICATED and cfg.mailbox.unauthenticated == QUARANTINE


def check_sender(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    claimed: str,
    *,
    conversation: Conversation | None = None,
    request: Request | None = None,
) -> str | None:
    """None when the mail may go on (no check, authenticated, or released by the
    coordinator); else UNAUTHENTICATED, recorded. `claimed` names who it claims to be."""
    found = sender_verdict(ctx.cfg, msg)
    if found is None or found.authenticated:
        return None
    where = dict(request=request, conversation=conversation, inbound=inbound)
    if _released(inbound):
        log_event(
            UNAUTHENTICATED,
            f"sender not authenticated ({found.reason}), but released from quarantine by "
            f"the coordinator: processed as the {claimed}'s",
            **where,
        )
        return None
    kept = ctx.cfg.mailbox.unauthenticated == QUARANTINE
    fate = "kept in quarantine" if kept else "refused"
    why = f"unauthenticated ({found.status}): claims to be the {claimed}; {found.reason}"
    inbound.reason = why[:2000]
    log_event(
        UNAUTHENTICATED,
        f"mail claiming to be from the {claimed}: sender not authenticated "
        f"({found.status}: {found.reason}); {fate}, nothing done, nobody answered",
        **where,
    )
    _tell_coordinator(ctx, inbound, msg, claimed, kept, found, request)
    return UNAUTHENTICATED


def _released(inbound: InboundMessage) -> bool:
    """The coordinator retried it from quarantine after an earlier failed check."""
    last = (
        Event.select(fn.MAX(Event.id))
        .where((Event.inbound == inbound.id) & (Event.kind == UNAUTHENTICATED))
        .scalar()
    )
    if last is None:
        return False
    return (
        Event.select()
        .where((Event.inbound == inbound.id) & (Event.kind == RELEASED) & (Event.id > last))
        .exists()
    )


def _tell_coordinator(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    claimed: str,
    kept: bool,
    found: Verdict,
    request: Request | None,
) -> None:
    """Once a day for all such mail together: a forger must not flood the coordinator."""
    notify_coordinator(
        ctx,
        inbound,
        "unauthenticated_coordinator",
        {
            "sender": inbound.sender or "",
            "claimed": claimed,
            "subject": header_text(msg, "Subject"),
            "reason": found.reason,
            "kept": kept,
            "inbound_id": inbound.id,
            "request_id": request.id if request else None,
        },
        request=request,
        key=f"unauthenticated:{stamp().date().isoformat()}",
    )
