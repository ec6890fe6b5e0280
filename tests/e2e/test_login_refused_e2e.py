"""A wrong mailbox password is said as such, retried rarely, and told to the coordinator
(issue 12, item 9): it used to read "unreachable (b'[AUTHENTICATIONFAILED]...')" and be
retried every few seconds like a network error, which may get the account locked."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from tests.deployment import COORDINATOR, RELAY, Deployment, outbox, start_daemon
from tests.e2e.test_daemon import wait_for_line

PERSON = "person3@users.test"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} ", re.MULTILINE)


def wrong_password(dep: Deployment) -> None:
    text = dep.config.read_text(encoding="utf-8")
    dep.config.write_text(text.replace('password = "secret"', 'password = "oublié"'), "utf-8")


def right_password(dep: Deployment) -> None:
    text = dep.config.read_text(encoding="utf-8")
    dep.config.write_text(text.replace('password = "oublié"', 'password = "secret"'), "utf-8")


def test_run_once_says_login_refused_and_tells_the_coordinator_once(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PERSON, RELAY, "Boulangerie", "Je voudrais rencontrer un boulanger à Caen.")
    mail.wait_for(RELAY)
    wrong_password(dep)

    first = dep.cli("run", "--once", check=False)
    assert first.returncode == 2, first
    assert "refused the login of relay@mailflow.test" in first.stderr, first.stderr
    assert "check [mailbox] username and password" in first.stderr
    assert "the coordinator is told by mail" in first.stderr
    assert "unreachable" not in first.stderr and "Traceback" not in first.stderr
    [notice] = mail.wait_for(COORDINATOR)
    assert "refuse la connexion" in str(notice["Subject"])
    body = notice.get_body(("plain",)).get_content()
    assert "Rien n'est perdu" in body and "relay@mailflow.test" in body and "[mailbox]" in body

    again = dep.cli("run", "--once", check=False)
    assert again.returncode == 2 and "the coordinator was told today" in again.stderr
    assert len(outbox(dep, COORDINATOR)) == 1  # one notice a day, however many runs

    right_password(dep)
    dep.run_once()  # the mail that waited on the server is processed: nothing was lost
    mail.wait_for(PERSON)


def test_the_daemon_backs_off_long_on_a_refused_login(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep, mail = deployment, deployment.stack
    wrong_password(dep)
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(dep, log_file)
    try:
        output = wait_for_line(log_file, "retrying in 60s", daemon, timeout=60)
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise
    assert "mailbox login refused" in output and "the coordinator is told by mail" in output
    assert "cannot reach the mailbox" not in output and "Traceback" not in output
    assert daemon.returncode == 0
    assert STAMP.search(output), output  # log lines say which clock they are on
    [notice] = mail.wait_for(COORDINATOR)
    assert "refuse la connexion" in str(notice["Subject"])
