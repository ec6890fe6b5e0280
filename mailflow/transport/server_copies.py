"""Copies of erased mail on the IMAP server: found and removed from the folders mailflow uses.

mailflow moves handled mail to `mailflow/processed` or `mailflow/quarantine` and keeps it
there, so erasing someone's mail in the database must remove those copies too. The database
records, by Message-ID, which copies are still to go (`ServerErasure`); `person forget`,
`privacy purge` and the daemon remove them whenever the server answers, so an unreachable
server delays the removal but never loses it. `person forget` also removes every message
*from* the address. Only the matching messages are flagged \\Deleted and expunged (UID
EXPUNGE, RFC 4315): nothing else in the mailbox is touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from imapclient import DELETED, IMAPClient

from mailflow.clock import stamp
from mailflow.config import MailboxConfig
from mailflow.errors import MailflowError
from mailflow.store.models import ServerErasure
from mailflow.transport.ingest import parse_headers, session
from mailflow.transport.resilience import NETWORK_ERRORS

log = logging.getLogger(__name__)
SEARCH_CHUNK = 50  # Message-IDs per SEARCH (OR'ed together)
FETCH_CHUNK = 500


class ServerCopiesError(MailflowError):
    """The server holds copies that could not be removed now (they stay queued)."""


@dataclass(frozen=True)
class Removal:
    """What one attempt did: messages removed, or why the copies stay for now."""

    removed: int
    error: str | None = None


def queue_removal(message_id: str | None) -> None:
    """Remember that the server copy of this mail must go. A mail without Message-ID
    cannot be found again this way; `person forget` finds it by its sender."""
    wanted = (message_id or "").strip()
    if wanted and not ServerErasure.select().where(ServerErasure.message_id == wanted).exists():
        ServerErasure.create(message_id=wanted, queued_at=stamp())


def pending() -> int:
    """How many server copies are still to remove."""
    return ServerErasure.select().count()


def remove_copies(client: IMAPClient, cfg: MailboxConfig, from_address: str = "") -> int:
    """Remove every queued copy (and, given `from_address`, every message from it) from the
    inbox, processed and quarantine folders; returns how many messages went. The queue is
    emptied only of what was searched for, once the server has expunged it."""
    rows = list(ServerErasure.select(ServerErasure.id, ServerErasure.message_id))
    if not rows and not from_address:
        return 0
    wanted = {r.message_id for r in rows}
    removed = 0
    try:
        for folder in dict.fromkeys((cfg.folder, cfg.processed_folder, cfg.quarantine_folder)):
            if folder and client.folder_exists(folder):
                client.select_folder(folder)
                uids = _matching(client, wanted, from_address.strip().lower())
                removed += _expunge(client, folder, uids)
    finally:
        client.select_folder(cfg.folder)  # where the daemon reads and IDLEs
    ServerErasure.delete().where(ServerErasure.id << [r.id for r in rows]).execute()
    if removed:
        log.info("server copies of erased mail: %s message(s) removed", removed)
    return removed


def remove_now(cfg: MailboxConfig, from_address: str = "") -> Removal:
    """`remove_copies` over a connection of its own (the commands); a server that cannot
    be reached, or refuses, is reported rather than raised: the copies stay queued."""
    try:
        with session(cfg) as client:
            return Removal(remove_copies(client, cfg, from_address))
    except (*NETWORK_ERRORS, ServerCopiesError) as exc:
        where = f"{cfg.host}:{cfg.port}"
        return Removal(0, f"mailbox {where}: {type(exc).__name__}: {exc}")


def _matching(client: IMAPClient, message_ids: set[str], address: str) -> list[int]:
    """UIDs in the selected folder whose Message-ID is one of `message_ids` or whose From is
    `address`. The server's SEARCH matches substrings ('lea@x' is in 'malea@x'), so every
    candidate's headers are read and compared exactly."""
    ordered = sorted(message_ids)
    candidates: set[int] = set()
    for start in range(0, len(ordered), SEARCH_CHUNK):
        keys = [["HEADER", "Message-ID", mid] for mid in ordered[start : start + SEARCH_CHUNK]]
        candidates.update(client.search(["OR"] * (len(keys) - 1) + keys))
    if address:
        candidates.update(client.search(["FROM", address], charset="UTF-8"))
    uids = sorted(candidates)
    found = []
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = uids[start : start + FETCH_CHUNK]
        fetched = client.fetch(chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM)]"])
        for uid, data in fetched.items():
            headers = parse_headers(data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID FROM)]", b""))
            if _header(headers, "Message-ID") in message_ids or (
                address and address in _from_addresses(headers)
            ):
                found.append(uid)
    return sorted(found)


def _header(headers, name: str) -> str:  # noqa: ANN001 - an email.message.Message
    try:
        return str(headers.get(name) or "").strip()[:998]
    except Exception:  # a broken header matches nothing
        return ""


def _from_addresses(headers) -> set[str]:  # noqa: ANN001 - an email.message.Message
    try:
        return (
            {a.addr_spec.lower() for a in headers["From"].addresses} if headers["From"] else set()
        )
    except Exception:  # a broken From matches nothing
        return set()


def _expunge(client: IMAPClient, folder: str, uids: list[int]) -> int:
    """Flag and expunge exactly `uids`. Without UIDPLUS a plain EXPUNGE would also remove
    what someone else flagged \\Deleted there: then it is done only if nothing else is."""
    if not uids:
        return 0
    client.add_flags(uids, [DELETED], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
        return len(uids)
    others = set(client.search(["DELETED"])) - set(uids)
    if others:
        raise ServerCopiesError(
            f"{folder}: the server has no UIDPLUS and {len(others)} other message(s) are marked "
            f"deleted there; {len(uids)} copie(s) stay flagged \\Deleted until its next expunge"
        )
    client.expunge()
    return len(uids)
