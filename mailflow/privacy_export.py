"""What coordinators read about personal data: one person's export, the minors to review.

The export gives a person everything held about them, but never an ambassador's address:
ambassadors appear by first name and id, like in the mails the person received.
"""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from typing import Any

from playhouse.shortcuts import model_to_dict

from .models import Conversation, Event, InboundMessage, OutboundMail, Person, Request
from .privacy import iso, mail_of, parse_raw, the_person
from .readable import readable_text
from .record import log_event

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


def export_person(person: Person) -> dict[str, Any]:
    """Everything held about one person; ambassadors appear by first name and id only."""
    address = person.email.lower()
    requests = list(Request.select().where(Request.person == person).order_by(Request.id))
    ambassador_addresses: set[str] = set()
    exported_requests = []
    for r in requests:
        convs = list(r.conversations.order_by(Conversation.id))
        ambassador_addresses.update(c.ambassador.email.lower() for c in convs)
        exported_requests.append(
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
    data = {
        "person": {k: iso(v) for k, v in model_to_dict(person).items()},
        "requests": exported_requests,
        "messages_sent": sent,
        "mails_received": received,
    }
    return _without(data, ambassador_addresses)


def _without(data: dict[str, Any], addresses: set[str]) -> dict[str, Any]:
    """A quoted or relayed text must not hand an ambassador's address to the person."""
    if not addresses:
        return data
    pattern = re.compile("|".join(re.escape(a) for a in sorted(addresses)), re.IGNORECASE)
    return json.loads(pattern.sub(MASKED, json.dumps(data, ensure_ascii=False)))


def export(email: str) -> dict[str, Any]:
    person = the_person(email)
    data = export_person(person)
    log_event("privacy-export", f"personal data of person #{person.id} exported")
    return data


# -- minors -----------------------------------------------------------------------------------


def minor_requests() -> list[dict[str, Any]]:
    """Requests from people under 15, for a coordinator to review their exchanges."""
    rows = []
    for r in Request.select().where(Request.minor == True).order_by(Request.id):  # noqa: E712
        conv = r.conversations.order_by(Conversation.id.desc()).first()
        rows.append(
            {
                "id": r.id,
                "state": r.state,
                "age": r.age,
                "trade": r.rome_label or r.trade_text,
                "ambassador": conv.ambassador.first_name if conv else None,
                "ambassador_id": conv.ambassador_id if conv else None,
                "created_at": iso(r.created_at),
                "command": f"mailflow log --request {r.id}",
            }
        )
    log_event("minors-review", f"coordinator listed {len(rows)} request(s) from people under 15")
    return rows


def render_minors(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No request from someone under 15.\n"
    lines = [
        f"#{r['id']} [{r['state']}] age {r['age']} - {r['trade'] or '?'} - "
        f"ambassador {r['ambassador'] or '-'}"
        + (f" (#{r['ambassador_id']})" if r["ambassador_id"] else "")
        + f"  ->  {r['command']}"
        for r in rows
    ]
    return "\n".join(lines) + "\n"
