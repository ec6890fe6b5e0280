"""What only a database server does to mailflow: dropping its connection, and sessions in
another time zone. SQLite has neither (no connection to lose, no session time zone), so
these tests run in the PostgreSQL pass of the suite only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg2
import pytest
from peewee import OperationalError

from mailflow.store.db import open_database
from mailflow.store.models import Person, database
from tests.testdb import SQLITE, superuser_url

pytestmark = pytest.mark.skipif(
    SQLITE, reason="a server's connections and session settings: PostgreSQL only"
)


@pytest.fixture
def db(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PGTZ", "America/New_York")  # a client's zone must not leak in
    handle = open_database(database_url, tmp_path)
    yield database_url
    handle.close()
    database.initialize(None)


def test_a_dropped_connection_is_replaced_at_the_next_statement(db: str) -> None:
    """A restarted server fails one statement (the daemon logs it and retries the cycle),
    never every statement after it."""
    Person.create(email="lea@users.test", created_at=datetime(2026, 3, 2, 9, 0))
    pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    admin = psycopg2.connect(superuser_url(db))
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # pg_terminate_backend only signals the backend: wait (bounded) until it is gone,
            # or the next statement may still find it alive on a loaded machine.
            deadline = time.monotonic() + 30
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone()[0] == 0:
                    break
                assert time.monotonic() < deadline, f"backend {pid} still alive after 30s"
                time.sleep(0.05)
    finally:
        admin.close()
    with pytest.raises(OperationalError):  # this statement meets the dropped connection
        Person.select().count()
    assert Person.select().count() == 1
    assert database.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid


def test_sessions_are_utc_with_a_lock_timeout(db: str) -> None:
    """Naive UTC timestamps are stored as given whatever the client's or server's zone,
    and a writer behind a lock gives up after SQLite's busy_timeout, not never."""
    show = database.execute_sql(
        "SELECT current_setting('TimeZone'), current_setting('lock_timeout')"
    )
    assert show.fetchone() == ("UTC", "10s")
    at = datetime(2026, 3, 29, 1, 30)  # the night Paris and New York are 5 hours apart
    Person.create(email="tom@users.test", created_at=at)
    assert Person.get().created_at == at
    epoch = database.execute_sql("SELECT extract(epoch FROM created_at::timestamptz) FROM person")
    assert float(epoch.fetchone()[0]) == at.replace(tzinfo=__import__("datetime").UTC).timestamp()
