"""Commands read from unproven mail wait for a reply from the real address.

Anyone can write `From:` an ambassador or a pupil. Without the provider's pass
(`[mailbox] authserv_id`, core/authresults.py) or the coordinator's release from quarantine, a
command that ends or changes something (rules/confirmation.toml) is recorded as a
PendingCommand, and a short mail asks the From address to confirm it by replying. That
mail comes from `relay+TOKEN@...` with a new unguessable token (addresses.new_token), so
the reply lands back here (confirm_reply.py) and only the owner of the address, who alone
receives the mail, can send it: a forged command never acts. A pending command expires
after `expire_after_days`; it acts at most once.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import message_id_of, new_token
from mailflow.core.outcomes import Outcome
from mailflow.services.notices import send_auto
from mailflow.services.sender_proof import authenticated
from mailflow.store.models import InboundMessage, PendingCommand, Request
from mailflow.store.record import log_event

PENDING, CONFIRMED, EXPIRED = "pending", "confirmed", "expired"
AMBASSADOR, PERSON_STOP, FEEDBACK = "ambassador", "person-stop", "feedback"
CONFIRMATION_ASKED = Outcome.CONFIRMATION_ASKED
EVENT = "confirmation"


def needs_confirmation(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, kind: str, command: str = ""
) -> bool:
    """Whether this command, from this mail, must wait for its sender's confirmation."""
    rules = ctx.rules.confirmation
    wanted = {
        AMBASSADOR: command in rules.ambassador_commands,
        PERSON_STOP: rules.person_stop,
        FEEDBACK: rules.feedback,
    }[kind]
    return wanted and not authenticated(ctx.cfg, inbound, msg)


def role_of(kind: str) -> str:
    return "ambassador" if kind == AMBASSADOR else "person"


def ask_confirmation(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    kind: str,
    command: str,
    address: str,
    *,
    word: str,
    request: Request | None = None,
) -> str:
    """Record the command as pending and ask `address` to confirm it. A second such mail
    while one waits sends nothing more: a forger cannot flood the real owner."""
    now, role = stamp(), role_of(kind)
    earlier = PendingCommand.get_or_none(
        (PendingCommand.address == address)
        & (PendingCommand.kind == kind)
        & (PendingCommand.command == command)
        & (PendingCommand.state == PENDING)
        & (PendingCommand.expires_at > now)
    )
    if earlier is not None:
        log_event(
            EVENT,
            f"{word} from the {role}'s address: already waiting for confirmation "
            f"(#{earlier.id}); no new mail, nothing done",
            request=request,
            inbound=inbound,
        )
        return CONFIRMATION_ASKED
    rules = ctx.rules.confirmation
    pending = PendingCommand.create(
        token=new_token(),
        kind=kind,
        command=command,
        address=address,
        inbound_id=inbound.id,
        request_id=request.id if request else None,
        created_at=now,
        expires_at=now + rules.expire_after,
    )
    log_event(
        EVENT,
        f"{word} pending (#{pending.id}): the mail is not authenticated, so it waits for a "
        f"reply from the {role}'s address until {pending.expires_at:%Y-%m-%d %H:%M} UTC",
        request=request,
        inbound=inbound,
    )
    send_auto(
        ctx,
        "confirm_command",
        key=f"confirm:{pending.id}",
        to=address,
        role=role,
        data={"kind": kind, "command": word, "days": rules.expire_after.days},
        from_token=pending.token,
        in_reply_to=message_id_of(msg),
        request=request,
        inbound=inbound,
    )
    return CONFIRMATION_ASKED


def find_pending(token: str) -> PendingCommand | None:
    return PendingCommand.get_or_none(PendingCommand.token == token)


def expire(pending: PendingCommand, inbound: InboundMessage | None = None) -> None:
    """A pending command past its delay: never applied, and said so in the log."""
    pending.state, pending.done_at = EXPIRED, stamp()
    pending.done_inbound_id = inbound.id if inbound else None
    pending.save()
    log_event(
        EVENT,
        f"{pending.kind} {pending.command} (#{pending.id}) expired unconfirmed: never applied",
        request=Request.get_or_none(Request.id == pending.request_id),
        inbound=inbound or InboundMessage.get_or_none(InboundMessage.id == pending.inbound_id),
    )


def expire_pending(now: datetime) -> int:
    """Every pending command whose delay has passed (run with the follow-ups)."""
    due = PendingCommand.select().where(
        (PendingCommand.state == PENDING) & (PendingCommand.expires_at <= now)
    )
    rows = list(due.order_by(PendingCommand.id))
    for pending in rows:
        expire(pending)
    return len(rows)
