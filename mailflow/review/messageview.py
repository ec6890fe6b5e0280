"""One stored message as a coordinator inspects it: `mailflow message show ID [--raw]`.

The summary reads only the header block (a broken header shows as its raw text, never as an
error); `--raw` hands back the exact bytes stored, so a message can be replayed or
inspected with other tools.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from mailflow.clock import wall, zone_name
from mailflow.errors import MailflowError
from mailflow.store.models import InboundMessage, OutboundMail, Request, storable_id

SUMMARY_HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "Auto-Submitted",
    "Content-Type",
)


def _row(message_id: int, outbound: bool) -> InboundMessage | OutboundMail:
    model = OutboundMail if outbound else InboundMessage
    row = model.get_or_none(model.id == message_id) if storable_id(message_id) else None
    if row is None:
        raise MailflowError(f"no {_what(message_id, outbound)}")
    return row


def _what(message_id: int, outbound: bool) -> str:
    return f"{'outbound mail' if outbound else 'inbound message'} #{message_id}"


def raw_bytes(message_id: int, outbound: bool = False) -> bytes:
    """The stored bytes; none left (erased with the personal data) is an error, not an empty
    message, so that a script piping them on knows."""
    raw = bytes(_row(message_id, outbound).raw)
    if not raw:
        raise MailflowError(
            f"{_what(message_id, outbound)}: its content was erased (personal data removed)"
        )
    return raw


def header_summary(raw: bytes) -> list[tuple[str, str]]:
    """The SUMMARY_HEADERS present, in that order, each value on one line."""
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    found: list[tuple[str, str]] = []
    for name in SUMMARY_HEADERS:
        for value in headers.get_all(name) or ():
            try:
                text = str(value)
            except Exception:  # undecodable: show what was received
                text = repr(value)
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            found.append((name, " ".join(text.split())))
    return found


def _request(request: Request | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "id": request.id,
        "state": request.state,
        "kind": request.kind,
        "trade": request.rome_label or request.trade_text,
    }


def message_view(message_id: int, outbound: bool = False) -> dict[str, Any]:
    """Plain data about one message: what it is, what became of it, what it belongs to."""
    row = _row(message_id, outbound)
    raw = bytes(row.raw)
    common = {
        "id": row.id,
        "size": len(raw),
        "erased": not raw,  # emptied when its personal data was erased
        "headers": header_summary(raw),
        "request": _request(row.request),
        "conversation": row.conversation_id,
    }
    if isinstance(row, OutboundMail):
        return common | {
            "direction": "out",
            "purpose": row.purpose,
            "to_role": row.recipient_role,
            "status": row.status,
            "created_at": row.created_at,  # naive UTC, as stored: render_message shows them
            "sent_at": row.sent_at,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "bounce_status": row.bounce_status,
            "caused_by": row.inbound_id,
        }
    return common | {
        "direction": "in",
        "role": row.role,
        "status": row.status,
        "outcome": row.outcome,
        "reason": row.reason,
        "received_at": row.received_at,
        "processed_at": row.processed_at,
        "folder": row.folder,
        "caused": [m.id for m in row.caused.order_by(OutboundMail.id)],
    }


def render_message(view: dict[str, Any], zone: tzinfo = UTC) -> str:
    """The summary for people: times on `zone`'s clock, named once among the facts."""
    if view["direction"] == "in":
        title = f"inbound message #{view['id']} ({view['status']})"
        facts = [
            ("times in", zone_name(zone)),
            ("received", wall(view["received_at"], zone)),
            ("processed", wall(view["processed_at"], zone)),
            ("from role", view["role"]),
            ("outcome", view["outcome"]),
            ("reason", view["reason"]),
            ("folder", view["folder"]),
            ("caused", ", ".join(f"#{i}" for i in view["caused"]) or None),
        ]
    else:
        title = f"outbound mail #{view['id']} ({view['status']})"
        facts = [
            ("purpose", view["purpose"]),
            ("to role", view["to_role"]),
            ("times in", zone_name(zone)),
            ("queued", wall(view["created_at"], zone)),
            ("sent", wall(view["sent_at"], zone)),
            ("attempts", view["attempts"]),
            ("last error", view["last_error"]),
            ("bounce", view["bounce_status"]),
            ("caused by", f"inbound #{view['caused_by']}" if view["caused_by"] else None),
        ]
    r = view["request"]
    facts += [
        (
            "request",
            f"#{r['id']} [{r['state']}] {r['kind'] or '?'}: {r['trade'] or '?'}" if r else None,
        ),
        ("conversation", f"#{view['conversation']}" if view["conversation"] else None),
        ("size", "erased (personal data removed)" if view["erased"] else f"{view['size']} bytes"),
    ]
    lines = [title, *(f"{k + ':':13} {'-' if v is None else v}" for k, v in facts), ""]
    lines += [f"{name}: {value}" for name, value in view["headers"]]
    return "\n".join(lines) + "\n"
