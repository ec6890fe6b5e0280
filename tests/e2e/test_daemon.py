"""The long-running daemon: IDLE (or polling) wakes it, SIGTERM and SIGINT stop it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deployment import RELAY, Deployment, set_config, start_daemon


def wait_for_line(log_file: Path, text: str, daemon: subprocess.Popen, timeout: float) -> str:
    """The daemon's output so far, once it holds `text` (polled; fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        output = log_file.read_text(encoding="utf-8", errors="replace")
        if text in output:
            return output
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the daemon's output:\n{output}")
        time.sleep(0.05)


def stop(daemon: subprocess.Popen, how: signal.Signals) -> None:
    daemon.send_signal(how)
    try:
        daemon.wait(timeout=15)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
        raise


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_daemon_relays_on_idle_and_stops_on_signal(
    deployment: Deployment, how: signal.Signals
) -> None:
    dep, mail = deployment, deployment.stack
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(dep.config), "run"],
        cwd=dep.config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        mail.send_text(
            "person3@users.test",
            RELAY,
            "Demande",
            "Bonjour, je suis au chômage et je voudrais rencontrer un plombier près de Bayeux.",
        )
        [intro] = mail.wait_for("amb5@pros.test", timeout=20)
        assert "Plombier" in str(intro["Subject"]) or "plombier" in str(intro["Subject"]).lower()
        mail.wait_for("person3@users.test")
        assert mail.imap_count(RELAY) == 0  # moved out of the inbox once processed
        assert mail.imap_count(RELAY, "mailflow/processed") == 1
    finally:
        daemon.send_signal(how)
        try:
            output, _ = daemon.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise
    assert daemon.returncode == 0, output
    assert "connected to the mailbox (IDLE)" in output and "stopped" in output
    assert "stop requested" in output and "Traceback" not in output
    assert "KeyboardInterrupt" not in output


def test_daemon_polls_when_idle_is_off_and_stops_on_sigint(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`idle = false` (as when the server lacks IDLE): the daemon looks every poll_seconds.
    Both requests are sent after it connected, so each is found by a later look."""
    dep, mail = deployment, deployment.stack
    set_config(dep, "mailbox", "idle", "false")
    set_config(dep, "mailbox", "poll_seconds", "1")
    log_file = tmp_path / "daemon.log"
    daemon = start_daemon(dep, log_file)
    try:
        wait_for_line(log_file, "connected to the mailbox (polling)", daemon, timeout=20)
        for person, trade, ambassador in (
            ("person3@users.test", "un plombier près de Bayeux", "amb5@pros.test"),
            ("person4@users.test", "une coiffeuse à Caen", "amb7@pros.test"),
        ):
            mail.send_text(person, RELAY, "Demande", f"Bonjour, je voudrais rencontrer {trade}.")
            mail.wait_for(ambassador, timeout=20)
            mail.wait_for(person, timeout=20)
        assert mail.imap_count(RELAY) == 0 and mail.imap_count(RELAY, "mailflow/processed") == 2
    finally:
        stop(daemon, signal.SIGINT)
    output = log_file.read_text(encoding="utf-8", errors="replace")
    assert daemon.returncode == 0, output
    assert "connected to the mailbox (IDLE)" not in output
    assert output.count("connected to the mailbox (polling)") == 1  # one session throughout
    assert "stop requested" in output and "stopped" in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


def test_daemon_waits_for_an_unreachable_mailbox_then_stops(deployment: Deployment) -> None:
    broken = deployment.config.read_text(encoding="utf-8").replace(
        f"port = {deployment.stack.imap_port}", "port = 1"
    )
    deployment.config.write_text(broken, encoding="utf-8")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(deployment.config), "run"],
        cwd=deployment.config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    lines: list[str] = []
    assert daemon.stdout is not None
    while time.monotonic() < deadline:
        line = daemon.stdout.readline()
        lines.append(line)
        if "cannot reach the mailbox" in line:
            break
    daemon.send_signal(signal.SIGINT)
    rest, _ = daemon.communicate(timeout=15)
    output = "".join(lines) + rest
    assert "cannot reach the mailbox" in output and "retrying" in output
    assert daemon.returncode == 0 and "Traceback" not in output
