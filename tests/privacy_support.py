"""What the personal-data tests share: a deployment in-process, the conversation they erase,
the `mailflow` command, and where an address may still be (files, columns, blobs, figures)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest
from peewee import BlobField, CharField, TextField

from mailflow.admin.directory import import_file
from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Context, load_context
from mailflow.inbound.pipeline import process_pending
from mailflow.store.db import open_database
from mailflow.store.models import ALL_MODELS, Conversation, PendingCommand, Request, database
from mailflow.transport.ingest import store
from tests import testconfig
from tests.testdb import stored_files

LEA = "Lea@Users.test"  # written with capitals: erasure must not depend on case
TOM = "tom@users.test"
BAKER = "amb1@pros.test"  # Marie Lefèvre, boulangère à Caen
ASK_LEA = "Bonjour, j'ai 13 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
ASK_TOM = "Bonjour, j'ai 17 ans, je voudrais rencontrer un plombier près de Bayeux.\nTom"


def write_config(folder: Path, mailbox: str = "", retention_days: int = 30) -> Path:
    """The example configuration on a database in `folder`; `mailbox` replaces the
    [mailbox] port line (e.g. a port where nothing answers)."""
    return testconfig.write_config(
        folder,
        f"\n[privacy]\nretention_days = {retention_days}\n",
        replace={"port = 1143": mailbox} if mailbox else None,
    )


@contextmanager
def opened(config: Path) -> Iterator[Context]:
    """The database of `config` with the sample directory, and the rules."""
    cfg = load_config(config)
    db = open_database(cfg.database.url, config.parent)
    context = load_context(cfg)
    import_file(PROJECT_ROOT / "examples" / "ambassadors.csv", context.ref)
    try:
        yield context
    finally:
        db.close()
        database.initialize(None)


def mail(sender: str, to: str, body: str, subject: str = "Demande") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(body)
    return bytes(msg)


def run(ctx: Context, raw: bytes) -> dict[str, int]:
    store(raw, "INBOX", 1, None)
    return process_pending(ctx)


def relay(ctx: Context, token: str) -> str:
    return ctx.cfg.relay.token_address(token)


def confirmed(ctx: Context, raw: bytes) -> dict[str, int]:
    """A command from unauthenticated mail (no authserv_id here) waits; its sender then
    answers the confirmation mail (services/confirm.py), which applies it: the outcome of that."""
    assert run(ctx, raw) == {"confirmation-asked": 1}
    pending = PendingCommand.select().order_by(PendingCommand.id.desc()).get()
    return run(ctx, mail(pending.address, relay(ctx, pending.token), "OUI", "Re: Pour confirmer"))


def converse(ctx: Context) -> None:
    """Léa (13) and Tom (17) ask; Marie answers Léa; Léa answers and writes to Tom's relay."""
    assert run(ctx, mail(f"Léa Martin <{LEA}>", "relay@mailflow.test", ASK_LEA)) == {
        "request-offered": 1
    }
    assert run(ctx, mail(f"Tom <{TOM}>", "relay@mailflow.test", ASK_TOM)) == {"request-offered": 1}
    lea_conv = Conversation.get(Conversation.request == Request.get(Request.age == 13))
    tom_conv = Conversation.get(Conversation.request == Request.get(Request.age == 17))
    answer = f"Bonjour Léa, avec plaisir !\nMarie - {BAKER}"
    run(ctx, mail(f"Marie <{BAKER}>", relay(ctx, lea_conv.ambassador_token), answer, "Re"))
    thanks = f"Merci Marie !\nLéa ({LEA.lower()})"
    run(ctx, mail(f"Léa <{LEA}>", relay(ctx, lea_conv.person_token), thanks, "Re: Re"))
    run(ctx, mail(f"Léa <{LEA}>", relay(ctx, tom_conv.ambassador_token), "Coucou Tom", "Hi"))


def cli(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def statistics(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    """`mailflow stats --json`, every year: what an erasure must leave exactly as it was."""
    code, out, err = cli(config, capsys, "stats", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["years"] and doc["total"]["requests"] > 0  # figures there are to compare
    return doc


def traces(config: Path, needle: str) -> list[str]:
    """Where `needle` still is: the database's files, every text column, every blob."""
    return file_traces(config, needle) + row_traces(needle)


def file_traces(config: Path, needle: str) -> list[str]:
    """The database's files holding `needle`: SQLite's file with its WAL; PostgreSQL's
    tables, indexes and TOAST, where an updated row's old version stays until a vacuum."""
    files = stored_files(config)
    return [name for name, data in files.items() if needle.lower().encode() in data.lower()]


def readable(raw: bytes) -> str:
    """A stored mail as its reader sees it: decoded headers and text parts (a subject with
    an accent, or an address cut by a quoted-printable line break, is not in the bytes)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    parts = [f"{name}: {value}" for name, value in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def row_traces(needle: str) -> list[str]:
    """The text columns and blobs (raw or decoded) holding `needle`, by model, field and row."""
    found = []
    for model in ALL_MODELS:
        for field in model._meta.sorted_fields:
            for row in model.select():
                value = getattr(row, field.name)
                if isinstance(field, CharField | TextField) and value:
                    hit = needle.lower() in value.lower()
                elif isinstance(field, BlobField) and value:
                    raw = bytes(value)
                    hit = needle.lower().encode() in raw.lower()
                    hit = hit or needle.lower() in readable(raw).lower()
                else:
                    hit = False
                if hit:
                    found.append(f"{model.__name__}.{field.name} #{row._pk}")
    return found
