"""The outbox's one-sender lock, held by whoever flushes it (send.py, step 1).

A lock the kernel (SQLite: `flock` on `<db>.send-lock`) or the server (PostgreSQL: a
session advisory lock) releases the moment its holder dies, so a crashed sender never
blocks the next one, and rows are only ever `sending` or `handed` under it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import PostgresqlDatabase, SqliteDatabase

from mailflow.store.models import database

_PG_LOCK_KEY = 0x6D61696C  # "mail"


@contextmanager
def sender_lock() -> Iterator[bool]:
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
