"""The coordinator's daily digest: what is open, stuck, escalated or failing, in figures.

`collect_digest` only reads the database and returns plain data; `digest_view` shapes that
data for `templates/mails/digest.txt`; `daily_digest` queues it once a day. Outgoing mail
left unconfirmed or failed is collected by digest_outbox.py, spam and refused strangers by
digest_unwanted.py.

Times are naive UTC, as stored (`mailflow.clock.stamp()`), and shown in the configuration's
[schedule] timezone; the digest's hour and day are local too. The period a digest reports on
is `(since, now]`: `since` is the instant the last digest actually sent covered up to (its
outbox row is dated by it), or 24 hours earlier for the first one. Events while the daemon
was down, or on a day the digest failed, are therefore reported by the next digest sent,
and each event by exactly one digest. The age bands of open requests are rules
(rules/followup.toml [digest]).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, tzinfo
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from peewee import fn

from mailflow.clock import local
from mailflow.context import Context
from mailflow.core.addresses import sender
from mailflow.core.classify import BOUNCE
from mailflow.core.dsn import DELIVERED, PERMANENT, TRANSIENT, judge, parse_dsn
from mailflow.core.followup_policy import FollowupPolicy
from mailflow.core.lifecycle import OPEN_STATES, TRANSITIONS, UNMATCHED
from mailflow.core.outcomes import OutboxStatus, Outcome
from mailflow.core.readable import subject_of
from mailflow.core.textnorm import fold
from mailflow.followup.digest_outbox import UNCONFIRMED, OutboxIssue, collect_outbox_issues
from mailflow.followup.digest_unwanted import (
    SpamFigures,
    StrangerFigures,
    collect_spam,
    collect_strangers,
)
from mailflow.services.notices import send_auto
from mailflow.store.models import Alert, Event, InboundMessage, OutboundMail, Request

FIRST_PERIOD = timedelta(hours=24)  # the first digest, with none sent before it
DIGEST = "digest"  # the template, and the purpose of its outbox rows

REASON_LENGTH = 120
UNKNOWN_TRADE = "inconnu"
UNKNOWN_PLACE = "lieu non précisé"

# Open states in life-cycle order, so the digest always lists them the same way.
_STATE_ORDER = tuple(s for s in TRANSITIONS if s in OPEN_STATES)


@dataclass(frozen=True)
class Escalation:
    request_id: int
    trade: str
    place: str
    state: str  # where the request stands now (it may have moved on since)
    escalated_at: datetime


# Every outcome inbound/bounces.py gives a delivery report (a DSN matched to one of our mails, one
# that matches none, a mail-system notice naming nothing of ours).
BOUNCE_OUTCOMES = (BOUNCE, Outcome.BOUNCE_RECORDED, Outcome.BOUNCE_UNMATCHED)


@dataclass(frozen=True)
class Bounce:
    """A delivery report processed in the period, told by the mail it is about."""

    inbound_id: int
    at: datetime  # when it was processed
    recipient: str | None  # the address that failed: the matched mail's recipient
    role: str | None  # that mail's recipient_role: ambassador | person | coordinator | ...
    request_id: int | None
    severity: str  # dsn.PERMANENT | dsn.TRANSIENT | dsn.UNKNOWN ("" when nothing matched)
    status: str | None  # the DSN status code, e.g. 5.1.1
    sender: str  # the report's own sender and subject, for one that matched nothing
    subject: str
    outbound_id: int | None = None  # the matched mail


@dataclass(frozen=True)
class Quarantined:
    inbound_id: int
    received_at: datetime
    sender: str
    subject: str
    reason: str  # whitespace collapsed, at most REASON_LENGTH characters


@dataclass(frozen=True)
class DigestData:
    now: datetime
    since: datetime  # the period reported on is (since, now]
    first: bool  # no digest was sent before: the period is FIRST_PERIOD
    open_by_state: dict[str, int]  # non-zero open states, in life-cycle order
    open_by_age: dict[str, int]  # every age band, in order, zeros included
    new_in_period: int  # requests created in the period, whatever their state now
    escalations: list[Escalation]  # escalated in the period, oldest first
    unmatched_total: int  # every request still in state "unmatched"
    unmet_demand: list[tuple[str, str, int]]  # (trade, place, count), most asked first
    bounces: list[Bounce]  # processed in the period, oldest first
    quarantined: list[Quarantined]  # every message still quarantined, oldest first
    outbox_issues: list[OutboxIssue]  # unconfirmed or failed in the period, oldest first
    spam: SpamFigures  # processed in the period
    strangers: StrangerFigures  # refused on relay addresses in the period
    # The request numbers behind the counts (issue 12, item 10): by open state, new in the
    # period, by (trade, place) of unmet demand; the alerts of the period by kind.
    open_ids_by_state: dict[str, list[int]] = field(default_factory=dict)
    new_ids: list[int] = field(default_factory=list)
    unmet_ids: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    alerts_by_kind: dict[str, list[int]] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_state.values())


def trade_label(request: Request) -> str:
    return request.rome_label or request.trade_text or UNKNOWN_TRADE


def place_label(request: Request) -> str:
    if request.commune:
        return request.commune
    if request.department:
        return f"département {request.department}"
    return UNKNOWN_PLACE


def age_band(created_at: datetime, now: datetime, bands: Sequence[tuple[int, str]]) -> str:
    """The label of the band (first day, label) a request created at `created_at` is in."""
    days = (now - created_at).days  # whole days, floored
    label = bands[0][1]
    for first_day, band in bands:
        if days >= first_day:
            label = band
    return label


def shorten(text: str | None, limit: int = REASON_LENGTH) -> str:
    """One line, at most `limit` characters: a traceback must not flood the digest."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def group_unmet_demand(requests: list[Request]) -> list[tuple[str, str, int]]:
    """(trade, place, count) of the given requests, most frequent first, then by label."""
    counts = Counter((trade_label(r), place_label(r)) for r in requests)
    rows = [(trade, place, n) for (trade, place), n in counts.items()]
    rows.sort(key=lambda row: (-row[2], fold(row[0]), fold(row[1]), row[0], row[1]))
    return rows


def collect_bounces(since: datetime, now: datetime) -> list[Bounce]:
    """Delivery reports processed in `(since, now]`, oldest first, each told by the mail it
    is about (inbound/bounces.py links it to that mail in its "bounce" event); confirmations of a
    delivery are no error and left out."""
    reports = (
        InboundMessage.select()
        .where(
            InboundMessage.outcome.in_(BOUNCE_OUTCOMES),
            InboundMessage.processed_at > since,
            InboundMessage.processed_at <= now,
        )
        .order_by(InboundMessage.processed_at, InboundMessage.id)
    )
    found = []
    for m in reports:
        from_, subject = _from_and_subject(m)
        mail = _bounced_mail(m.id)
        if mail is None:
            found.append(
                Bounce(m.id, m.processed_at, None, None, m.request_id, "", None, from_, subject)
            )
            continue
        msg = _stored_message(m)
        verdict = judge(parse_dsn(msg), msg, mail.recipient)
        if verdict.severity == DELIVERED:
            continue
        status = verdict.status or mail.bounce_status
        found.append(
            Bounce(
                m.id,
                m.processed_at,
                mail.recipient,
                mail.recipient_role,
                mail.request_id,
                verdict.severity,
                status,
                from_,
                subject,
                mail.id,
            )
        )
    return found


def _stored_message(m: InboundMessage) -> EmailMessage:
    raw = m.raw if isinstance(m.raw, bytes) else bytes(m.raw or b"")
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def _from_and_subject(m: InboundMessage) -> tuple[str, str]:
    """The sender and subject the pipeline stored; read from the message itself when it
    stored none (it records no sender for automated mail, and a message quarantined by an
    error had its transaction rolled back)."""
    if m.sender and m.subject:
        return m.sender, m.subject
    msg = _stored_message(m)
    who = sender(msg)
    return m.sender or (who[1] if who else ""), m.subject or subject_of(msg)


def _bounced_mail(inbound_id: int) -> OutboundMail | None:
    """The outgoing mail a delivery report was matched to, as inbound/bounces.py logged it."""
    link = (
        Event.select(Event.outbound)
        .where(
            (Event.inbound == inbound_id) & (Event.kind == "bounce") & Event.outbound.is_null(False)
        )
        .order_by(Event.id)
        .first()
    )
    return OutboundMail.get_or_none(OutboundMail.id == link.outbound_id) if link else None


def last_digest_until(now: datetime) -> datetime | None:
    """The end of the period of the last digest actually sent before `now` (its outbox row
    is dated by it); None when none was. One queued, failed or bounced does not count: what
    it reported is reported again."""
    last = last_digest(now)
    return last.created_at if last else None


def last_digest_event(now: datetime) -> int | None:
    """The id of the event that queued the last digest sent, the moment it was written:
    what was logged after it at the same instant is the next digest's (digest_outbox.py)."""
    last = last_digest(now)
    if last is None:
        return None
    return Event.select(fn.MIN(Event.id)).where(Event.outbound == last.id).scalar()


def last_digest(now: datetime) -> OutboundMail | None:
    """The outbox row of the last digest actually sent before `now`."""
    return (
        OutboundMail.select(OutboundMail.id, OutboundMail.created_at)
        .where(
            (OutboundMail.purpose == DIGEST)
            & (OutboundMail.status == OutboxStatus.SENT)
            & (OutboundMail.created_at < now)
        )
        .order_by(OutboundMail.created_at.desc())
        .first()
    )


def collect_digest(
    now: datetime, bands: Sequence[tuple[int, str]], since: datetime | None = None
) -> DigestData:
    """Every figure of the digest at `now` (naive UTC), read from the database; the period
    starts at `since`, by default where the last digest sent stopped (see the docstring)."""
    last = last_digest_until(now) if since is None else since
    after_event = last_digest_event(now) if since is None else None
    since = last or now - FIRST_PERIOD
    open_requests = list(
        Request.select(Request.id, Request.state, Request.created_at).where(
            Request.state.in_(OPEN_STATES)
        )
    )
    by_state = Counter(r.state for r in open_requests)
    by_age = Counter(age_band(r.created_at, now, bands) for r in open_requests)
    unmatched = list(Request.select().where(Request.state == UNMATCHED).order_by(Request.id))
    escalated = (
        Request.select()
        .where(Request.escalated_at > since, Request.escalated_at <= now)
        .order_by(Request.escalated_at, Request.id)
    )
    new_ids = [
        r.id
        for r in Request.select(Request.id)
        .where(
            Request.created_at > since,
            Request.created_at <= now,
            Request.merged_into.is_null(),  # a merged duplicate is not a new request
        )
        .order_by(Request.id)
    ]
    new_count = len(new_ids)
    ids_by_state: dict[str, list[int]] = {}
    for r in sorted(open_requests, key=lambda r: r.id):
        ids_by_state.setdefault(r.state, []).append(r.id)
    unmet_ids: dict[tuple[str, str], list[int]] = {}
    for r in unmatched:
        unmet_ids.setdefault((trade_label(r), place_label(r)), []).append(r.id)
    quarantined = (
        InboundMessage.select()
        .where(InboundMessage.status == "quarantined")
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    bounces = collect_bounces(since, now)
    reported = {b.outbound_id for b in bounces if b.outbound_id is not None}
    return DigestData(
        now=now,
        since=since,
        first=last is None,
        open_by_state={s: by_state[s] for s in _STATE_ORDER if by_state[s]},
        open_by_age={band: by_age[band] for _, band in bands},
        new_in_period=new_count or 0,
        escalations=[
            Escalation(r.id, trade_label(r), place_label(r), r.state, r.escalated_at)
            for r in escalated
        ],
        unmatched_total=len(unmatched),
        unmet_demand=group_unmet_demand(unmatched),
        bounces=bounces,
        quarantined=[
            Quarantined(m.id, m.received_at, *_from_and_subject(m), shorten(m.reason))
            for m in quarantined
        ],
        outbox_issues=collect_outbox_issues(since, now, reported, after_event),
        spam=collect_spam(since, now),
        strangers=collect_strangers(since, now),
        open_ids_by_state=ids_by_state,
        new_ids=new_ids,
        unmet_ids=unmet_ids,
        alerts_by_kind=collect_alerts(since, now),
    )


def collect_alerts(since: datetime, now: datetime) -> dict[str, list[int]]:
    """The request numbers alerted in `(since, now]` (services/alerts.py), by kind."""
    found: dict[str, list[int]] = {}
    rows = (
        Alert.select(Alert.kind, Alert.request_id)
        .where(Alert.created_at > since, Alert.created_at <= now, Alert.request_id.is_null(False))
        .order_by(Alert.id)
    )
    for kind, request_id in rows.tuples():
        ids = found.setdefault(kind, [])
        if request_id not in ids:
            ids.append(request_id)
    return found


def _when(value: datetime, zone: tzinfo) -> str:
    """A stored time as the coordinator reads it: local, day first."""
    return local(value, zone).strftime("%d/%m/%Y %H:%M")


ROLE_LABELS = {
    "ambassador": "ambassadeur",
    "person": "personne",
    "coordinator": "coordination",
    "sender": "expéditeur",
    "stranger": "expéditeur inconnu",
}
SEVERITY_LABELS = {
    PERMANENT: "échec définitif",
    TRANSIENT: "remise retardée, nouvel essai en cours",
}


def party(role: str | None, request_id: int | None) -> str:
    """A mail's recipient as the digest names them: role and request, e.g. "ambassadeur,
    demande n°7"."""
    label = ROLE_LABELS.get(role or "", role or "")
    if request_id is None:
        return label
    return f"{label}, demande n°{request_id}" if label else f"demande n°{request_id}"


def bounce_view(b: Bounce, zone: tzinfo) -> dict[str, Any]:
    """Who could not be reached, in which role and for which request, and how badly."""
    role = party(b.role, b.request_id)
    what = SEVERITY_LABELS.get(b.severity, "rapport de remise sans statut d'échec")
    return {
        "at": _when(b.at, zone),
        "matched": b.recipient is not None,
        "recipient": b.recipient,
        "role": role,
        "what": f"{what} ({b.status})" if b.status else what,
        "sender": b.sender or "?",
        "subject": b.subject,
    }


def issue_view(i: OutboxIssue, zone: tzinfo) -> dict[str, Any]:
    """A mail to check: which, to whom (by role, never the address), and where to look."""
    where = (
        f"mailflow log --request {i.request_id}"
        if i.request_id is not None
        else f"mailflow message show {i.outbound_id} --outbound"
    )
    return {
        "id": i.outbound_id,
        "at": _when(i.at, zone),
        "to": party(i.role, i.request_id) or "destinataire",
        "purpose": i.purpose,
        "where": where,
    }


MAX_NUMBERS = 30  # request numbers listed on one line of the digest, then "…"


def numbers(ids: Sequence[int]) -> str:
    """'n°3, n°7, n°12' (the first MAX_NUMBERS, then how many more)."""
    shown = ", ".join(f"n°{i}" for i in ids[:MAX_NUMBERS])
    more = len(ids) - MAX_NUMBERS
    return f"{shown} et {more} autres" if more > 0 else shown


def digest_view(data: DigestData, zone: tzinfo) -> dict[str, Any]:
    """The template's variables: counts and ready-to-print strings, times in `zone`."""
    now = local(data.now, zone)
    return {
        "day": now.strftime("%d/%m/%Y"),
        "time": now.strftime("%H:%M"),
        "zone": str(zone),
        "since": _when(data.since, zone),
        "until": _when(data.now, zone),
        "first": data.first,
        "open_total": data.open_total,
        "open_by_state": [
            {"state": s, "count": n, "ids": numbers(data.open_ids_by_state.get(s, []))}
            for s, n in data.open_by_state.items()
        ],
        "open_by_age": [{"label": band, "count": n} for band, n in data.open_by_age.items()],
        "new_in_period": data.new_in_period,
        "new_ids": numbers(data.new_ids),
        "alerts": [{"kind": k, "ids": numbers(ids)} for k, ids in data.alerts_by_kind.items()],
        "escalations": [
            {
                "id": e.request_id,
                "trade": e.trade,
                "place": e.place,
                "state": e.state,
                "at": _when(e.escalated_at, zone),
            }
            for e in data.escalations
        ],
        "unmatched_total": data.unmatched_total,
        "unmet_demand": [
            {
                "trade": trade,
                "place": place,
                "count": n,
                "ids": numbers(data.unmet_ids.get((trade, place), [])),
            }
            for trade, place, n in data.unmet_demand
        ],
        "bounces": [bounce_view(b, zone) for b in data.bounces],
        "unconfirmed": [issue_view(i, zone) for i in data.outbox_issues if i.status == UNCONFIRMED],
        "failed": [issue_view(i, zone) for i in data.outbox_issues if i.status != UNCONFIRMED],
        "spam": {"total": data.spam.total, "requests": data.spam.request_ids},
        "strangers": asdict(data.strangers),
        "quarantined": [
            {
                "id": q.inbound_id,
                "at": _when(q.received_at, zone),
                "sender": q.sender or "?",
                "subject": q.subject,
                "reason": q.reason or "(motif non enregistré)",
            }
            for q in data.quarantined
        ],
    }


def daily_digest(ctx: Context, policy: FollowupPolicy, now: datetime) -> str:
    """Once a day, from the configured hour of the local day ([schedule] timezone): the
    day's key makes it once, even after a crash. Its outbox row is dated `now`, the end of
    the period it reports on."""
    zone = ctx.cfg.schedule.zone
    today = local(now, zone)
    key = f"digest:{today.date().isoformat()}"
    if today.hour < policy.digest_hour or OutboundMail.get_or_none(
        OutboundMail.idempotency_key == key
    ):
        return ""
    send_auto(
        ctx,
        DIGEST,
        key=key,
        to=ctx.cfg.coordinator.email,
        role="coordinator",
        data=digest_view(collect_digest(now, policy.digest_age_bands), zone),
        from_display="mailflow",
        at=now,
    )
    return DIGEST
