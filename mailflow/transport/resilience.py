"""Failing and trying again: growing delays, waits that a stop request interrupts.

The daemon never dies from one bad cycle: a lost mailbox connection, a database that is
locked or away, or a bug in a stage is logged (with its traceback when unexpected), waited
out with a growing delay, and the next cycle starts from what is committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from imapclient.exceptions import IMAPClientError
from peewee import InterfaceError, OperationalError

log = logging.getLogger(__name__)
NETWORK_ERRORS = (IMAPClientError, OSError, EOFError)
DATABASE_ERRORS = (OperationalError, InterfaceError)  # locked, busy, server gone


class Backoff:
    """Delays that grow with each failure in a row (capped), reset by a success."""

    def __init__(self, delays: Sequence[float], stopping: threading.Event) -> None:
        self.delays = tuple(delays)
        self.stopping = stopping
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        return self.delays[min(self.failures, len(self.delays) - 1)]

    def wait(self, message: str, exc: BaseException, *, traceback: bool = False) -> None:
        """Log `message: exc; retrying in Ns` (with the traceback if asked), then wait."""
        delay = self.next_delay()
        self.failures += 1
        log.log(
            logging.ERROR if traceback else logging.WARNING,
            "%s (%s: %s); retrying in %ss",
            message,
            type(exc).__name__,
            exc,
            delay,
            exc_info=exc if traceback else None,
        )
        self.stopping.wait(delay)
