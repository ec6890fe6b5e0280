"""The daemon: wait for mail (IDLE, or polling), ingest, process, send, repeat."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field

import schedule
from imapclient import IMAPClient

from .context import Context
from .errors import MailflowError
from .followup import run_followups
from .ingest import connect, fetch_new, has_new, tidy_server
from .pipeline import process_pending
from .policy import load_policy
from .resilience import DATABASE_ERRORS, NETWORK_ERRORS, Backoff
from .send import flush_outbox

log = logging.getLogger(__name__)
RECONNECT_BACKOFF = (1, 2, 5, 10, 30, 60)
# Messages per cycle: the mails of one cycle are being delivered by the SMTP server while
# the next cycle is processed (both cores busy), and the first message of a burst of
# thousands does not wait for the last one to be processed before its mail goes out.
CYCLE_LIMIT = 100


@dataclass
class CycleReport:
    stored: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    moved: int = 0
    followups: dict[str, int] = field(default_factory=dict)

    def add(self, other: CycleReport) -> CycleReport:
        """The two cycles' counts summed (run --once runs as many cycles as mail waits)."""
        counts: dict[str, dict[str, int]] = {"outcomes": {}, "followups": {}}
        for name, merged in counts.items():
            for part in (getattr(self, name), getattr(other, name)):
                for key, value in part.items():
                    merged[key] = merged.get(key, 0) + value
        return CycleReport(
            stored=self.stored + other.stored,
            outcomes=counts["outcomes"],
            sent=self.sent + other.sent,
            deferred=self.deferred + other.deferred,
            failed=self.failed + other.failed,
            moved=self.moved + other.moved,
            followups=counts["followups"],
        )

    def __str__(self) -> str:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.items())) or "none"
        followups = ", ".join(f"{k}: {v}" for k, v in sorted(self.followups.items())) or "none"
        return (
            f"stored {self.stored}; outcomes {outcomes}; sent {self.sent}, "
            f"deferred {self.deferred}, failed {self.failed}; moved {self.moved}; "
            f"follow-ups {followups}"
        )


def cycle(ctx: Context, client: IMAPClient | None) -> CycleReport:
    """One pass: store new mail (up to CYCLE_LIMIT messages), process it, tidy the server,
    flush the outbox."""
    report = CycleReport()
    if client is not None:
        report.stored = fetch_new(client, ctx.cfg.mailbox, limit=CYCLE_LIMIT)
    report.outcomes = process_pending(ctx)
    if client is not None:
        report.moved = tidy_server(client, ctx.cfg.mailbox)
    report.followups = dict(run_followups(ctx))
    flushed = flush_outbox(ctx.cfg.smtp)
    report.sent, report.deferred, report.failed = flushed.sent, flushed.deferred, flushed.failed
    return report


def run_once(ctx: Context) -> CycleReport:
    """Everything waiting in the mailbox, then the outbox; for cron and tests.

    A mailbox or database failure ends the run with one line (exit 2); what was committed
    stays, and the next run resumes from there. An unreachable mailbox still lets the
    messages already stored be processed and the outbox be sent."""
    try:
        client = connect(ctx.cfg.mailbox)
    except NETWORK_ERRORS as exc:
        where = f"{ctx.cfg.mailbox.host}:{ctx.cfg.mailbox.port}"
        try:
            report = cycle(ctx, None)
        except DATABASE_ERRORS as db_exc:
            raise MailflowError(
                f"mailbox {where} unreachable ({exc}); database: {db_exc}"
            ) from db_exc
        raise MailflowError(f"mailbox {where} unreachable ({exc}); without it: {report}") from exc
    try:
        report = cycle(ctx, client)
        while has_new(client, ctx.cfg.mailbox):  # more than one cycle's worth was waiting
            report = report.add(cycle(ctx, client))
        return report
    except NETWORK_ERRORS as exc:
        raise MailflowError(f"mailbox connection lost ({exc}); the next run resumes") from exc
    except DATABASE_ERRORS as exc:
        raise MailflowError(f"database unavailable ({exc}); the next run retries") from exc
    finally:
        _logout(client)


class Daemon:
    """IDLE loop with reconnects; stops cleanly on SIGTERM / SIGINT."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.stopping = threading.Event()
        self.scheduler = schedule.Scheduler()
        every = load_policy(ctx.cfg.paths.rules).every_seconds
        self.scheduler.every(every).seconds.do(self._scheduled)

    def stop(self, *_: object) -> None:
        log.info("stop requested")
        self.stopping.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _scheduled(self) -> None:
        """Time-driven work even when no mail arrives: follow-ups, then the outbox."""
        done = run_followups(self.ctx)
        if done:
            log.info("follow-ups: %s", dict(done))
        result = flush_outbox(self.ctx.cfg.smtp)
        if result.sent or result.failed:
            log.info(
                "outbox: sent %s, deferred %s, failed %s",
                result.sent,
                result.deferred,
                result.failed,
            )

    def run(self) -> None:
        """Connect, serve, and on any failure log it, back off and start again."""
        backoff = Backoff(RECONNECT_BACKOFF, self.stopping)
        while not self.stopping.is_set():
            try:
                client = connect(self.ctx.cfg.mailbox)
            except NETWORK_ERRORS as exc:
                backoff.wait("cannot reach the mailbox", exc)
                continue
            try:
                self._serve(client, backoff)
            except NETWORK_ERRORS as exc:
                backoff.wait("mailbox connection lost", exc)
            except DATABASE_ERRORS as exc:
                backoff.wait("database unavailable, cycle abandoned", exc)
            except Exception as exc:  # a bug in one stage must not stop the daemon
                backoff.wait("cycle failed", exc, traceback=True)
            finally:
                _logout(client)
        log.info("stopped")

    def _serve(self, client: IMAPClient, backoff: Backoff) -> None:
        idle = self.ctx.cfg.mailbox.idle and b"IDLE" in client.capabilities()
        log.info("connected to the mailbox (%s)", "IDLE" if idle else "polling")
        while not self.stopping.is_set():
            report = cycle(self.ctx, client)
            if report.stored or report.sent or report.failed:
                log.info("cycle: %s", report)
            self.scheduler.run_pending()
            backoff.reset()
            if not idle:
                self.stopping.wait(self.ctx.cfg.mailbox.poll_seconds)
            elif not has_new(client, self.ctx.cfg.mailbox):  # else: straight to the next cycle
                self._idle(client)

    def _idle(self, client: IMAPClient) -> None:
        """Wait for new mail, waking each second to notice a stop and run due jobs."""
        client.idle()
        deadline = time.monotonic() + self.ctx.cfg.mailbox.idle_seconds
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                    return
                if self.scheduler.idle_seconds is not None and self.scheduler.idle_seconds <= 0:
                    return
        finally:
            client.idle_done()


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone
        log.debug("logout failed", exc_info=True)
