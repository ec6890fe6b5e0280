"""Named crash points, for the crash tests: kill -9 exactly at a commit boundary.

`MAILFLOW_CRASH_AT=<point>:<n>` (several separated by commas) makes the process SIGKILL
itself the n-th time it passes <point>: no cleanup, no flush, as `kill -9` from outside,
but at an instant a random kill almost never hits (the `handed` window lasts microseconds).
The variable is read once, when this module is first imported. Unset, as in production,
`crash_point` is a function that does nothing.

The points, in the order one cycle passes them (tests/e2e/test_crash.py visits each):

* `stored`: a fetched batch is committed; its messages are neither processed nor moved.
* `decided`: a message's decision and outbox rows are committed; nothing of it sent yet.
* `moved`: processed messages were moved on the IMAP server; `server_done` not committed.
* `sending`: an outbox row is committed `sending`; MAIL FROM not yet written.
* `handed`: `handed` is committed; the final "." of DATA not yet written.
* `accepted`: the server answered 250 to the final "."; `sent` not yet committed.

`MAILFLOW_BURN_AT=<point>:<n>` likewise makes the n-th pass of a burn point spin on the CPU
(for at most BURN_LIMIT seconds of it), for the test of the per-message CPU budget
(budget.py, tests/e2e/test_hostile_redos_e2e.py): `claimed`, a message just claimed inside its
transaction.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from mailflow.errors import ConfigError

VARIABLE = "MAILFLOW_CRASH_AT"
POINTS = ("stored", "decided", "moved", "sending", "handed", "accepted")
BURN_VARIABLE = "MAILFLOW_BURN_AT"
BURN_POINTS = ("claimed",)
BURN_LIMIT = 120.0  # seconds of CPU: a burn with no budget to stop it ends by itself


def parse_plan(
    value: str, variable: str = VARIABLE, points: tuple[str, ...] = POINTS
) -> dict[str, int]:
    """'handed:1,moved:2' -> {'handed': 1, 'moved': 2}; a wrong value is named."""
    plan: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, count = item.partition(":")
        if name not in points or not count.isdigit() or int(count) < 1:
            raise ConfigError(
                f"{variable}={value!r}: expected POINT:N (N >= 1), POINT one of {', '.join(points)}"
            )
        plan[name] = int(count)
    return plan


def _noop(point: str) -> None:
    """No crash point is set: nothing to count, nothing to do."""


def _armed(plan: dict[str, int]) -> Callable[[str], None]:
    passed: dict[str, int] = {}

    def crash_point(point: str) -> None:
        if point not in plan:
            return
        passed[point] = passed.get(point, 0) + 1
        if passed[point] == plan[point]:
            os.write(2, f"mailflow: crash point {point}:{plan[point]} reached, SIGKILL\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)

    return crash_point


_PLAN = parse_plan(os.environ.get(VARIABLE, ""))
crash_point: Callable[[str], None] = _armed(_PLAN) if _PLAN else _noop


def _burned(plan: dict[str, int]) -> Callable[[str], None]:
    passed: dict[str, int] = {}

    def burn_point(point: str) -> None:
        if point not in plan:
            return
        passed[point] = passed.get(point, 0) + 1
        if passed[point] == plan[point]:
            os.write(2, f"mailflow: burn point {point}:{plan[point]} reached\n".encode())
            end = time.process_time() + BURN_LIMIT
            while time.process_time() < end:
                sum(range(10_000))

    return burn_point


_BURN_PLAN = parse_plan(os.environ.get(BURN_VARIABLE, ""), BURN_VARIABLE, BURN_POINTS)
burn_point: Callable[[str], None] = _burned(_BURN_PLAN) if _BURN_PLAN else _noop
