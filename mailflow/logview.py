"""The exchange log as coordinators read it: one timeline per request.

Coordinators narrow it with filters (person, ambassador, trade, département, state, dates,
inbound outcome). Each message names its parties by role and first name ("Marie L." for an
ambassador, the first name alone for a person): never by address.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from functools import reduce
from typing import Any

from peewee import fn

from .clock import day_bounds
from .errors import MailflowError
from .log_filters import LogFilter, matching_requests
from .log_render import local_time, zone_line
from .models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def ambassador_name(a: Ambassador | None) -> str | None:
    """First name and last initial: "Marie L."."""
    if a is None:
        return None
    initial = (a.last_name or "").strip()[:1]
    return f"{a.first_name} {initial.upper()}." if initial else a.first_name


def _party(role: str | None, name: str | None = None) -> dict[str, str | None]:
    return {"role": role or "unknown", "name": name}


class Names:
    """The first names of one timeline's parties, each looked up once."""

    def __init__(self, request: Request | None = None) -> None:
        self.person: str | None = None
        self.conversations: dict[int, Conversation] = {}
        if request is not None:
            self.person = request.first_name or request.person.first_name
            query = Conversation.select(Conversation, Ambassador).join(Ambassador)
            self.conversations = {c.id: c for c in query.where(Conversation.request == request)}
        self._by_email: dict[str, str | None] = {}

    def ambassador(self, conversation_id: int | None, email: str | None) -> str | None:
        conv = self.conversations.get(conversation_id) if conversation_id else None
        if conv is not None:
            return ambassador_name(conv.ambassador)
        key = (email or "").strip().lower()
        if key and key not in self._by_email:
            found = Ambassador.get_or_none(fn.LOWER(Ambassador.email) == key)
            self._by_email[key] = ambassador_name(found)
        return self._by_email.get(key)

    def of(
        self, role: str | None, conversation_id: int | None, email: str | None
    ) -> dict[str, str | None]:
        """The party of `role`, named when it is a person or an ambassador."""
        if role == "person":
            name = self.person
            if name is None and email:
                found = Person.get_or_none(fn.LOWER(Person.email) == email.strip().lower())
                name = found.first_name if found else None
            return _party(role, name)
        if role == "ambassador":
            return _party(role, self.ambassador(conversation_id, email))
        return _party(role)


_OTHER_SIDE = {"person": "ambassador", "ambassador": "person"}


def _inbound_entry(m: InboundMessage, names: Names) -> dict[str, Any]:
    cid = m.conversation_id
    to_role = _OTHER_SIDE.get(m.role or "") if cid else None
    return {
        "at": _iso(m.received_at),
        "type": "message",
        "direction": "in",
        "id": m.id,
        "from_role": m.role or "unknown",
        "from": names.of(m.role, cid, m.sender),
        "to": names.of(to_role, cid, None) if to_role else _party("mailflow"),
        "subject": m.subject,
        "outcome": m.outcome,
        "status": m.status,
    }


def _outbound_entry(m: OutboundMail, names: Names) -> dict[str, Any]:
    cid = m.conversation_id
    relayed = m.purpose == "relay" and cid is not None
    from_role = _OTHER_SIDE.get(m.recipient_role) if relayed else None
    return {
        "at": _iso(m.created_at),
        "type": "message",
        "direction": "out",
        "id": m.id,
        "purpose": m.purpose,
        "to_role": m.recipient_role,
        "from": names.of(from_role, cid, None) if from_role else _party("mailflow"),
        "to": names.of(m.recipient_role, cid, m.recipient),
        "subject": m.subject,
        "status": m.status,
        "sent_at": _iso(m.sent_at),
    }


def _event_entry(e: Event) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": _iso(e.at), "type": e.kind, "cause": e.cause}
    if e.kind == "state":
        entry.update({"from": e.old_state, "to": e.new_state})
    return entry


_SHOWN_EVENTS = (
    "state",
    "refused",
    "unauthenticated",  # sender_check.py: a forged or unproven sender
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
    "retry",  # an unmatched request found an ambassador on the daily retry
    "assigned",  # mailflow request assign
    "person-stop",
    "cancelled",  # mail still queued for a person whose request ended
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
    entries = in_order(keyed)
    return {
        "id": request.id,
        "state": request.state,
        "kind": request.kind,
        "trade": request.rome_label or request.trade_text,
        "code_rome": request.code_rome,
        "department": request.department,
        "commune": request.commune,
        "age": request.age,
        "minor": request.minor,
        "situation": request.situation,
        "created_at": _iso(request.created_at),
        "first_answer_at": _iso(request.first_answer_at),
        "escalated_at": _iso(request.escalated_at),
        "feedback": {
            "asked_at": _iso(request.feedback_asked_at),
            "score": request.feedback_score,
            "met": request.feedback_met,
            "answered_at": _iso(request.feedback_answered_at),
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


def action_kinds(given: str | None) -> tuple[str, ...]:
    """`--kind privacy,import` -> the kinds wanted; each one is a kind recorded outside any
    request or the first word of some (`privacy` for privacy-export, privacy-forget, ...),
    so a typo is named instead of listing nothing."""
    if not given:
        return ()
    wanted = tuple(k.strip().lower() for k in given.split(",") if k.strip())
    recorded = sorted(
        k for (k,) in Event.select(Event.kind).where(Event.request.is_null()).distinct().tuples()
    )
    for kind in wanted:
        if not any(r == kind or r.startswith(f"{kind}-") for r in recorded):
            known = ", ".join(recorded) or "none yet"
            raise MailflowError(f"--kind {kind!r}: no such action recorded (recorded: {known})")
    return wanted


def actions(
    since: date | None = None,
    until: date | None = None,
    kinds: Sequence[str] = (),
    zone: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """Every event outside any request, oldest first: what coordinators and the daemon did
    to the whole programme (imports, exports, erasures, purges, newsletters, schema
    upgrades, quarantine decisions, ...), with the message or mail it concerns if any;
    only of `kinds` (a kind, or the first word of kinds: see action_kinds) when given;
    `since` and `until` are days of `zone`."""
    query = Event.select().where(Event.request.is_null())
    if kinds:
        query = query.where(
            reduce(
                operator.or_,
                [
                    (Event.kind == k) | (fn.SUBSTR(Event.kind, 1, len(k) + 1) == f"{k}-")
                    for k in kinds
                ],
            )
        )
    start, end = day_bounds(since, until, zone)
    if start is not None:
        query = query.where(Event.at >= start)
    if end is not None:
        query = query.where(Event.at < end)
    found = []
    for e in query.order_by(Event.at, Event.id):
        entry: dict[str, Any] = {"at": _iso(e.at), "id": e.id, "kind": e.kind, "cause": e.cause}
        for name in ("inbound", "outbound", "conversation"):
            if getattr(e, f"{name}_id") is not None:
                entry[name] = getattr(e, f"{name}_id")
        found.append(entry)
    return found


def render_actions(
    rows: list[dict[str, Any]],
    dated: bool = False,
    kinds: Sequence[str] = (),
    zone: tzinfo = UTC,
) -> str:
    """The actions for people: times on `zone`'s clock, which the first line names."""
    if not rows and kinds:
        return f"No action of kind {', '.join(kinds)} recorded in these dates.\n"
    if not rows:
        return "No action recorded in these dates.\n" if dated else "No action recorded yet.\n"
    lines = [zone_line(zone), "Actions outside any request:"]
    for r in rows:
        about = [f"{k} #{r[k]}" for k in ("inbound", "outbound", "conversation") if k in r]
        where = f" [{', '.join(about)}]" if about else ""
        lines.append(f"  {local_time(r['at'], zone)}  {r['kind'].upper()} {r['cause']}{where}")
    return "\n".join(lines) + "\n"


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
