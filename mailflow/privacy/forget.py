"""`mailflow person forget EMAIL`: a person, an ambassador, or both under one address.

In order: the database (one transaction, every other decision waiting for it), its files
compacted once that has committed, then the copies on the IMAP server. A server that
cannot be reached does not undo the rest: the copies stay queued (transport/server_copies.py), and
the same command run again finishes the job (the daemon too, for the copies it knows by
Message-ID). Placeholders left by an earlier erasure are refused: nobody is behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailflow.config import Config
from mailflow.context import Context
from mailflow.errors import MailflowError
from mailflow.privacy.ambassador_erase import forget_ambassador
from mailflow.privacy.erasure import (
    consents_of,
    find_person,
    forget_adult,
    forget_person,
    refuse_placeholder,
    secure_delete,
)
from mailflow.privacy.retention import compact_now_or_later
from mailflow.privacy.retention_unlinked import kept_addresses
from mailflow.store.directory import find_ambassador
from mailflow.store.leases import lock_scope, write_transaction
from mailflow.transport.server_copies import Removal, pending, remove_now


@dataclass(frozen=True)
class Forgotten:
    """What `person forget` did: per role (None: not that role), and on the server."""

    person: dict[str, int] | None
    ambassador: dict[str, int] | None
    server: Removal
    adult: dict[str, int] | None = None  # an adult asked to consent for a child


def forget(cfg: Config, email: str, context: Callable[[], Context]) -> Forgotten:
    """Erase whoever holds `email`; `context` loads the rules when an ambassador's
    conversations must be handed over."""
    address = email.strip().lower()
    refuse_placeholder(address)
    person, ambassador = find_person(address), find_ambassador(address)
    adult = consents_of(address)
    if person is None and ambassador is None and not adult and not pending():
        raise MailflowError(f"no person or ambassador with the address {email.strip()!r}")
    done_person = done_ambassador = done_adult = None
    if person is not None or ambassador is not None or adult:
        ctx = context() if ambassador is not None else None
        secure_delete()
        with write_transaction():
            lock_scope(addresses=[address], whole_directory=True)
            kept = kept_addresses(cfg)  # the addresses the log may go on quoting
            done_person = forget_person(person, kept) if person is not None else None
            if ambassador is not None and ctx is not None:
                done_ambassador = forget_ambassador(ctx, ambassador)
            if consents_of(address):  # the person's erasure may have scrubbed it already
                done_adult = forget_adult(address)
        compact_now_or_later()
    return Forgotten(done_person, done_ambassador, remove_now(cfg.mailbox, address), done_adult)


def server_folders(cfg: Config) -> str:
    box = cfg.mailbox
    names = (box.folder, box.processed_folder, box.quarantine_folder)
    return ", ".join(dict.fromkeys(f for f in names if f))


def render(done: Forgotten, email: str, cfg: Config) -> tuple[str, str]:
    """The command's output and, when the server part is not done, its error line."""
    lines = []
    if done.person is not None:
        p = done.person
        lines.append(
            f"person #{p['person']} forgotten: {p['requests']} request(s) anonymised, "
            f"{p['mails']} stored mail(s) emptied"
        )
    if done.ambassador is not None:
        a = done.ambassador
        lines.append(
            f"ambassador #{a['ambassador']} forgotten: {a['handed_over']} request(s) handed "
            f"over, {a['mails']} stored mail(s) emptied"
        )
    if done.adult is not None:
        lines.append(
            f"adult asked to consent forgotten: {done.adult['consents']} consent(s), "
            f"{done.adult['mails']} stored mail(s) emptied"
        )
    if done.person is None and done.ambassador is None and done.adult is None:
        lines.append(
            f"no person or ambassador holds {email.strip()} in the database "
            "(already forgotten, or never known)"
        )
    folders = server_folders(cfg)
    if done.server.error is None:
        lines.append(f"server: {done.server.removed} message(s) removed from {folders}")
        return "\n".join(lines) + "\n", ""
    error = (
        f"copies of this mail remain on the server ({done.server.error}); run "
        f"`mailflow person forget {email.strip()}` again once the mailbox answers: it "
        "finishes the job and changes nothing else (the daemon also removes the copies it "
        "knows by Message-ID)"
    )
    return "\n".join(lines) + "\n", error
