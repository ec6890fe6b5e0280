"""Reading the shared mailbox: store every message durably, then tidy the server.

Order matters: (1) store raw bytes and commit, (2) process (inbound/pipeline.py), (3) move the
server copy to the processed or quarantine folder. A crash between any two steps is
repaired on the next pass: a stored message is recognised by its hash and never stored or
processed again. Another copy of a mail already stored (same Message-ID, sender and body,
other trace headers) is stored as a `duplicate`, not processed, unless it was delivered
for a relay address that none of the earlier copies names (a Bcc'd relay address gets a
copy of its own, see inbound/relay_targets.py); a message that merely reuses a Message-ID (another
sender or body) is processed, its collision logged.

Several daemons may read one mailbox at once: both may fetch the same UID, and the one that
stores it second finds its hash taken and counts it as known (no error, nothing of the
other's undone); the last UID read only moves forward; moving a message that another
daemon moved already does nothing (a UID that no longer exists is ignored, RFC 3501 6.4.8).
"""

from __future__ import annotations

import hashlib
import logging
import ssl as ssl_module
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from peewee import IntegrityError

from mailflow.clock import stamp
from mailflow.config import MailboxConfig
from mailflow.core.addresses import addressed_to, delivered_tokens
from mailflow.core.outcomes import Outcome
from mailflow.crashpoints import crash_point
from mailflow.errors import MailflowError
from mailflow.store.leases import for_update, lock_message_id, write_transaction
from mailflow.store.models import InboundMessage, MailboxState, database
from mailflow.store.record import log_event

log = logging.getLogger(__name__)
FETCH_BATCH = 50


class LoginRefused(MailflowError):
    """The mailbox answered but refused our username or password: not a network error.
    Retrying every few seconds would not help and may get the account locked by the
    provider, so the daemon waits long and the coordinator is told (daemon.py)."""


def connect(cfg: MailboxConfig) -> IMAPClient:
    context = ssl_module.create_default_context() if cfg.ssl else None
    client = IMAPClient(
        cfg.host, port=cfg.port, ssl=cfg.ssl, ssl_context=context, timeout=cfg.timeout_seconds
    )
    try:
        if f"{cfg.username}{cfg.password}".isascii():
            client.login(cfg.username, cfg.password)
        else:  # imaplib's LOGIN sends ASCII only (else a traceback); AUTHENTICATE PLAIN, UTF-8
            client.plain_login(cfg.username, cfg.password)
    except LoginError as exc:
        _close(client)
        said = exc.args[0] if exc.args else exc
        if isinstance(said, bytes):
            said = said.decode("utf-8", "replace")
        raise LoginRefused(
            f"mailbox {cfg.host}:{cfg.port} refused the login of {cfg.username} "
            f"(server said: {said}); check [mailbox] username and password"
        ) from exc
    for folder in (cfg.processed_folder, cfg.quarantine_folder):
        if folder and not client.folder_exists(folder):
            client.create_folder(folder)
    client.select_folder(cfg.folder)
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # the server may have dropped us already; nothing to save
        log.debug("shutdown after a refused login failed", exc_info=True)


@contextmanager
def session(cfg: MailboxConfig) -> Iterator[IMAPClient]:
    client = connect(cfg)
    try:
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to save
            log.debug("logout failed", exc_info=True)


def parse_headers(raw: bytes) -> EmailMessage:
    """The header block only, cut before the body: BytesHeaderParser alone would still
    decode the whole message and keep its body as a list of lines (a large mail several
    times over), where only the headers are wanted."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[: min(ends)] + b"\n\n" if ends else raw
    return BytesHeaderParser(policy=policy.default).parsebytes(head)  # type: ignore[return-value]


def _message_id(raw: bytes) -> str:
    headers = parse_headers(raw)
    try:
        return str(headers.get("Message-ID") or "").strip()[:998]
    except Exception:  # an unparsable Message-ID is as good as none
        return ""


def store(
    raw: bytes, folder: str, uidvalidity: int | None, uid: int | None
) -> InboundMessage | None:
    """Record the raw message; None when the very same bytes were stored before, by this
    process or, a moment ago, by another one reading the same mailbox."""
    digest = hashlib.sha256(raw).hexdigest()
    if InboundMessage.select().where(InboundMessage.sha256 == digest).exists():
        return None
    message_id = _message_id(raw)
    lock_message_id(message_id)  # until commit: a copy stored meanwhile is seen below
    duplicate, collided = _earlier_copy(raw, message_id)
    try:
        row = _create(raw, digest, message_id, duplicate, folder, uidvalidity, uid)
    except IntegrityError:  # the same bytes stored by another daemon meanwhile
        return None
    if collided is not None:
        log_event(
            "message-id-collision",
            f"same Message-ID as message #{collided} but another sender or body: "
            "processed as a message of its own",
            inbound=row,
        )
    return row


def content_key(raw: bytes) -> str:
    """What makes two copies of one mail the same mail: its sender and its body (hashed).

    Trace headers (Received, Delivered-To) and even the subject may differ between two
    deliveries of one message; another sender or another text is another message, whatever
    its Message-ID says (a broken client, or a forger, may reuse one)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    body = raw[min(ends) :] if ends else b""
    body = body.replace(b"\r\n", b"\n").strip()
    try:
        sender = str(parse_headers(raw).get("From") or "")
    except Exception:  # an unparsable From: compared as raw text below
        sender = ""
    addresses = [a.lower() for _, a in getaddresses([sender])] if sender else []
    return hashlib.sha256("\n".join(addresses).encode() + b"\0" + body).hexdigest()


def _earlier_copy(raw: bytes, message_id: str) -> tuple[bool, int | None]:
    """(duplicate, collided): an earlier message with this Message-ID and the same sender
    and body makes this one a duplicate; one with another sender or body is only a
    collision (its id is returned), and this message is processed like any other."""
    if not message_id:
        return False, None
    earlier = InboundMessage.select(InboundMessage.id, InboundMessage.raw).where(
        InboundMessage.message_id == message_id
    )
    key, collided, seen, same = content_key(raw), None, set(), False
    for row in earlier.order_by(InboundMessage.id):
        stored = row.raw if isinstance(row.raw, bytes) else bytes(row.raw)
        if content_key(stored) == key:
            same = True
            seen |= addressed_to(parse_headers(stored))
        else:
            collided = collided or row.id
    if same:  # unless delivered for a relay address no copy names (a Bcc): that one counts
        return not (delivered_tokens(parse_headers(raw)) - seen), None
    return False, collided


def _create(
    raw: bytes,
    digest: str,
    message_id: str,
    duplicate: bool,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
) -> InboundMessage:
    """Insert in a savepoint, so that a lost race on the hash undoes only this insert."""
    with database.atomic():
        row = InboundMessage.create(
            message_id=message_id,
            sha256=digest,
            uidvalidity=uidvalidity,
            uid=uid,
            folder=folder,
            raw=raw,
            size=len(raw),
            received_at=stamp(),
            status="processed" if duplicate else "stored",
            outcome=Outcome.DUPLICATE if duplicate else None,
            reason="same Message-ID, sender and body as a message already stored"
            if duplicate
            else None,
            processed_at=stamp() if duplicate else None,
        )
        log_event("stored", f"inbound message stored ({len(raw)} bytes, uid {uid})", inbound=row)
    return row


def fetch_new(client: IMAPClient, cfg: MailboxConfig, limit: int | None = None) -> int:
    """Store every message of the folder not yet stored (the first `limit` of them, when
    given); returns how many were new.

    Each fetched batch is committed with the UID reached, in one transaction (one fsync
    instead of one per message), so a connection cut mid-fetch resumes after the last
    stored batch; nothing is moved on the server before it is stored. A new UIDVALIDITY
    restarts from UID 1: messages already stored are recognised by their hash
    (`_mark_known`), never processed again."""
    status = client.folder_status(cfg.folder, ["UIDVALIDITY"])
    uidvalidity = int(status[b"UIDVALIDITY"])
    last_uid = _last_uid(cfg.folder, uidvalidity)
    uids = [u for u in sorted(client.search(["UID", f"{last_uid + 1}:*"])) if u > last_uid]
    uids = uids[:limit] if limit is not None else uids
    stored = 0
    for start in range(0, len(uids), FETCH_BATCH):
        # Another daemon may have read ahead meanwhile: skip what it stored.
        reached = _last_uid(cfg.folder, uidvalidity) if start else last_uid
        batch = [u for u in uids[start : start + FETCH_BATCH] if u > reached]
        if not batch:
            continue
        fetched = sorted(client.fetch(batch, ["BODY.PEEK[]"]).items())
        before = stored
        with write_transaction():  # the batch and how far we read: one commit (one fsync)
            for uid, data in fetched:
                raw = data.get(b"BODY[]")
                if raw is None:
                    continue
                if store(bytes(raw), cfg.folder, uidvalidity, uid) is not None:
                    stored += 1
                else:
                    _mark_known(bytes(raw), uidvalidity, uid, cfg.folder)
            MailboxState.update(last_uid=batch[-1]).where(
                (MailboxState.folder == cfg.folder)
                & (MailboxState.uidvalidity == uidvalidity)
                & (MailboxState.last_uid < batch[-1])  # never backwards (another daemon's read)
            ).execute()
        if stored > before:
            crash_point("stored")
    return stored


def unread(client: IMAPClient, cfg: MailboxConfig) -> bool:
    """Whether the folder holds a UID past the last one stored (by any daemon).

    Mail that arrives while a cycle runs is announced (EXISTS) in the replies to the
    cycle's own commands, and IDLE does not announce it again: asked last before IDLE,
    this finds it. (`n:*` always matches the highest UID, hence the filter.)"""
    state = MailboxState.get_or_none(MailboxState.folder == cfg.folder)
    last = int(state.last_uid) if state is not None else 0
    return any(uid > last for uid in client.search(["UID", f"{last + 1}:*"]))


def _last_uid(folder: str, uidvalidity: int) -> int:
    """The last UID stored from `folder`; 0 (with the change logged) on a new UIDVALIDITY."""
    state = MailboxState.get_or_none(MailboxState.folder == folder)
    if state is not None and state.uidvalidity == uidvalidity:
        return int(state.last_uid)
    with write_transaction():
        found = MailboxState.select().where(MailboxState.folder == folder)
        state = for_update(found).first()  # under the lock: another daemon may have seen it
        if state is not None and state.uidvalidity == uidvalidity:
            return int(state.last_uid)  # another daemon saw the change first
        if state is not None:
            why = (
                f"{folder}: UIDVALIDITY changed {state.uidvalidity} -> {uidvalidity}; "
                "re-syncing by content hash (known messages are not processed again)"
            )
            log_event("uidvalidity", why)
            log.warning("%s", why)
        MailboxState.insert(folder=folder, uidvalidity=uidvalidity, last_uid=0).on_conflict(
            conflict_target=[MailboxState.folder],  # an upsert both backends understand
            update={MailboxState.uidvalidity: uidvalidity, MailboxState.last_uid: 0},
        ).execute()
    return 0


def _mark_known(raw: bytes, uidvalidity: int, uid: int, folder: str) -> None:
    """A message seen again (crash before the move, or new UIDVALIDITY): remember its new
    UID so that the server-side tidy step can move it."""
    digest = hashlib.sha256(raw).hexdigest()
    InboundMessage.update(uidvalidity=uidvalidity, uid=uid, folder=folder, server_done=False).where(
        (InboundMessage.sha256 == digest)
        # unchanged when another daemon stored it from this very UID (and perhaps moved it)
        & (
            (InboundMessage.uid != uid)
            | (InboundMessage.uidvalidity != uidvalidity)
            | (InboundMessage.folder != folder)
            | InboundMessage.uid.is_null()
            | InboundMessage.uidvalidity.is_null()
        )
    ).execute()


def tidy_server(client: IMAPClient, cfg: MailboxConfig) -> int:
    """Move processed and quarantined messages out of the inbox; returns how many moved."""
    status = client.folder_status(cfg.folder, ["UIDVALIDITY"])
    uidvalidity = int(status[b"UIDVALIDITY"])
    rows = list(
        InboundMessage.select(InboundMessage.id, InboundMessage.uid, InboundMessage.status)
        .where(
            (InboundMessage.server_done == False)  # noqa: E712 - peewee expression
            & (InboundMessage.status != "stored")
            & (InboundMessage.uidvalidity == uidvalidity)
            & (InboundMessage.folder == cfg.folder)
        )
        .order_by(InboundMessage.id)
    )
    moved = 0
    for target, status_name in (
        (cfg.processed_folder, "processed"),
        (cfg.quarantine_folder, "quarantined"),
    ):
        group = [r for r in rows if r.status == status_name]
        if group:
            moved += _tidy_group(client, group, target)
    return moved


def _tidy_group(client: IMAPClient, group: list[InboundMessage], target: str) -> int:
    """Move (or flag) the group's messages; those already gone were moved by another
    daemon. Dovecot refuses a MOVE naming a message expunged meanwhile ("NO
    [EXPUNGEISSUED]"): then what is left waits for the next cycle."""
    present = set(_present(client, [r.uid for r in group]))
    uids = [r.uid for r in group if r.uid in present]
    try:
        if uids and target:
            client.move(uids, target)
        elif uids:
            client.add_flags(uids, [b"\\Seen"])
    except IMAPClientError as exc:
        if "EXPUNGEISSUED" not in str(exc):
            raise
        log.info("tidy: another daemon moved some of these meanwhile; next cycle (%s)", exc)
        return 0
    if uids and target:
        crash_point("moved")
    InboundMessage.update(server_done=True).where(
        InboundMessage.id.in_([r.id for r in group])
    ).execute()
    return len(uids)


def _present(client: IMAPClient, uids: list[int]) -> list[int]:
    """Which of these UIDs the folder still holds (a missing UID is simply not listed)."""
    found: list[int] = []
    for start in range(0, len(uids), 500):
        chunk = ",".join(str(u) for u in uids[start : start + 500])
        found += client.search(["UID", chunk])
    return found
