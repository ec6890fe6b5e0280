"""What coordinators read about personal data: one person's export, the minors to review.

The export gives a person (or an ambassador) everything held about them, but never the
other side's address: ambassadors appear by first name and id, like in the mails the person
received; persons by first name and request, like in the introductions.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

from playhouse.shortcuts import model_to_dict

from mailflow.core.readable import readable_text
from mailflow.errors import MailflowError
from mailflow.privacy.erasure import (
    address_pattern,
    find_person,
    iso,
    mail_of,
    parse_raw,
    refuse_placeholder,
)
from mailflow.store.directory import find_ambassador
from mailflow.store.models import (
    Ambassador,
    CharterSignature,
    Consent,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
)
from mailflow.store.record import log_event

MASKED = "[adresse masquée]"


# -- export -----------------------------------------------------------------------------------


def _headers(msg: EmailMessage) -> dict[str, str | None]:
    summary: dict[str, str | None] = {}
    for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
        try:
            summary[name.lower()] = str(msg[name]) if msg[name] is not None else None
        except Exception:  # a broken header is shown as absent, never stops the export
            summary[name.lower()] = None
    return summary


def _body(msg: EmailMessage) -> str:
    try:
        return readable_text(msg)
    except Exception:  # a broken MIME part: the export goes on without this body
        return ""


def export(email: str) -> dict[str, Any]:
    """Everything held about whoever has this address: as a person (requests, with
    ambassadors by first name and id), as an ambassador (directory entry, conversations,
    with persons by first name and request), and every mail from or to it. Neither side's
    address is ever given to the other."""
    address = email.strip().lower()
    refuse_placeholder(address)
    person, ambassador = find_person(address), find_ambassador(address)
    as_adult = list(Consent.select().where(Consent.adult_address == address).order_by(Consent.id))
    if person is None and ambassador is None and not as_adult:
        raise MailflowError(f"no person or ambassador with the address {email.strip()!r}")
    others: set[str] = set()
    data: dict[str, Any] = {"person": None, "requests": [], "ambassador": None}
    own: list[int] = []
    if person is not None:
        own = [r.id for r in Request.select(Request.id).where(Request.person == person)]
    data["consents"] = _consents(own, as_adult)
    if as_adult:
        log_event(
            "privacy-export", f"consents given or asked of {len(as_adult)} request(s) exported"
        )
    if person is not None:
        data["person"] = {k: iso(v) for k, v in model_to_dict(person).items()}
        data["requests"], ambassadors = _requests_of(person)
        others |= ambassadors
        log_event("privacy-export", f"personal data of person #{person.id} exported")
    if ambassador is not None:
        data["ambassador"], persons = _ambassador_of(ambassador)
        others |= persons
        log_event("privacy-export", f"personal data of ambassador #{ambassador.id} exported")
    data["messages_sent"], data["mails_received"] = _mails_of(address)
    return _without(data, others - {address})


def _consents(own_requests: list[int], as_adult: list[Consent]) -> list[dict[str, Any]]:
    """The consents about the person's own requests (the adult asked, by address: the child
    gave it, or wrote with them) and those asked of this address as the adult (the child
    named by first name and request only, never by address)."""
    rows = list(Consent.select().where(Consent.request_id.in_(own_requests)).order_by(Consent.id))
    rows += [c for c in as_adult if c.request_id not in own_requests]
    out = []
    for c in rows:
        request = Request.get_or_none(Request.id == c.request_id)
        out.append(
            {k: iso(v) for k, v in model_to_dict(c).items() if k not in ("token", "child_token")}
            | {
                "role": "child" if c.request_id in own_requests else "adult",
                "child_first_name": request.first_name if request is not None else None,
            }
        )
    return out


def _requests_of(person: Person) -> tuple[list[dict[str, Any]], set[str]]:
    """The person's requests, and the addresses of the ambassadors they met (to mask)."""
    requests = list(Request.select().where(Request.person == person).order_by(Request.id))
    ambassador_addresses: set[str] = set()
    exported = []
    for r in requests:
        convs = list(r.conversations.order_by(Conversation.id))
        ambassador_addresses.update(c.ambassador.email.lower() for c in convs)
        exported.append(
            {k: iso(v) for k, v in model_to_dict(r, recurse=False).items()}
            | {
                "conversations": [
                    {
                        "id": c.id,
                        "ambassador": {
                            "id": c.ambassador_id,
                            "first_name": c.ambassador.first_name,
                        },
                        "state": c.state,
                        "created_at": iso(c.created_at),
                        "ambassador_answered_at": iso(c.ambassador_answered_at),
                        "closed_at": iso(c.closed_at),
                        "closed_reason": c.closed_reason,
                    }
                    for c in convs
                ],
                "events": [
                    {"at": iso(e.at), "kind": e.kind, "cause": e.cause}
                    | {"from": e.old_state, "to": e.new_state}
                    for e in r.events.order_by(Event.id)
                ],
            }
        )
    return exported, ambassador_addresses


def _ambassador_of(ambassador: Ambassador) -> tuple[dict[str, Any], set[str]]:
    """The directory entry and the conversations offered to this ambassador, each with the
    request as the introduction showed it; and the persons' addresses (to mask)."""
    convs = list(ambassador.conversations.order_by(Conversation.id))
    person_addresses = {c.request.person.email.lower() for c in convs}
    entry = {k: iso(v) for k, v in model_to_dict(ambassador).items()}
    entry["conversations"] = [
        {
            "id": c.id,
            "request": {
                "id": c.request_id,
                "kind": c.request.kind,
                "trade": c.request.rome_label or c.request.trade_text,
                "department": c.request.department,
                "first_name": c.request.first_name,
            },
            "state": c.state,
            "created_at": iso(c.created_at),
            "reminders_sent": c.reminders_sent,
            "ambassador_answered_at": iso(c.ambassador_answered_at),
            "closed_at": iso(c.closed_at),
            "closed_reason": c.closed_reason,
        }
        for c in convs
    ]
    signatures = CharterSignature.select().where(CharterSignature.ambassador_id == ambassador.id)
    entry["charter"] = [  # what they were asked to sign and how they accepted it (the proof)
        {
            "version": s.version,
            "covers_minors": s.covers_minors,
            "asked_at": iso(s.asked_at),
            "reminders_sent": s.reminders_sent,
            "accepted_at": iso(s.accepted_at),
            "how": s.how,
            "message_id": s.proof_message_id,
            "recorded_by": s.recorded_by,
        }
        for s in signatures.order_by(CharterSignature.id)
    ]
    return entry, person_addresses


def _mails_of(address: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored mail from the address, and every mail sent to it."""
    sent = []
    for m in mail_of(InboundMessage, InboundMessage.sender, address):
        msg = parse_raw(bytes(m.raw))
        sent.append(
            {"id": m.id, "received_at": iso(m.received_at), "request": m.request_id}
            | {"headers": _headers(msg), "text": _body(msg)}
        )
    received = []
    for m in mail_of(OutboundMail, OutboundMail.recipient, address):
        msg = parse_raw(bytes(m.raw))
        received.append(
            {"id": m.id, "purpose": m.purpose, "status": m.status, "request": m.request_id}
            | {"created_at": iso(m.created_at), "sent_at": iso(m.sent_at)}
            | {"subject": m.subject, "text": _body(msg)}
        )
    return sent, received


def _without(data: dict[str, Any], addresses: set[str]) -> dict[str, Any]:
    """A quoted or relayed text must not hand the other side's address over."""
    if not addresses:
        return data
    pattern = address_pattern(addresses)
    return json.loads(pattern.sub(MASKED, json.dumps(data, ensure_ascii=False)))


# -- minors -----------------------------------------------------------------------------------


def minor_requests() -> list[dict[str, Any]]:
    """Requests from people under 15, for a coordinator to review their exchanges."""
    rows = []
    for r in Request.select().where(Request.minor == True).order_by(Request.id):  # noqa: E712
        conv = r.conversations.order_by(Conversation.id.desc()).first()
        consent = (
            Consent.select().where(Consent.request_id == r.id).order_by(Consent.id.desc()).first()
        )
        rows.append(
            {
                "id": r.id,
                "state": r.state,
                "consent": consent.state if consent is not None else None,
                "consent_policy": consent.policy if consent is not None else None,
                "age": r.age,
                "situation": r.situation,
                "trade": r.rome_label or r.trade_text,
                "ambassador": conv.ambassador.first_name if conv else None,
                "ambassador_id": conv.ambassador_id if conv else None,
                "created_at": iso(r.created_at),
                "command": f"mailflow log --request {r.id}",
            }
        )
    log_event("minors-review", f"coordinator listed {len(rows)} request(s) from people under 15")
    return rows


def _age(row: dict[str, Any]) -> str:
    """The age stated, or why the request is flagged without one (likely_under_15)."""
    if row["age"] is not None:
        return str(row["age"])
    return f"? ({row['situation']})" if row["situation"] else "?"


def render_minors(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No request from someone under 15.\n"
    lines = [
        f"#{r['id']} [{r['state']}] age {_age(r)} - {r['trade'] or '?'} - "
        + (f"consent {r['consent']} ({r['consent_policy']}) - " if r["consent"] else "")
        + f"ambassador {r['ambassador'] or '-'}"
        + (f" (#{r['ambassador_id']})" if r["ambassador_id"] else "")
        + f"  ->  {r['command']}"
        for r in rows
    ]
    return "\n".join(lines) + "\n"
