"""The two systems under test as real processes: `mailflow run` and the bare forwarder."""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stack import COORDINATOR, FORWARDER, LATENCY_AMBASSADOR, RELAY, SINK
from mailflow.admin.directory import MAX_CAPACITY
from tests.mailstack import MailStack

LATENCY_TRADE = "Fleuriste"  # only amb-lat has it: every latency reply lands in one INBOX
THROUGHPUT_TRADE = "Boulanger"


class Service:
    """A subprocess stopped by SIGTERM (by its own PID), its output kept in a log file."""

    def __init__(self, argv: list[str], cwd: Path, log_file: Path) -> None:
        with log_file.open("ab") as handle:
            self.proc = subprocess.Popen(argv, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_forwarder(stack: MailStack, workdir: Path) -> Service:
    argv = [sys.executable, "-m", "bench.forwarder", str(stack.imap_port), str(stack.smtp_port)]
    repo = Path(__file__).resolve().parent.parent
    return Service([*argv, FORWARDER, SINK], repo, workdir / "forwarder.log")


@dataclass
class Mailflow:
    """One mailflow installation on the bench stack: config, SQLite database, directory."""

    workdir: Path
    stack: MailStack

    @property
    def config(self) -> Path:
        return self.workdir / "mailflow.toml"

    @property
    def database(self) -> Path:
        return self.workdir / "mailflow.sqlite3"

    def write_config(self, limits: dict[str, int] | None = None) -> None:
        extra = "".join(f"{k} = {v}\n" for k, v in (limits or {}).items())
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"""[mailbox]
host = "127.0.0.1"
port = {self.stack.imap_port}
ssl = false
username = "{RELAY}"
password = "secret"

[smtp]
host = "127.0.0.1"
port = {self.stack.smtp_port}
starttls = false

[relay]
address = "{RELAY}"

[coordinator]
email = "{COORDINATOR}"
digest = false

[database]
url = "sqlite:///mailflow.sqlite3"

[limits]
{extra}""",
            encoding="utf-8",
        )

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(self.config), *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mailflow {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def install(self, pros: list[str]) -> None:
        """`mailflow init` and a directory: amb-lat the only florist, `pros` the bakers."""
        self.cli("init")
        path = self.workdir / "ambassadors.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(
                ["email", "first_name", "last_name", "kind", "title", "sector"]
                + ["department", "city", "postcode", "capacity", "charte"]
            )
            # `charte`: signed on paper (docs/charter.md), so that they get requests at once
            signed = "2026-01-01"
            out.writerow(
                [LATENCY_AMBASSADOR, "Lou", "Rose", "metier", LATENCY_TRADE, "Commerce"]
                + ["14", "Caen", "14000", MAX_CAPACITY, signed]
            )
            for i, email in enumerate(pros):
                dept, city, postcode = [("14", "Caen", "14000"), ("76", "Rouen", "76000")][i % 2]
                out.writerow(
                    [email, f"Amb{i}", "Pro", "metier", THROUGHPUT_TRADE, "Alimentation"]
                    + [dept, city, postcode, MAX_CAPACITY, signed]
                )
        self.cli("ambassadors", "import", str(path))

    def start(self) -> Service:
        argv = [sys.executable, "-m", "mailflow", "--config", str(self.config), "run"]
        return Service(argv, self.workdir, self.workdir / "daemon.log")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the daemon's database (a short read-only connection, as a coordinator would)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as con:
            return list(con.execute(sql, params))

    def scalar(self, sql: str, params: tuple = ()) -> int:
        return int(self.query(sql, params)[0][0] or 0)

    def wait_idle(self, inbound: int, timeout: float) -> None:
        """Until `inbound` messages are processed and nothing waits in the outbox."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.scalar("SELECT COUNT(*) FROM inbound_message WHERE status != 'stored'")
            waiting = self.scalar(
                "SELECT COUNT(*) FROM outbound_mail WHERE status IN ('queued','sending','handed')"
            )
            if done >= inbound and not waiting:
                return
            time.sleep(0.2)
        raise TimeoutError(f"mailflow: {inbound} inbound not processed within {timeout}s")

    def person_tokens(self, trade: str) -> list[tuple[str, str]]:
        """(person email, relay address of the ambassador) of each open conversation."""
        rows = self.query(
            "SELECT p.email, c.person_token FROM conversation c "
            "JOIN request r ON r.id = c.request_id JOIN person p ON p.id = r.person_id "
            "JOIN ambassador a ON a.id = c.ambassador_id "
            "WHERE c.state = 'open' AND a.title = ? ORDER BY c.id",
            (trade,),
        )
        return [(email, f"relay+{token}@mailflow.test") for email, token in rows]
