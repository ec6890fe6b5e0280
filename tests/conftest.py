"""Session-wide fixtures: one real mail stack per test session (see tests/mailstack.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mailstack import MailStack, MailStackError, free_port, start_stack, stop_stack

pytest_plugins = ["tests.deployment"]


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
