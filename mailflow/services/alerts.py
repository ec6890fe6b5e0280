"""Telling the coordinator at once, by mail, batched by kind (issue 12, item 10).

`alert` is called by whoever sees the event, in its transaction: it only stores a pending
row (store/models.py Alert), so a decision rolled back raises no alert. `flush_alerts`, run
by the scheduler with the follow-ups (followup/run.py, so every few seconds in the daemon's
loop and at each `run --once`), mails one French summary per kind that is due
(core/alerts.py `due_kinds`: the batch delay and the hourly cap, rules/followup.toml
[alerts]), listing the request numbers, from templates/mails/alert_coordinator.txt.

Kinds (core/alerts.py AlertKind) and who raises them:
- UNDER_15: a new request from someone likely under 15 (services/intake.py);
- INTRO_REFUSED: the SMTP server refused an introduction (services/unreachable.py);
- ESCALATED: nobody left to offer a request to (services/reassign.py `escalate`);
- HELP_UNCLEAR: a reply to the help mail still not understood (services/unclear.py).

The last two have a notice of their own, with the request's details
(escalation_coordinator.txt, help_unclear_coordinator.txt): the first of the hour is sent
at once and its alert recorded as told by it (`told_by`, for the digest); while that kind
`is_capped`, the next ones are pending alerts, mailed together in the hourly summary. So no
kind ever brings the coordinator more than one mail an hour, however many events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailflow.clock import local, stamp
from mailflow.context import Context
from mailflow.core.alerts import AlertKind, due_kinds
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.services.notices import send_auto
from mailflow.store.models import Alert, OutboundMail
from mailflow.store.record import log_event

TEMPLATE = "alert_coordinator"  # the template, and the purpose of its outbox rows
DETAIL_LENGTH = 300


def alert(
    ctx: Context,
    kind: AlertKind,
    request_id: int | None,
    detail: str = "",
    told_by: OutboundMail | None = None,
) -> Alert:
    """Store one pending alert (the coordinator's summary of its kind is mailed later by
    `flush_alerts`). `detail`: one line of French for the coordinator, never an address.
    `told_by`: a mail that already told the coordinator of it, at once (the escalation
    notice): the alert is then recorded as told by it, for the digest, and mailed no more."""
    del ctx  # the signature every caller uses; the flush reads the configuration
    flat = " ".join(detail.split())[:DETAIL_LENGTH]
    row = Alert.create(
        kind=str(kind),
        request_id=request_id,
        detail=flat,
        created_at=stamp(),
        sent_at=stamp() if told_by is not None else None,
        outbound_id=told_by.id if told_by is not None else None,
    )
    log_event("alert", f"coordinator to be told ({kind}): {flat}", request=request_id)
    return row


def is_capped(ctx: Context, kind: AlertKind, now: datetime | None = None) -> bool:
    """True while the coordinator's last mail of this kind is younger than the interval
    (rules/followup.toml [alerts]): an event of the kind is then a pending alert, for the
    next summary, rather than a notice of its own."""
    last = _last_sent(str(kind))
    interval = timedelta(minutes=ctx.rules.followup.alert_interval_minutes)
    return last is not None and (now or stamp()) < last + interval


def _last_sent(kind: str) -> datetime | None:
    last = (
        Alert.select(Alert.sent_at)
        .where((Alert.kind == kind) & Alert.sent_at.is_null(False))
        .order_by(Alert.sent_at.desc())
        .first()
    )
    return last.sent_at if last is not None else None


def flush_alerts(ctx: Context, policy: FollowupPolicy, now: datetime) -> str:
    """Mail the coordinator one summary per kind that is due; runs in the caller's
    transaction. Returns "alerts" when a mail was queued, "" otherwise."""
    pending: dict[str, list[Alert]] = {}
    for row in Alert.select().where(Alert.sent_at.is_null()).order_by(Alert.id):
        pending.setdefault(row.kind, []).append(row)
    if not pending:
        return ""
    last_sent = {kind: last for kind in pending if (last := _last_sent(kind)) is not None}
    oldest = {kind: rows[0].created_at for kind, rows in pending.items()}
    kinds = due_kinds(
        oldest, last_sent, now, policy.alert_batch_minutes, policy.alert_interval_minutes
    )
    zone = ctx.cfg.schedule.zone
    for kind in kinds:
        rows = pending[kind]
        key = f"alert:{kind}:{rows[0].id}"
        send_auto(
            ctx,
            TEMPLATE,
            key=key,
            to=ctx.cfg.coordinator.email,
            role="coordinator",
            data={
                "kind": kind,
                "requests": sorted({r.request_id for r in rows if r.request_id is not None}),
                "alerts": [
                    {
                        "request_id": r.request_id,
                        "detail": r.detail,
                        "at": local(r.created_at, zone).strftime("%d/%m/%Y %H:%M"),
                    }
                    for r in rows
                ],
            },
            from_display="mailflow",
            at=now,
        )
        mail = OutboundMail.get(OutboundMail.idempotency_key == key)
        Alert.update(sent_at=now, outbound_id=mail.id).where(
            Alert.id.in_([r.id for r in rows])
        ).execute()
    return "alerts" if kinds else ""
