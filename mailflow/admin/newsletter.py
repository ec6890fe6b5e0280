"""A newsletter to every ambassador: queued at once, delivered at a steady pace, never twice.

All mails of a campaign are queued in one transaction under the keys
`newsletter:<campaign>:<ambassador id>`: a crash before the commit sends nothing, and after it
the outbox delivers each row once. Running the same campaign again queues only who is missing
and resumes the delivery, so a killed run is simply started again.

Without --campaign, the command picks the campaign from what was sent before with the same
template (its `newsletter` event names both): an unfinished campaign is resumed, whatever the
date (a run killed at 23:59 and started again at 00:01 mails nobody twice); a finished one
is not sent again within 24 hours unless a new --campaign is named; otherwise (next month,
say) a new campaign `TEMPLATE-YYYY-MM-DD` starts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peewee import fn

from mailflow.clock import stamp
from mailflow.config import Config
from mailflow.core.outcomes import OutboxStatus
from mailflow.errors import MailflowError
from mailflow.services.compose import Rendered, automatic_mail, new_message_id, render
from mailflow.store.directory import ambassador_fields
from mailflow.store.models import Ambassador, Event, OutboundMail, database
from mailflow.store.outbox import queue_mail
from mailflow.store.record import log_event
from mailflow.transport.send import flush_outbox

PURPOSE = "newsletter"
_CAMPAIGN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# the cause of a campaign's first event, which ties its name to its template
_STARTED = "newsletter {campaign} ({template}) queued for {count} ambassadors"
_STARTED_RE = re.compile(r"newsletter (?P<campaign>\S+) \((?P<template>.*)\) queued for \d+ ")
IN_THE_OUTBOX = (
    OutboxStatus.QUEUED,
    OutboxStatus.SENDING,
    OutboxStatus.HANDED,
)  # not yet sent, failed or bounced
RESEND_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Campaign:
    name: str
    queued: int  # queued by this run
    already: int  # queued by an earlier run of the same campaign
    resumed: PastCampaign | None = None  # picked without --campaign: unfinished, resumed


@dataclass(frozen=True)
class PastCampaign:
    """A campaign started earlier, as its event and its mails tell it."""

    name: str
    template: str  # the template's file name without .txt: newsletter_exemple, printemps
    started_at: datetime
    in_outbox: int  # mails not yet handed over (queued, deferred, or cut off by a crash)
    last_at: datetime  # its latest mail queued or handed over

    @property
    def finished(self) -> bool:
        return self.in_outbox == 0


@dataclass(frozen=True)
class Delivery:
    sent: int  # rows of the campaign sent, all runs together
    waiting: int  # still in the outbox (deferred by SMTP): the daemon retries them
    failed: int
    unconfirmed: int = 0  # handed to SMTP by a run that died before the 250 (transport/send.py)


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
    """Template name and today's date, the name of a new campaign of that template."""
    name = Path(template).stem.removeprefix("newsletter_")
    return f"{name}-{stamp():%Y-%m-%d}"


def past_campaigns() -> list[PastCampaign]:
    """Every campaign started so far, oldest first, from its `newsletter` event and rows."""
    found = []
    events = Event.select().where(Event.kind == PURPOSE, Event.request.is_null())
    for event in events.order_by(Event.at, Event.id):
        started = _STARTED_RE.match(event.cause or "")
        if started is None:
            continue
        rows = list(_campaign_rows(started["campaign"]))
        moments = [event.at, *(r.sent_at or r.created_at for r in rows)]
        found.append(
            PastCampaign(
                name=started["campaign"],
                template=started["template"],
                started_at=event.at,
                in_outbox=sum(r.status in IN_THE_OUTBOX for r in rows),
                last_at=max(moments),
            )
        )
    return found


def choose_campaign(
    template: str, new_name: str, past: list[PastCampaign], now: datetime
) -> tuple[str, PastCampaign | None]:
    """The campaign a run without --campaign is part of: the latest unfinished one of this
    template (returned as resumed), else a new one; refused while the latest finished one
    is less than RESEND_AFTER old, so that a run started again cannot mail anyone twice."""
    mine = [c for c in past if c.template == template]
    unfinished = [c for c in mine if not c.finished]
    if unfinished:
        return unfinished[-1].name, unfinished[-1]
    if mine and now - mine[-1].last_at < RESEND_AFTER:
        last = mine[-1]
        at = f"{last.last_at:%Y-%m-%d %H:%M}"
        raise MailflowError(
            f"newsletter {last.name} is finished (its last mail at {at} UTC): to send this "
            "template again within 24 hours, name a new campaign with --campaign NAME"
        )
    taken = {c.name for c in past}
    name, n = new_name, 1
    while name in taken:
        n += 1
        name = f"{new_name}-{n}"
    return name, None


def check_template(campaign: str, template: str, past: list[PastCampaign]) -> None:
    """A campaign named again goes on with the template it was started with."""
    for c in past:
        if c.name == campaign and c.template != template:
            raise MailflowError(
                f"campaign {campaign} was started with the template {c.template}, not "
                f"{template}: name another campaign"
            )


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


# What a newsletter template may show of its ambassador (never the address).
VIEW_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "kind",
    "city",
    "department",
    "capacity",
    "paused",
)


def _view(a: Ambassador) -> dict[str, Any]:
    return ambassador_fields(a, VIEW_FIELDS)


def _campaign_rows(campaign: str) -> Any:
    """The campaign's own rows. LIKE (peewee's startswith) is only a prefilter: it is
    case-insensitive and reads '_' in a name as any character, so 'a_b' would take the rows
    of 'axb' and 'Spring' those of 'spring'; the exact prefix decides."""
    prefix = f"newsletter:{campaign}:"
    key = OutboundMail.idempotency_key
    return OutboundMail.select().where(
        key.startswith(prefix) & (fn.SUBSTR(key, 1, len(prefix)) == prefix)
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
            log_event(PURPOSE, _STARTED.format(campaign=campaign, template=name, count=len(todo)))
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
        .where((OutboundMail.status == OutboxStatus.QUEUED) & (OutboundMail.attempts == 0))
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
        if row.status != OutboxStatus.QUEUED or row.attempts or row.id in tried:
            continue  # already handed over by an earlier flush (or by the daemon)
        OutboundMail.update(next_attempt_at=stamp()).where(OutboundMail.id == row.id).execute()
        tried.add(row.id)
        flush_outbox(cfg.smtp)
    counts = {"sent": 0, "queued": 0, "failed": 0, "unconfirmed": 0}
    for row in _campaign_rows(campaign):
        counts[row.status] = counts.get(row.status, 0) + 1
    return Delivery(counts["sent"], counts["queued"], counts["failed"], counts["unconfirmed"])


def send_newsletter(
    cfg: Config,
    template: str,
    campaign: str | None = None,
    per_minute: int | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Campaign, Delivery]:
    """`mailflow newsletter send TEMPLATE`: queue (or resume) the campaign, then deliver it."""
    rate = cfg.newsletter.per_minute if per_minute is None else per_minute
    if rate < 0:
        raise MailflowError(f"--per-minute must be 0 (no limit) or more, got {rate}")
    _, stem = template_source(cfg.paths.templates, template)
    past = past_campaigns()
    resumed = None
    if campaign is None:
        campaign, resumed = choose_campaign(stem, default_campaign(template), past, stamp())
    check_template(campaign, stem, past)
    queued = queue_campaign(cfg, template, campaign)
    delivery = deliver_campaign(cfg, campaign, rate, sleep=sleep, clock=clock)
    return Campaign(queued.name, queued.queued, queued.already, resumed), delivery
