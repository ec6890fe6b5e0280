"""Hostile values are stored the same way on SQLite and PostgreSQL.

SQLite takes a string of any length with NUL characters in it and a 64-bit integer anywhere;
PostgreSQL refuses a value longer than its varchar(n), any NUL in text, and an IMAP UID above
2**31 - 1 in a 4-byte integer. Mail that carries such values must get the same outcome on
both backends (mailflow/store/fields.py), never a quarantine caused by the database alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.store.models import InboundMessage, MailboxState, Person, Request
from mailflow.transport.ingest import _last_uid, store
from tests.inprocess import close_context, open_context, store_and_process

ASK = "Bonjour, j'ai 15 ans et je voudrais rencontrer un boulanger près de Caen."


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path)
    close_context()


def raw_mail(sender: str, subject: str, body: str, message_id: str, to: str = "") -> bytes:
    """Built by hand: EmailMessage would refuse (or fold) the values under test."""
    head = (
        f"From: {sender}\r\nTo: {to or 'relay@mailflow.test'}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return (head + body + "\r\n").encode()


def test_nul_characters_are_dropped_not_refused(ctx: Context) -> None:
    raw = raw_mail("Léa <lea@users.test>", "Demande\x00 urgente", ASK + "\x00", "nul@users.test")
    assert store_and_process(ctx, raw) == {"request-offered": 1}
    row = InboundMessage.get()
    assert row.subject == "Demande urgente" and bytes(row.raw) == raw  # the bytes stay whole
    assert "\x00" not in Request.get().message


def test_overlong_values_are_cut_to_their_column(ctx: Context) -> None:
    name = "Jean" * 40
    long_sender = raw_mail(f"{'x' * 400}@users.test", "Demande", ASK, "m" * 1200 + "@users.test")
    long_name = raw_mail(
        f"{name} <jean@users.test>", "Demande", f"Je m'appelle {name}. {ASK}", "n@users.test"
    )
    long_token = raw_mail(
        "Tom <tom@users.test>", "Re", "Bonjour", "t@users.test", f"relay+{'t' * 100}@mailflow.test"
    )
    # an address no server would take (RFC 5321) is no sender, on both backends
    assert store_and_process(ctx, long_sender) == {"no-sender": 1}
    assert store_and_process(ctx, long_name) == {"request-offered": 1}
    [outcome] = store_and_process(ctx, long_token)
    assert outcome != "quarantined"
    assert InboundMessage.select().where(InboundMessage.status == "quarantined").count() == 0
    first = InboundMessage.get_by_id(1)
    assert len(first.message_id) == 998  # cut to the column, and found again by the whole id
    assert InboundMessage.get(InboundMessage.message_id == f"<{'m' * 1200}@users.test>") == first
    assert all(len(p.first_name or "") <= 100 for p in Person.select())


def test_imap_uids_up_to_four_billion(ctx: Context) -> None:
    top = 2**32 - 1
    row = store(raw_mail("lea@users.test", "Demande", ASK, "u@users.test"), "INBOX", top, top)
    assert row is not None
    assert (InboundMessage.get().uid, InboundMessage.get().uidvalidity) == (top, top)
    assert _last_uid("INBOX", top) == 0  # a first UIDVALIDITY is recorded...
    MailboxState.update(last_uid=top - 1).execute()
    assert _last_uid("INBOX", top) == top - 1  # ...and read back whole
    assert _last_uid("INBOX", top - 7) == 0  # a new UIDVALIDITY replaces it (an upsert)
    assert MailboxState.get().uidvalidity == top - 7
