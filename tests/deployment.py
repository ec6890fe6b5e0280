"""A mailflow deployment on the test mail stack: config, database, directory, CLI runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailflow.config import DATABASE_URL_VARIABLE, PROJECT_ROOT
from tests import testdb
from tests.mailstack import MailStack
from tests.testdb import config_query

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


@pytest.fixture(scope="session")
def sample_database(
    mailstack: MailStack,
    tmp_path_factory: pytest.TempPathFactory,
    test_databases: testdb.Databases,
) -> Iterator[str]:
    """What `mailflow init` and the import of the sample directory make, built once per
    session by the real commands: the SQLite file's path, or a PostgreSQL database's URL.

    Each deployment starts on a copy of it, which saves two `mailflow` processes a test.
    Built at the real time (no MAILFLOW_NOW), as the deployments of the tests were.
    """
    folder = tmp_path_factory.mktemp("sample-deployment")
    with test_databases.fresh("mailflow.sqlite3") as url, pytest.MonkeyPatch.context() as env:
        env.delenv("MAILFLOW_NOW", raising=False)
        if testdb.SQLITE:
            env.delenv(DATABASE_URL_VARIABLE, raising=False)
        else:
            env.setenv(DATABASE_URL_VARIABLE, url)
        dep = Deployment(write_config(folder, mailstack), mailstack)
        dep.cli("init")
        dep.cli("ambassadors", "import", str(SAMPLE_DIRECTORY))
        yield str(database_path(dep)) if testdb.SQLITE else url


@pytest.fixture
def deployment(
    mail: MailStack, tmp_path: Path, sample_database: str, test_databases: testdb.Databases
) -> Iterator[Deployment]:
    """A fresh database with the sample directory, on empty mailboxes: a copy of the
    session's `sample_database` (on PostgreSQL, into the test's own database)."""
    dep = Deployment(write_config(tmp_path, mail), mail)
    if testdb.SQLITE:
        for source in Path(sample_database).parent.glob(Path(sample_database).name + "*"):
            shutil.copyfile(source, tmp_path / source.name)  # with a -wal, if one is left
    else:
        test_databases.copy(sample_database, os.environ[DATABASE_URL_VARIABLE])
    yield dep


# -- helpers for the fault and crash tests ----------------------------------------------------


def set_config(dep: Deployment, section: str, key: str, value: str) -> None:
    """Set `key = value` (TOML literal) in `[section]` of the deployment's config file."""
    lines = dep.config.read_text(encoding="utf-8").splitlines()
    current, done, out = "", False, []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if current == section and not done:
                out.append(f"{key} = {value}")
                done = True
            current = stripped[1:-1].strip()
        elif current == section and stripped.split("=")[0].strip() == key:
            if not done:
                out.append(f"{key} = {value}")
                done = True
            continue
        out.append(line)
    if current == section and not done:
        out.append(f"{key} = {value}")
    dep.config.write_text("\n".join(out) + "\n", encoding="utf-8")


def database_path(dep: Deployment) -> Path:
    """The SQLite file of the deployment (when the run is on SQLite)."""
    return dep.config.parent / "mailflow.sqlite3"


def query(dep: Deployment, sql: str, params: tuple = ()) -> list[tuple]:
    """Read (or change) the deployment's database directly, in a short connection of its
    own, on either backend; placeholders are `?` (see tests/testdb.py)."""
    return config_query(dep.config, sql, params)


def start_daemon(dep: Deployment, log_file: Path, env: dict[str, str] | None = None):  # noqa: ANN201
    """`mailflow run` as a subprocess, its output appended to `log_file`."""
    handle = log_file.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "mailflow", "--config", str(dep.config), "run"],
            cwd=dep.config.parent,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    finally:
        handle.close()


def outbox(dep: Deployment, recipient: str | None = None, purpose: str | None = None) -> list:
    """(purpose, recipient, status) of the deployment's outgoing rows, oldest first, to
    `recipient` and of `purpose` when given: what mailflow decided to send, whether or not
    the mail stack has delivered it yet."""
    rows = query(dep, "SELECT purpose, recipient, status FROM outbound_mail ORDER BY id")
    return [
        row
        for row in rows
        if (recipient is None or row[1] == recipient) and (purpose is None or row[0] == purpose)
    ]


# -- sender authentication (sender_check.py, confirm.py) ------------------------------------

TRUSTED = "mx.mailflow.test"  # the receiving server a trusted deployment believes
PASS = {"Authentication-Results": f"{TRUSTED}; dmarc=pass"}  # send_text(headers=PASS)


def trust(dep: Deployment) -> None:
    """As on a real provider: `[mailbox] authserv_id` names TRUSTED, so mail sent with the
    PASS header is authenticated and its commands act at once (the local stack writes no
    Authentication-Results of its own, so the test plays the provider's part)."""
    set_config(dep, "mailbox", "authserv_id", f'"{TRUSTED}"')


def confirm(dep: Deployment, user: str, now: str | None = None) -> None:
    """`user` answers the confirmation mail mailflow sent them (services/confirm.py), from their own
    mailbox, and the daemon runs: the pending command acts."""
    from email.utils import parseaddr

    [ask] = dep.stack.wait_for(user, lambda m: str(m["Subject"]).startswith("Pour confirmer"))
    to = parseaddr(str(ask["From"]))[1]
    dep.stack.send_text(user, to, f"Re: {ask['Subject']}", "OUI", in_reply_to=ask["Message-ID"])
    dep.deliver_and_run(now=now)


def never_join(dep: Deployment, folder: Path) -> None:
    """Point the deployment at a copy of the rules whose [duplicates] window_days is 0, for
    tests where a few people send many requests (load, crashes, several daemons): with the
    real rules, a person's second request for the same trade joins the first
    (core/duplicates.py), and the test would have a handful of requests, not hundreds."""
    rules = folder / "rules-never-join"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    policy = rules / "followup.toml"
    text = policy.read_text(encoding="utf-8")
    joined = re.sub(r"(?m)^window_days = \d+", "window_days = 0", text)
    assert joined != text, "rules/followup.toml has no [duplicates] window_days"
    policy.write_text(joined, encoding="utf-8")
    with dep.config.open("a", encoding="utf-8") as config:
        config.write(f'\n[paths]\nrules = "{rules}"\n')
