"""The ambassador's answer to the charter's welcome mail (services/charter.py): accepted, once.

The reply comes to `relay+TOKEN@...` from the ambassador's registered address: the token
went to that address alone. Their own words (the quoted charter cut off, as a feedback
answer's: core/feedback_answer.own_words) are read by core/charter.reply_verdict: an
acceptance ("J'accepte", "oui", "d'accord") is recorded with the message as its proof and
thanked; anything else gets a short mail saying what to write, and changes nothing. An
automatic reply never gets here (the classifier keeps it out of the handlers).
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.core.addresses import message_id_of
from mailflow.core.charter import Verdict, reply_verdict
from mailflow.core.feedback_answer import own_words
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text
from mailflow.services.charter import EVENT, accept_by_mail
from mailflow.services.notices import reply
from mailflow.store.models import Ambassador, CharterSignature, InboundMessage
from mailflow.store.record import log_event

CHARTER_ACCEPTED = Outcome.CHARTER_ACCEPTED
CHARTER_UNCLEAR = Outcome.CHARTER_UNCLEAR
CHARTER_REPEATED = Outcome.CHARTER_REPEATED


def handle_charter_reply(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    row: CharterSignature,
    ambassador: Ambassador,
) -> str:
    """Runs in the caller's transaction; the sender is the ambassador (relay.handle_relay)."""
    inbound.role = "ambassador"
    original_id = message_id_of(msg)
    data = {"first_name": ambassador.first_name, "version": row.version}
    if row.accepted_at is not None:
        log_event(
            EVENT,
            f"ambassador #{ambassador.id}: charter version {row.version} already accepted on "
            f"{row.accepted_at:%Y-%m-%d %H:%M}: nothing changed",
            inbound=inbound,
        )
        return CHARTER_REPEATED
    rules = ctx.rules.charter
    verdict = Verdict.UNCLEAR
    if rules is not None:
        verdict = reply_verdict(own_words(readable_text(msg), ctx.rules.feedback), rules)
    if verdict == Verdict.ACCEPTED:
        accept_by_mail(row, inbound, original_id, stamp())
        reply(ctx, inbound, "charter_accepted", ambassador.email, original_id, data,
              role="ambassador")  # fmt: skip
        return CHARTER_ACCEPTED
    log_event(
        EVENT,
        f"ambassador #{ambassador.id}: answer to charter version {row.version} not read as an "
        "acceptance; told what to write, nothing recorded",
        inbound=inbound,
    )
    reply(ctx, inbound, "charter_unclear", ambassador.email, original_id, data, role="ambassador")
    return CHARTER_UNCLEAR
