"""Personal data (RGPD): erasing a person, and the steps every erasure shares.

Erasing keeps the request rows with what statistics need (kind, trade code, département, age,
situation, dates, states) and removes everything that names or reaches the person: address,
first name, free text, the bytes of every mail of their exchanges (and, through
transport/server_copies.py, the copies of that mail on the IMAP server), and what the request's log
quotes of the exchange (privacy/log.py). Each action is an event.
Retention (retention.py) and ambassadors (ambassador_erase.py) use the same steps.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import reduce
from typing import Any, cast

from peewee import (
    BlobField,
    CharField,
    Model,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
    fn,
)

from mailflow.clock import stamp
from mailflow.core import lifecycle as lc
from mailflow.core.mime_depth import SAFE_DEPTH, deeper_than
from mailflow.core.outcomes import OutboxStatus
from mailflow.errors import MailflowError
from mailflow.masking.address_scrub import ERASED, address_pattern, is_placeholder
from mailflow.privacy.log import (
    Quoted,
    clean_events,
    clean_mail_rows,
    name_pattern,
    subject_pattern,
    subjects_of,
)
from mailflow.store.models import (
    Alert,
    Ambassador,
    Consent,
    Conversation,
    Event,
    InboundMessage,
    MessageIdMap,
    OutboundMail,
    PendingCommand,
    Person,
    Request,
    database,
)
from mailflow.store.record import log_event
from mailflow.transport.ingest import parse_headers
from mailflow.transport.server_copies import queue_removal

log = logging.getLogger(__name__)
ANONYMISED = "anonymised"  # event kind, one per request (or unlinked inbound mail): marks it done
FINISHED_STATES = (lc.CLOSED, lc.EXPIRED, lc.WITHDRAWN)
_SCANNED = (Person, Request, Conversation, InboundMessage, OutboundMail, MessageIdMap, Event)
_SCANNED += (PendingCommand,)  # who must confirm a command: erased, it can never be confirmed
_SCANNED += (Alert,)  # its detail is written without addresses; scanned all the same
_SCANNED += (Consent,)  # the adult asked to consent for a child (services/consent.py)
_COMPACTED = (*_SCANNED, Ambassador)  # the tables an erasure rewrites
# Columns a scrub never rewrites: a placeholder stands there, unique, written on purpose.
_IDENTITY = {(Person, "email")}


def iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat() if isinstance(value, date) else value  # a day: honorability


def placeholder(person_id: int) -> str:
    """What stands where the address was: opaque, undeliverable (RFC 2606 .invalid)."""
    return f"forgotten-{person_id}@invalid"


def refuse_placeholder(address: str) -> None:
    if is_placeholder(address):
        raise MailflowError(
            f"{address.strip()!r} is the placeholder of someone already forgotten: "
            "nothing personal is held under it"
        )


def find_person(email: str) -> Person | None:
    return Person.get_or_none(fn.LOWER(Person.email) == email.strip().lower())


def parse_raw(raw: bytes) -> EmailMessage:
    """The stored message; its headers only when its parts nest too deeply to parse
    (kept in quarantine as too-deep): an export or an erasure must not fail on it."""
    if deeper_than(raw, SAFE_DEPTH):
        return parse_headers(raw)
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))


def mail_of(model: type[InboundMessage] | type[OutboundMail], field: Any, address: str) -> Any:
    return model.select().where(fn.LOWER(field) == address).order_by(model.id)


def anonymised_ids() -> Any:
    """The requests already anonymised (a subquery)."""
    return Event.select(Event.request).where(
        (Event.kind == ANONYMISED) & Event.request.is_null(False)
    )


# -- erasing ----------------------------------------------------------------------------------


def blank(query: Any, *, cancel_queued: bool = False) -> int:
    """Empty the stored bytes and subjects; mail not sent yet is cancelled, not sent empty.

    Returns how many mails held something (a mail emptied before is not counted twice);
    the server copy of each inbound one is queued for removal (transport/server_copies.py)."""
    count = 0
    for m in query:
        held = len(m.raw or b"") > 0 or bool(m.subject)
        cancel = cancel_queued and m.status == OutboxStatus.QUEUED
        if not held and not cancel:
            continue
        m.raw, m.subject = b"", ""
        if cancel:
            m.status, m.last_error = OutboxStatus.FAILED, "cancelled: personal data erased"
        m.save()
        if held:
            count += 1
            if isinstance(m, InboundMessage):
                queue_removal(m.message_id)
    return count


def anonymise_request(
    request: Request, cause: str, end: str = lc.WITHDRAWN, *, kept: Callable[[str], bool]
) -> int:
    """Strip one request to its statistics; returns the number of mails erased. An open
    request ends in `end` (withdrawn when the person asked, expired by retention). `kept`
    names the addresses its log may go on quoting (ours, the network's)."""
    now = stamp()
    person_stand_in = placeholder(request.person_id)
    convs = [c.id for c in request.conversations]
    Conversation.update(state="closed", closed_at=now, closed_reason="personal data erased").where(
        (Conversation.id << convs) & (Conversation.state != "closed")
    ).execute()
    linked_in = (InboundMessage.request == request) | (InboundMessage.conversation << convs)
    linked_out = (OutboundMail.request == request) | (OutboundMail.conversation << convs)
    subjects = subjects_of(linked_in, linked_out)  # before the mails are blanked
    InboundMessage.update(sender=person_stand_in).where(
        linked_in & (InboundMessage.role == "person")
    ).execute()
    OutboundMail.update(recipient=person_stand_in).where(
        linked_out & (OutboundMail.recipient_role == "person")
    ).execute()
    erased = blank(InboundMessage.select().where(linked_in))
    erased += blank(OutboundMail.select().where(linked_out), cancel_queued=True)
    _finish(request, cause, end)
    quoted = Quoted(subject_pattern(subjects), name_pattern(request.first_name), kept)
    clean_events(_events_of(request, convs, linked_in, linked_out), quoted)
    clean_mail_rows(linked_in, linked_out, kept)
    Request.update(
        first_name=None,
        message="",
        commune=None,
        insee=None,
        postcode=None,
        feedback_token=None,
        structure_adviser=None,  # a person's address (the structure's key and kind stay)
        young_address=None,  # the young person an adult wrote for
    ).where(Request.id == request.id).execute()
    OutboundMail.update(recipient=person_stand_in).where(
        linked_out & (OutboundMail.recipient_role == "guardian")  # the adult asked to consent
    ).execute()
    Consent.update(adult_address=None).where(Consent.request_id == request.id).execute()
    log_event(ANONYMISED, f"{cause}: personal data removed, statistics kept", request=request)
    return erased


def _events_of(request: Request, convs: list[int], linked_in: Any, linked_out: Any) -> Any:
    """The events of a request: its own, its conversations', its mails'."""
    return (
        (Event.request == request)
        | (Event.conversation << convs)
        | (Event.inbound << InboundMessage.select(InboundMessage.id).where(linked_in))
        | (Event.outbound << OutboundMail.select(OutboundMail.id).where(linked_out))
    )


def _finish(request: Request, cause: str, end: str) -> None:
    """An open request stops: nobody is left to write to."""
    request = Request.get_by_id(request.id)
    state = request.state
    if state == lc.REASSIGNED:
        steps = [lc.UNMATCHED, end]
    elif state == lc.FEEDBACK_ASKED:
        steps = [lc.CLOSED]
    elif state in lc.OPEN_STATES:
        steps = [end if end in lc.TRANSITIONS[state] else lc.WITHDRAWN]
    else:
        steps = []
    for new in steps:
        lc.check_transition(request.state, new)
        log_event("state", cause, request=request, old_state=request.state, new_state=new)
        request.state = new
    if steps:
        request.closed_at = request.closed_at or stamp()
        request.updated_at = stamp()
        request.save()


def erase_mail_of(address: str, stand_in: str) -> int:
    """Every stored mail from or to `address` emptied (queued ones cancelled), and the
    address replaced by `stand_in` as sender and recipient; returns the mails emptied."""
    erased = blank(mail_of(InboundMessage, InboundMessage.sender, address))
    erased += blank(mail_of(OutboundMail, OutboundMail.recipient, address), cancel_queued=True)
    InboundMessage.update(sender=stand_in).where(
        fn.LOWER(InboundMessage.sender) == address
    ).execute()
    OutboundMail.update(recipient=stand_in).where(
        fn.LOWER(OutboundMail.recipient) == address
    ).execute()
    return erased


def forget_person_rows(person: Person, address: str) -> int:
    """The address wherever it is copied: person row, senders, recipients, texts, raw mail."""
    stand_in = placeholder(person.id)
    erased = erase_mail_of(address, stand_in)
    Person.update(email=stand_in, first_name=None).where(Person.id == person.id).execute()
    return erased


def scrub_everywhere(addresses: set[str]) -> int:
    """Any other copy (an event's cause, a coordinator notice, a quoted reply): text columns
    get the addresses replaced, raw mail mentioning one is emptied. One pass for them all.
    Returns the number of mails emptied. Person.email is left alone: it holds placeholders."""
    if not addresses:
        return 0
    pattern = address_pattern(addresses)
    erased = 0
    for model in _SCANNED:
        for field in model._meta.sorted_fields:
            if (model, field.name) in _IDENTITY:
                continue
            if isinstance(field, CharField | TextField):
                _scrub_texts(model, field, addresses, pattern)
            elif isinstance(field, BlobField):
                erased += _scrub_blobs(model, field, pattern)
    return erased


def _scrub_texts(model: type[Model], field: Any, addresses: set[str], pattern: Any) -> None:
    mentions = [fn.LOWER(field).contains(a) for a in addresses]
    key = model._meta.primary_key
    for row in model.select(key, field).where(reduce(operator.or_, mentions)):
        value = getattr(row, field.name)
        scrubbed = pattern.sub(ERASED, value)
        if scrubbed != value:  # 'malea@...' holds 'lea@...' but is someone else
            model.update({field: scrubbed}).where(key == row._pk).execute()


def _scrub_blobs(model: type[Model], field: BlobField, pattern: re.Pattern[str]) -> int:
    erased = 0
    key = model._meta.primary_key
    raw_pattern = re.compile(pattern.pattern.encode(), re.IGNORECASE)
    for row in model.select(key, field).where(fn.LENGTH(field) > 0).iterator():
        raw = bytes(getattr(row, field.name))
        if raw_pattern.search(raw) or pattern.search(_text_of(raw)):
            erased += blank([model.get_by_id(row._pk)], cancel_queued=model is OutboundMail)
    return erased


def _text_of(raw: bytes) -> str:
    """Headers and decoded text parts: an address may hide in base64 or quoted-printable."""
    try:
        msg = parse_raw(raw)
        chunks = [f"{k}: {v}" for k, v in msg.items()]
        chunks += [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    except Exception:  # unparsable bytes: the literal search above is all we can do
        return ""
    return "\n".join(str(c) for c in chunks)


def forget_person(person: Person, kept: Callable[[str], bool]) -> dict[str, int]:
    """Erase a person (RGPD right to erasure); their requests stay as anonymous counts.
    `kept`: the addresses their requests' log may go on quoting (ours, the network's).
    Runs in the caller's transaction; the caller compacts the database after the commit."""
    address = person.email.lower()
    requests = list(
        Request.select()
        .where((Request.person == person) & ~(Request.id << anonymised_ids()))
        .order_by(Request.id)
    )
    erased = sum(anonymise_request(r, "person forgotten", kept=kept) for r in requests)
    erased += forget_person_rows(person, address)
    erased += scrub_everywhere({address})
    log_event(
        "person-forgotten",
        f"person forgotten: person #{person.id}, {len(requests)} request(s) anonymised, "
        f"{erased} stored mail(s) emptied",
    )
    return {"person": person.id, "requests": len(requests), "mails": erased}


def forget_adult(address: str) -> dict[str, int]:
    """Erase an adult known only as the one asked to consent for a child: their address
    leaves the consent rows (the decision and its date stay, the child's request needs
    them), every mail from or to them is emptied. Runs in the caller's transaction."""
    rows = Consent.update(adult_address=None).where(Consent.adult_address == address).execute()
    erased = erase_mail_of(address, "forgotten-adult@invalid")
    erased += scrub_everywhere({address})
    log_event("adult-forgotten", f"adult forgotten: {rows} consent(s), {erased} mail(s) emptied")
    return {"consents": rows, "mails": erased}


def consents_of(address: str) -> bool:
    """Whether the address is an adult asked to consent for a child."""
    return Consent.select().where(Consent.adult_address == address).exists()


# -- the database file ------------------------------------------------------------------------


def secure_delete() -> None:
    """SQLite: freed pages are zeroed, so erased values do not linger in the file."""
    if isinstance(database.obj, SqliteDatabase):
        database.execute_sql("PRAGMA secure_delete = ON")


def compact() -> bool:
    """No old copy of erased values stays in the database's files. Call it outside any
    transaction (VACUUM cannot run in one): after the erasure has committed.

    SQLite: rewrite the file (VACUUM) and empty its write-ahead log. PostgreSQL: an UPDATE
    leaves the old row version in the table until a vacuum, so rewrite the tables that hold
    personal data (VACUUM FULL, which also rebuilds their indexes and TOAST); it needs the
    tables to itself for a moment, and waits for that at most the session's lock_timeout.
    A row version that a transaction still running may see (another daemon's, autovacuum's
    ANALYZE) survives a VACUUM FULL too, until the next erasure's compaction rewrites the
    table (or autovacuum frees the page and a later write reuses it).
    """
    if database.in_transaction():
        raise RuntimeError("compact() inside a transaction: VACUUM would fail or be skipped")
    try:
        if isinstance(database.obj, SqliteDatabase):
            database.execute_sql("VACUUM")
            database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif isinstance(database.obj, PostgresqlDatabase):
            tables = ", ".join(model._meta.table_name for model in _COMPACTED)
            database.execute_sql(f"VACUUM (FULL, ANALYZE) {tables}")
        else:
            return False
    except OperationalError as exc:  # another process holds the file: erased all the same
        log.warning("database not compacted now (%s): old pages stay until the next VACUUM", exc)
        return False
    return True
