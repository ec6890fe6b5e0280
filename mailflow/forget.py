"""`mailflow person forget EMAIL`: erase a person, with the copies of their mail.

In order: the database (one transaction, every other decision waiting for it), its files
compacted once that has committed, then the copies on the IMAP server. A server that
cannot be reached does not undo the rest: the copies stay queued (server_copies.py), and
the same command run again finishes the job (the daemon too, for the copies it knows by
Message-ID). Placeholders left by an earlier erasure are refused: nobody is behind them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .errors import MailflowError
from .leases import lock_scope, write_transaction
from .privacy import find_person, forget_person, refuse_placeholder, secure_delete
from .retention import compact_now_or_later
from .server_copies import Removal, pending, remove_now


@dataclass(frozen=True)
class Forgotten:
    """What `person forget` did: in the database (None: nobody left there), on the server."""

    person: dict[str, int] | None
    server: Removal


def forget(cfg: Config, email: str) -> Forgotten:
    """Erase whoever holds `email`, then the server's copies of their mail."""
    address = email.strip().lower()
    refuse_placeholder(address)
    person = find_person(address)
    if person is None and not pending():
        raise MailflowError(f"no person with the address {email.strip()!r}")
    done = None
    if person is not None:
        secure_delete()
        with write_transaction():
            lock_scope(addresses=[address], whole_directory=True)
            done = forget_person(person)
        compact_now_or_later()
    return Forgotten(done, remove_now(cfg.mailbox, address))


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
    if done.person is None:
        lines.append(
            f"no person holds {email.strip()} in the database (already forgotten, or never known)"
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
