"""Two `mailflow run` daemons on one mailbox and one database (issue 6, "Several daemons").

Real subprocess daemons in IDLE mode, the real Postfix + Dovecot, and the same database:
PostgreSQL (a throwaway server started by `scripts/pgstack` for this module, one fresh
database per test) or SQLite (one file, two processes). From the database and the
recipients' real inboxes:

* every inbound message is stored once and processed once (the event log), by one of the
  two daemons, and both did some of the work (`processed_by`);
* every outgoing row is sent once, and every recipient holds each Message-ID once;
* the two sides of a conversation, answering at the same moment, lose no update
  (each request's state changes form one unbroken chain);
* only one daemon runs the scheduler; killed with SIGKILL, the other takes over and sends
  the due reminders exactly once.

Every wait is bounded polling.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import testdb
from tests.deployment import (
    RELAY,
    SAMPLE_DIRECTORY,
    Deployment,
    never_join,
    query,
    set_config,
    start_daemon,
    write_config,
)
from tests.mailstack import MailStack, message_ids, send_batch, text_message, wait_queue_empty

REQUESTS = 200
ROUNDS = 3  # in every open conversation both sides answer at once, three times
MONDAY = "2026-03-02T09:00:00"
DONE = "('sent', 'unconfirmed')"  # outgoing rows nothing will send again (transport/send.py)
ASKS = [
    "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.",
    "Bonjour, je suis au chômage et je cherche un plombier près de Bayeux.",
    "Bonjour, je voudrais faire une VAE d'aide-soignante dans la Manche.",
    "Bonjour, je suis en terminale, le CAP pâtissier à Caen m'intéresse.",
    "Bonjour, je voudrais parler avec un développeur web à Cherbourg.",
    # 16, not 14: a child's request now waits for a parent's consent (test_consent_e2e.py)
    "Bonjour, j'aimerais rencontrer une coiffeuse à Caen, j'ai 16 ans.",
    "Bonjour, je suis salarié et je voudrais devenir infirmier, vers Alençon.",
    "Bonjour, je cherche quelqu'un qui fait le BTS domotique à Évreux.",
    "Bonjour, je voudrais devenir pilote de ligne à Marseille.",
]


# -- a deployment on either backend ---------------------------------------------------------


class Shared:
    """A deployment and a way to read its database, whichever backend it uses."""

    def __init__(self, dep: Deployment, url: str | None) -> None:
        self.dep, self.url = dep, url

    def rows(self, sql: str) -> list[tuple]:
        if self.url is None:
            return query(self.dep, sql)
        import psycopg2

        con = psycopg2.connect(self.url)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            con.close()

    def value(self, sql: str) -> int:
        return int(self.rows(sql)[0][0])


@pytest.fixture
def shared(mail: MailStack, tmp_path: Path, database_url: str) -> Shared:
    """Two daemons' common ground on the run's backend (tests/testdb.py): on PostgreSQL,
    the test's database (MAILFLOW_DATABASE_URL); on SQLite, one file."""
    dep = Deployment(write_config(tmp_path, mail), mail)
    never_join(dep, tmp_path)  # nine people send 200 requests: none joins another
    url = database_url if testdb.POSTGRESQL else None
    dep.cli("init")
    dep.cli("ambassadors", "import", str(SAMPLE_DIRECTORY))
    return Shared(dep, url)


def wait_until(what: str, check: Callable[[], bool], timeout: float, report=None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not within {timeout}s: {what}" + (f"\n{report()}" if report else "")
            )
        time.sleep(0.1)


def log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def wait_log(path: Path, needle: str, count: int = 1, timeout: float = 30.0) -> None:
    wait_until(
        f"{count} x {needle!r} in {path.name}",
        lambda: log_text(path).count(needle) >= count,
        timeout,
        lambda: log_text(path)[-3000:],
    )


def stop(daemon: subprocess.Popen) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)


def token_address(token: str) -> str:
    return RELAY.replace("@", f"+{token}@")


# -- (1) a few hundred messages, two daemons ------------------------------------------------


def _drained(db: Shared, inbound: int) -> bool:
    return (
        db.value("SELECT count(*) FROM inbound_message WHERE status <> 'stored'") >= inbound
        and db.value(f"SELECT count(*) FROM outbound_mail WHERE status NOT IN {DONE}") == 0
        and db.dep.stack.imap_count(RELAY) == 0  # both tidied the shared inbox
    )


def _state(db: Shared, logs: list[Path]) -> str:
    """What a failed wait shows: the database's counts and the daemons' last lines."""
    counts = db.rows("SELECT status, count(*) FROM inbound_message GROUP BY status")
    out = db.rows("SELECT status, count(*) FROM outbound_mail GROUP BY status")
    tails = "\n".join(f"--- {log.name}\n{log_text(log)[-2500:]}" for log in logs)
    return (
        f"inbound {counts}; outbound {out}; relay inbox {db.dep.stack.imap_count(RELAY)}\n{tails}"
    )


def _replies(db: Shared) -> list[tuple[str, str, object]]:
    """Both sides of every open conversation answer at the same moment, side by side."""
    conversations = db.rows(
        "SELECT c.person_token, c.ambassador_token, p.email, a.email FROM conversation c"
        " JOIN request r ON r.id = c.request_id JOIN person p ON p.id = r.person_id"
        " JOIN ambassador a ON a.id = c.ambassador_id WHERE c.state = 'open' ORDER BY c.id"
    )
    batch = []
    for n, (person_token, ambassador_token, person, ambassador) in itertools.product(
        range(ROUNDS), conversations
    ):
        to_ambassador, to_person = token_address(person_token), token_address(ambassador_token)
        batch.append(
            (person, to_ambassador, text_message(person, to_ambassador, "Re", f"Merci {n}"))
        )
        batch.append((ambassador, to_person, text_message(ambassador, to_person, "Re", f"Oui {n}")))
    return batch


def _requests(count: int) -> list[tuple[str, str, object]]:
    batch = []
    for n in range(count):
        person = f"person{n % 9 + 1}@users.test"
        body = f"{ASKS[n % len(ASKS)]}\nMerci ! (demande {n})"
        batch.append((person, RELAY, text_message(person, RELAY, f"Demande {n}", body)))
    return batch


def assert_processed_once(db: Shared, sent_ids: list[str]) -> dict[str, int]:
    """Every mail sent stored once and processed once; returns who processed how many."""
    stored = Counter(mid for (mid,) in db.rows("SELECT message_id FROM inbound_message"))
    assert sorted(stored) == sorted(sent_ids) and max(stored.values()) == 1
    statuses = Counter(s for (s,) in db.rows("SELECT status FROM inbound_message"))
    assert statuses == {"processed": len(sent_ids)}, statuses
    processed = Counter(
        i for (i,) in db.rows("SELECT inbound_id FROM event WHERE kind = 'processed'")
    )
    assert len(processed) == len(sent_ids), "some message has no 'processed' event"
    assert set(processed.values()) == {1}, f"processed twice: {processed.most_common(3)}"
    return dict(db.rows("SELECT processed_by, count(*) FROM inbound_message GROUP BY processed_by"))


def assert_sent_once(db: Shared) -> int:
    """Every outgoing row sent (or `unconfirmed`: a kill between handing it over and the
    server's answer, transport/send.py); each recipient holds each sent Message-ID once (none
    missing) and no Message-ID twice."""
    mail = db.dep.stack
    outbound = db.rows("SELECT recipient, message_id, status FROM outbound_mail")
    assert {s for _, _, s in outbound} <= {"sent", "unconfirmed"}, Counter(outbound)
    per_recipient: dict[str, list[str]] = {}
    for recipient, mid, status in outbound:
        if status == "sent":
            per_recipient.setdefault(recipient, []).append(mid)
    for recipient, expected in per_recipient.items():
        count = len(expected)
        wait_until(
            f"{count} mails in {recipient}",
            lambda r=recipient, n=count: mail.imap_count(r) >= n,
            60,
        )
    # An `unconfirmed` mail that arrived counts towards those numbers too, so a `sent` one
    # (or a duplicate) may still be queued: only an empty queue makes the inboxes final.
    wait_queue_empty(mail, timeout=60)
    for recipient in {r for r, _, _ in outbound}:
        held = Counter(message_ids(mail, recipient))
        assert not [m for m, n in held.items() if n > 1], f"{recipient}: duplicates"
        missing = [m for m in per_recipient.get(recipient, []) if m not in held]
        assert not missing, f"{recipient}: missing"
    return len(outbound)


def assert_no_lost_update(db: Shared) -> None:
    """Each request's state changes form one chain, and no conversation lost a write."""
    chains: dict[int, list[tuple[str | None, str]]] = {}
    for request_id, old, new in db.rows(
        "SELECT request_id, old_state, new_state FROM event WHERE kind = 'state' ORDER BY id"
    ):
        chains.setdefault(request_id, []).append((old, new))
    for request_id, chain in chains.items():
        for (_, before), (old, _) in zip(chain, chain[1:], strict=False):
            assert old == before, f"request {request_id}: broken state chain {chain}"
    lost = db.rows(
        "SELECT c.id FROM conversation c JOIN inbound_message i ON i.conversation_id = c.id"
        " WHERE i.outcome = 'relayed' AND ((i.role = 'ambassador' AND"
        " c.ambassador_answered_at IS NULL) OR (i.role = 'person' AND c.person_last_at IS NULL))"
    )
    assert not lost, f"conversation updates lost: {lost}"
    # The first answer is written to the conversation and to its request at once; a stale
    # save of the conversation (the person's reply decided in parallel) would erase it.
    erased = db.rows(
        "SELECT c.id FROM conversation c JOIN request r ON r.id = c.request_id"
        " WHERE r.first_answer_at IS NOT NULL AND (c.ambassador_answered_at IS NULL"
        " OR c.ambassador_answered_at <> r.first_answer_at)"
    )
    assert not erased, f"first answers overwritten by a parallel decision: {erased}"


def assert_clean_logs(logs: list[Path]) -> None:
    texts = [log_text(log) for log in logs]
    for bad in ("Traceback", "cycle failed", "cycle abandoned", "connection lost", "quarantined"):
        assert all(bad not in text for text in texts), "\n".join(t[-3000:] for t in texts)


def test_two_daemons_process_every_message_once_and_send_every_mail_once(
    shared: Shared, tmp_path: Path
) -> None:
    db, mail = shared, shared.dep.stack
    logs = [tmp_path / "daemon-a.log", tmp_path / "daemon-b.log"]
    daemons = [start_daemon(db.dep, log) for log in logs]
    report = lambda: _state(db, logs)  # noqa: E731
    try:
        for log in logs:
            wait_log(log, "connected to the mailbox (IDLE)")
        requests = _requests(REQUESTS)
        started = time.monotonic()
        send_batch(mail, requests)
        wait_until("requests processed and answered", lambda: _drained(db, REQUESTS), 180, report)
        replies = _replies(db)
        assert len(replies) >= 100, "too few open conversations to answer"
        send_batch(mail, replies)
        total = REQUESTS + len(replies)
        wait_until("replies processed and relayed", lambda: _drained(db, total), 180, report)
        elapsed = time.monotonic() - started
    finally:
        for daemon in daemons:
            stop(daemon)
    by = assert_processed_once(db, [str(m["Message-ID"]) for _, _, m in requests + replies])
    if testdb.POSTGRESQL:  # SKIP LOCKED: both take messages side by side
        assert len(by) == 2 and all(by.values()), f"both daemons should have worked: {by}"
    # On SQLite one write lock serialises processing: whichever daemon its busy handler
    # favours may take every message (a second daemon there adds availability, not speed).
    assert_no_lost_update(db)
    sent = assert_sent_once(db)
    assert_clean_logs(logs)
    print(f"{total} inbound, {sent} outbound in {elapsed:.1f}s; processed by: {by}")


def test_a_daemon_killed_mid_batch_leaves_its_messages_to_the_other(
    shared: Shared, tmp_path: Path
) -> None:
    """kill -9 one daemon while both work through a batch: its claims die with it and the
    other, though idle and with a long IDLE timeout, takes them up within seconds.

    The victim gets a head start (the batch is sent before the survivor starts): with both
    running from the start, the faster one may take the whole batch, leaving nothing to
    kill the other in the middle of."""
    db, mail = shared, shared.dep.stack
    set_config(db.dep, "mailbox", "idle_seconds", "300")
    logs = [tmp_path / "victim.log", tmp_path / "survivor.log"]
    victim = start_daemon(db.dep, logs[0])
    survivor = None
    report = lambda: _state(db, logs)  # noqa: E731
    try:
        wait_log(logs[0], "connected to the mailbox (IDLE)")
        requests = _requests(REQUESTS)
        send_batch(mail, requests)
        name = f":{victim.pid}"
        wait_until(
            "the victim at work",
            lambda: (
                db.value(f"SELECT count(*) FROM inbound_message WHERE processed_by LIKE '%{name}'")
                >= 20
            ),
            120,
            report,
        )
        survivor = start_daemon(db.dep, logs[1])
        wait_log(logs[1], "connected to the mailbox (IDLE)")
        victim.kill()
        victim.wait(timeout=30)
        killed = time.monotonic()
        left = db.value("SELECT count(*) FROM inbound_message WHERE status = 'stored'")
        # Well before the survivor's IDLE timeout (300 s) and its first scheduler tick (60 s
        # after it started, which was before the kill): only its look for unclaimed messages
        # (every 5 s) can finish the work this soon. The survivor may have up to ~180
        # messages to finish (10-15 s here), 3x slower on a loaded machine: 50 s, not less.
        wait_until("the survivor finished", lambda: _drained(db, REQUESTS), 50, report)
        recovery = time.monotonic() - killed
    finally:
        victim.kill() if victim.poll() is None else None
        if survivor is not None:
            stop(survivor)
    by = assert_processed_once(db, [str(m["Message-ID"]) for _, _, m in requests])
    sent = assert_sent_once(db)
    recovered = db.value("SELECT count(*) FROM event WHERE kind = 'send-recovered'")
    unconfirmed = db.value("SELECT count(*) FROM event WHERE kind = 'send-unconfirmed'")
    assert_clean_logs([logs[1]])
    print(
        f"{REQUESTS} inbound ({left} still stored at the kill, all done {recovery:.1f}s "
        f"later), {sent} outbound; "
        f"processed by: {by}; send-recovered {recovered}, send-unconfirmed {unconfirmed}"
    )


# -- (2) the scheduler: one holder, taken over when it dies ---------------------------------


def test_one_daemon_runs_the_scheduler_and_another_takes_over_when_it_dies(
    shared: Shared, tmp_path: Path
) -> None:
    """The holder lives on Tuesday (nothing due), the other on Thursday (first reminders
    due): while the holder lives nobody sends them; killed, the other takes over and sends
    each exactly once. (Per-process MAILFLOW_NOW is how the test tells who runs them.)"""
    db, mail = shared, shared.dep.stack
    asks = [ASKS[n] for n in (0, 1, 3, 4, 5, 6)]
    send_batch(
        mail,
        [
            (
                f"person{n}@users.test",
                RELAY,
                text_message(f"person{n}@users.test", RELAY, "Demande", ask),
            )
            for n, ask in enumerate(asks, 1)
        ],
    )
    db.dep.deliver_and_run(count=len(asks), now=MONDAY)
    offered = db.value("SELECT count(*) FROM conversation WHERE state = 'open'")
    assert offered >= 3
    reminders = "SELECT count(*) FROM outbound_mail WHERE purpose = 'reminder_ambassador'"
    holder_log, other_log = tmp_path / "holder.log", tmp_path / "other.log"
    holder = start_daemon(db.dep, holder_log, {"MAILFLOW_NOW": "2026-03-03T09:00:00"})
    other = None
    try:
        wait_log(holder_log, "scheduler: running here")
        other = start_daemon(db.dep, other_log, {"MAILFLOW_NOW": "2026-03-05T10:00:00"})
        wait_log(other_log, "scheduler: held by another process")
        wait_log(other_log, "connected to the mailbox")
        once = db.dep.run_once("2026-03-05T10:00:00")
        assert "skipped (another process runs the scheduler)" in once
        assert db.value(reminders) == 0, "reminders sent while the holder lives"

        holder.kill()  # SIGKILL: the server (or the kernel) drops its lock
        holder.wait(timeout=30)
        wait_log(other_log, "scheduler: taken over")
        wait_until(
            "reminders sent by the new holder",
            lambda: (
                db.value(reminders) == offered
                and db.value(f"SELECT count(*) FROM outbound_mail WHERE status NOT IN {DONE}") == 0
            ),
            60,
        )
    finally:
        holder.kill() if holder.poll() is None else None
        if other is not None:
            stop(other)
    again = db.dep.run_once("2026-03-05T10:00:00")  # no holder left: runs, finds nothing due
    assert "skipped" not in again
    assert db.value(reminders) == offered
    sent = db.rows(
        "SELECT recipient, message_id FROM outbound_mail WHERE purpose = 'reminder_ambassador'"
    )
    for recipient, mid in sent:
        wait_until(
            f"reminder in {recipient}", lambda r=recipient, m=mid: m in message_ids(mail, r), 30
        )
    wait_queue_empty(mail)  # a second copy would be delivered by now
    for recipient, mid in sent:
        assert message_ids(mail, recipient).count(mid) == 1
    assert log_text(holder_log).count("scheduler: running here") == 1
    assert "scheduler: running here" not in log_text(other_log)
    for text in (log_text(holder_log), log_text(other_log)):
        assert "Traceback" not in text, text[-3000:]
