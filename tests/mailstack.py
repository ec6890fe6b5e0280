"""The real local mail stack (Postfix -> Dovecot LMTP -> Maildir <- Dovecot IMAP) for tests.

`scripts/mailstack` starts and stops the daemons; this module drives that script and talks to
the running stack the way mailflow and its users do: SMTP in on 127.0.0.1, IMAP out. Tests
check what really landed in which mailbox, so no mocks are involved anywhere.

Every mailbox listed in `scripts/mailstack.users` has the password `secret`. Delivery is
asynchronous (SMTP 250 only means "queued"), so tests wait with `MailStack.wait_for`.
"""

from __future__ import annotations

import email
import email.policy
import os
import smtplib
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import cast

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "mailstack"
PASSWORD = "secret"
HOST = "127.0.0.1"
# The first run on a clean machine installs the packages with apt-get.
SCRIPT_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.1


class MailStackError(RuntimeError):
    """The stack could not be started, stopped or cleared; the message carries the output."""


@dataclass(frozen=True)
class MailStack:
    """A running stack: where it lives and how to reach it."""

    basedir: Path
    smtp_port: int
    imap_port: int
    dovecot_config: Path
    postfix_config: Path
    imaps_port: int = 0  # IMAP over TLS
    submission_port: int = 0  # SMTP submission: STARTTLS, then AUTH
    ca_file: Path | None = None  # the stack's own CA: trust it with SSL_CERT_FILE

    @classmethod
    def from_env_file(cls, env_file: Path) -> MailStack:
        """Describe the stack that `scripts/mailstack up` recorded in `env_file`."""
        values: dict[str, str] = {}
        for line in env_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line.removeprefix("export ").partition("=")
                values[key.strip()] = value.strip()
        return cls(
            basedir=Path(values["MAILSTACK_DIR"]),
            smtp_port=int(values["MAILSTACK_SMTP_PORT"]),
            imap_port=int(values["MAILSTACK_IMAP_PORT"]),
            dovecot_config=Path(values["MAILSTACK_DOVECOT_CONFIG"]),
            postfix_config=Path(values["MAILSTACK_POSTFIX_CONFIG"]),
            imaps_port=int(values.get("MAILSTACK_IMAPS_PORT", 0)),
            submission_port=int(values.get("MAILSTACK_SUBMISSION_PORT", 0)),
            ca_file=Path(values["MAILSTACK_CA_FILE"]) if "MAILSTACK_CA_FILE" in values else None,
        )

    # -- SMTP in ------------------------------------------------------------------------------

    def send(
        self, from_addr: str, to_addrs: str | Iterable[str], message: EmailMessage | bytes
    ) -> None:
        """Submit one message over SMTP; raise if any recipient is refused.

        smtplib only raises when *all* recipients are refused; a test that sends to several
        wants to know about each one, so partial refusals raise too.
        """
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        with smtplib.SMTP(HOST, self.smtp_port, timeout=30) as smtp:
            if isinstance(message, bytes):
                refused = smtp.sendmail(from_addr, recipients, message)
            else:
                refused = smtp.send_message(message, from_addr, recipients)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

    def send_text(
        self,
        from_addr: str,
        to_addr: str,
        subject: str,
        body: str,
        *,
        headers: dict[str, str] | None = None,
        in_reply_to: str | None = None,
    ) -> str:
        """Send a UTF-8 plain-text mail as a person's mail client would; return its Message-ID.

        `from_addr` and `to_addr` may carry display names ("Anne <person1@users.test>");
        the envelope uses the bare addresses. `headers` are added last and replace defaults.
        """
        sender = parseaddr(from_addr)[1]
        recipient = parseaddr(to_addr)[1]
        msg = EmailMessage()
        msg["From"] = from_addr
        msg["To"] = to_addr
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "users.test")
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = in_reply_to
        for name, value in (headers or {}).items():
            del msg[name]
            msg[name] = value
        msg.set_content(body)
        self.send(sender, [recipient], msg)
        return str(msg["Message-ID"])

    # -- IMAP out -----------------------------------------------------------------------------

    @contextmanager
    def imap(self, user: str) -> Iterator[IMAPClient]:
        """An IMAP session logged in as `user` (password `secret`), logged out afterwards."""
        with IMAPClient(HOST, port=self.imap_port, ssl=False, timeout=30) as client:
            client.login(user, PASSWORD)
            yield client

    def fetch_raw(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Every message in `folder`, as stored, in arrival (UID) order; flags stay untouched."""
        with self.imap(user) as client:
            return list(_fetch_new(client, folder, {}).values())

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[EmailMessage]:
        """Every message in `folder`, parsed with `email.policy.default`, in arrival order."""
        return [parse(raw) for raw in self.fetch_raw(user, folder)]

    def append(self, user: str, folder: str, raw: bytes) -> None:
        """Put a message straight into a folder (as a server-side redelivery would)."""
        with self.imap(user) as client:
            client.append(folder, raw)

    def imap_count(self, user: str, folder: str = "INBOX") -> int:
        """Number of messages in `folder`; 0 if the folder does not exist (yet)."""
        with self.imap(user) as client:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def wait_for(
        self,
        user: str,
        predicate: Callable[[EmailMessage], bool] = lambda msg: True,
        count: int = 1,
        timeout: float = 15.0,
        *,
        folder: str = "INBOX",
    ) -> list[EmailMessage]:
        """Poll until at least `count` messages in `folder` satisfy `predicate`; return those.

        Delivery takes 30-150 ms after SMTP says 250, so tests must wait. On timeout the
        AssertionError lists what *is* in the mailbox, which usually explains the failure.
        """
        deadline = time.monotonic() + timeout
        seen: dict[int, bytes] = {}
        with self.imap(user) as client:
            while True:
                current = _fetch_new(client, folder, seen)
                messages = [parse(raw) for raw in current.values()]
                matching = [msg for msg in messages if predicate(msg)]
                if len(matching) >= count:
                    return matching
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        self._timeout_report(user, folder, count, timeout, matching, messages)
                    )
                time.sleep(POLL_INTERVAL_S)

    def _timeout_report(
        self,
        user: str,
        folder: str,
        count: int,
        timeout: float,
        matching: list[EmailMessage],
        messages: list[EmailMessage],
    ) -> str:
        lines = [
            f"wait_for({user!r}, folder={folder!r}): wanted {count} matching message(s) "
            f"within {timeout}s, got {len(matching)}; {len(messages)} message(s) there:"
        ]
        lines += [f"  {i}. {summary(msg)}" for i, msg in enumerate(messages, 1)]
        log = self.basedir / "log" / "postfix.log"
        if log.exists():
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
            lines += [f"last lines of {log}:", *(f"  {line}" for line in tail)]
        return "\n".join(lines)

    # -- housekeeping -------------------------------------------------------------------------

    def clear(self) -> None:
        """Start from empty mailboxes: drop queued mail, expunge every message of every user
        and delete every folder but INBOX (needs root, like the stack itself)."""
        self._run("postsuper", "-c", str(self.postfix_config), "-d", "ALL")
        doveadm = ["doveadm", "-c", str(self.dovecot_config)]
        self._run(*doveadm, "expunge", "-A", "mailbox", "*", "all")
        listing = self._run(*doveadm, "-f", "tab", "mailbox", "list", "-A")
        folders: dict[str, list[str]] = {}
        for line in listing.splitlines()[1:]:  # first line is the "username mailbox" header
            user, _, folder = line.partition("\t")
            if folder and folder != "INBOX":
                folders.setdefault(user, []).append(folder)
        for user, names in folders.items():
            # Children before parents, so no -r is needed and each name exists when deleted.
            # A parent such as "mailflow" of "mailflow/processed" may exist only as a name
            # (\\NonExistent in Maildir++), so each name is deleted on its own and a name that
            # is already gone is fine.
            names.sort(key=lambda name: name.count("/"), reverse=True)
            for name in names:
                self._run(
                    *doveadm,
                    "mailbox",
                    "delete",
                    "-s",
                    "-u",
                    user,
                    name,
                    ok_if="Mailbox doesn't exist",
                )

    def _run(self, *command: str, ok_if: str | None = None) -> str:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0 and not (ok_if and ok_if in result.stderr):
            raise MailStackError(
                f"{' '.join(command)} exited {result.returncode}\n{result.stdout}{result.stderr}"
            )
        return result.stdout


def _fetch_new(client: IMAPClient, folder: str, seen: dict[int, bytes]) -> dict[int, bytes]:
    """The messages now in `folder` by UID (ascending), fetching only UIDs not in `seen`.

    The folder is re-selected read-only each time so new mail shows up and the daemon's
    \\Seen flags are never changed by a test looking. A missing folder counts as empty.
    """
    try:
        client.select_folder(folder, readonly=True)
    except IMAPClientError:
        return {}
    uids = sorted(client.search("ALL"))
    new = [uid for uid in uids if uid not in seen]
    if new:
        for uid, data in client.fetch(new, ["BODY.PEEK[]"]).items():
            seen[uid] = data[b"BODY[]"]
    return {uid: seen[uid] for uid in uids if uid in seen}


def parse(raw: bytes) -> EmailMessage:
    """Parse a stored message the way mailflow does (`email.policy.default`)."""
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def summary(msg: EmailMessage) -> str:
    """One readable line per message, for assertion messages."""
    return f"From: {msg['From']} | To: {msg['To']} | Subject: {msg['Subject']}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _script(command: str, basedir: Path, extra_env: dict[str, str] | None = None) -> str:
    """Run `scripts/mailstack COMMAND` for `basedir`; return its output, raise with it."""
    env = {**os.environ, "MAILSTACK_DIR": str(basedir), **(extra_env or {})}
    result = subprocess.run(
        [str(SCRIPT), command],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=SCRIPT_TIMEOUT_S,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise MailStackError(f"scripts/mailstack {command} exited {result.returncode}:\n{output}")
    return output


def start_stack(
    basedir: Path,
    smtp_port: int,
    imap_port: int,
    imaps_port: int | None = None,
    submission_port: int | None = None,
) -> MailStack:
    """Start (or find running) the stack in `basedir`; every parent of it must be o+x.

    The TLS ports default to free ones. If a stack already runs there, its recorded ports
    win over the ones asked for.
    """
    taken = {smtp_port, imap_port}
    ports = []
    for asked in (imaps_port, submission_port):
        port = asked or free_port()
        while port in taken:
            port = free_port()
        taken.add(port)
        ports.append(port)
    _script(
        "up",
        basedir,
        {
            "MAILSTACK_SMTP_PORT": str(smtp_port),
            "MAILSTACK_IMAP_PORT": str(imap_port),
            "MAILSTACK_IMAPS_PORT": str(ports[0]),
            "MAILSTACK_SUBMISSION_PORT": str(ports[1]),
        },
    )
    return MailStack.from_env_file(basedir / "mailstack.env")


def stop_stack(stack: MailStack) -> None:
    """Stop both daemons of `stack` and wait until its ports refuse connections."""
    _script("down", stack.basedir)


# -- helpers for the fault and crash tests ----------------------------------------------------


def send_batch(stack: MailStack, messages: Iterable[tuple[str, str, EmailMessage]]) -> None:
    """Submit many (sender, recipient, message) over one SMTP connection; raise on refusal."""
    with smtplib.SMTP(HOST, stack.smtp_port, timeout=30) as smtp:
        for sender, recipient, msg in messages:
            refused = smtp.send_message(msg, sender, [recipient])
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)


def text_message(from_addr: str, to_addr: str, subject: str, body: str) -> EmailMessage:
    """A UTF-8 plain-text mail with a fresh Message-ID, as `MailStack.send_text` builds it."""
    sender = parseaddr(from_addr)[1]
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "users.test")
    msg.set_content(body)
    return msg


def doveadm(stack: MailStack, *args: str, ok_if: str | None = None) -> str:
    """Run `doveadm ARGS` against the stack's Dovecot (needs root, like the stack)."""
    return stack._run("doveadm", "-c", str(stack.dovecot_config), *args, ok_if=ok_if)


def wait_count(
    stack: MailStack, user: str, count: int, timeout: float = 30.0, folder: str = "INBOX"
) -> int:
    """Poll until `folder` holds at least `count` messages; return how many it holds.

    Cheaper than `wait_for` for hundreds of messages: only the count is read."""
    deadline = time.monotonic() + timeout
    while True:
        current = stack.imap_count(user, folder)
        if current >= count:
            return current
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{user} {folder}: wanted {count} message(s) within {timeout}s, got {current}"
            )
        time.sleep(POLL_INTERVAL_S)


def message_ids(stack: MailStack, user: str, folder: str = "INBOX") -> list[str]:
    """The Message-ID header of every message in `folder` (duplicates kept), UID order."""
    with stack.imap(user) as client:
        try:
            client.select_folder(folder, readonly=True)
        except IMAPClientError:
            return []
        uids = client.search("ALL")
        if not uids:
            return []
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        found = []
        for uid in sorted(fetched):
            header = fetched[uid][b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
            found.append(str(parse(header)["Message-ID"] or "").strip())
        return found


def wait_queue_empty(stack: MailStack, timeout: float = 30.0) -> None:
    """Poll until Postfix holds no mail (`postqueue -p`): everything handed to it has been
    delivered to its mailbox (or bounced), so an inbox read now is final, not early."""
    deadline = time.monotonic() + timeout
    while True:
        listing = stack._run("postqueue", "-c", str(stack.postfix_config), "-p")
        if "Mail queue is empty" in listing:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"Postfix queue not empty after {timeout}s:\n{listing[-2000:]}")
        time.sleep(POLL_INTERVAL_S)
