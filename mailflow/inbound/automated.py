"""Mail that is recorded and never answered: spam, auto-replies, mail to a return path.

None of these ever causes a mail. What they change is what the log shows (the request
timeline, when the mail belongs to a conversation) and, for an ambassador's out-of-office,
the follow-up policy (ambassador_mail.note_autoreply_absence sets the absence;
followup/reminders.py reads it):

* An auto-reply from a party of a conversation, through its relay address or to the
  return path of a mail of that conversation, is attached to the conversation and its
  request, with an event naming the side and the announced return date. It is not an
  answer: an offered request stays offered, reminders go on; an ambassador away past the
  reassignment deadline gets the request reassigned at the next follow-up run
  (rules/followup.toml).
* Our return paths (`relay+b-...@`, store/verp.py) are envelope senders: nobody writes to them.
  A DSN there is a bounce (bounces.py); anything else (an auto-responder that answers the
  envelope sender, as RFC 3834 says, unmarked or not; spam sent to a harvested address)
  has the outcome `to-return-path`.
* Spam, as flagged by the receiving server's filter (core/classify.py, rules/classify.toml),
  has the outcome `spam`; through a relay address, from a party, it is attached to the
  conversation so that the coordinator sees what was not relayed.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.clock import now
from mailflow.config import RelayConfig
from mailflow.context import Context
from mailflow.core.absence import autoreply_return
from mailflow.core.addresses import TOKEN_HEADERS, header_addresses, sender
from mailflow.core.classify import AUTO_REPLY, Classification
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text, subject_of
from mailflow.inbound.relay import find_conversation
from mailflow.store.models import Conversation, InboundMessage, OutboundMail
from mailflow.store.record import log_event
from mailflow.store.verp import looks_like_verp, parse_verp

TO_RETURN_PATH = Outcome.TO_RETURN_PATH
SPAM_EVENT, AUTO_REPLY_EVENT = "spam", "auto-reply"


def return_path_address(msg: EmailMessage, relay: RelayConfig) -> str | None:
    """The return path of ours (signed or not, expired or not) this message was sent to."""
    for name in TOKEN_HEADERS:
        for _, address in header_addresses(msg, name):
            if looks_like_verp(address, relay):
                return address
    return None


def returned_mail(address: str | None, relay: RelayConfig) -> OutboundMail | None:
    """The outgoing mail a genuine, unexpired return path names."""
    outbound_id = parse_verp(address, relay) if address else None
    return OutboundMail.get_or_none(OutboundMail.id == outbound_id) if outbound_id else None


def party_of(conv: Conversation, address: str | None) -> str | None:
    """'ambassador' or 'person' when `address` is that party's, else None."""
    if not address:
        return None
    if address.lower() == conv.ambassador.email.lower():
        return "ambassador"
    return "person" if address.lower() == conv.request.person.email.lower() else None


def _from(msg: EmailMessage) -> str | None:
    who = sender(msg)
    return who[1] if who else None


def _subject(msg: EmailMessage) -> str:
    text = " ".join(subject_of(msg).split())
    return text if len(text) <= 100 else text[:99] + "…"


def to_return_path(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, verdict: Classification
) -> str:
    """Anything but a DSN sent to one of our return paths: recorded, never answered."""
    relay = ctx.cfg.relay
    address = _from(msg)
    inbound.sender = address
    outbound = returned_mail(return_path_address(msg, relay), relay)
    conv = outbound.conversation if outbound and outbound.conversation_id else None
    side = party_of(conv, address) if conv else None
    inbound.role = side or ("mail-system" if verdict.automated else "stranger")
    if outbound is not None:
        inbound.request, inbound.conversation = outbound.request_id, outbound.conversation_id
        about = f"the return path of {outbound.purpose} mail #{outbound.id}"
    else:
        about = "a return path that is forged or expired"
    who = f"the {side}" if side else "an address that is not a party"
    log_event(
        TO_RETURN_PATH,
        f"{verdict.outcome} message from {who} to {about} ({verdict.reason}): "
        "recorded, never answered",
        request=inbound.request_id,
        conversation=inbound.conversation_id,
        inbound=inbound,
    )
    if verdict.outcome == AUTO_REPLY and conv is not None and side is not None:
        _auto_reply_event(ctx, inbound, msg, conv, side)
    return TO_RETURN_PATH


def record_auto_reply(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, token: str | None
) -> None:
    """An auto-reply through a relay address, from that conversation's party: attached to
    the conversation and its request, with the side and the return date it announces."""
    conv, _ = find_conversation(token) if token else (None, None)
    side = party_of(conv, _from(msg)) if conv is not None else None
    if conv is None or side is None:
        return
    inbound.sender, inbound.role = _from(msg), side
    inbound.conversation, inbound.request = conv, conv.request
    _auto_reply_event(ctx, inbound, msg, conv, side)


def _auto_reply_event(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, conv: Conversation, side: str
) -> None:
    dates = ctx.rules.commands.dates
    back = autoreply_return(f"{subject_of(msg)}\n{readable_text(msg)}", dates, now())
    when = f"return date {back.isoformat()}" if back else "no return date found"
    counts = (
        "not an answer: the request stays offered; an absence past the reassignment "
        "deadline hands it over at the next follow-up"
        if side == "ambassador"
        else "not relayed"
    )
    log_event(
        AUTO_REPLY_EVENT,
        f"auto-reply from the {side}: {_subject(msg)!r}, {when}; {counts}",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )


def record_spam(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    token: str | None,
    verdict: Classification,
) -> None:
    """Spam is never answered nor relayed; from a party through a relay address it shows
    in that request's timeline (a filter may be wrong: the coordinator can tell them)."""
    address = _from(msg)
    inbound.sender = address
    conv, _ = find_conversation(token) if token else (None, None)
    side = party_of(conv, address) if conv is not None else None
    if conv is not None and side is not None:
        inbound.role = side
        inbound.conversation, inbound.request = conv, conv.request
    log_event(
        SPAM_EVENT,
        f"flagged as spam by the receiving server ({verdict.reason}): not answered, "
        + (f"not relayed (from the {side})" if side else "not relayed"),
        request=inbound.request_id,
        conversation=inbound.conversation_id,
        inbound=inbound,
    )
