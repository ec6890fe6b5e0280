"""The throwaway PostgreSQL server of a test session, and one fresh database per test.

`scripts/pgstack` installs (when missing), starts and stops the server; this module drives
that script the way tests/mailstack.py drives the mail stack. Every test gets its own
database, created empty from `template0` with the FILE_COPY strategy (a plain file copy:
about 40 ms on a durability-off cluster, where dropping and re-creating the `public` schema
of a shared database costs twice as much and waits for any connection a previous test left
open) and dropped WITH (FORCE) afterwards, which also ends connections a killed daemon left.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from psycopg2.extensions import connection as PgConnection

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "pgstack"
SCRIPT_TIMEOUT_S = 600.0  # the first run on a clean machine installs the package


class PgStackError(RuntimeError):
    """The server could not be started or stopped; the message carries the script's output."""


@dataclass
class PgStack:
    """A running server: where it lives, its URL, and the databases handed out so far."""

    basedir: Path
    url: str  # the `mailflow` database, owned by the `mailflow` role (CREATEDB)
    _names: Iterator[int] = field(default_factory=itertools.count)

    def database_url(self, name: str) -> str:
        """The URL of database `name` on this server."""
        return self.url.rsplit("/", 1)[0] + "/" + name

    def create_database(self) -> str:
        """A new, empty database (no tables: open_database creates them); returns its URL."""
        name = f"mailflow_test_{os.getpid()}_{next(self._names)}"
        with self._admin() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of `url`, closing whatever connections are still open on it."""
        name = urlsplit(url).path.lstrip("/")
        with self._admin() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextmanager
    def _admin(self) -> Iterator[psycopg2.extensions.cursor]:
        con: PgConnection = psycopg2.connect(self.url)
        try:
            con.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
            with con.cursor() as cur:
                yield cur
        finally:
            con.close()


def _script(command: str, basedir: Path, port: int | None = None) -> str:
    """Run `scripts/pgstack COMMAND` for `basedir`; return its stdout, raise with its output."""
    env = {**os.environ, "PGSTACK_DIR": str(basedir)}
    if port is not None:
        env["PGSTACK_PORT"] = str(port)
    result = subprocess.run(
        [str(SCRIPT), command],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=SCRIPT_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise PgStackError(
            f"scripts/pgstack {command} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def start_pgstack(basedir: Path, port: int) -> PgStack:
    """Start (or find running) the server in `basedir`; every parent of it must be o+x."""
    url = _script("up", basedir, port).strip().splitlines()[-1]
    return PgStack(basedir=basedir, url=url)


def stop_pgstack(stack: PgStack) -> None:
    """Stop the server (fast shutdown: open sessions are ended)."""
    _script("down", stack.basedir)
