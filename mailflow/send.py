"""Handing the outbox to SMTP, oldest first, crash-safe: never twice, never silently lost.

Every row moves `queued -> sending -> handed -> sent` (or `failed` on a 5xx, or back to
`queued` with a backoff on a 4xx or a lost connection, or `unconfirmed`, see below):

1. One sender at a time: `flush_outbox` holds a lock that the kernel (SQLite: `flock` on
   `<db>.send-lock`) or the server (PostgreSQL: a session advisory lock) releases the moment
   its process dies. Another flush meanwhile returns at once; the holder sends its rows.
2. `sending`, with the attempt time in `next_attempt_at`, committed before MAIL FROM.
3. MAIL FROM, RCPT TO, DATA and the whole message except the final "." line, until the
   kernel holds all of it (a connection lost up to here: plain retry later).
4. `handed`, committed: from here on the mail counts as handed to SMTP.
5. The final "." goes out; the 250 makes the row `sent` (a 4xx or 5xx reply puts it back
   to `queued` or makes it `failed`, since the server then did not take it).

Recovery, holding the lock, of rows a dead sender left behind:

* `sending`: the server never read the final "." of DATA, so it dropped the transaction
  (RFC 5321, 4.1.1.4). The row goes back to `queued` (event `send-recovered`) and is sent
  in its place in the order: no duplicate.
* `handed`: the "." may have been read and the mail queued; nothing can tell (no remote
  mailbox is queried, no dedupe by the recipients' servers assumed). It is NOT sent again:
  it becomes `unconfirmed` (never `sent`: nobody saw the 250), with `last_error` and an
  event `send-unconfirmed`, for a coordinator to check (`mailflow log` shows the status;
  the daily digest lists it).
  Same when the connection breaks or times out while waiting for the reply to the ".".

So no mail is ever handed to SMTP twice by mailflow (at most once per row, and the
idempotency key makes one row per decision). The price: a mail is lost, visibly
(`unconfirmed`), if the process dies after step 4's commit is written but before the
"." is (a few microseconds of Python: that commit does not wait for the disk, see
`_mark_handed`), or if the server, after reading the ".", fails without replying or
refuses the mail in a reply that never arrives; an `unconfirmed` mail may also have
arrived (the process died after the 250, before `sent` was committed). tests/test_crash.py
kills the sender at each of these points (crashpoints.py) and checks both outcomes.

A row is never sent by two live processes (the lock, plus a claim that only moves a row
still `queued`). This holds with several daemons on one database (leases.py): the lock is
the database's (PostgreSQL: any machine; SQLite: the processes of one machine), a daemon
that finds it taken returns at once with `busy` and tries again half a second later (its
newest rows may have been queued after the holder looked). Rows are only ever `sending`
or `handed` under the lock, so whoever holds it next may recover them as above. A sender
that loses its connection loses the lock with it, but also cannot commit `handed`, so it
never writes the final "." of a mail that the next holder might send again.

Order: due rows go oldest first; a row waits while an older row to the
same recipient is still queued, so a 4xx on one mail does not let later ones overtake it.
Backoff: a 4xx delays that row (30 s, 1 min, 2 min ... 1 h; failed after
`smtp.max_attempts`); a server that cannot be reached delays the whole outbox on the same
scale (kept in `Setting`, so cron runs and the daemon alike honour it) without using up
the rows' attempts: they wait as long as the server is away. Time is `clock.stamp()`, so
MAILFLOW_NOW moves it in tests.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosmtplib
from peewee import PostgresqlDatabase, SqliteDatabase

from .clock import stamp
from .config import SmtpConfig
from .crashpoints import crash_point
from .models import OutboundMail, Setting, database
from .record import log_event
from .verp import verp_address

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1200, 3600)
SERVER_RETRY_AT = "smtp_retry_at"  # Setting: no connection attempt before this instant
SERVER_FAILURES = "smtp_failures"  # Setting: consecutive connection failures
_PG_LOCK_KEY = 0x6D61696C  # "mail"
UNCONFIRMED = "unconfirmed"  # handed to SMTP, the server's 250 never recorded
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
DATA_CHUNK = 1024 * 1024  # DATA is dot-stuffed and written this much at a time


@dataclass(frozen=True)
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    busy: bool = False  # another process held the sender lock: nothing was tried


def _backoff(attempt: int) -> int:
    return BACKOFF_SECONDS[min(max(attempt, 1) - 1, len(BACKOFF_SECONDS) - 1)]


# -- one sender at a time -------------------------------------------------------------------


@contextmanager
def _sender_lock() -> Iterator[bool]:
    """Yield True when this process is now the only sender, False when another one is."""
    db = getattr(database, "obj", database)
    if isinstance(db, PostgresqlDatabase):
        got = bool(db.execute_sql("SELECT pg_try_advisory_lock(%s)", (_PG_LOCK_KEY,)).fetchone()[0])
        try:
            yield got
        finally:
            if got:
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
        return
    path = db.database if isinstance(db, SqliteDatabase) else ":memory:"
    if path == ":memory:" or not path:  # one process only
        yield True
        return
    fd = os.open(f"{path}.send-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # released by close, or by the kernel if this process dies
    finally:
        os.close(fd)


def _recover() -> tuple[int, int]:
    """Rows a dead sender left: `sending` ones are queued again, `handed` ones are not sent
    again but marked `unconfirmed` (see the module docstring); each is logged. Returns
    (requeued, unconfirmed)."""
    requeued = unconfirmed = 0
    left = OutboundMail.select().where(OutboundMail.status.in_(["sending", "handed"]))
    for row in left.order_by(OutboundMail.id):  # logged in the same order on every backend
        since = f"{row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        if row.status == "sending":
            row.status = "queued"
            kind = "send-recovered"
            why = f"found 'sending' since {since} after a crash, before DATA ended: queued again"
            requeued += 1
        else:
            row.status, row.sent_at = UNCONFIRMED, stamp()
            row.last_error = f"250 not seen: the sender died after handing it over ({since})"
            kind = "send-unconfirmed"
            why = (
                f"handed to SMTP at {since}, then the sender died before the server's answer "
                "was recorded: unconfirmed (it may or may not have arrived), not sent again"
            )
            unconfirmed += 1
        with database.atomic():
            row.save()
            log_event(
                kind,
                f"{row.purpose} mail {why}",
                outbound=row,
                request=row.request_id,
                conversation=row.conversation_id,
            )
        log.warning("mail %s %s", row.id, why)
    return requeued, unconfirmed


# -- what is due ----------------------------------------------------------------------------


def _setting(key: str) -> str | None:
    found = Setting.get_or_none(Setting.key == key)
    return found.value if found else None


def _put(key: str, value: str) -> None:
    """Insert or update (an upsert PostgreSQL and SQLite both understand)."""
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}
    ).execute()


def _server_retry_at() -> datetime | None:
    value = _setting(SERVER_RETRY_AT)
    return datetime.fromisoformat(value) if value else None


def _server_down(why: str) -> None:
    failures = int(_setting(SERVER_FAILURES) or 0) + 1
    delay = _backoff(failures)
    retry_at = stamp() + timedelta(seconds=delay)
    with database.atomic():
        _put(SERVER_FAILURES, str(failures))
        _put(SERVER_RETRY_AT, retry_at.isoformat())
    log.warning("SMTP server unreachable (%s); outbox waits %ss (failure %s)", why, delay, failures)


def _server_up() -> None:
    if _setting(SERVER_FAILURES) is not None:
        Setting.delete().where(Setting.key.in_([SERVER_FAILURES, SERVER_RETRY_AT])).execute()
        log.info("SMTP server reachable again")


def _due() -> list[tuple[int, str]]:
    """(id, recipient) of the rows to send now, oldest first, never overtaking an older
    queued row to the same recipient."""
    now = stamp()
    waiting: set[str] = set()
    due: list[tuple[int, str]] = []
    query = (
        OutboundMail.select(OutboundMail.id, OutboundMail.recipient, OutboundMail.next_attempt_at)
        .where(OutboundMail.status == "queued")
        .order_by(OutboundMail.id)
    )
    for row in query:
        recipient = row.recipient.lower()
        if row.next_attempt_at <= now and recipient not in waiting:
            due.append((row.id, recipient))
        else:
            waiting.add(recipient)
    return due


# -- sending --------------------------------------------------------------------------------


def _smtp(cfg: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=cfg.host,
        port=cfg.port,
        use_tls=cfg.ssl,
        start_tls=cfg.starttls,
        timeout=cfg.timeout_seconds,
    )


def _claim(row_id: int) -> OutboundMail | None:
    """Mark the row `sending` (committed) if it is still queued; None if someone took it."""
    with database.atomic():
        taken = (
            OutboundMail.update(
                status="sending",
                attempts=OutboundMail.attempts + 1,
                next_attempt_at=stamp(),
            )
            .where((OutboundMail.id == row_id) & (OutboundMail.status == "queued"))
            .execute()
        )
    return OutboundMail.get_by_id(row_id) if taken else None


async def _deliver(cfg: SmtpConfig, due: list[tuple[int, str]]) -> FlushResult:
    sent = deferred = failed = 0
    client = _smtp(cfg)
    try:
        await client.connect()
        if cfg.username:
            await client.login(cfg.username, cfg.password)
    except (aiosmtplib.SMTPException, OSError) as exc:
        _server_down(f"connection: {exc}")
        return FlushResult(deferred=len(due))
    _server_up()
    held: set[str] = set()  # recipients whose older mail was just deferred
    try:
        for position, (row_id, recipient) in enumerate(due):
            if recipient in held:
                continue
            row = _claim(row_id)
            if row is None:
                continue
            crash_point("sending")
            outcome = await _send_one(client, cfg, row)
            sent += outcome == "sent"
            deferred += outcome == "deferred"
            failed += outcome == "failed"
            if outcome == "deferred":
                held.add(recipient)
            if not client.is_connected:  # the rest waits for the server's backoff
                _server_down("connection lost")
                deferred += len(due) - position - 1
                break
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
    return FlushResult(sent, deferred, failed)


class _Unconfirmed(Exception):
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


async def _transaction(
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
        raise _Unconfirmed(str(exc)) from exc
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
            OutboundMail.update(status="handed").where(OutboundMail.id == row_id).execute()
        finally:
            db.execute_sql("PRAGMA synchronous = FULL")
        return
    with database.atomic():
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("SET LOCAL synchronous_commit = off")
        OutboundMail.update(status="handed").where(OutboundMail.id == row_id).execute()


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


async def _send_one(client: aiosmtplib.SMTP, cfg: SmtpConfig, row: OutboundMail) -> str:
    envelope = verp_address(row.envelope_from, row.id)  # a bounce names this row (verp.py)
    try:
        await _transaction(client, envelope, row, cfg.timeout_seconds)
    except _Unconfirmed as exc:
        why = f"250 not seen ({exc}): unconfirmed (it may or may not have arrived), not sent again"
        return _sent(row, why, "send-unconfirmed", UNCONFIRMED)
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            return _fail(row, f"{exc.code} {exc.message}")
        return _defer(row, cfg, f"{exc.code} {exc.message}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _defer(row, cfg, f"connection: {exc}")
    crash_point("accepted")
    return _sent(row, None, "sent")


def _sent(row: OutboundMail, error: str | None, kind: str, status: str = "sent") -> str:
    with database.atomic():  # first thing after the reply
        row.status, row.sent_at, row.last_error = status, stamp(), error
        row.save()
        log_event(
            kind,
            f"{row.purpose} mail handed to SMTP" + (f"; {error}" if error else ""),
            outbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    return "sent"


def _defer(row: OutboundMail, cfg: SmtpConfig, why: str) -> str:
    """Back to the queue with this row's backoff; failed once max_attempts are used."""
    if row.attempts >= cfg.max_attempts:
        return _fail(row, f"gave up after {row.attempts} attempts: {why}")
    delay = _backoff(row.attempts)
    row.status, row.last_error = "queued", why
    row.next_attempt_at = stamp() + timedelta(seconds=delay)
    row.save()
    log.warning("mail %s deferred (%s), next try in %ss", row.id, why, delay)
    return "deferred"


def _fail(row: OutboundMail, why: str) -> str:
    with database.atomic():
        row.status, row.last_error = "failed", why
        row.save()
        log_event(
            "send-failed",
            why,
            outbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    log.error("mail %s failed: %s", row.id, why)
    return "failed"


def flush_outbox(cfg: SmtpConfig) -> FlushResult:
    """Recover what a dead sender left, then send everything due, over one connection."""
    with _sender_lock() as mine:
        if not mine:
            log.debug("another process is sending the outbox; leaving it to it")
            return FlushResult(busy=True)
        _recover()
        due = _due()
        if not due:
            return FlushResult()
        retry_at = _server_retry_at()
        if retry_at is not None and stamp() < retry_at:
            return FlushResult(deferred=len(due))
        return asyncio.run(_deliver(cfg, due))
