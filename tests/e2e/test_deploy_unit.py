"""deploy/mailflow.service does what the README promises, run the way systemd runs it.

Its ExecStartPre and ExecStart are executed (the installed `mailflow` swapped for this
checkout's), with the unit's environment, against the test mail stack; its KillSignal
must stop the daemon cleanly within TimeoutStopSec.
"""

from __future__ import annotations

import configparser
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from mailflow.config import PROJECT_ROOT
from mailflow.context import CACHE_ENV
from tests.deployment import RELAY, Deployment

UNIT = PROJECT_ROOT / "deploy" / "mailflow.service"
INSTALLED = "/opt/mailflow/.venv/bin/mailflow"


def _unit() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNIT, encoding="utf-8")
    return parser["Service"]


def _command(line: str) -> list[str]:
    argv = shlex.split(line)
    assert argv[0] == INSTALLED, f"the unit runs {argv[0]}, the README installs {INSTALLED}"
    return [sys.executable, "-m", "mailflow", *argv[1:]]


def _environment(service: configparser.SectionProxy, config: Path) -> dict[str, str]:
    env = dict(os.environ)
    for assignment in shlex.split(service["Environment"]):
        key, _, value = assignment.partition("=")
        env[key] = value
    assert env.get("MAILFLOW_CONFIG") == "/etc/mailflow/mailflow.toml"
    env["MAILFLOW_CONFIG"] = str(config)  # the paths that differ from a real machine
    assert env.get(CACHE_ENV) == "/var/cache/mailflow" == "/var/cache/" + service["CacheDirectory"]
    env[CACHE_ENV] = os.environ[CACHE_ENV]  # the session's (tests/conftest.py)
    return env


def test_the_unit_upgrades_the_database_runs_the_daemon_and_stops_it_cleanly(
    deployment: Deployment, tmp_path: Path
) -> None:
    service = _unit()
    assert service["User"] != "root" and service["Restart"] == "always"
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    env = _environment(service, deployment.config)

    pre = subprocess.run(
        _command(service["ExecStartPre"]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pre.returncode == 0, pre.stderr
    assert "up to date" in pre.stdout + pre.stderr

    log_file = tmp_path / "journal.log"
    with log_file.open("wb") as journal:
        daemon = subprocess.Popen(
            _command(service["ExecStart"]), env=env, cwd=tmp_path, stdout=journal, stderr=journal
        )
    try:
        deployment.stack.send_text(
            "person1@users.test", RELAY, "Rencontre", "Bonjour, je cherche une boulangère à Caen."
        )
        intro = deployment.stack.wait_for("amb1@pros.test", timeout=60)
        assert intro, "the daemon started by the unit relayed nothing"
    finally:
        kill = getattr(signal, service["KillSignal"])
        daemon.send_signal(kill)
        start = time.monotonic()
        code = daemon.wait(timeout=float(service["TimeoutStopSec"]))
    journal_text = log_file.read_text(errors="replace")
    assert code == 0, journal_text[-2000:]
    assert time.monotonic() - start < float(service["TimeoutStopSec"])
    assert "connected to the mailbox" in journal_text and "stopped" in journal_text
    assert "Traceback" not in journal_text
