"""The exchange log as coordinators read it: one timeline per request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import Event, InboundMessage, OutboundMail, Request


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _inbound_entry(m: InboundMessage) -> dict[str, Any]:
    return {
        "at": _iso(m.received_at),
        "type": "message",
        "direction": "in",
        "id": m.id,
        "from_role": m.role or "unknown",
        "subject": m.subject,
        "outcome": m.outcome,
        "status": m.status,
    }


def _outbound_entry(m: OutboundMail) -> dict[str, Any]:
    return {
        "at": _iso(m.created_at),
        "type": "message",
        "direction": "out",
        "id": m.id,
        "purpose": m.purpose,
        "to_role": m.recipient_role,
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
)


def request_timeline(request: Request) -> dict[str, Any]:
    entries = (
        [_inbound_entry(m) for m in request.inbound]
        + [_outbound_entry(m) for m in request.outbound]
        + [_event_entry(e) for e in request.events if e.kind in _SHOWN_EVENTS]
    )
    order = {"message": 0}
    entries.sort(key=lambda x: (x["at"] or "", order.get(x["type"], 1)))
    return {
        "id": request.id,
        "state": request.state,
        "kind": request.kind,
        "trade": request.rome_label or request.trade_text,
        "code_rome": request.code_rome,
        "department": request.department,
        "commune": request.commune,
        "age": request.age,
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
    return [_inbound_entry(m) | {"sender_role": m.role} for m in query]


def log_data(request_id: int | None) -> dict[str, Any]:
    query = Request.select().order_by(Request.id)
    if request_id is not None:
        query = query.where(Request.id == request_id)
    data: dict[str, Any] = {"requests": [request_timeline(r) for r in query]}
    if request_id is None:
        data["other_messages"] = unlinked_messages()
    return data


def _line(entry: dict[str, Any]) -> str:
    at = (entry["at"] or "").replace("T", " ").rstrip("Z")
    if entry["type"] == "message" and entry["direction"] == "in":
        return (
            f"  {at}  IN   #{entry['id']} from {entry['from_role']}: "
            f"{entry['subject']!r} -> {entry['outcome'] or entry['status']}"
        )
    if entry["type"] == "message":
        return (
            f"  {at}  OUT  #{entry['id']} {entry['purpose']} to {entry['to_role']}: "
            f"{entry['subject']!r} [{entry['status']}]"
        )
    if entry["type"] == "state":
        return f"  {at}  STATE {entry['from'] or '-'} -> {entry['to']} ({entry['cause']})"
    return f"  {at}  {entry['type'].upper()} {entry['cause']}"


def render_text(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for r in data["requests"]:
        where = r["commune"] or r["department"] or "lieu non précisé"
        lines.append(
            f"Request #{r['id']} [{r['state']}] {r['kind'] or '?'}: {r['trade'] or '?'}"
            f" - {where} - age {r['age'] or '?'} - {r['situation'] or '?'}"
        )
        lines.extend(_line(e) for e in r["timeline"])
        lines.append("")
    others = data.get("other_messages") or []
    if others:
        lines.append("Messages outside any request:")
        lines.extend(_line(e) for e in others)
    if not lines:
        lines.append("No requests recorded yet.")
    return "\n".join(lines).rstrip() + "\n"
