"""The long-running daemon: IDLE wakes it, SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.deployment import RELAY, Deployment


def test_daemon_relays_on_idle_and_stops_on_sigterm(deployment: Deployment) -> None:
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
        daemon.send_signal(signal.SIGTERM)
        try:
            output, _ = daemon.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise
    assert daemon.returncode == 0, output
    assert "connected to the mailbox (IDLE)" in output and "stopped" in output
    assert "Traceback" not in output


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
