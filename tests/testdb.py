"""Which database the suite runs on, and reading a mailflow database on either backend.

`MAILFLOW_TEST_DATABASE` = `sqlite` (default) or `postgresql` selects the backend of a
whole pytest run (scripts/test runs both). On PostgreSQL every test that has a folder
(`tmp_path`) gets a fresh, empty database of its own, exported as MAILFLOW_DATABASE_URL so
that the configuration files the tests write and the `mailflow` processes they start use it
(tests/conftest.py). Tests read the database through `query`, whose SQL (with `?`
placeholders) runs unchanged on both backends.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from mailflow.config import load_config
from mailflow.store.models import ALL_MODELS
from tests.pgstack import PgStack

VARIABLE = "MAILFLOW_TEST_DATABASE"
BACKENDS = ("sqlite", "postgresql")
# The URL given to tests that have no folder: on PostgreSQL it names no database, so a test
# that opens one without asking for it fails loudly instead of using SQLite unnoticed.
NO_DATABASE = "postgresql://mailflow@127.0.0.1:1/no_database_for_this_test"


def _named() -> str:
    return os.environ.get(VARIABLE, "").strip().lower() or "sqlite"


def backend() -> str:
    """The backend of this run, checked (a typo must not silently run SQLite again); the
    check runs when pytest starts (tests/conftest.py), which reports it as a usage error."""
    value = _named()
    if value not in BACKENDS:
        raise ValueError(f"{VARIABLE}={value!r}: expected one of {', '.join(BACKENDS)}")
    return value


POSTGRESQL = _named() == "postgresql"
SQLITE = not POSTGRESQL


def sqlite_url(name: str = "t.sqlite3") -> str:
    """A SQLite URL relative to the folder the test opens it from."""
    return f"sqlite:///{name}"


@dataclass
class Databases:
    """Fresh databases for tests: on the session's PostgreSQL server, or SQLite files."""

    pg: PgStack | None
    _per_test: str | None = None  # the session database whose schema each test empties

    def for_test(self, sqlite_name: str = "t.sqlite3") -> str:
        """The URL of an empty database for one test (on SQLite, a file name relative to
        the test's folder, new with that folder)."""
        if self.pg is None:
            return sqlite_url(sqlite_name)
        if self._per_test is None:
            self._per_test = self.pg.create_database()
        self.pg.reset(self._per_test)
        return self._per_test

    def copy(self, source: str, target: str) -> None:
        """Make the database `target` a copy of `source`, both URLs of this server's (a
        database built once per session, copied for each test: tests/deployment.py)."""
        if self.pg is None:
            raise ValueError("SQLite databases are files: copy the file")
        self.pg.copy_database(source, target)

    @contextmanager
    def fresh(self, sqlite_name: str = "t.sqlite3") -> Iterator[str]:
        """A new, empty database of its own for a fixture that outlives one test, dropped
        afterwards (on SQLite, a file name relative to the caller's folder)."""
        if self.pg is None:
            yield sqlite_url(sqlite_name)
            return
        url = self.pg.create_database()
        try:
            yield url
        finally:
            self.pg.drop_database(url)


def url_of(config: Path) -> str:
    """The database URL a `mailflow --config CONFIG` process uses (environment included)."""
    return load_config(config).database.url


def query(url: str, sql: str, params: tuple = (), base: Path | None = None) -> list[tuple]:
    """Run `sql` (placeholders `?`) on the database of `url` in a short connection of its own,
    commit, and return the rows (none for a statement without result).

    A relative SQLite path is taken from `base`, as open_database does. The connection is
    separate from peewee's, so the test sees what another process would see.
    """
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        path = target if target.is_absolute() or base is None else base / target
        con = sqlite3.connect(path, timeout=30)
        try:
            with con:
                return list(con.execute(sql, params))
        finally:
            con.close()
    pg = psycopg2.connect(url)
    try:
        with pg, pg.cursor() as cur:
            cur.execute(sql.replace("%", "%%").replace("?", "%s"), params)
            rows = cur.fetchall() if cur.description else []
            return [tuple(_plain(v) for v in row) for row in rows]
    finally:
        pg.close()


def _plain(value: object) -> object:
    """bytea comes back as memoryview; SQLite gives bytes, and so does this."""
    return bytes(value) if isinstance(value, memoryview) else value


def config_query(config: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """`query` on the database of the configuration file `config`."""
    return query(url_of(config), sql, params, base=config.parent)


@contextmanager
def write_locked(config: Path) -> Iterator[None]:
    """Hold, in another session, a lock that keeps every writer of the database waiting:
    SQLite's `BEGIN EXCLUSIVE` on the file, PostgreSQL's `LOCK TABLE ... IN EXCLUSIVE MODE`
    on every mailflow table (readers pass on both, as they do with SQLite's WAL)."""
    url = url_of(config)
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        locker = sqlite3.connect(config.parent / target, isolation_level=None, timeout=30)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    pg = psycopg2.connect(url)
    try:
        with pg.cursor() as cur:  # psycopg2 opens the transaction; closing rolls it back
            tables = ", ".join(m._meta.table_name for m in ALL_MODELS)
            cur.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
            yield
    finally:
        pg.close()


def superuser_url(url: str) -> str:
    """The same database as PostgreSQL's superuser (trusted on the test server)."""
    return re.sub(r"//[^@/]*@", "//postgres@", url, count=1)


# The relations that hold mailflow's rows: its tables and indexes, their TOAST tables (long
# values) and the TOAST tables' indexes.
_RELATIONS = """
WITH own AS (SELECT oid, reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
SELECT pg_relation_filepath(oid) FROM own
UNION SELECT pg_relation_filepath(reltoastrelid) FROM own WHERE reltoastrelid <> 0
UNION SELECT pg_relation_filepath(indexrelid) FROM pg_index
      WHERE indrelid IN (SELECT reltoastrelid FROM own)
"""


def stored_files(config: Path) -> dict[str, bytes]:
    """The bytes of every file that holds the database's rows, by name.

    SQLite: the file and its -wal and -shm. PostgreSQL: the files of mailflow's relations
    (`_RELATIONS`), after a CHECKPOINT (as the superuser, trusted on the test server) has
    written to them what was only in shared memory.
    """
    url = url_of(config)
    if url.startswith("sqlite:///"):
        db_file = config.parent / url.removeprefix("sqlite:///")
        return {str(p): p.read_bytes() for p in db_file.parent.glob(db_file.name + "*")}
    admin = psycopg2.connect(superuser_url(url))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CHECKPOINT")
            cur.execute("SHOW data_directory")
            data = Path(cur.fetchone()[0])
            cur.execute(_RELATIONS)
            names = [name for (name,) in cur.fetchall() if name]
    finally:
        admin.close()
    return {name: (data / name).read_bytes() for name in names if (data / name).exists()}
