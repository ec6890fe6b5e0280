"""A throwaway PostgreSQL server for the several-daemons tests (until the suite-wide backend
fixture lands): `scripts/pgstack` on a free loopback port in /tmp, a fresh database per test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from tests.mailstack import free_port

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server on a free loopback port; yields the URL of its `mailflow` db.

    One per test module that imports it (about 1 s to start), each in its own folder under
    /tmp: every parent of the folder must be enterable by the `postgres` user."""
    pytest.importorskip("psycopg2")
    basedir = Path(tempfile.mkdtemp(prefix="mailflow-test-pg-", dir="/tmp"))
    basedir.chmod(0o755)
    env = {**os.environ, "PGSTACK_DIR": str(basedir), "PGSTACK_PORT": str(free_port())}
    script = PROJECT_ROOT / "scripts" / "pgstack"
    started = subprocess.run(
        [str(script), "up"], env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/pgstack up failed:\n{started.stderr}", pytrace=False)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(script), "down"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(basedir, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """CREATE DATABASE as the role `mailflow` (it has CREATEDB); returns its URL."""
    import psycopg2

    name = f"mailflow_test_{os.getpid()}_{next(_databases)}"
    con = psycopg2.connect(server_url)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
    finally:
        con.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
