"""A mailflow deployment on the test mail stack: config, database, directory, CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from tests.mailstack import MailStack

RELAY = "relay@mailflow.test"
COORDINATOR = "coordinator@mailflow.test"
SAMPLE_DIRECTORY = PROJECT_ROOT / "examples" / "ambassadors.csv"


@dataclass
class Deployment:
    """Runs the real `mailflow` command (a new process each time, like cron or systemd)."""

    config: Path
    stack: MailStack

    def cli(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **(env or {})},
            cwd=self.config.parent,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"mailflow {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def run_once(self, now: str | None = None) -> str:
        """`mailflow run --once`, at the instant `now` (MAILFLOW_NOW) when given."""
        return self.cli("run", "--once", env={"MAILFLOW_NOW": now} if now else None).stdout

    def deliver_and_run(self, count: int = 1, now: str | None = None) -> str:
        """Wait until `count` messages wait in the shared inbox, then process them."""
        self.stack.wait_for(RELAY, count=count)
        return self.run_once(now)

    def log(self, request_id: int | None = None) -> dict:
        args = ["log", "--json"] + (["--request", str(request_id)] if request_id else [])
        return json.loads(self.cli(*args).stdout)


def write_config(folder: Path, stack: MailStack, digest: bool = False) -> Path:
    """The daily digest is off unless a test asks for it: with MAILFLOW_NOW jumping days,
    it would add a coordinator mail to every run."""
    config = folder / "mailflow.toml"
    config.write_text(
        f"""
[mailbox]
host = "127.0.0.1"
port = {stack.imap_port}
ssl = false
username = "{RELAY}"
password = "secret"
folder = "INBOX"
idle_seconds = 5

[smtp]
host = "127.0.0.1"
port = {stack.smtp_port}
starttls = false

[relay]
address = "{RELAY}"
display_name = "Ambassadeurs"

[coordinator]
email = "{COORDINATOR}"
digest = {"true" if digest else "false"}

[database]
url = "sqlite:///mailflow.sqlite3"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def deployment(mail: MailStack, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh database with the sample directory, on empty mailboxes."""
    dep = Deployment(write_config(tmp_path, mail), mail)
    dep.cli("init")
    dep.cli("ambassadors", "import", str(SAMPLE_DIRECTORY))
    yield dep
