"""A newsletter to every ambassador: queued at once, delivered at a steady pace, never twice.

All mails of a campaign are queued in one transaction under the keys
`newsletter:<campaign>:<ambassador id>`: a crash before the commit sends nothing, and after it
the outbox delivers each row once. Running the same campaign again queues only who is missing
and resumes the delivery, so a killed run is simply started again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .clock import stamp
from .compose import Rendered, automatic_mail, new_message_id, render
from .config import Config
from .errors import MailflowError
from .models import Ambassador, OutboundMail, database
from .outbox import queue_mail
from .record import log_event
from .send import flush_outbox

PURPOSE = "newsletter"
_CAMPAIGN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Campaign:
    name: str
    queued: int  # queued by this run
    already: int  # queued by an earlier run of the same campaign


@dataclass(frozen=True)
class Delivery:
    sent: int  # rows of the campaign sent, all runs together
    waiting: int  # still in the outbox (deferred by SMTP): the daemon retries them
    failed: int


def template_source(templates: Path, template: str) -> tuple[Path, str]:
    """`exemple` is templates/mails/newsletter_exemple.txt; a path names its own file."""
    if template.endswith(".txt") or "/" in template:
        path = Path(template).resolve()
        if not path.is_file():
            raise MailflowError(f"newsletter template {path} does not exist")
        return path.parent, path.stem
    if not (templates / f"newsletter_{template}.txt").is_file():
        known = sorted(p.stem.removeprefix("newsletter_") for p in templates.glob("newsletter_*"))
        raise MailflowError(
            f"no newsletter template {template!r} in {templates} (known: {', '.join(known)})"
        )
    return templates, f"newsletter_{template}"


def default_campaign(template: str) -> str:
    """Template name and today's date: the same command the same day is the same campaign."""
    name = Path(template).stem.removeprefix("newsletter_")
    return f"{name}-{stamp():%Y-%m-%d}"


def campaign_key(campaign: str, ambassador_id: int) -> str:
    return f"newsletter:{campaign}:{ambassador_id}"


def recipients() -> list[Ambassador]:
    """Everyone still in the network whose address works (paused or away ones too)."""
    return list(
        Ambassador.select()
        .where(
            (Ambassador.active == True)  # noqa: E712 - peewee expression
            & Ambassador.left_at.is_null()
            & (Ambassador.bounce_state != "failing")
        )
        .order_by(Ambassador.id)
    )


def _view(a: Ambassador) -> dict[str, Any]:
    return {
        "id": a.id,
        "first_name": a.first_name,
        "last_name": a.last_name,
        "title": a.title,
        "kind": a.kind,
        "city": a.city,
        "department": a.department,
        "capacity": a.capacity,
        "paused": a.paused,
    }


def _campaign_rows(campaign: str) -> Any:
    return OutboundMail.select().where(
        OutboundMail.idempotency_key.startswith(f"newsletter:{campaign}:")
    )


def queue_campaign(cfg: Config, template: str, campaign: str) -> Campaign:
    """Render for everyone not yet queued (before writing anything), then queue them all
    and the campaign's event in one transaction."""
    if not _CAMPAIGN.fullmatch(campaign):
        raise MailflowError(f"campaign name {campaign!r}: letters, digits, '.', '_', '-' only")
    folder, name = template_source(cfg.paths.templates, template)
    relay = cfg.relay
    already = {row.idempotency_key for row in _campaign_rows(campaign)}
    todo: list[tuple[Ambassador, Rendered]] = [
        (a, render(folder, name, {"ambassador": _view(a), "relay": relay, "campaign": campaign}))
        for a in recipients()
        if campaign_key(campaign, a.id) not in already
    ]
    with database.atomic():
        for ambassador, rendered in todo:
            mail = automatic_mail(
                rendered,
                from_display=relay.display_name,
                from_address=relay.address,
                to_address=ambassador.email,
                message_id=new_message_id(relay.domain),
                loop_marker=relay.address,
            )
            queue_mail(
                mail,
                key=campaign_key(campaign, ambassador.id),
                purpose=PURPOSE,
                envelope_from=relay.address,
                recipient=ambassador.email,
                recipient_role="ambassador",
            )
        if not already:
            log_event(PURPOSE, f"newsletter {campaign} ({name}) queued for {len(todo)} ambassadors")
        else:
            log_event(
                "newsletter-resumed",
                f"newsletter {campaign} started again: {len(todo)} more queued, "
                f"{len(already)} queued earlier",
            )
    return Campaign(campaign, len(todo), len(already))


def _pending(campaign: str) -> list[OutboundMail]:
    """Rows never tried yet; a row the sender deferred is left to the outbox's backoff."""
    return list(
        _campaign_rows(campaign)
        .where((OutboundMail.status == "queued") & (OutboundMail.attempts == 0))
        .order_by(OutboundMail.next_attempt_at, OutboundMail.id)
    )


def _schedule(rows: list[OutboundMail], interval: float) -> None:
    """One slot per row from now on, so the daemon's outbox keeps the pace too."""
    start = stamp()
    with database.atomic():
        for i, row in enumerate(rows):
            OutboundMail.update(next_attempt_at=start + timedelta(seconds=i * interval)).where(
                OutboundMail.id == row.id
            ).execute()


def deliver_campaign(
    cfg: Config,
    campaign: str,
    per_minute: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Hand the campaign's mails to SMTP through the outbox, at most `per_minute` a minute
    (0: no limit). Waiting uses the real elapsed time, so a frozen MAILFLOW_NOW works too."""
    interval = 60.0 / per_minute if per_minute > 0 else 0.0
    rows = _pending(campaign)
    _schedule(rows, interval)
    started = clock()
    tried: set[int] = set()
    for i, row in enumerate(rows):
        if interval:
            wait = started + i * interval - clock()
            if wait > 0:
                sleep(wait)
        row = OutboundMail.get_by_id(row.id)
        if row.status != "queued" or row.attempts or row.id in tried:
            continue  # already handed over by an earlier flush (or by the daemon)
        OutboundMail.update(next_attempt_at=stamp()).where(OutboundMail.id == row.id).execute()
        tried.add(row.id)
        flush_outbox(cfg.smtp)
    counts = {"sent": 0, "queued": 0, "failed": 0}
    for row in _campaign_rows(campaign):
        counts[row.status] = counts.get(row.status, 0) + 1
    return Delivery(counts["sent"], counts["queued"], counts["failed"])


def send_newsletter(
    cfg: Config, template: str, campaign: str | None = None, per_minute: int | None = None
) -> tuple[Campaign, Delivery]:
    """`mailflow newsletter send TEMPLATE`: queue (or resume) the campaign, then deliver it."""
    name = campaign or default_campaign(template)
    rate = cfg.newsletter.per_minute if per_minute is None else per_minute
    if rate < 0:
        raise MailflowError(f"--per-minute must be 0 (no limit) or more, got {rate}")
    queued = queue_campaign(cfg, template, name)
    return queued, deliver_campaign(cfg, name, rate)
