"""Opening the database named by the configuration (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse

from mailflow.errors import ConfigError, MailflowError
from mailflow.store import migrations
from mailflow.store.models import database

log = logging.getLogger(__name__)

CONNECT_WAIT_SECONDS = 10  # how long a locked SQLite file may keep a process from opening it


class MailflowPostgres(PostgresqlDatabase):
    """PostgreSQL with the session settings mailflow relies on, set on every connection."""

    def _initialize_connection(self, conn: Any) -> None:
        # Timestamps are naive UTC (clock.stamp): the session's zone is UTC whatever the
        # server's or PGTZ. A writer waits for a lock at most as long as SQLite's
        # busy_timeout, then the statement fails (the daemon logs it and retries the cycle).
        with conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'; SET lock_timeout = '10s'")

    def cursor(self, named_cursor: Any = None) -> Any:
        """A cursor, on a new connection when the server dropped the last one.

        A restarted server or a cut connection fails the statement that meets it (the
        daemon logs it and retries); without this, every later statement would fail too
        ("connection already closed") until the process restarts. Inside a transaction
        the failure must reach the caller, so only a connection between transactions is
        replaced."""
        if not self.is_closed() and not self.in_transaction() and not self.is_connection_usable():
            self.close()
        return super().cursor(named_cursor)


def _shown(url: str) -> str:
    """The URL without its password, for messages (a deployment's logs must not hold it)."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def open_database(url: str, base: Path, upgrade: bool = True) -> Database:
    """Bind the models to `url` (relative SQLite paths are taken from `base`) and, unless
    `upgrade` is False, bring the schema to the latest version (see migrations.py)."""
    db, lock_path = connect(url, base)
    if upgrade:
        done = migrations.upgrade(db, lock_path)
        if done.applied or done.before is None or done.detected:
            log.info("%s", done.describe())
    return db


def connect(url: str, base: Path, must_exist: bool = False) -> tuple[Database, Path | None]:
    """Bind the models to `url` and connect, without touching the schema. Returns the
    database and, for a SQLite file, the lock file that serialises schema upgrades.
    `must_exist` refuses to create a missing SQLite file (a status check must not)."""
    lock_path: Path | None = None
    if url.startswith("sqlite:///"):
        target = url.removeprefix("sqlite:///")
        path = Path(target) if target == ":memory:" else (base / target)
        if must_exist and target != ":memory:" and not path.exists():
            raise MailflowError(
                f"no database at {path} yet: `mailflow init` or `mailflow db upgrade` creates it"
            )
        if target != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = path.with_name(path.name + ".upgrade-lock")
        db: Database = SqliteDatabase(
            str(path),
            pragmas={  # in this order: the wait applies to switching to WAL too
                "busy_timeout": 10000,
                "journal_mode": "wal",
                "synchronous": "full",
                "foreign_keys": 1,
            },
        )
    elif url.startswith(("postgresql://", "postgres://")):
        params = parse(url)
        db = MailflowPostgres(params.pop("database"), **params)
    else:
        raise ConfigError(
            f"database.url must start with sqlite:/// or postgresql://, got {_shown(url)!r}"
        )
    database.initialize(db)
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    while True:
        try:
            db.connect(reuse_if_open=True)
            return db, lock_path
        except OperationalError as exc:
            # Two processes opening a new SQLite file together: the one that loses the race
            # to switch it to WAL is told "locked" at once, without the busy wait.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ConfigError(f"database.url: cannot open {_shown(url)!r}: {exc}") from exc
            db.close()
            time.sleep(0.05)
