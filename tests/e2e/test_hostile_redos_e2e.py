"""One hostile mail must not hold everyone else's (issue 10, item 1), on the real stack.

The running daemon gets a mail built to make a regular expression work with the square of
its length, then a normal request from someone else, who must be answered within
ANSWER_SECONDS (before the fix the three attacks held the daemon for minutes at these
sizes). The hostile mail itself ends processed or quarantined, never lost. The last test
checks the per-message CPU budget: a message that burns CPU is stopped, rolled back and
quarantined with a one-line reason, and the daemon goes on.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path

import pytest

from tests.deployment import RELAY, Deployment, query, start_daemon
from tests.e2e.test_daemon import stop, wait_for_line

ANSWER_SECONDS = 20
HOSTILE = "person1@users.test"
NEXT = "person2@users.test"
STRANGERS = ("person5@users.test", "person6@users.test")  # who write for the first time
NEXT_REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


def _start(dep: Deployment, log_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = start_daemon(dep, log_file, env)
    wait_for_line(log_file, "connected to the mailbox", proc, timeout=30)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM; a daemon still held by a hostile mail (before the fix) is killed."""
    with contextlib.suppress(subprocess.TimeoutExpired):  # killed by stop(): the test's
        stop(proc, signal.SIGTERM)  # own assertion says what went wrong


def _html_mail(sender: str, to: str, subject: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(html, subtype="html")
    return msg


def _fate(dep: Deployment, message_id: str, timeout: float = 60) -> tuple[str, str | None]:
    """(status, reason) of a stored message, once it is no longer waiting."""
    deadline = time.monotonic() + timeout
    while True:
        sql = "SELECT status, reason FROM inbound_message WHERE message_id = ?"
        rows = query(dep, sql, (message_id,))
        if rows and rows[0][0] != "stored":
            return rows[0][0], rows[0][1]
        assert time.monotonic() < deadline, f"{message_id} still {rows}"
        time.sleep(0.2)


def _stored(dep: Deployment, message_id: str, timeout: float = 30) -> None:
    """Wait until the daemon has stored the message: it is then the next one it processes
    (a big mail is delivered later than a small one sent after it)."""
    deadline = time.monotonic() + timeout
    sql = "SELECT count(*) FROM inbound_message WHERE message_id = ?"
    while query(dep, sql, (message_id,)) == [(0,)]:
        assert time.monotonic() < deadline, f"{message_id} never stored"
        time.sleep(0.1)


def _is_answered_in_time(dep: Deployment, person: str, after: str) -> None:
    dep.stack.send_text(person, RELAY, "Demande de rencontre", NEXT_REQUEST)
    try:
        dep.stack.wait_for(person, timeout=ANSWER_SECONDS)  # the acknowledgement
    except AssertionError as exc:
        raise AssertionError(f"{person} not answered within {ANSWER_SECONDS} s {after}") from exc


def _flood(dep: Deployment, attack: str) -> str:
    """Send the hostile mail; its Message-ID."""
    mail = dep.stack
    if attack == "style":  # a new person's HTML-only request
        html = "<p>Bonjour, je voudrais rencontrer un boulanger.</p>" + "<style" * 40_000
        msg = _html_mail(STRANGERS[0], RELAY, "Demande", html)
        mail.send(STRANGERS[0], RELAY, msg)
        return str(msg["Message-ID"])
    if attack == "encoded word":  # a new person's text request, one line of encoded words
        words = "Bonjour, je voudrais rencontrer un boulanger. " + ("=?a?q?" + "x" * 30) * 14_000
        return mail.send_text(STRANGERS[1], RELAY, "Demande", words)
    # A reply through a conversation: the hostile sender asks first.
    mail.send_text(HOSTILE, RELAY, "Demande de rencontre", NEXT_REQUEST.replace("15", "14"))
    [ack] = mail.wait_for(HOSTILE, timeout=30)
    conversation = parseaddr(str(ack["From"]))[1]
    assert conversation.startswith("relay+")
    msg = _html_mail(HOSTILE, conversation, "Re: merci", "<p>Merci</p>" + "<!--" * 56_000)
    mail.send(HOSTILE, conversation, msg)
    return str(msg["Message-ID"])


@pytest.mark.parametrize("attack", ["style", "encoded word", "comment"])
def test_a_hostile_flood_does_not_hold_the_next_request(
    deployment: Deployment, tmp_path: Path, attack: str
) -> None:
    """Issue 10's attacks: an HTML request of "<style" x 40,000 (240 KB), a text request of
    "=?a?q?xxx..." x 14,000 on one line (500 KB), a reply of "<!--" x 56,000 (220 KB)."""
    dep = deployment
    proc = _start(dep, tmp_path / "daemon.log")
    try:
        hostile = _flood(dep, attack)
        _stored(dep, hostile)  # the daemon is on it: the next request waits for it
        _is_answered_in_time(dep, NEXT, f"after the {attack} flood")
        assert _fate(dep, hostile)[0] in ("processed", "quarantined")
        assert proc.poll() is None
    finally:
        _stop(proc)


def test_a_message_over_the_cpu_budget_is_quarantined_and_the_daemon_goes_on(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    with dep.config.open("a", encoding="utf-8") as config:
        config.write("\n[limits]\ncpu_seconds = 1\n")
    log_file = tmp_path / "daemon.log"
    # The first message claimed spins on the CPU (crashpoints.py): only the budget stops it.
    proc = _start(dep, log_file, {"MAILFLOW_BURN_AT": "claimed:1"})
    try:
        burnt = dep.stack.send_text(HOSTILE, RELAY, "Demande de rencontre", NEXT_REQUEST)
        status, reason = _fate(dep, burnt, timeout=ANSWER_SECONDS)
        assert status == "quarantined"
        assert reason == "CPU budget of 1 s exceeded while processing; kept in quarantine"
        _is_answered_in_time(dep, NEXT, "after the quarantine")  # the daemon went on
        assert proc.poll() is None
    finally:
        _stop(proc)
    # Rolled back: no request, no acknowledgement for the stopped message.
    assert query(dep, "SELECT count(*) FROM request") == [(1,)]  # the next person's only
    assert not [r for r in query(dep, "SELECT recipient FROM outbound_mail") if r[0] == HOSTILE]
    listed = dep.cli("quarantine", "list").stdout
    assert "CPU budget of 1 s exceeded while processing; kept in quarantine" in listed
    output = log_file.read_text(encoding="utf-8", errors="replace")
    assert "CPU budget of 1 s exceeded while processing" in output
    assert "Traceback" not in output
