"""store/leases.py in-process, another process played by a second connection (no mail server).

On PostgreSQL the "other daemon" is a raw psycopg2 connection holding a row lock, an
advisory lock or an uncommitted insert; on SQLite a second file descriptor holding the
scheduler's flock (flock locks belong to an open file, so one process can play both).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.inbound.pipeline import process_pending
from mailflow.store.leases import (
    _SCHEDULER_KEY,
    SchedulerLock,
    claim_inbound,
    unclaimed_messages,
    write_transaction,
)
from mailflow.store.models import InboundMessage
from mailflow.transport.ingest import store
from tests import testdb
from tests.inprocess import close_context, mail_bytes, open_context


@pytest.fixture
def backend(tmp_path: Path, database_url: str) -> Iterator[tuple[Context, str]]:
    """An open in-process context on the run's backend; yields it with the PostgreSQL URL
    ("" on SQLite)."""
    ctx = open_context(tmp_path, directory=False)  # MAILFLOW_DATABASE_URL on PostgreSQL
    url = database_url if testdb.POSTGRESQL else ""
    try:
        yield ctx, url
    finally:
        close_context()


def _other(url: str):  # noqa: ANN202 - a psycopg2 connection
    import psycopg2

    return psycopg2.connect(url)


def _poll(what: str, check, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.02)


def test_a_message_claimed_elsewhere_is_skipped_then_taken_when_released(
    backend: tuple[Context, str],
) -> None:
    ctx, url = backend
    row = store(mail_bytes("Bonjour, je voudrais devenir boulanger à Caen."), "INBOX", 1, 1)
    assert row is not None
    if url:
        other = _other(url)
        with other.cursor() as cur:  # the other daemon, mid-way through processing it
            cur.execute("SELECT id FROM inbound_message WHERE id = %s FOR UPDATE", (row.id,))
        with write_transaction():
            assert claim_inbound(row.id) is None
        assert not unclaimed_messages()
        assert process_pending(ctx) == {}  # left to its holder
        other.rollback()  # the holder died: its claim with it
        other.close()
    assert unclaimed_messages()
    with write_transaction():
        assert claim_inbound(row.id) is not None
    assert sum(process_pending(ctx).values()) == 1
    processed = InboundMessage.get_by_id(row.id)
    assert processed.status == "processed" and processed.processed_by
    with write_transaction():
        assert claim_inbound(row.id) is None  # done: nobody takes it again
    assert not unclaimed_messages()


def test_the_same_bytes_stored_by_another_daemon_meanwhile_count_as_known(
    backend: tuple[Context, str],
) -> None:
    """The other daemon's insert is not yet committed when ours checks the hash: ours
    waits on the unique index, then loses, and its transaction goes on unharmed."""
    _, url = backend
    if not url:
        pytest.skip("SQLite: the write lock serialises the check and the insert")
    raw = mail_bytes("Bonjour, je voudrais devenir plombier à Bayeux.")
    other = _other(url)
    with other.cursor() as cur:  # the other daemon stores the same bytes, not yet committed
        cur.execute(
            "INSERT INTO inbound_message (message_id, sha256, folder, raw, size, received_at,"
            " status, server_done) VALUES ('<x@users.test>', %s, 'INBOX', %s, %s, now(),"
            " 'stored', false)",
            (hashlib.sha256(raw).hexdigest(), raw, len(raw)),
        )
    results: list[object] = []

    def ours() -> None:
        with write_transaction():
            kept = store(mail_bytes("Un autre message."), "INBOX", 1, 2)
            results.append(store(raw, "INBOX", 1, 3))  # waits for the other's commit
            results.append(kept)

    thread = threading.Thread(target=ours)
    thread.start()
    _poll("our insert waiting for the other's", lambda: _waiting(url))
    other.commit()
    other.close()
    thread.join(timeout=30)
    assert results[0] is None, "the bytes stored meanwhile must count as known"
    assert results[1] is not None and InboundMessage.get_or_none(
        InboundMessage.id == results[1].id
    ), "the rest of our transaction must survive"


def _waiting(url: str) -> bool:
    watcher = _other(url)
    try:
        with watcher.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            return bool(cur.fetchone()[0])
    finally:
        watcher.close()


def test_one_scheduler_holder_and_a_takeover_when_it_goes(
    backend: tuple[Context, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, url = backend
    caplog.set_level(logging.INFO, logger="mailflow.store.leases")
    mine = SchedulerLock()
    if url:
        other = _other(url)
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (_SCHEDULER_KEY,))
            assert cur.fetchone()[0]
        release = other.close  # the holder dies: the server drops its session lock
    else:
        holder = SchedulerLock()
        assert holder.acquire()
        release = holder.release
    assert not mine.acquire()
    assert not mine.acquire()  # tried again each tick, said once
    assert caplog.text.count("scheduler: held by another process") == 1
    release()
    _poll("the lock released by the server", mine.acquire)  # the backend exits just after
    assert mine.acquire()  # held, not taken twice
    assert "scheduler: taken over" in caplog.text
    if url:
        with _other(url).cursor() as cur:  # and now nobody else gets it
            cur.execute("SELECT pg_try_advisory_lock(%s)", (_SCHEDULER_KEY,))
            assert not cur.fetchone()[0]
    mine.release()


def test_the_daemon_reconnects_after_the_server_ended_its_session(
    backend: tuple[Context, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session ended by the server (a hung transaction past its bound, a restart) must
    not leave the daemon failing every cycle: the next one opens a new connection."""
    import mailflow.daemon as daemon_module
    from mailflow.store.models import database

    ctx, url = backend
    if not url:
        pytest.skip("PostgreSQL sessions")

    class Mailbox:  # no IMAP server needed: the cycle is replaced below
        def capabilities(self) -> tuple[bytes, ...]:
            return ()

        def logout(self) -> None:
            pass

    daemon = daemon_module.Daemon(ctx)
    results: list[object] = []

    def cycle(ctx, client):  # noqa: ANN001, ANN202
        if not results:
            pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            killer = _other(url)
            killer.autocommit = True
            with killer.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            killer.close()
        try:
            results.append(InboundMessage.select().count())
        except Exception as exc:
            results.append(exc)
            if len(results) >= 3:  # bounded: without a reconnect it fails for ever
                daemon.stop()
            raise
        daemon.stop()
        return daemon_module.CycleReport()

    monkeypatch.setattr(daemon_module, "connect", lambda cfg: Mailbox())
    monkeypatch.setattr(daemon_module, "cycle", cycle)
    monkeypatch.setattr(daemon_module, "RECONNECT_BACKOFF", (0,))
    daemon.run()
    assert len(results) == 2 and isinstance(results[0], Exception), results
    assert results[1] == 0


def test_a_follow_up_step_that_loses_the_database_abandons_the_run_without_a_traceback(
    backend: tuple[Context, str], caplog: pytest.LogCaptureFixture
) -> None:
    """One row's bug is logged and the others go on; a database away (the session ended
    by the server, a lock) is not that row's fault: it is raised for the daemon to wait
    out ("database unavailable, cycle abandoned"), not logged as a follow-up failure with
    a traceback at each step of the run (seen when PostgreSQL restarted in a retention)."""
    from collections import Counter

    from peewee import OperationalError

    from mailflow.followup.run import step
    from mailflow.store.models import database

    _, url = backend
    done: Counter[str] = Counter()
    caplog.set_level(logging.ERROR, logger="mailflow.followup.run")

    def buggy() -> str:
        raise ValueError("a bug in this row")

    step(done, buggy)
    assert done["error"] == 1 and "follow-up failed; it will be retried" in caplog.text
    caplog.clear()

    def away() -> str:
        if url:  # the real thing: the server ends this session
            pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            killer = _other(url)
            killer.autocommit = True
            with killer.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            killer.close()
            InboundMessage.select().count()
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError):
        step(done, away)
    assert done["error"] == 1 and caplog.text == ""
    if url:
        database.close()  # what the daemon's _reset_database does before the next cycle
        database.connect()
    step(done, lambda: "counted" if InboundMessage.select().count() >= 0 else "")
    assert done["counted"] == 1
