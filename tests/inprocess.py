"""mailflow in-process on a fresh SQLite database, for tests that need no mail server."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from mailflow.admin.directory import import_file
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Context, load_context
from mailflow.inbound.pipeline import process_pending
from mailflow.store.db import open_database
from mailflow.store.models import database
from mailflow.transport.ingest import store
from tests.testconfig import write_config  # noqa: F401 (imported from here too)

SAMPLE_DIRECTORY = PROJECT_ROOT / "examples" / "ambassadors.csv"
# The receiving server these tests play: a context opened `trusted` believes its
# Authentication-Results, and mail_bytes writes its pass on every mail (ignored elsewhere).
TRUSTED = "mx.mailflow.test"
PASS_HEADER = f"Authentication-Results: {TRUSTED}; dmarc=pass\n".encode()


def open_context(
    folder: Path, extra: str = "", directory: bool = True, trusted: bool = False
) -> Context:
    """Open the database, load the rules and (by default) import the sample directory.
    `trusted`: `[mailbox] authserv_id` names TRUSTED, so mail_bytes' mail is authenticated
    and commands act at once (without it they wait for a confirmation, services/confirm.py)."""
    cfg = load_config(write_config(folder, extra))
    if trusted:
        mailbox = dataclasses.replace(cfg.mailbox, authserv_id=(TRUSTED,))
        cfg = dataclasses.replace(cfg, mailbox=mailbox)
    open_database(cfg.database.url, folder)
    ctx = load_context(cfg)
    if directory:
        import_file(SAMPLE_DIRECTORY, ctx.ref)
    return ctx


def close_context() -> None:
    database.obj.close()
    database.initialize(None)


def mail_bytes(
    body: str,
    sender: str = "Léa Martin <lea@users.test>",
    to: str = "relay@mailflow.test",
    subject: str = "Demande",
    authenticated: bool = True,
    **headers: str,
) -> bytes:
    """A plain UTF-8 mail; header names may use '_' for '-' (X_Autoreply). `authenticated`:
    with TRUSTED's pass on top, as the receiving server would write it."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">"))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return (PASS_HEADER if authenticated else b"") + bytes(msg)


def store_and_process(ctx: Context, *raws: bytes) -> dict[str, int]:
    """Store messages as ingest would, then run the pipeline; returns the outcome counts."""
    for raw in raws:
        store(raw, "INBOX", 1, None)
    return process_pending(ctx)
