"""One SMTP transaction, split before the final "." of DATA (send.py, steps 3 to 5).

aiosmtplib's sendmail cannot stop there, and the crash-safety protocol needs the row
committed `handed` between the last byte of the message and the "." that ends it, so the
DATA payload is written here by hand.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiosmtplib
from peewee import PostgresqlDatabase, SqliteDatabase

from mailflow.core.outcomes import OutboxStatus
from mailflow.crashpoints import crash_point
from mailflow.store.models import OutboundMail, database

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
DATA_CHUNK = 1024 * 1024  # DATA is dot-stuffed and written this much at a time


class Unconfirmed(Exception):
    """The final "." went out but no reply came back."""


def _dot_stuffed_chunks(raw: bytes, size: int = DATA_CHUNK) -> Iterator[bytes]:
    """The DATA payload without its final "." line (CRLF line ends, dots doubled), in
    pieces of about `size` bytes, each cut just after a "\n" so that no line end is split
    and each piece starts a line: a large mail is not copied twice more whole."""
    view, pos, end = memoryview(raw), 0, len(raw)
    while pos < end:
        cut = raw.find(b"\n", min(pos + size, end) - 1)
        stop = end if cut < 0 else cut + 1
        text = _LEADING_DOT.sub(b"..", _LINE_ENDS.sub(b"\r\n", view[pos:stop]))
        pos = stop
        if pos >= end and not text.endswith(b"\r\n"):
            text += b"\r\n"
        yield text
    if not end:
        yield b"\r\n"


async def transaction(
    client: aiosmtplib.SMTP, envelope: str, row: OutboundMail, timeout: float
) -> None:
    """aiosmtplib's sendmail, split before the final ".": `row` is marked `handed`
    (committed) right before it goes out. Raises what the server answered."""
    try:
        await client.mail(envelope, timeout=timeout)
        await client.rcpt(row.recipient, timeout=timeout)
        reply = await client.execute_command(b"DATA", timeout=timeout)
        if reply.code != 354:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        if client.protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost")
        raw = row.raw if isinstance(row.raw, bytes) else bytes(row.raw)
        for chunk in _dot_stuffed_chunks(raw):  # the kernel takes each before the next
            if client.protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
            client.protocol.write(chunk)
            await _written(client, timeout)
    except aiosmtplib.SMTPResponseException:
        await _reset(client)
        raise
    _mark_handed(row.id)
    crash_point("handed")
    if not _connected(client):  # the "." cannot have gone: plain retry later
        raise aiosmtplib.SMTPServerDisconnected("connection lost before the end of DATA")
    try:
        reply = await client.execute_command(b".", timeout=timeout)  # ends DATA
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise Unconfirmed(str(exc)) from exc
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


def _mark_handed(row_id: int) -> None:
    """Commit `handed` without waiting for the disk, so that the "." follows at once.

    A killed process cannot lose this commit (its write is in the kernel's cache); only a
    power cut can, and then the row is found `sending` and sent again. Waiting for the
    fsync here (milliseconds on a busy disk) would open a window in which a kill leaves
    the row `handed` with the "." never written: a mail lost."""
    db = getattr(database, "obj", database)
    if isinstance(db, SqliteDatabase):
        db.execute_sql("PRAGMA synchronous = NORMAL")  # WAL: commit without fsync
        try:
            OutboundMail.update(status=OutboxStatus.HANDED).where(
                OutboundMail.id == row_id
            ).execute()
        finally:
            db.execute_sql("PRAGMA synchronous = FULL")
        return
    with database.atomic():
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("SET LOCAL synchronous_commit = off")
        OutboundMail.update(status=OutboxStatus.HANDED).where(OutboundMail.id == row_id).execute()


async def _written(client: aiosmtplib.SMTP, timeout: float) -> None:
    """Until the kernel holds every byte of the message, so that only the "." is left."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _connected(client):
        if not client.transport.get_write_buffer_size():  # type: ignore[union-attr]
            return
        if loop.time() > deadline:
            raise aiosmtplib.SMTPTimeoutError("timed out writing the message")
        await asyncio.sleep(0.005)
    raise aiosmtplib.SMTPServerDisconnected("connection lost while writing the message")


def _connected(client: aiosmtplib.SMTP) -> bool:
    transport = client.transport
    return (
        client.is_connected
        and isinstance(transport, asyncio.WriteTransport)
        and not transport.is_closing()
    )


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
