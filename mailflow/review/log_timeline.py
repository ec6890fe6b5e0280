"""The exchange log's data: one timeline per request, and the mail outside any request.

Messages in and out, state changes and events merged in one order every backend gives
alike, times as stored UTC ISO text: this is `mailflow log --json`, what log_render shows
people and what `mailflow report` pages. Which requests comes from log_filters; how the
parties are named (never by address) from log_parties.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from mailflow.clock import utc_iso
from mailflow.review.log_filters import LogFilter, matching_requests
from mailflow.review.log_parties import Names, party
from mailflow.store.models import Event, InboundMessage, OutboundMail, Request

_OTHER_SIDE = {"person": "ambassador", "ambassador": "person"}


def _inbound_entry(m: InboundMessage, names: Names) -> dict[str, Any]:
    cid = m.conversation_id
    to_role = _OTHER_SIDE.get(m.role or "") if cid else None
    return {
        "at": utc_iso(m.received_at),
        "type": "message",
        "direction": "in",
        "id": m.id,
        "from_role": m.role or "unknown",
        "from": names.of(m.role, cid, m.sender),
        "to": names.of(to_role, cid, None) if to_role else party("mailflow"),
        "subject": m.subject,
        "outcome": m.outcome,
        "status": m.status,
    }


def _outbound_entry(m: OutboundMail, names: Names) -> dict[str, Any]:
    cid = m.conversation_id
    relayed = m.purpose == "relay" and cid is not None
    from_role = _OTHER_SIDE.get(m.recipient_role) if relayed else None
    return {
        "at": utc_iso(m.created_at),
        "type": "message",
        "direction": "out",
        "id": m.id,
        "purpose": m.purpose,
        "to_role": m.recipient_role,
        "from": names.of(from_role, cid, None) if from_role else party("mailflow"),
        "to": names.of(m.recipient_role, cid, m.recipient),
        "subject": m.subject,
        "status": m.status,
        "sent_at": utc_iso(m.sent_at),
    }


def _event_entry(e: Event) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": utc_iso(e.at), "type": e.kind, "cause": e.cause}
    if e.kind == "state":
        entry.update({"from": e.old_state, "to": e.new_state})
    return entry


_SHOWN_EVENTS = (
    "state",
    "refused",
    "unauthenticated",  # inbound/sender_check.py: a forged or unproven sender
    "offered",
    "understood",
    "quarantine",
    "send-failed",
    "reminder",
    "nudge",
    "closed",
    "closed-address",
    "escalated",
    "feedback",
    "ambassador",
    "bounce",
    "person-bounced",
    "rate-limited",
    "attachment-removed",
    "cc-warning",
    "quarantine-retry",
    "quarantine-drop",
    "quarantine-show",
    "anonymised",
    "person-forgotten",
    "send-unconfirmed",
    "send-recovered",
    "uidvalidity",
    "details",  # a person's new mail completed a request waiting for details
    "joined",  # the same person asked again: their new mail joined the open request
    "merged",  # mailflow request merge: a duplicate joined this request
    "reopened",  # an ambassador's late answer was relayed: their conversation reopened
    "late-answer",  # an ambassador's late answer kept for the coordinator
    "retry",  # an unmatched request found an ambassador on the daily retry
    "assigned",  # mailflow request assign
    "corrected",  # mailflow request set, or assign with --trade, --age...
    "writer",  # an adult wrote for someone else (issue 14): who, and the young person's address
    "person-stop",
    "cancelled",  # mail still queued for a person whose request ended
    "intro-refused",  # services/unreachable.py: the SMTP server refused an introduction
    "send-cancelled",  # ... and the person's mail held for it was cancelled
    "alert",  # services/alerts.py: the coordinator is to be told at once
    "structure",  # services/structures.py: the partner structure that relayed it, its adviser told
    "auto-reply",
    "to-return-path",
    "spam",
)


# At one instant (a frozen MAILFLOW_NOW, or a clock's equal readings): a message received
# comes first, then what it caused, state changes before the mails they send.
_IN, _EVENT, _OUT = 0, 1, 2
_UNLINKED = 2**63  # caused by no inbound message (the scheduler): after those that are
SortKey = tuple[datetime, int, int, int]


def sort_key(at: datetime | None, rank: int, row_id: int, inbound_id: int | None) -> SortKey:
    """The full stored time (not the seconds shown), then the inbound message the entry
    answers to, then received / event / sent, then the row's id: the same order on every
    backend, whatever order it returns rows in."""
    return (at or datetime.min, _UNLINKED if inbound_id is None else inbound_id, rank, row_id)


def in_order(keyed: list[tuple[SortKey, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [entry for _, entry in sorted(keyed, key=lambda pair: pair[0])]


def request_timeline(request: Request) -> dict[str, Any]:
    names = Names(request)
    keyed = [
        (sort_key(m.received_at, _IN, m.id, m.id), _inbound_entry(m, names))
        for m in request.inbound
    ]
    keyed += [
        (sort_key(m.created_at, _OUT, m.id, m.inbound_id), _outbound_entry(m, names))
        for m in request.outbound
    ]
    keyed += [
        (sort_key(e.at, _EVENT, e.id, e.inbound_id), _event_entry(e))
        for e in request.events
        if e.kind in _SHOWN_EVENTS
    ]
    merged = list(Request.select().where(Request.merged_into == request.id))
    for duplicate in merged:  # its messages stay visible here (request merge)
        keyed += [
            (
                sort_key(m.received_at, _IN, m.id, m.id),
                _inbound_entry(m, names) | {"merged_from": duplicate.id},
            )
            for m in duplicate.inbound
        ]
        keyed += [
            (
                sort_key(m.created_at, _OUT, m.id, m.inbound_id),
                _outbound_entry(m, names) | {"merged_from": duplicate.id},
            )
            for m in duplicate.outbound
        ]
    entries = in_order(keyed)
    return {
        "id": request.id,
        "state": request.state,
        "merged_into": request.merged_into,
        "merged": [d.id for d in merged],
        "kind": request.kind,
        "trade": request.rome_label or request.trade_text,
        "code_rome": request.code_rome,
        "department": request.department,
        "commune": request.commune,
        "age": request.age,
        "minor": request.minor,
        "situation": request.situation,
        "created_at": utc_iso(request.created_at),
        "first_answer_at": utc_iso(request.first_answer_at),
        "escalated_at": utc_iso(request.escalated_at),
        "feedback": {
            "asked_at": utc_iso(request.feedback_asked_at),
            "score": request.feedback_score,
            "met": request.feedback_met,
            "answered_at": utc_iso(request.feedback_answered_at),
        },
        "timeline": entries,
    }


def unlinked_messages() -> list[dict[str, Any]]:
    """Inbound mail that belongs to no request: strangers, automated mail, quarantine."""
    query = (
        InboundMessage.select().where(InboundMessage.request.is_null()).order_by(InboundMessage.id)
    )
    names = Names()
    return [_inbound_entry(m, names) | {"sender_role": m.role} for m in query]


def log_data(
    request_id: int | None, filters: LogFilter | None = None, zone: tzinfo = UTC
) -> dict[str, Any]:
    """Timelines of the matching requests (dates as days of `zone`); mail outside any
    request only when unfiltered. Times stay UTC ISO: this is also the `--json` output."""
    f = filters or LogFilter()
    data: dict[str, Any] = {
        "requests": [request_timeline(r) for r in matching_requests(request_id, f, zone)]
    }
    if f.active:
        data["filtered"] = True
    elif request_id is None:
        data["other_messages"] = unlinked_messages()
    return data
