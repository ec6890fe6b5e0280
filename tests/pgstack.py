"""The throwaway PostgreSQL server of a test session, and a fresh, empty schema per test.

`scripts/pgstack` installs (when missing), starts and stops the server; this module drives
that script the way tests/mailstack.py drives the mail stack.

Every test starts on an empty `public` schema of one session database: the sessions a
previous test left are ended (a killed daemon's, an idle in-process one), then the schema is
dropped and created again. Measured on a loaded 2-core machine: about 10 ms, against 230 ms
for `CREATE DATABASE ... TEMPLATE template0` (either strategy) plus 40 ms for its
`DROP DATABASE WITH (FORCE)`, and the first sessions on a new database pay ~100 ms more of
cold catalog caches. A fixture that outlives one test (a module's) gets a database of its
own instead (`create_database`), so per-test resets cannot touch it.
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

    def reset(self, url: str) -> None:
        """Empty the database of `url`: end every other session on it (waiting until they
        are gone, so none holds a lock; as the superuser, which may also end an autovacuum
        worker), then drop and create its `public` schema."""
        name = urlsplit(url).path.lstrip("/")
        with self._admin(superuser=True) as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with self._admin(name) as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def create_database(self) -> str:
        """A new, empty database (no tables: open_database creates them); returns its URL."""
        name = f"mailflow_test_{os.getpid()}_{next(self._names)}"
        with self._admin() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.database_url(name)

    def copy_database(self, source: str, target: str) -> None:
        """Make the database of `target` a copy of the one of `source` (CREATE DATABASE ...
        TEMPLATE): `target` is dropped first, its sessions ended; `source` has none open."""
        self.drop_database(target)
        name, template = (urlsplit(url).path.lstrip("/") for url in (target, source))
        with self._admin() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")

    def drop_database(self, url: str) -> None:
        """Drop the database of `url`, closing whatever connections are still open on it:
        as the superuser, since FORCE must be allowed to end any role's session on it (a
        backend the server started for its own work, such as autovacuum's, is not ours)."""
        name = urlsplit(url).path.lstrip("/")
        with self._admin(superuser=True) as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextmanager
    def _admin(
        self, name: str | None = None, superuser: bool = False
    ) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor on database `name` (default: the server's `mailflow` database), as the
        `mailflow` role or as the superuser (loopback connections are trusted)."""
        url = self.database_url(name) if name else self.url
        if superuser:
            url = url.replace("//mailflow@", "//postgres@", 1)
        con: PgConnection = psycopg2.connect(url)
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
