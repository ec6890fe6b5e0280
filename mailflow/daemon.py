"""The daemon: wait for mail (IDLE, or polling), ingest, process, send, repeat.

Several daemons may share one mailbox and one database (store/leases.py): each message is
processed by one of them, once; the outbox by one sender at a time (transport/send.py); the
scheduler's work (`run_followups`: confirmations expired, follow-ups, held mail released,
digest, retention; the daemon is above the middle packages it calls in turn) by the one
holding the scheduler lock, which another takes over within a tick when its holder dies.
`run --once` respects that lock too: while a daemon holds it, it skips the follow-ups and
says so.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import schedule
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailflow.clock import stamp
from mailflow.context import Context
from mailflow.errors import MailflowError
from mailflow.followup.digest import daily_digest
from mailflow.followup.run import followup_steps, step
from mailflow.inbound.pipeline import process_pending, release_calm
from mailflow.privacy.retention import anonymise_expired, compact_if_due, compact_now_or_later
from mailflow.services.alerts import flush_alerts
from mailflow.services.confirm import expire_pending
from mailflow.services.notices import mailbox_login_refused
from mailflow.services.unreachable import refused_intro, refused_intros
from mailflow.store.leases import (
    SchedulerLock,
    database_away,
    lock_scope,
    unclaimed_messages,
    write_transaction,
)
from mailflow.store.models import OutboundMail, database
from mailflow.transport.ingest import LoginRefused, connect, fetch_new, tidy_server, unread
from mailflow.transport.resilience import DATABASE_ERRORS, NETWORK_ERRORS, Backoff
from mailflow.transport.send import FlushResult, flush_outbox
from mailflow.transport.server_copies import ServerCopiesError, pending, remove_copies

log = logging.getLogger(__name__)
RECONNECT_BACKOFF = (1, 2, 5, 10, 30, 60)
# A refused login is not a network error: trying again every few seconds would not fix the
# password and may get the account locked by the provider.
LOGIN_BACKOFF = (60, 300, 900, 1800, 3600)
OUTBOX_BUSY_WAIT = 0.5  # another process was sending: try the outbox again this soon
OUTBOX_BUSY_TRIES = 20  # ... this many times in a row; then the scheduler's tick flushes it
ORPHAN_CHECK_SECONDS = 5  # while idle, look this often for work a dead daemon left
UNREAD_EMPTY_WAIT = 0.2  # unread mail after an empty cycle: look again this soon
UNREAD_EMPTY_TRIES = 10  # ... this many times in a row; then IDLE (and its orphan checks)
# Messages per cycle: the mails of one cycle are being delivered by the SMTP server while
# the next cycle is processed (both cores busy), and the first message of a burst of
# thousands does not wait for the last one to be processed before its mail goes out.
CYCLE_LIMIT = 100
REFUSED_ROUNDS = 3  # a refused intro's next offer may be refused too: flush again this often


def run_followups(ctx: Context) -> Counter[str]:
    """The scheduler's work at this instant (one process at a time: the scheduler lock);
    returns what was done. The daemon is above the packages it draws on: commands nobody
    confirmed in time expire (services/confirm.py), the follow-ups run (followup/run.py),
    mail held by the hourly relay cap goes on once calm (inbound/rate_hold.py), then the
    coordinator's digest and the retention (privacy/retention.py). Each part in its own
    transactions: a failure is logged and retried at the next run."""
    policy = ctx.rules.followup
    now = stamp()
    done: Counter[str] = Counter()
    with write_transaction():  # commands nobody confirmed in time
        expired = expire_pending(now)
    if expired:
        done["confirmation-expired"] += expired
    followup_steps(ctx, policy, now, done)
    _release_held(ctx, now, done)
    step(done, lambda: flush_alerts(ctx, policy, now))  # after the steps that raise them
    if ctx.cfg.coordinator.digest:
        step(done, lambda: daily_digest(ctx, policy, now))
    step(done, lambda: "anonymised" if anonymise_expired(ctx, now) else "")
    # After the step's commit: a VACUUM cannot run inside its transaction, and without it
    # the erased values' old row versions would stay in the database's files.
    if done["anonymised"]:
        compact_now_or_later()
    else:
        compact_if_due()
    return done


def _release_held(ctx: Context, now: datetime, done: Counter[str]) -> None:
    """Mail held by the hourly relay cap, passed on once its conversation is calm again
    (inbound/rate_hold.py; each message in its own transaction)."""
    try:
        done.update(release_calm(ctx, now))
    except Exception as exc:  # the next run tries again; what was released stays stored
        if database_away(exc):
            raise
        log.exception("release of held mail failed; it will be retried")
        done["error"] += 1


@dataclass
class CycleReport:
    stored: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    moved: int = 0
    erased: int = 0  # server copies of erased mail removed (transport/server_copies.py)
    followups: dict[str, int] = field(default_factory=dict)
    followups_elsewhere: bool = False  # another process holds the scheduler lock
    outbox_busy: bool = False  # another process was sending the outbox

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
            erased=self.erased + other.erased,
            followups=counts["followups"],
            followups_elsewhere=self.followups_elsewhere or other.followups_elsewhere,
            outbox_busy=other.outbox_busy,  # the last cycle's: whether to try again soon
        )

    def __str__(self) -> str:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.items())) or "none"
        followups = ", ".join(f"{k}: {v}" for k, v in sorted(self.followups.items())) or "none"
        if self.followups_elsewhere:
            followups = "skipped (another process runs the scheduler)"
        return (
            f"stored {self.stored}; outcomes {outcomes}; sent {self.sent}, "
            f"deferred {self.deferred}, failed {self.failed}; moved {self.moved}; "
            f"follow-ups {followups}"
            + (f"; server copies of erased mail removed {self.erased}" if self.erased else "")
        )


def cycle(
    ctx: Context, client: IMAPClient | None, lead: SchedulerLock | None = None
) -> CycleReport:
    """One pass: store new mail (up to CYCLE_LIMIT messages), process it, tidy the server,
    follow up (when `lead` is given and this process holds it), remove the server copies
    of erased mail, flush the outbox."""
    report = CycleReport()
    if client is not None:
        report.stored = fetch_new(client, ctx.cfg.mailbox, limit=CYCLE_LIMIT)
    report.outcomes = process_pending(ctx)
    if client is not None:
        report.moved = tidy_server(client, ctx.cfg.mailbox)
    if lead is not None:
        if lead.acquire():
            report.followups = dict(run_followups(ctx))
        else:
            report.followups_elsewhere = True
    if client is not None:
        report.erased = remove_erased(ctx, client)
    flushed = send_and_act(ctx)
    report.sent, report.deferred, report.failed = flushed.sent, flushed.deferred, flushed.failed
    report.outbox_busy = flushed.busy
    return report


def send_and_act(ctx: Context) -> FlushResult:
    """Flush the outbox, then act at once on the introductions the server refused
    (services/unreachable.py: the request goes to the next candidate), and send what that
    decided; a bounded number of times, each refused intro in its own transaction."""
    result = flush_outbox(ctx.cfg.smtp)
    for _ in range(REFUSED_ROUNDS):
        acted = 0
        for outbound_id in refused_intros():
            try:
                with write_transaction():
                    request_id = _request_of(outbound_id)
                    lock_scope([request_id] if request_id is not None else [])
                    acted += bool(refused_intro(ctx, outbound_id))
            except Exception as exc:  # one bad row must not stop the others; retried next cycle
                if database_away(exc):
                    raise
                log.exception("acting on refused intro mail %s failed; retried later", outbound_id)
        if not acted:
            break
        result = result + flush_outbox(ctx.cfg.smtp)
    return result


def _request_of(outbound_id: int) -> int | None:
    row = OutboundMail.get_or_none(OutboundMail.id == outbound_id)
    return row.request_id if row else None


def run_once(ctx: Context) -> CycleReport:
    """Everything waiting in the mailbox, then the outbox; for cron and tests.

    A mailbox or database failure ends the run with one line (exit 2); what was committed
    stays, and the next run resumes from there. An unreachable mailbox still lets the
    messages already stored be processed and the outbox be sent. Follow-ups are done only
    when no daemon holds the scheduler lock."""
    lead = SchedulerLock()
    try:
        return _run_once(ctx, lead)
    finally:
        lead.release()


def _run_once(ctx: Context, lead: SchedulerLock) -> CycleReport:
    try:
        client = connect(ctx.cfg.mailbox)
    except LoginRefused as exc:
        try:
            told = mailbox_login_refused(ctx, str(exc))
            report = cycle(ctx, None, lead)
        except DATABASE_ERRORS as db_exc:
            raise MailflowError(f"{exc}; database: {db_exc}") from db_exc
        said = "the coordinator is told by mail" if told else "the coordinator was told today"
        raise MailflowError(f"{exc} ({said}); without the mailbox: {report}") from exc
    except NETWORK_ERRORS as exc:
        where = f"{ctx.cfg.mailbox.host}:{ctx.cfg.mailbox.port}"
        try:
            report = cycle(ctx, None, lead)
        except DATABASE_ERRORS as db_exc:
            raise MailflowError(
                f"mailbox {where} unreachable ({exc}); database: {db_exc}"
            ) from db_exc
        raise MailflowError(f"mailbox {where} unreachable ({exc}); without it: {report}") from exc
    try:
        report = cycle(ctx, client, lead)
        while unread(client, ctx.cfg.mailbox):  # more than one cycle's worth was waiting
            report = report.add(cycle(ctx, client, lead))
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
        self.lead = SchedulerLock()  # held while this process runs the scheduler
        self.scheduler = schedule.Scheduler()
        every = ctx.rules.followup.every_seconds
        self.scheduler.every(every).seconds.do(self._scheduled)

    def stop(self, *_: object) -> None:
        log.info("stop requested")
        self.stopping.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _followups(self) -> bool:
        """Follow-ups, if this process holds the scheduler lock (tried again each time, so
        that it takes over when the holder dies). True when something was done."""
        if not self.lead.acquire():
            return False
        done = run_followups(self.ctx)
        if done:
            log.info("follow-ups: %s", dict(done))
        return bool(done)

    def _scheduled(self) -> None:
        """Time-driven work even when no mail arrives: follow-ups, then the outbox."""
        self._followups()
        result = send_and_act(self.ctx)
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
        refused = Backoff(LOGIN_BACKOFF, self.stopping)
        while not self.stopping.is_set():
            try:
                client = connect(self.ctx.cfg.mailbox)
            except LoginRefused as exc:
                self._login_refused(exc, refused)
                continue
            except NETWORK_ERRORS as exc:
                backoff.wait("cannot reach the mailbox", exc)
                continue
            refused.reset()
            try:
                self._serve(client, backoff)
            except NETWORK_ERRORS as exc:
                backoff.wait("mailbox connection lost", exc)
            except DATABASE_ERRORS as exc:
                _reset_database()
                backoff.wait("database unavailable, cycle abandoned", exc)
            except Exception as exc:  # a bug in one stage must not stop the daemon
                backoff.wait("cycle failed", exc, traceback=True)
            finally:
                _logout(client)
        self.lead.release()
        log.info("stopped")

    def _login_refused(self, exc: LoginRefused, refused: Backoff) -> None:
        """Tell the coordinator (once a day), send what is ready, then wait long."""
        try:
            if mailbox_login_refused(self.ctx, str(exc)):
                log.warning("mailbox login refused: the coordinator is told by mail")
            flush_outbox(self.ctx.cfg.smtp)
        except DATABASE_ERRORS as db_exc:
            _reset_database()
            log.warning("database unavailable while telling of the refused login: %s", db_exc)
        refused.wait("mailbox login refused", exc)

    def _serve(self, client: IMAPClient, backoff: Backoff) -> None:
        idle = self.ctx.cfg.mailbox.idle and b"IDLE" in client.capabilities()
        log.info("connected to the mailbox (%s)", "IDLE" if idle else "polling")
        busy = 0  # cycles in a row that found the outbox in another process's hands
        empty = 0  # cycles in a row that did nothing
        while not self.stopping.is_set():
            report = cycle(self.ctx, client)
            if report.stored or report.sent or report.failed:
                log.info("cycle: %s", report)
            if self._followups():
                send_and_act(self.ctx)
            self.scheduler.run_pending()
            remove_erased(self.ctx, client)  # what the retention just erased, if anything
            backoff.reset()
            busy = busy + 1 if report.outbox_busy else 0
            empty = 0 if _did_work(report) else empty + 1
            if 0 < busy <= OUTBOX_BUSY_TRIES:  # its holder may have missed our newest rows
                self.stopping.wait(OUTBOX_BUSY_WAIT)
            elif idle and empty <= UNREAD_EMPTY_TRIES and unread(client, self.ctx.cfg.mailbox):
                # Mail came during the cycle: IDLE would not announce it again. After a
                # cycle that found nothing to do, another daemon is storing it right now:
                # give it a moment, a bounded number of times, rather than spin.
                if empty:
                    self.stopping.wait(UNREAD_EMPTY_WAIT)
                continue
            elif idle:
                self._idle(client)
            else:
                self.stopping.wait(self.ctx.cfg.mailbox.poll_seconds)

    def _idle(self, client: IMAPClient) -> None:
        """Wait for new mail, waking each second to notice a stop and run due jobs, and
        every few seconds to take up what another daemon, killed, left unfinished."""
        client.idle()
        now = time.monotonic()
        deadline = now + self.ctx.cfg.mailbox.idle_seconds
        next_check = now + ORPHAN_CHECK_SECONDS
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                    return
                if self.scheduler.idle_seconds is not None and self.scheduler.idle_seconds <= 0:
                    return
                if time.monotonic() >= next_check:
                    if unclaimed_messages():
                        return
                    next_check = time.monotonic() + ORPHAN_CHECK_SECONDS
        finally:
            client.idle_done()


def remove_erased(ctx: Context, client: IMAPClient) -> int:
    """The server copies of mail erased in the database (by retention, or by a `person
    forget` that could not reach the server); a refusal is retried at the next cycle."""
    if not pending():
        return 0
    try:
        return remove_copies(client, ctx.cfg.mailbox)
    except (IMAPClientError, ServerCopiesError) as exc:
        log.warning("server copies of erased mail not removed now (%s); next cycle", exc)
        return 0


def _reset_database() -> None:
    """Drop the connection after a database error, so the next query opens a new one: a
    server restarted, or a PostgreSQL session ended by the server (store/leases.py bounds a
    hung transaction), would otherwise fail every cycle from now on. The session locks
    it held are gone with it; SchedulerLock notices and tries again."""
    db = getattr(database, "obj", database)
    try:
        db.close()
    except Exception:  # already broken: nothing to close cleanly
        log.debug("closing the database connection failed", exc_info=True)


def _did_work(report: CycleReport) -> bool:
    """Whether the cycle did anything; empty cycles in a row are bounded (UNREAD_EMPTY_TRIES)
    even if a UID looks unread, so that nothing can make the loop spin."""
    return bool(report.stored or report.outcomes or report.moved or report.sent)


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone
        log.debug("logout failed", exc_info=True)
