"""The crash-point hook (MAILFLOW_CRASH_AT) and the honest status of a mail whose sender died
between handing it over and reading the server's answer (`unconfirmed`, transport/send.py).

The kills themselves run against the real stack in tests/e2e/test_crash.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow import crashpoints
from mailflow.context import Context
from mailflow.errors import ConfigError
from mailflow.store.models import Event, OutboundMail
from mailflow.transport.send_recovery import recover
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process


def test_plan_names_points_and_counts() -> None:
    assert crashpoints.parse_plan("") == {}
    assert crashpoints.parse_plan("handed:1, moved:3") == {"handed": 1, "moved": 3}
    for bad in ("handed", "handed:0", "handed:x", "nowhere:1", "handed:-1"):
        with pytest.raises(ConfigError, match="MAILFLOW_CRASH_AT"):
            crashpoints.parse_plan(bad)


def test_unset_it_is_a_function_that_does_nothing() -> None:
    assert os.environ.get(crashpoints.VARIABLE) is None
    assert crashpoints.crash_point is crashpoints._noop
    crashpoints.crash_point("handed")  # nothing happens


def test_armed_it_kills_the_process_the_nth_time_only() -> None:
    code = (
        "from mailflow.crashpoints import crash_point\n"
        "for i in range(1, 4):\n"
        "    print(i, flush=True)\n"
        "    crash_point('moved')\n"
        "    crash_point('stored')\n"
    )
    env = {**os.environ, crashpoints.VARIABLE: "moved:2"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == -signal.SIGKILL
    assert run.stdout.split() == ["1", "2"]
    assert "crash point moved:2 reached, SIGKILL" in run.stderr


def test_a_wrong_value_is_one_line_exit_2(tmp_path: Path) -> None:
    open_context(tmp_path, directory=False)  # writes mailflow.toml and creates the database
    close_context()
    env = {**os.environ, crashpoints.VARIABLE: "handed:soon"}
    run = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(tmp_path / "mailflow.toml")]
        + ["run", "--once"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("mailflow: MAILFLOW_CRASH_AT='handed:soon'"), run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path)
    close_context()


def test_a_row_left_handed_becomes_unconfirmed_never_sent_nor_sent_again(ctx: Context) -> None:
    store_and_process(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen."))
    intro, ack = OutboundMail.select().order_by(OutboundMail.id)
    OutboundMail.update(status="handed").where(OutboundMail.id == intro.id).execute()
    OutboundMail.update(status="sending").where(OutboundMail.id == ack.id).execute()
    assert recover() == (1, 1)
    intro, ack = OutboundMail.get_by_id(intro.id), OutboundMail.get_by_id(ack.id)
    assert (intro.status, ack.status) == ("unconfirmed", "queued")
    assert intro.sent_at is not None and "250 not seen" in intro.last_error
    event = Event.get(Event.kind == "send-unconfirmed")
    assert event.outbound_id == intro.id and "may or may not have arrived" in event.cause
    assert recover() == (0, 0)  # nothing left to recover: never sent again
