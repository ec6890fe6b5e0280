"""The bench's own mail stack: `scripts/mailstack` on free ports with the bench's mailboxes.

It reuses tests/mailstack.py (start, stop, SMTP and IMAP helpers) and adds what the bench
needs: many mailboxes, fast injection over several SMTP connections, and message counts
read from the Maildirs (cheap enough to poll while thousands of mails flow).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.mailstack import HOST, MailStack, free_port, start_stack, stop_stack

RELAY = "relay@mailflow.test"
COORDINATOR = "coordinator@mailflow.test"
FORWARDER = "fwd@mailflow.test"  # the bare forwarder's shared mailbox
SINK = "sink@pros.test"  # where the bare forwarder sends everything
LATENCY_AMBASSADOR = "amb-lat@pros.test"  # the one ambassador of the latency conversations


def persons(count: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i}@users.test" for i in range(1, count + 1)]


def ambassadors(count: int) -> list[str]:
    return [f"amb{i}@pros.test" for i in range(1, count + 1)]


def write_users(path: Path, people: Sequence[str], pros: Sequence[str]) -> Path:
    fixed = [RELAY, COORDINATOR, "postmaster@mailflow.test", FORWARDER, SINK, LATENCY_AMBASSADOR]
    path.write_text("\n".join([*fixed, *people, *pros]) + "\n", encoding="utf-8")
    return path


def start(basedir: Path, users_file: Path) -> MailStack:
    """A fresh stack under `basedir` (every parent must be o+x) on two free ports."""
    basedir.mkdir(mode=0o755, parents=True, exist_ok=True)
    basedir.chmod(0o755)
    smtp_port, imap_port = free_port(), free_port()
    while imap_port == smtp_port:
        imap_port = free_port()
    os.environ["MAILSTACK_USERS_FILE"] = str(users_file)
    return start_stack(basedir, smtp_port, imap_port)


def stop(stack: MailStack) -> None:
    stop_stack(stack)


def inject(stack: MailStack, mails: Sequence[tuple[str, str, bytes]], connections: int = 4) -> None:
    """Submit (sender, recipient, raw) mails as fast as Postfix takes them, over a few
    SMTP connections in parallel (one connection is limited by its round trips)."""
    chunks = [mails[i::connections] for i in range(connections)]

    def send(chunk: Sequence[tuple[str, str, bytes]]) -> None:
        with smtplib.SMTP(HOST, stack.smtp_port, timeout=60) as smtp:
            for sender, recipient, raw in chunk:
                smtp.sendmail(sender, [recipient], raw)

    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(send, c) for c in chunks if c]:
            future.result()


def maildir(stack: MailStack, address: str) -> Path:
    local, domain = address.split("@")
    return stack.basedir / "mail" / domain / local / "Maildir"


def inbox_count(stack: MailStack, addresses: Sequence[str]) -> int:
    """Messages delivered to these INBOXes (new/ + cur/), straight from the Maildirs that
    Dovecot's LMTP writes and its IMAP serves: polling IMAP for thousands of mailboxes
    would cost the daemons under test more CPU than the count is worth."""
    total = 0
    for address in addresses:
        base = maildir(stack, address)
        for sub in ("new", "cur"):
            with contextlib.suppress(FileNotFoundError):  # no mail yet
                total += len(os.listdir(base / sub))
    return total
