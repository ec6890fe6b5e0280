"""Handing the outbox to SMTP: retry with backoff on 4xx and lost connections, fail on 5xx."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import aiosmtplib

from .clock import stamp
from .config import SmtpConfig
from .models import OutboundMail, database
from .record import log_event

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1200, 3600)


@dataclass(frozen=True)
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def _due() -> list[OutboundMail]:
    return list(
        OutboundMail.select()
        .where((OutboundMail.status == "queued") & (OutboundMail.next_attempt_at <= stamp()))
        .order_by(OutboundMail.id)
    )


def _smtp(cfg: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=cfg.host,
        port=cfg.port,
        use_tls=cfg.ssl,
        start_tls=cfg.starttls,
        timeout=cfg.timeout_seconds,
    )


async def _deliver(cfg: SmtpConfig, rows: list[OutboundMail]) -> FlushResult:
    sent = deferred = failed = 0
    client = _smtp(cfg)
    try:
        await client.connect()
        if cfg.username:
            await client.login(cfg.username, cfg.password)
    except (aiosmtplib.SMTPException, OSError) as exc:
        for row in rows:
            _defer(row, cfg, f"connection: {exc}")
        return FlushResult(deferred=len(rows))
    try:
        for row in rows:
            outcome = await _send_one(client, cfg, row)
            sent += outcome == "sent"
            deferred += outcome == "deferred"
            failed += outcome == "failed"
            if outcome == "deferred" and not client.is_connected:
                for rest in rows[rows.index(row) + 1 :]:
                    _defer(rest, cfg, "connection lost")
                    deferred += 1
                break
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
    return FlushResult(sent, deferred, failed)


async def _send_one(client: aiosmtplib.SMTP, cfg: SmtpConfig, row: OutboundMail) -> str:
    try:
        await client.sendmail(row.envelope_from, [row.recipient], bytes(row.raw))
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [e.code for e in exc.recipients]
        if all(500 <= c < 600 for c in codes):
            return _fail(row, f"recipient refused: {exc.recipients[0].message}")
        return _defer(row, cfg, f"recipient deferred: {exc}")
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            return _fail(row, f"{exc.code} {exc.message}")
        return _defer(row, cfg, f"{exc.code} {exc.message}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _defer(row, cfg, f"connection: {exc}")
    with database.atomic():
        row.status, row.sent_at = "sent", stamp()
        row.attempts += 1
        row.last_error = None
        row.save()
        log_event(
            "sent",
            f"{row.purpose} mail handed to SMTP",
            outbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    return "sent"


def _defer(row: OutboundMail, cfg: SmtpConfig, why: str) -> str:
    row.attempts += 1
    row.last_error = why
    if row.attempts >= cfg.max_attempts:
        return _fail(row, f"gave up after {row.attempts} attempts: {why}")
    delay = BACKOFF_SECONDS[min(row.attempts - 1, len(BACKOFF_SECONDS) - 1)]
    row.next_attempt_at = stamp() + timedelta(seconds=delay)
    row.save()
    log.warning("mail %s deferred (%s), next try in %ss", row.id, why, delay)
    return "deferred"


def _fail(row: OutboundMail, why: str) -> str:
    with database.atomic():
        row.status, row.last_error = "failed", why
        row.save()
        log_event(
            "send-failed",
            why,
            outbound=row,
            request=row.request_id,
            conversation=row.conversation_id,
        )
    log.error("mail %s failed: %s", row.id, why)
    return "failed"


def flush_outbox(cfg: SmtpConfig) -> FlushResult:
    """Send everything due now, oldest first, over one connection."""
    rows = _due()
    if not rows:
        return FlushResult()
    return asyncio.run(_deliver(cfg, rows))
