"""`mailflow log --json | head -1`: a reader that goes away ends the command quietly.

Each command runs as a real process whose stdout is a pipe already closed by its reader (so
every write fails, whatever the size of the output): no traceback, nothing on stderr, and
the status of a tool stopped by SIGPIPE (141), as `cat big | head -1` gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.store.models import InboundMessage, database
from tests.db.test_log_filters import build


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = build(tmp_path, monkeypatch)
    monkeypatch.delenv("MAILFLOW_NOW")
    yield path
    database.obj.close()
    database.initialize(None)


def closed_pipe_run(config: Path, *args: str) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(config), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=config.parent,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_every_printing_command_stops_quietly(config: Path) -> None:
    raw_id = InboundMessage.get(InboundMessage.sender == "lea@users.test").id
    for args in (
        ("log", "--json"),
        ("log",),
        ("log", "--request", "1"),
        ("stats", "--csv"),
        ("stats", "--json"),
        ("ambassadors",),
        ("message", "show", str(raw_id)),
        ("message", "show", str(raw_id), "--raw"),
        ("quarantine", "list"),
    ):
        code, err = closed_pipe_run(config, *args)
        assert (code, err) == (141, ""), args


def test_errors_still_reach_stderr_with_a_closed_stdout(config: Path) -> None:
    code, err = closed_pipe_run(config, "log", "--request", "99")
    assert (code, err) == (2, "mailflow: no request #99\n")
