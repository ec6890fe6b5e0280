"""A hard CPU budget for one message, so that no mail, however written, holds the daemon.

Every scan of a sender's text is meant to be linear (tests/unit/test_hostile_redos.py); the
budget is the bound for what that misses. It is a CPU-time timer (ITIMER_PROF: waiting for
a lock or the network does not count) whose signal raises in the middle of whatever runs,
a long regular-expression match included (_sre checks for signals as it goes). The
exception derives from BaseException, so that no `except Exception` on the way swallows
it; the transaction is rolled back and the message quarantined (pipeline.process).

Signals reach only the main thread: in any other thread (a test running the pipeline in a
thread) or where setitimer does not exist, there is no budget. The daemon and `run --once`
process messages in the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class CpuBudgetExceeded(BaseException):
    """One message used more CPU time than `[limits] cpu_seconds` allows."""

    def __init__(self, seconds: int) -> None:
        super().__init__(seconds)
        self.seconds = seconds

    def reason(self) -> str:
        """The quarantine reason, in one line."""
        return f"CPU budget of {self.seconds} s exceeded while processing; kept in quarantine"


def enforceable() -> bool:
    """Can a budget interrupt work here (main thread, a system with CPU timers)?"""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def cpu_budget(seconds: int) -> Iterator[None]:
    """Raise CpuBudgetExceeded in the block once it used `seconds` of CPU time (0: none)."""
    if seconds <= 0 or not enforceable():
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise CpuBudgetExceeded(seconds)

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
