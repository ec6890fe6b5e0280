"""Faults on the real stack: SMTP away, a 4xx storm, 5xx, an IMAP cut mid-fetch, a new
UIDVALIDITY, a locked database. Nothing lost, nothing twice, every failure in the log.

Time moves with MAILFLOW_NOW instead of waiting out backoffs; the fake SMTP server and the
cutting IMAP proxy are small local servers written here, without new dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from peewee import OperationalError

from mailflow import daemon as daemon_module
from mailflow.config import load_config
from mailflow.context import load_context
from mailflow.store.db import open_database
from tests.deployment import (
    RELAY,
    Deployment,
    query,
    set_config,
    start_daemon,
)
from tests.inprocess import close_context
from tests.mailstack import (
    doveadm,
    free_port,
    message_ids,
    send_batch,
    text_message,
    wait_count,
    wait_queue_empty,
)
from tests.pgstack import PgStack, start_pgstack, stop_pgstack
from tests.testdb import POSTGRESQL, write_locked

T0 = datetime(2026, 3, 2, 9, 0, 0)
BAKER_CAEN = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def ask(dep: Deployment, *persons: str, body: str = BAKER_CAEN) -> list[str]:
    """Each person asks once; returns the Message-IDs, once they wait in the shared inbox."""
    batch = [(p, RELAY, text_message(p, RELAY, "Demande", body)) for p in persons]
    before = dep.stack.imap_count(RELAY)
    send_batch(dep.stack, batch)
    wait_count(dep.stack, RELAY, before + len(batch))
    return [str(msg["Message-ID"]) for _, _, msg in batch]


def outbox(dep: Deployment) -> list[tuple[int, str, str, str, int]]:
    """(id, recipient, message_id, status, attempts) of every outgoing row, by id."""
    return query(
        dep,
        "SELECT id, recipient, message_id, status, attempts FROM outbound_mail ORDER BY id",
    )


def events(dep: Deployment, kind: str) -> list[tuple[int, int | None, str]]:
    return query(
        dep, "SELECT id, outbound_id, cause FROM event WHERE kind = ? ORDER BY id", (kind,)
    )


def run(dep: Deployment, now: str) -> subprocess.CompletedProcess[str]:
    return dep.cli("run", "--once", env={"MAILFLOW_NOW": now})


def assert_delivered_once(dep: Deployment) -> None:
    """Every sent row is in its recipient's inbox exactly once, and nothing else is."""
    wanted: dict[str, list[str]] = {}
    for _, recipient, mid, status, _ in outbox(dep):
        assert status == "sent", outbox(dep)
        wanted.setdefault(recipient, []).append(mid)
    for recipient, mids in wanted.items():
        wait_count(dep.stack, recipient, len(mids))
    wait_queue_empty(dep.stack)  # a duplicate still queued would be missed otherwise
    for recipient, mids in wanted.items():
        held = message_ids(dep.stack, recipient)
        assert sorted(held) == sorted(mids), f"{recipient}: {held} != {mids}"


def assert_processed_once(dep: Deployment, sent_ids: list[str]) -> None:
    stored = [mid for (mid,) in query(dep, "SELECT message_id FROM inbound_message")]
    assert sorted(stored) == sorted(sent_ids)
    statuses = Counter(s for (s,) in query(dep, "SELECT status FROM inbound_message"))
    assert statuses == {"processed": len(sent_ids)}, statuses
    processed = Counter(
        i for (i,) in query(dep, "SELECT inbound_id FROM event WHERE kind = 'processed'")
    )
    assert len(processed) == len(sent_ids) and set(processed.values()) == {1}, processed


# -- SMTP -------------------------------------------------------------------------------------


def test_smtp_away_for_minutes_outbox_waits_then_goes_in_order_once(
    deployment: Deployment,
) -> None:
    dep = deployment
    set_config(dep, "smtp", "port", str(free_port()))  # nothing listens there
    ask(dep, "person1@users.test", "person2@users.test")
    first = run(dep, at(0))
    rows = outbox(dep)
    assert len(rows) >= 4 and {r[3] for r in rows} == {"queued"}, rows
    assert {r[4] for r in rows} == {0}, "an unreachable server must not use up attempts"
    assert "SMTP server unreachable" in first.stderr and "waits 30s" in first.stderr

    quiet = run(dep, at(10))  # within the backoff: not even a connection attempt
    assert "unreachable" not in quiet.stderr, quiet.stderr
    again = run(dep, at(31))  # still away: the wait grows
    assert "waits 60s" in again.stderr, again.stderr

    set_config(dep, "smtp", "port", str(dep.stack.smtp_port))  # the server is back
    run(dep, at(60))  # before the retry instant: nothing goes
    assert {r[3] for r in outbox(dep)} == {"queued"}
    run(dep, at(92))
    sent_order = [outbound for _, outbound, _ in events(dep, "sent")]
    assert sent_order == [r[0] for r in rows], "delivered out of order"
    assert_delivered_once(dep)
    run(dep, at(4000))  # a later run sends nothing again
    assert len(events(dep, "sent")) == len(rows)
    assert_delivered_once(dep)


class FakeSmtp:
    """A tiny SMTP server (asyncio streams) answering the end of DATA with `codes` in turn,
    then 250. It records every accepted message and every end-of-DATA reply."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.replies: list[int] = []
        self.accepted: list[bytes] = []
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0)
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 fake ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-fake\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = bytearray()
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    data += chunk
                code = self.codes.pop(0) if self.codes else 250
                self.replies.append(code)
                if code == 250:
                    self.accepted.append(bytes(data))
                writer.write(f"{code} {'ok' if code == 250 else 'try later'}\r\n".encode())
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:  # MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


def _accepted_ids(fake: FakeSmtp) -> list[str]:
    from tests.mailstack import parse

    return [str(parse(raw)["Message-ID"]) for raw in fake.accepted]


@pytest.fixture
def fake_smtp() -> list[FakeSmtp]:
    made: list[FakeSmtp] = []
    yield made
    for fake in made:
        fake.close()


def test_4xx_storm_backs_off_without_a_tight_loop_then_delivers_once_in_order(
    deployment: Deployment, fake_smtp: list[FakeSmtp]
) -> None:
    dep = deployment
    fake = FakeSmtp([451] * 3)
    fake_smtp.append(fake)
    set_config(dep, "smtp", "port", str(fake.port))
    ask(dep, "person1@users.test", "person2@users.test")  # two intros to the same baker
    run(dep, at(0))
    rows = outbox(dep)
    per_recipient = Counter(r[1] for r in rows)
    assert max(per_recipient.values()) >= 2, rows  # order within one recipient is tested
    tried = len(fake.replies)
    # the acks wait for their intros (services/intake.py), the second intro for the first
    # (same recipient): only the first intro was tried, and put back
    assert tried >= 1 and set(fake.replies) == {451}

    run(dep, at(10))  # within every row's backoff: no connection, no attempt
    run(dep, at(20))
    assert len(fake.replies) == tried and fake.connections == 1

    for seconds in (31, 31 + 61, 31 + 61 + 121, 31 + 61 + 121 + 241):
        run(dep, at(seconds))
    assert fake.replies.count(451) == 3
    assert len(fake.replies) == 3 + len(rows), "each mail accepted once, after its 451s"
    assert {r[3] for r in outbox(dep)} == {"sent"}
    accepted = _accepted_ids(fake)
    assert sorted(accepted) == sorted(r[2] for r in rows)
    for recipient in per_recipient:
        mine = [r[2] for r in rows if r[1] == recipient]
        assert [m for m in accepted if m in mine] == mine, f"{recipient}: out of order"


def test_5xx_fails_the_mail_and_logs_it_never_retried(
    deployment: Deployment, fake_smtp: list[FakeSmtp]
) -> None:
    dep = deployment
    fake = FakeSmtp([554] * 100)
    fake_smtp.append(fake)
    set_config(dep, "smtp", "port", str(fake.port))
    ask(dep, "person1@users.test")
    run(dep, at(0))
    rows = outbox(dep)
    assert rows and {r[3] for r in rows} == {"failed"}, rows
    failed = events(dep, "send-failed")
    attempted = [r[0] for r in rows if r[4] > 0]
    assert sorted(e[1] for e in failed) == attempted
    assert all("554" in e[2] for e in failed)
    # A refused intro is a bounce (issue 12, item 1): the person's ack, held for it, is
    # cancelled unsent, and the request goes to the next ambassador, refused as well.
    unsent = [r for r in rows if r[4] == 0]
    assert unsent and all(r[1].startswith("person1@") for r in unsent), rows
    tried = {r[0]: r[4] for r in rows}
    run(dep, at(86400))  # the next day: a failed mail is never tried again
    later = outbox(dep)
    assert {r[0]: r[4] for r in later if r[0] in tried} == tried, later
    assert all(r[4] <= 1 for r in later) and not fake.accepted, later  # new offers: once


# -- IMAP -------------------------------------------------------------------------------------


class CuttingProxy:
    """TCP proxy to Dovecot that drops its first connection once the server has sent
    `cut_after` bytes, then lets every later connection through."""

    def __init__(self, upstream_port: int, cut_after: int) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.connections = 0
        self.cut = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut_after if self.connections == 1 else None
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, limit), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        passed = 0
        try:
            while data := source.recv(65536):
                if limit is not None and passed + len(data) >= limit:
                    target.sendall(data[: limit - passed])
                    self.cut.set()
                    break
                target.sendall(data)
                passed += len(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _wait_processed(dep: Deployment, count: int, log_file: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    sql = "SELECT count(*) FROM inbound_message WHERE status != 'stored'"
    while (
        query(dep, sql)[0][0] < count
        or query(dep, "SELECT count(*) FROM outbound_mail WHERE status != 'sent'")[0][0]
    ):
        assert time.monotonic() < deadline, log_file.read_text(errors="replace")[-3000:]
        time.sleep(0.1)


def test_imap_cut_mid_fetch_reconnects_and_resumes_without_loss_or_duplicate(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep, mail = deployment, deployment.stack
    padding = "\n".join(f"ligne {i} : je suis très motivée." for i in range(60))
    persons = [f"person{n % 9 + 1}@users.test" for n in range(60)]
    sent_ids = ask(dep, *persons, body=f"{BAKER_CAEN}\n{padding}")
    with mail.imap(RELAY) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        sizes = [d[b"RFC822.SIZE"] for d in client.fetch(uids, ["RFC822.SIZE"]).values()]
    # Past the first FETCH batch (50 messages), well inside the second one.
    proxy = CuttingProxy(mail.imap_port, cut_after=int(sum(sizes) * 0.92))
    set_config(dep, "mailbox", "port", str(proxy.port))
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(dep, log_file)
    try:
        _wait_processed(dep, len(sent_ids), log_file)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        proxy.close()
    output = log_file.read_text(errors="replace")
    assert proxy.cut.is_set() and proxy.connections >= 2
    assert "mailbox connection lost" in output and "retrying in" in output, output[-3000:]
    assert "stored 10;" in output, output[-3000:]  # the first batch of 50 was kept: resumed
    assert "Traceback" not in output and daemon.returncode == 0
    assert_processed_once(dep, sent_ids)
    assert_delivered_once(dep)


def _uidvalidity(dep: Deployment, folder: str) -> int:
    with dep.stack.imap(RELAY) as client:
        return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


def test_new_uidvalidity_resyncs_by_hash_and_reprocesses_nothing(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    set_config(dep, "mailbox", "folder", '"Requests"')
    with mail.imap(RELAY) as client:
        client.create_folder("Requests")
    raws = [
        text_message(f"person{n}@users.test", RELAY, "Demande", BAKER_CAEN).as_bytes()
        for n in (1, 2, 3)
    ]
    for raw in raws:
        mail.append(RELAY, "Requests", raw)
    run(dep, at(0))
    before = outbox(dep)
    assert before and mail.imap_count(RELAY, "Requests") == 0
    old = _uidvalidity(dep, "Requests")

    # The folder is re-created on the server and the same messages come back, plus a new one.
    doveadm(mail, "mailbox", "delete", "-s", "-u", RELAY, "Requests")
    doveadm(mail, "mailbox", "create", "-u", RELAY, "Requests")
    if _uidvalidity(dep, "Requests") == old:  # same second: make the change certain
        doveadm(mail, "mailbox", "update", "--uid-validity", str(old + 7), "-u", RELAY, "Requests")
    new_raw = text_message("person4@users.test", RELAY, "Demande", BAKER_CAEN).as_bytes()
    for raw in [*raws, new_raw]:
        mail.append(RELAY, "Requests", raw)
    run(dep, at(60))

    changed = events(dep, "uidvalidity")
    assert len(changed) == 1 and "re-syncing by content hash" in changed[0][2]
    assert query(dep, "SELECT count(*) FROM inbound_message")[0][0] == 4
    processed = Counter(
        i for (i,) in query(dep, "SELECT inbound_id FROM event WHERE kind = 'processed'")
    )
    assert len(processed) == 4 and set(processed.values()) == {1}
    after = outbox(dep)
    assert after[: len(before)] == [(*r[:3], "sent", r[4]) for r in before]
    assert len(after) > len(before)  # only the new message caused mail
    assert all(r[0] > before[-1][0] for r in after[len(before) :])
    assert mail.imap_count(RELAY, "Requests") == 0  # the known copies were tidied too
    assert_delivered_once(dep)


# -- database ---------------------------------------------------------------------------------


def _wait_log(log_file: Path, text: str, timeout: float) -> str:
    """Until the daemon's output holds `text` (bounded); the output so far."""
    deadline = time.monotonic() + timeout
    while text not in (output := log_file.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{output[-3000:]}"
        time.sleep(0.1)
    return output


# What the daemon logs when it meets another session's write lock: on SQLite it names the
# wait once it has lasted a second (store/leases.py), on PostgreSQL the statement gives up after
# the transaction's lock_timeout (60 s, store/leases.py) and the cycle is retried.
LOCK_SIGN = (
    ("database unavailable, cycle abandoned", "lock timeout")
    if POSTGRESQL
    else ("database locked by another process", "waiting for it")
)


def test_database_write_locked_the_daemon_waits_says_so_then_processes_once(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(dep, log_file)
    try:
        _wait_log(log_file, "connected to the mailbox", 30)
        with write_locked(dep.config):  # BEGIN EXCLUSIVE / LOCK TABLE ... IN EXCLUSIVE MODE
            sent_ids = ask(dep, "person1@users.test", "person2@users.test", "person3@users.test")
            output = _wait_log(log_file, LOCK_SIGN[0], 120)
            assert LOCK_SIGN[1] in output, output[-3000:]
            # Nothing got past the lock: not even stored.
            assert query(dep, "SELECT count(*) FROM inbound_message")[0][0] == 0
        _wait_processed(dep, len(sent_ids), log_file)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    output = log_file.read_text(errors="replace")
    assert "Traceback" not in output and daemon.returncode == 0, output[-3000:]
    if not POSTGRESQL:
        assert "database lock obtained after" in output, output[-3000:]
    assert_processed_once(dep, sent_ids)
    assert_delivered_once(dep)


@pytest.mark.skipif(not POSTGRESQL, reason="a PostgreSQL server stopped and started again")
def test_postgresql_server_away_for_a_while_the_daemon_retries_then_processes_once(
    deployment: Deployment, tmp_path: Path, pgstack: PgStack
) -> None:
    dep = deployment
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(dep, log_file)
    port = urlsplit(pgstack.url).port
    stopped = False
    try:
        _wait_log(log_file, "connected to the mailbox", 30)
        stop_pgstack(pgstack)  # fast shutdown: the daemon's session is ended too
        stopped = True
        sent_ids = ask(dep, "person1@users.test", "person2@users.test")
        # Twice: the session the server ended, then a new connection refused (a retry that
        # met the outage too, and was survived).
        deadline = time.monotonic() + 60
        while log_file.read_text(errors="replace").count("database unavailable") < 2:
            assert time.monotonic() < deadline, log_file.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        stopped = False
        start_pgstack(pgstack.basedir, port)
        _wait_processed(dep, len(sent_ids), log_file, timeout=120)
    finally:
        if stopped:
            start_pgstack(pgstack.basedir, port)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    output = log_file.read_text(errors="replace")
    assert "Traceback" not in output and daemon.returncode == 0, output[-3000:]
    assert "retrying in" in output and "cycle: stored 2;" in output, output[-3000:]
    assert_processed_once(dep, sent_ids)
    assert_delivered_once(dep)


def test_daemon_survives_failing_cycles_logs_them_and_carries_on(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = load_config(deployment.config)
    open_database(cfg.database.url, cfg.source.parent)
    try:
        daemon = daemon_module.Daemon(load_context(cfg))
        calls: list[int] = []
        real_cycle = daemon_module.cycle

        def flaky(ctx, client):  # noqa: ANN001, ANN202
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("database is locked")
            if len(calls) == 2:
                raise RuntimeError("a bug in one stage")
            daemon.stop()
            return real_cycle(ctx, client)

        monkeypatch.setattr(daemon_module, "cycle", flaky)
        monkeypatch.setattr(daemon_module, "RECONNECT_BACKOFF", (0,))
        with caplog.at_level(logging.INFO):
            daemon.run()
    finally:
        close_context()
    assert len(calls) == 3
    text = caplog.text
    assert "database unavailable, cycle abandoned (OperationalError: database is locked)" in text
    failed = [r for r in caplog.records if "cycle failed (RuntimeError" in r.getMessage()]
    assert failed and failed[0].exc_info is not None  # logged with its traceback
    assert "stopped" in text
