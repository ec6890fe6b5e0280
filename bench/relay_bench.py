"""Relay latency and throughput, measured the same way for mailflow and the bare forwarder."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench import mails, stack
from bench.measure import cpu_seconds
from bench.watch import ArrivalWatcher
from tests.mailstack import HOST, MailStack


@dataclass(frozen=True)
class Latency:
    sent: int
    seconds: list[float]  # one per message that arrived, SMTP 250 -> seen in the INBOX

    @property
    def missing(self) -> int:
        return self.sent - len(self.seconds)


def latency(
    mail_stack: MailStack,
    pairs: Sequence[tuple[str, str]],
    recipient: str,
    count: int,
    interval: float,
    first: int = 0,
) -> Latency:
    """Send `count` replies, one every `interval` s, cycling over (sender, relay address)
    `pairs`; time each from the 250 of its DATA to its arrival in `recipient`'s INBOX."""
    sent_at: dict[int, float] = {}
    with ArrivalWatcher(mail_stack, recipient) as watcher:
        with smtplib.SMTP(HOST, mail_stack.smtp_port, timeout=60) as smtp:
            start = time.monotonic()
            for i in range(count):
                n = first + i
                sender, to = pairs[i % len(pairs)]
                pause = start + i * interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                smtp.sendmail(sender, [to], mails.reply(sender, to, n))
                sent_at[n] = time.monotonic()
        watcher.wait_for(set(sent_at), timeout=60)
        arrivals = dict(watcher.arrivals)
    seconds = [arrivals[n] - t for n, t in sent_at.items() if n in arrivals]
    return Latency(sent=count, seconds=seconds)


@dataclass(frozen=True)
class Throughput:
    messages: int  # injected into the shared mailbox
    delivered: int  # mails that had to land in the recipients' INBOXes
    inject_seconds: float  # until Postfix had taken the last one
    seconds: float  # first injection -> last expected mail in an INBOX
    cpu_seconds: float  # CPU time the system under test used meanwhile

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def throughput(
    mail_stack: MailStack,
    batch: Sequence[tuple[str, str, bytes]],
    recipients: Sequence[str],
    expected: int,
    pid: int,
    timeout: float = 900,
) -> Throughput:
    """Inject `batch` as fast as Postfix takes it while the system under test runs, then
    wait until `expected` more mails sit in `recipients`' INBOXes (polled every 0.2 s)."""
    base = stack.inbox_count(mail_stack, recipients)
    cpu = cpu_seconds(pid)
    start = time.monotonic()
    stack.inject(mail_stack, batch)
    injected = time.monotonic() - start
    deadline = start + timeout
    while (got := stack.inbox_count(mail_stack, recipients) - base) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {got} of {expected} mails delivered within {timeout}s")
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    return Throughput(len(batch), expected, injected, elapsed, cpu_seconds(pid) - cpu)
