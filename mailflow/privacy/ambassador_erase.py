"""An ambassador's right to erasure: out of the directory, their exchanges emptied.

`person forget` on an ambassador's address hands their open conversations over exactly as
a STOP does (services/reassign.py: the person is told, the request goes to the next
ambassador or to the coordinator), closes every relay address of theirs, empties the
mails of their conversations and every mail from or to them, and replaces their address
by a placeholder wherever it is copied. The directory row stays, left and inactive, with
its names and place emptied: statistics keep counting the conversations they had.
"""

from __future__ import annotations

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.privacy.erasure import blank, erase_mail_of, scrub_everywhere
from mailflow.services.handover import LEFT
from mailflow.services.reassign import HANDED_OVER, hand_over_all
from mailflow.store.models import Ambassador, Conversation, InboundMessage, OutboundMail
from mailflow.store.record import log_event

FORGET_CAUSE = "ambassador left the network (personal data erased)"  # told as "left"


def ambassador_placeholder(ambassador_id: int) -> str:
    """What stands where the address was: opaque, undeliverable (RFC 2606 .invalid)."""
    return f"forgotten-ambassador-{ambassador_id}@invalid"


def forget_ambassador(ctx: Context, ambassador: Ambassador) -> dict[str, int]:
    """Erase an ambassador; runs in the caller's transaction (which locks the directory),
    the caller compacts the database after the commit."""
    address = ambassador.email.lower()
    stand_in = ambassador_placeholder(ambassador.id)
    # Out of the directory first, as STOP does, so that no handover comes back to them.
    Ambassador.update(active=False, left_at=ambassador.left_at or stamp()).where(
        Ambassador.id == ambassador.id
    ).execute()
    # Their open conversations are handed over exactly as after a STOP: to the next
    # ambassador, or to the coordinator; a live exchange is ended with the person told.
    done = hand_over_all(ctx, ambassador, LEFT, FORGET_CAUSE, None)
    handed = done[HANDED_OVER]
    convs = [
        c.id
        for c in Conversation.select(Conversation.id).where(Conversation.ambassador == ambassador)
    ]
    Conversation.update(
        state="closed",
        closed_at=stamp(),
        closed_reason=LEFT,
    ).where((Conversation.id << convs) & (Conversation.state != "closed")).execute()
    erased = blank(InboundMessage.select().where(InboundMessage.conversation << convs))
    erased += blank(
        OutboundMail.select().where(OutboundMail.conversation << convs), cancel_queued=True
    )
    erased += erase_mail_of(address, stand_in)
    Ambassador.update(
        email=stand_in,
        first_name="",
        last_name="",
        city="",
        postcode="",
        insee=None,
        paused=False,
        absent_until=None,
        updated_at=stamp(),
    ).where(Ambassador.id == ambassador.id).execute()
    erased += scrub_everywhere({address})
    log_event(
        "ambassador-forgotten",
        f"ambassador #{ambassador.id} forgotten: {handed} request(s) handed over, "
        f"{len(convs)} conversation(s) closed, {erased} stored mail(s) emptied",
    )
    return {"ambassador": ambassador.id, "handed_over": handed, "mails": erased}
