"""The quarantine a coordinator can work with: list, look, release for another try, drop.

A quarantined message keeps its raw bytes in the database (and its server copy in the
quarantine folder). `retry` puts it back to `stored`, so the next run processes it like new
mail; `drop` marks it `dropped`, keeping row and bytes for the log. Each command, `list`
and `show` included, is recorded as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email import policy
from email.parser import BytesHeaderParser

from mailflow.clock import wall, zone_name
from mailflow.errors import MailflowError
from mailflow.store.models import InboundMessage, database, storable_id
from mailflow.store.record import log_event

QUARANTINED, STORED, DROPPED = "quarantined", "stored", "dropped"


@dataclass(frozen=True)
class Entry:
    id: int
    received_at: datetime  # naive UTC, as stored
    sender: str
    subject: str
    reason: str
    size: int
    status: str


def _entry(row: InboundMessage) -> Entry:
    headers = _headers(row)
    return Entry(
        id=row.id,
        received_at=row.received_at,
        sender=row.sender or _header(headers, "From"),
        subject=row.subject if row.subject is not None else _header(headers, "Subject"),
        reason=row.reason or "",
        size=row.size,
        status=row.status,
    )


def _headers(row: InboundMessage):  # noqa: ANN202 - an email.message.Message
    return BytesHeaderParser(policy=policy.default).parsebytes(bytes(row.raw))


def _header(headers, name: str) -> str:  # noqa: ANN001 - an email.message.Message
    try:
        return str(headers.get(name) or "")
    except Exception:  # a header too broken to parse is shown as missing
        return ""


def list_quarantine() -> list[Entry]:
    """The quarantined messages, oldest first; the listing itself is logged."""
    rows = InboundMessage.select().where(InboundMessage.status == QUARANTINED)
    entries = [_entry(row) for row in rows.order_by(InboundMessage.id)]
    shown = ", ".join(f"#{e.id}" for e in entries[:20]) + (", ..." if len(entries) > 20 else "")
    log_event(
        "quarantine-list",
        f"quarantine listed by the coordinator: {len(entries)} message(s)"
        + (f" ({shown})" if entries else ""),
    )
    return entries


def get_message(inbound_id: int) -> InboundMessage:
    row = None
    if storable_id(inbound_id):
        row = InboundMessage.get_or_none(InboundMessage.id == inbound_id)
    if row is None:
        raise MailflowError(f"no stored message #{inbound_id} (see `mailflow quarantine list`)")
    return row


def _quarantined(inbound_id: int) -> InboundMessage:
    row = get_message(inbound_id)
    if row.status != QUARANTINED:
        raise MailflowError(f"message #{inbound_id} is not in quarantine (status: {row.status})")
    return row


def show(inbound_id: int, raw: bool = False) -> tuple[Entry, list[tuple[str, str]], bytes]:
    """The entry, its header lines as received, and the raw bytes; logged (the raw bytes
    hold personal data: who read them, and when, is on record)."""
    row = get_message(inbound_id)
    log_event(
        "quarantine-show",
        f"message #{row.id} ({row.status}) shown to the coordinator: "
        + ("raw bytes" if raw else "headers and reason"),
        inbound=row,
        request=row.request_id,
        conversation=row.conversation_id,
    )
    headers = _headers(row)
    lines = [(name, _clean(str(value))) for name, value in headers.raw_items()]
    return _entry(row), lines, bytes(row.raw)


def _clean(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def retry(inbound_id: int) -> Entry:
    """Back to `stored`: the next `mailflow run` processes it; the server copy stays put."""
    with database.atomic():
        row = _quarantined(inbound_id)
        was = row.reason or "no reason recorded"
        InboundMessage.update(status=STORED, outcome=None, processed_at=None).where(
            InboundMessage.id == row.id
        ).execute()
        where = "the quarantine folder" if row.server_done else row.folder
        log_event(
            "quarantine-retry",
            f"released from quarantine for another try (was: {was}); "
            f"its server copy stays in {where}",
            inbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    return _entry(get_message(inbound_id))


def drop(inbound_id: int) -> Entry:
    """Marked `dropped`: never processed, kept with its bytes for the log."""
    with database.atomic():
        row = _quarantined(inbound_id)
        InboundMessage.update(status=DROPPED).where(InboundMessage.id == row.id).execute()
        log_event(
            "quarantine-drop",
            f"dropped from quarantine by the coordinator (was: {row.reason or 'no reason'}); "
            "kept in the database for the log",
            inbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    return _entry(get_message(inbound_id))


def render_list(entries: list[Entry], zone: tzinfo = UTC) -> str:
    """The table for people: reception times on `zone`'s clock, named on the first line."""
    if not entries:
        return "quarantine is empty\n"
    lines = [f"Times in {zone_name(zone)}"]
    lines.append(f"{'ID':>5}  {'RECEIVED':19}  {'FROM':30}  {'SUBJECT':30}  REASON")
    for e in entries:
        lines.append(
            f"{e.id:>5}  {wall(e.received_at, zone):19}  {_cut(e.sender, 30):30}  "
            f"{_cut(e.subject, 30):30}  {_cut(e.reason, 80)}"
        )
    return "\n".join(lines) + "\n"


def render_show(entry: Entry, headers: list[tuple[str, str]], zone: tzinfo = UTC) -> str:
    """One message for people: its reception time on `zone`'s clock, which it names."""
    lines = [
        f"message #{entry.id} ({entry.status})",
        f"received: {wall(entry.received_at, zone)} ({zone_name(zone)})",
        f"size:     {entry.size} bytes",
        f"reason:   {entry.reason or '-'}",
        "",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return "\n".join(lines) + "\n"


def _cut(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
