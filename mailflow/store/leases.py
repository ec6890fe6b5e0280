"""Several daemons on one database: who processes which message, who runs the scheduler.

Two or more `mailflow run` processes may share one mailbox and one database (PostgreSQL;
SQLite for processes on one machine). Nothing here is a lease with a timeout: every claim
is held by something that dies with its holder, so a killed daemon never leaves work stuck
and a slow one never has its work taken over while it still runs.

* A stored message is claimed inside the transaction that processes it: on PostgreSQL a
  row lock (`SELECT ... FOR UPDATE SKIP LOCKED`, the others skip the row), on SQLite the
  write lock of `BEGIN IMMEDIATE` (one writer at a time). The status is checked again under
  the claim, so a message processed meanwhile is left alone. A holder that dies rolls back
  and releases the claim with its connection; the message is `stored` again for the next.
* Decisions about one request are serialised (PostgreSQL transaction advisory locks, in one
  global order so that they cannot deadlock): the request a relay token names, the
  sender's address, and the routing step (which reads every ambassador's load). Mail that
  may act on many requests at once (an ambassador's command, a bounce, an out-of-office)
  takes the directory lock exclusively; everything else takes it shared. The state machine
  (core/lifecycle.py) thus never sees two writers of one request, nor a stale read of it.
* The scheduler (follow-ups, digest, retention) runs in one process at a time: the holder
  of a session advisory lock on PostgreSQL, of an `flock` on `<db>.scheduler-lock` with
  SQLite. The server or the kernel releases it when the holder dies; the others try again
  at each tick and one of them takes over.
* An idle daemon looks every few seconds for stored messages that nobody holds
  (`unclaimed_messages`), so work a killed daemon left is taken up without new mail. A
  daemon that hangs instead of dying is bounded on PostgreSQL: the server ends a session
  idle in a transaction for two minutes, and lock waits give up after one. (A hung holder
  of the scheduler or sender lock, outside any transaction, keeps it: a supervisor that
  restarts a hung daemon, e.g. a systemd watchdog, is the remedy.)
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from peewee import Database, InterfaceError, OperationalError, PostgresqlDatabase, SqliteDatabase

from mailflow.store.models import InboundMessage, database

log = logging.getLogger(__name__)

# Advisory lock keys. Transaction locks use the (int, int) form: a namespace and an id.
_DIRECTORY, _REQUEST, _ADDRESS, _ROUTING = 0x6D66_0001, 0x6D66_0002, 0x6D66_0003, 0x6D66_0004
_MESSAGE_ID = 0x6D66_0005
_SCHEDULER_KEY = 0x6D61_696C_5343  # "mailSC"; a session lock, in the bigint key space
# A daemon that hangs (alive, not dead) inside a transaction must not hold its claims for
# ever: the server ends its session after this idle time, and waiting for a lock fails
# after that long (the cycle is abandoned and retried; nothing is quarantined for it).
_PG_BOUNDS = (
    "SET LOCAL lock_timeout = '60s'; SET LOCAL idle_in_transaction_session_timeout = '120s'"
)


LOCK_NOTICE_MS = 1000  # SQLite: a write lock held longer than this by another is logged
_busy_ms: int | None = None  # the connections' busy timeout (db.py), read once


def worker_name() -> str:
    """How a process names itself in `processed_by` and in the log: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _db() -> Database:
    return getattr(database, "obj", database)


def on_postgresql() -> bool:
    return isinstance(_db(), PostgresqlDatabase)


_CONFLICT_CODES = {"23505", "40001", "40P01"}  # unique violation, serialization, deadlock


def conflict(exc: BaseException) -> bool:
    """A clash with another process's transaction, which a new attempt resolves."""
    for candidate in (exc, *exc.args, exc.__cause__):
        if getattr(candidate, "pgcode", None) in _CONFLICT_CODES:
            return True
    return False


def database_away(exc: BaseException) -> bool:
    """The database is locked, unreachable or restarting (not a clash of two writers):
    the whole cycle is abandoned and waited out by the daemon (transport/resilience.py),
    rather than logged as the failure of one row, with a traceback, each time."""
    return isinstance(exc, (OperationalError, InterfaceError)) and not conflict(exc)


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that will write after reading.

    On SQLite it starts with `BEGIN IMMEDIATE`: a deferred transaction that read before
    another process committed cannot write any more (SQLITE_BUSY at once, the busy timeout
    does not apply), while an immediate one waits its turn for the write lock. Nested in
    another transaction it is a savepoint, as usual. On PostgreSQL, lock waits and a hung
    holder are bounded (`_PG_BOUNDS`)."""
    db = _db()
    if isinstance(db, SqliteDatabase) and not db.in_transaction():
        txn = _begin_immediate(db)
        try:
            yield
        except BaseException as exc:
            if not txn.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            txn.__exit__(None, None, None)
        return
    outermost = not db.in_transaction()
    with db.atomic():
        if outermost and isinstance(db, PostgresqlDatabase):
            db.execute_sql(_PG_BOUNDS)
        yield


def _begin_immediate(db: SqliteDatabase) -> Any:
    """`BEGIN IMMEDIATE`, entered; the transaction object, for its `__exit__`.

    The write lock is first waited for LOCK_NOTICE_MS only: a writer that holds it longer
    (a backup, a stuck process, a coordinator's sqlite3 shell) is named in the log, then
    waited for as long as the connection's busy timeout allows (db.py), after which the
    statement fails ("database is locked") and the daemon retries the cycle."""
    global _busy_ms
    if _busy_ms is None:
        _busy_ms = int(db.execute_sql("PRAGMA busy_timeout").fetchone()[0])
    txn = db.atomic(lock_type="IMMEDIATE")
    db.execute_sql(f"PRAGMA busy_timeout = {min(LOCK_NOTICE_MS, _busy_ms)}")
    try:
        try:
            txn.__enter__()
            return txn
        except OperationalError as exc:
            if "locked" not in str(exc) or _busy_ms <= LOCK_NOTICE_MS:
                raise
        log.warning(
            "database locked by another process for over %ss: waiting for it (up to %ss more)",
            LOCK_NOTICE_MS / 1000,
            (_busy_ms - LOCK_NOTICE_MS) / 1000,
        )
        db.execute_sql(f"PRAGMA busy_timeout = {_busy_ms - LOCK_NOTICE_MS}")
        started = time.monotonic()
        txn = db.atomic(lock_type="IMMEDIATE")
        txn.__enter__()
        log.info("database lock obtained after %.1fs more", time.monotonic() - started)
        return txn
    finally:
        db.execute_sql(f"PRAGMA busy_timeout = {_busy_ms}")


def for_update(query: Any, *, skip_locked: bool = False) -> Any:
    """`query` with its rows locked until the end of the transaction (PostgreSQL); SQLite
    has no row locks and needs none inside `write_transaction()`."""
    return query.for_update(skip_locked=skip_locked or None) if on_postgresql() else query


def claim_inbound(inbound_id: int) -> InboundMessage | None:
    """The stored message, claimed for the current transaction; None when another process
    holds it or has processed it already. Call inside `write_transaction()`."""
    query = InboundMessage.select().where(
        (InboundMessage.id == inbound_id) & (InboundMessage.status == "stored")
    )
    return for_update(query, skip_locked=True).first()


def unclaimed_messages() -> bool:
    """A stored message that no live process holds: its claimer died mid-way, or it was
    stored by a daemon that died before processing it. (Mail a dead daemon queued is sent
    by the scheduler's tick of any daemon, which flushes the outbox.)"""
    stored = InboundMessage.select(InboundMessage.id).where(InboundMessage.status == "stored")
    if on_postgresql():
        with write_transaction():  # a row another daemon is processing is locked: skipped
            unclaimed = stored.for_update(skip_locked=True).limit(1).exists()
    else:  # may see a row being processed right now: one cycle for nothing, then claimed
        unclaimed = stored.limit(1).exists()
    return unclaimed


def lock_message_id(message_id: str) -> None:
    """Two copies of one mail (same Message-ID, other bytes) stored at once by two daemons
    must not both be taken as new: the second waits and sees the first."""
    if on_postgresql() and message_id:
        _db().execute_sql(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_MESSAGE_ID, message_id)
        )


def lock_scope(
    requests: Iterable[int] = (), addresses: Iterable[str] = (), *, whole_directory: bool = False
) -> None:
    """Serialise this transaction with every other one touching the same requests or
    addresses (released at commit or rollback). Always taken in the same order, directory
    first, so two transactions cannot wait for each other. SQLite needs none: its immediate
    transactions already run one at a time."""
    if not on_postgresql():
        return
    db = _db()
    mode = "pg_advisory_xact_lock" if whole_directory else "pg_advisory_xact_lock_shared"
    db.execute_sql(f"SELECT {mode}(%s, 0)", (_DIRECTORY,))
    for request_id in sorted({int(r) for r in requests}):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_REQUEST, request_id))
    for address in sorted({a.strip().lower() for a in addresses if a}):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_ADDRESS, address))


def lock_routing() -> None:
    """Before choosing an ambassador: one routing decision at a time, so that two requests
    decided at once cannot both take an ambassador's last free place. Taken last (after
    `lock_scope`), held until commit."""
    if on_postgresql():
        _db().execute_sql("SELECT pg_advisory_xact_lock(%s, 0)", (_ROUTING,))


class SchedulerLock:
    """Held by the one process that runs the scheduler; tried again at each tick.

    PostgreSQL: a session advisory lock, alive as long as this process's connection (the
    server drops it when the process dies). SQLite: an `flock` on `<db>.scheduler-lock`
    (the kernel drops it). An in-memory database has one process: always held."""

    def __init__(self) -> None:
        self.held = False
        self._fd: int | None = None
        self._seen_other = False

    def acquire(self) -> bool:
        """True when this process runs the scheduler now (taking the lock if free)."""
        db = _db()
        if isinstance(db, PostgresqlDatabase):
            got = self._postgres(db)
        elif isinstance(db, SqliteDatabase) and db.database not in ("", ":memory:"):
            got = self._flock(f"{db.database}.scheduler-lock")
        else:
            got = True
        self._note(got)
        return got

    def _postgres(self, db: PostgresqlDatabase) -> bool:
        if self.held and self._still_held(db):
            return True
        # pg_try_advisory_lock counts re-entries; it is only called while not holding it.
        row = db.execute_sql("SELECT pg_try_advisory_lock(%s)", (_SCHEDULER_KEY,)).fetchone()
        return bool(row[0])

    @staticmethod
    def _still_held(db: PostgresqlDatabase) -> bool:
        """The lock lives in the server session: a reconnect would have lost it."""
        row = db.execute_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 1",
            (_SCHEDULER_KEY >> 32, _SCHEDULER_KEY & 0xFFFFFFFF),
        ).fetchone()
        return bool(row[0])

    def _flock(self, path: str) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd  # held until release() or this process ends
        return True

    def _note(self, got: bool) -> None:
        if got and not self.held:
            if self._seen_other:
                log.info("scheduler: taken over by %s (the previous holder is gone)", worker_name())
            else:
                log.info("scheduler: running here (%s)", worker_name())
        elif not got and (self.held or not self._seen_other):
            log.info("scheduler: held by another process; this one only processes mail")
        self._seen_other = self._seen_other or not got
        self.held = got

    def release(self) -> None:
        if not self.held:
            return
        db = _db()
        if isinstance(db, PostgresqlDatabase):
            try:
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (_SCHEDULER_KEY,))
            except Exception:  # the connection is gone, and the lock with it
                log.debug("scheduler unlock failed", exc_info=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.held = False
