"""Mail that speaks for someone mailflow knows must prove its sender, when configured.

The From header is what the relay and the commands trust to say who writes; anyone can
forge it. With `[mailbox] authserv_id` set, mail that claims to come from a conversation's
party (through a relay address), an ambassador's mail to the shared address (commands,
out-of-office dates) and a person's STOP must carry the provider's SPF/DKIM/DMARC pass
(core/authresults.py). A person's mail that opens or completes a request is not checked: people
write from any provider, and a forged request reaches nobody's conversation.

Mail that fails is never answered: its From is forged or unproven, so an answer would
reach the real owner of the address (backscatter). It gets the outcome `unauthenticated`,
an event with the server's verdict, and is kept in quarantine for the coordinator
(`unauthenticated = "quarantine"`, the default: `mailflow quarantine retry ID` lets it
through without the check, the coordinator having vouched for it) or only recorded
(`"refuse"`). The coordinator hears of it at most once a day.

Without `authserv_id` there is no verdict to read, but there is still the envelope: the
delivering server (Dovecot's LDA or LMTP, Postfix's local delivery) writes the SMTP MAIL
FROM on top of the message as `Return-Path:`. Only the topmost one counts (any below it
came with the message). When it does not align with the From domain (the same domain, or
one a subdomain of the other: DMARC's relaxed alignment without the public suffix list,
authresults.aligned), the mail is held the same way (`unauthenticated`). This is a weak
check (a forger can choose an aligned envelope, and a forwarder that rewrites the
envelope (SRS) is held: the coordinator releases it), so it never makes a command
authentic: services/confirm.py asks the address for a confirmation unless the provider said pass.
A message without any Return-Path (a delivery path that writes none) is not judged.
With `authserv_id` set, the provider's verdict alone decides: DMARC already requires SPF
or DKIM aligned with From, and a DKIM-aligned mail through a forwarder legitimately
carries the forwarder's envelope.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.config import Config
from mailflow.context import Context
from mailflow.core.addresses import header_text
from mailflow.core.authresults import Verdict
from mailflow.services.notices import notify_coordinator
from mailflow.services.sender_proof import UNAUTHENTICATED, passes, sender_proof
from mailflow.store.models import Conversation, InboundMessage, Request
from mailflow.store.record import log_event, released_after

QUARANTINE, REFUSE = "quarantine", "refuse"


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def unchecked_warning(cfg: Config) -> str | None:
    """What the daemon says at start when mail reaches it from the Internet unverified:
    no `authserv_id` on a mailbox that is not this machine's (a local test stack has no
    provider to vouch for anything)."""
    host = cfg.mailbox.host.strip().strip("[]").lower()
    if cfg.mailbox.authserv_id or host in LOOPBACK:
        return None
    return (
        f"[mailbox] authserv_id is not set for {cfg.mailbox.host}: forged senders are only "
        "caught by their envelope, and every command waits for a confirmation by mail. Set "
        "it to the name your provider writes in Authentication-Results (README, "
        '"Forged senders")'
    )


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
    found = sender_proof(ctx.cfg, msg)
    if found is None or passes(found):
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
    return released_after(inbound, UNAUTHENTICATED)


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
