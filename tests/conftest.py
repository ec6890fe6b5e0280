"""Session-wide fixtures: one real mail stack per test session (see tests/mailstack.py), and
on PostgreSQL one server per session with a fresh database per test (see tests/testdb.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow import context
from mailflow.config import DATABASE_URL_VARIABLE
from tests import shared_rules, testdb
from tests.mailstack import MailStack, MailStackError, free_port, start_stack, stop_stack
from tests.pgstack import PgStack, PgStackError, start_pgstack, stop_pgstack

pytest_plugins = ["tests.deployment"]

UNIT = Path(__file__).resolve().parent / "unit"  # the layer without a database
CHARTER_SIGNED_ON_PAPER = UNIT.parent / "fixtures" / "charter_signed_on_paper.toml"


@pytest.fixture(scope="session")
def mailstack() -> Iterator[MailStack]:
    """One Postfix + Dovecot stack for the whole session, on free ports.

    It lives under /tmp (mode 0755) because the daemons' users must be able to enter every
    parent directory, which pytest's 0700 temp dirs forbid. Free ports keep it apart from a
    developer's demo stack on 2525/1143. A stack that cannot start fails the tests.
    """
    basedir = Path(f"/tmp/mailflow-test-stack-{os.getpid()}")
    basedir.mkdir(mode=0o755, exist_ok=True)  # `up` reuses a stack left running there
    basedir.chmod(0o755)
    smtp_port = free_port()
    imap_port = free_port()
    while imap_port == smtp_port:
        imap_port = free_port()
    try:
        stack = start_stack(basedir, smtp_port, imap_port)
    except MailStackError as error:
        failure = f"{error}\n(files kept in {basedir})"
    else:
        failure = ""
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield stack
    finally:
        stop_stack(stack)
        if not os.environ.get("MAILFLOW_KEEP_STACK"):
            shutil.rmtree(basedir, ignore_errors=True)


@pytest.fixture
def mail(mailstack: MailStack) -> Iterator[MailStack]:
    """The session's stack with every mailbox emptied before the test."""
    mailstack.clear()
    yield mailstack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the stack, so `-m "not mailstack"` runs without it."""
    for item in items:
        if {"mailstack", "mail"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mailstack)


def pytest_configure(config: pytest.Config) -> None:
    """Check the backend's name, and let no database URL of the caller's shell leak in; a
    test file outside the layers (testpaths) would be skipped in silence: refuse to run."""
    unlayered = sorted(p.name for p in UNIT.parent.glob("test_*.py"))
    if unlayered and not os.environ.get("TESTLAYOUT_PROBE"):  # the script's own collection
        raise pytest.UsageError(
            f"tests/{', tests/'.join(unlayered)}: in no layer (tests/unit, tests/db, tests/e2e);"
            " run `.venv/bin/python scripts/testlayout`, then commit"
        )
    try:
        testdb.backend()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    os.environ.pop(DATABASE_URL_VARIABLE, None)
    _session_caches()
    # THE ONE OPT-IN of the charter (rules/charter.toml, docs/charter.md): by default an
    # ambassador gets no request before accepting the charter by mail, and a child's request
    # goes only to a vetted one. The suite's tests import directories and expect them routed
    # at once: every `mailflow` they start, in-process or not, reads this policy instead, as
    # if every ambassador had signed on paper and nothing were filtered. The charter's own
    # tests (test_charter.py, test_charter_e2e.py) set it back to "" (the default rules).
    os.environ[context.CHARTER_ENV] = str(CHARTER_SIGNED_ON_PAPER)


def _session_caches() -> None:
    """Every `mailflow` the tests start (hundreds) reads the built referential and its own
    compiled code from caches of this session, not the developer's: the referential cache
    (context.py, MAILFLOW_CACHE_DIR) and Python's bytecode, written under a prefix outside
    the tree even where the shell says PYTHONDONTWRITEBYTECODE. Removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="mailflow-test-caches-"))
    os.environ[context.CACHE_ENV] = str(folder / "mailflow")
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"mailflow database backend: {testdb.backend()} (${testdb.VARIABLE})"


@pytest.fixture(scope="session")
def pgstack() -> Iterator[PgStack]:
    """One PostgreSQL server for the whole session, on a free port, under /tmp (the postgres
    user must enter every parent directory); stopped and removed at the end."""
    basedir = Path(f"/tmp/mailflow-test-pg-{os.getpid()}")
    basedir.mkdir(mode=0o755, exist_ok=True)
    basedir.chmod(0o755)
    try:
        stack = start_pgstack(basedir, free_port())
    except PgStackError as error:
        failure = f"{error}\n(files kept in {basedir})"
    else:
        failure = ""
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        yield stack
    finally:
        stop_pgstack(stack)
        if not os.environ.get("MAILFLOW_KEEP_STACK"):
            shutil.rmtree(basedir, ignore_errors=True)


@pytest.fixture(scope="session")
def test_databases(request: pytest.FixtureRequest) -> testdb.Databases:
    """Hands out fresh databases; the PostgreSQL server starts only when it is selected."""
    if testdb.SQLITE:
        return testdb.Databases(None)
    return testdb.Databases(request.getfixturevalue("pgstack"))


@pytest.fixture
def database_url(test_databases: testdb.Databases) -> str:
    """This test's own empty database: on PostgreSQL the session database with its schema
    emptied, on SQLite `t.sqlite3` relative to the folder the test opens it from."""
    return test_databases.for_test()


@pytest.fixture(autouse=True)
def _rules_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Contexts built in this process share their Rules (tests/shared_rules.py)."""
    monkeypatch.setattr(context, "load_rules", shared_rules.shared)


@pytest.fixture(autouse=True)
def _database_for_the_test(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """On PostgreSQL, point MAILFLOW_DATABASE_URL at the test's fresh database.

    The configuration files the tests write and the `mailflow` processes they start then
    use it. A test without a folder (tmp_path) writes no configuration and opens no
    database, so it gets none: its URL names no database, and opening one fails loudly.
    Neither does a unit test (tests/unit/), folder or not: the layer promises no database.
    Afterwards, an SQLite file in the test's folder means the test used SQLite behind the
    run's back: that fails the test.
    """
    if testdb.SQLITE:
        yield
        return
    folder: Path | None = None
    if "tmp_path" in request.fixturenames and not request.path.is_relative_to(UNIT):
        folder = request.getfixturevalue("tmp_path")
        url = request.getfixturevalue("database_url")
    else:
        url = testdb.NO_DATABASE
    monkeypatch.setenv(DATABASE_URL_VARIABLE, url)
    yield
    stray = sorted(str(p) for p in folder.rglob("*.sqlite3*")) if folder else []
    if stray:
        pytest.fail(f"a SQLite database in a PostgreSQL run: {stray}", pytrace=False)
