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
`_mark_handed` in send_transaction.py), or if the server, after reading the ".", fails
without replying or refuses the mail in a reply that never arrives; an `unconfirmed` mail
may also have arrived (the process died after the 250, before `sent` was committed).
tests/e2e/test_crash.py kills the sender at each of these points (crashpoints.py) and checks
both outcomes.

A row is never sent by two live processes (the lock, plus a claim that only moves a row
still `queued`). This holds with several daemons on one database (store/leases.py): the lock is
the database's (PostgreSQL: any machine; SQLite: the processes of one machine), a daemon
that finds it taken returns at once with `busy` and tries again half a second later (its
newest rows may have been queued after the holder looked). Rows are only ever `sending`
or `handed` under the lock, so whoever holds it next may recover them as above. A sender
that loses its connection loses the lock with it, but also cannot commit `handed`, so it
never writes the final "." of a mail that the next holder might send again.

Order: due rows go oldest first; a row waits while an older row to the
same recipient is still queued, so a 4xx on one mail does not let later ones overtake it.
A row `held_for` another (the person's ack, for the ambassador's intro: services/intake.py)
waits until that one is `sent` (or `unconfirmed`: it may have arrived); when both are due
it goes right after it, in its place in the order, once the server took the other (a flush
also looks again, at most FLUSH_ROUNDS times, for rows what it sent released). If the
other is refused, services/unreachable.py cancels it and decides what the person is told
instead.
Backoff: a 4xx delays that row (30 s, 1 min, 2 min ... 1 h; failed after
`smtp.max_attempts`); a server that cannot be reached delays the whole outbox on the same
scale (kept in `Setting`, so cron runs and the daemon alike honour it) without using up
the rows' attempts: they wait as long as the server is away. Time is `clock.stamp()`, so
MAILFLOW_NOW moves it in tests.

This module runs the protocol; its parts live beside it: the lock in send_lock.py, the
recovery in send_recovery.py, steps 3 to 5 in send_transaction.py, the delays in
send_backoff.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import aiosmtplib
from peewee import JOIN

from mailflow.clock import stamp
from mailflow.config import SmtpConfig
from mailflow.core.outcomes import OutboxStatus
from mailflow.crashpoints import crash_point
from mailflow.store.models import OutboundMail, database
from mailflow.store.record import log_event
from mailflow.store.verp import verp_address
from mailflow.transport.send_backoff import backoff, server_down, server_retry_at, server_up
from mailflow.transport.send_lock import sender_lock
from mailflow.transport.send_recovery import UNCONFIRMED, recover
from mailflow.transport.send_transaction import Unconfirmed, transaction

log = logging.getLogger(__name__)
FLUSH_ROUNDS = 3  # a flush looks again for rows released by what it sent, this many times
RELEASED = (OutboxStatus.SENT, UNCONFIRMED)  # a row held for one of these may go


@dataclass(frozen=True)
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    busy: bool = False  # another process held the sender lock: nothing was tried

    def __add__(self, other: FlushResult) -> FlushResult:
        return FlushResult(
            self.sent + other.sent,
            self.deferred + other.deferred,
            self.failed + other.failed,
            self.busy or other.busy,
        )


def _due() -> list[tuple[int, str, int | None]]:
    """(id, recipient, parent) of the rows to send now, oldest first, never overtaking an
    older queued row to the same recipient, nor a row it is held for that is not sent yet.
    `parent` is that row when it goes in this same batch, before it (the person's ack
    after the intro it waits for): sent only once the parent was, so that the ack keeps its
    place in the order instead of waiting for a second round behind later mail."""
    now = stamp()
    waiting: set[str] = set()
    due: list[tuple[int, str, int | None]] = []
    due_ids: set[int] = set()
    parent = OutboundMail.alias()
    query = (
        OutboundMail.select(
            OutboundMail.id,
            OutboundMail.recipient,
            OutboundMail.next_attempt_at,
            OutboundMail.held_for,
            parent.status,
        )
        .join(parent, JOIN.LEFT_OUTER, on=(OutboundMail.held_for == parent.id))
        .where(OutboundMail.status == OutboxStatus.QUEUED)
        .order_by(OutboundMail.id)
    )
    for row_id, recipient, next_at, held_for, held_status in query.tuples():
        recipient = recipient.lower()
        released = held_for is None or held_status in RELEASED
        after = held_for if not released and held_for in due_ids else None
        if next_at <= now and (released or after) and recipient not in waiting:
            due.append((row_id, recipient, after))
            due_ids.add(row_id)
        else:
            waiting.add(recipient)
    return due


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
                status=OutboxStatus.SENDING,
                attempts=OutboundMail.attempts + 1,
                next_attempt_at=stamp(),
            )
            .where((OutboundMail.id == row_id) & (OutboundMail.status == OutboxStatus.QUEUED))
            .execute()
        )
    return OutboundMail.get_by_id(row_id) if taken else None


async def _deliver(cfg: SmtpConfig, due: list[tuple[int, str, int | None]]) -> FlushResult:
    sent = deferred = failed = 0
    client = _smtp(cfg)
    try:
        await client.connect()
        if cfg.username:
            await client.login(cfg.username, cfg.password)
    except (aiosmtplib.SMTPException, OSError) as exc:
        server_down(f"connection: {exc}")
        return FlushResult(deferred=len(due))
    server_up()
    held: set[str] = set()  # recipients whose older mail was just deferred (or held back)
    accepted: set[int] = set()  # rows the server took in this batch: their held rows may go
    try:
        for position, (row_id, recipient, after) in enumerate(due):
            if recipient in held:
                continue
            if after is not None and after not in accepted:  # its parent was not sent
                held.add(recipient)
                continue
            row = _claim(row_id)
            if row is None:
                continue
            crash_point("sending")
            outcome = await _send_one(client, cfg, row)
            if outcome == "sent":
                accepted.add(row_id)
            sent += outcome == "sent"
            deferred += outcome == "deferred"
            failed += outcome == "failed"
            if outcome == "deferred":
                held.add(recipient)
            if not client.is_connected:  # the rest waits for the server's backoff
                server_down("connection lost")
                deferred += len(due) - position - 1
                break
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
    return FlushResult(sent, deferred, failed)


async def _send_one(client: aiosmtplib.SMTP, cfg: SmtpConfig, row: OutboundMail) -> str:
    envelope = verp_address(row.envelope_from, row.id)  # a bounce names this row (store/verp.py)
    try:
        await transaction(client, envelope, row, cfg.timeout_seconds)
    except Unconfirmed as exc:
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


def _sent(row: OutboundMail, error: str | None, kind: str, status: str = OutboxStatus.SENT) -> str:
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
    delay = backoff(row.attempts)
    row.status, row.last_error = OutboxStatus.QUEUED, why
    row.next_attempt_at = stamp() + timedelta(seconds=delay)
    row.save()
    log.warning("mail %s deferred (%s), next try in %ss", row.id, why, delay)
    return "deferred"


def _fail(row: OutboundMail, why: str) -> str:
    with database.atomic():
        row.status, row.last_error = OutboxStatus.FAILED, why
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
    """Recover what a dead sender left, then send everything due, over one connection;
    again for the rows that what was sent released (held_for), up to FLUSH_ROUNDS times."""
    with sender_lock() as mine:
        if not mine:
            log.debug("another process is sending the outbox; leaving it to it")
            return FlushResult(busy=True)
        recover()
        result, tried = FlushResult(), set()
        for _ in range(FLUSH_ROUNDS):
            due = [row for row in _due() if row[0] not in tried]
            if not due:
                return result
            retry_at = server_retry_at()
            if retry_at is not None and stamp() < retry_at:
                return result + FlushResult(deferred=len(due))
            tried.update(row[0] for row in due)
            done = asyncio.run(_deliver(cfg, due))
            result = result + done
            if not done.sent:
                return result
        return result
