"""Which requests `mailflow log` shows: its filters checked once, then applied.

Apart from the timelines so that a bad `--state`, `--outcome` or date is refused with the
same message before anything is read, and so that trade matching (code ROME by prefix,
labels by folded words) has one place to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, tzinfo

from peewee import fn

from mailflow.clock import day_bounds
from mailflow.core.lifecycle import TRANSITIONS
from mailflow.core.outcomes import OUTCOMES
from mailflow.core.textnorm import fold, words
from mailflow.errors import MailflowError
from mailflow.store.models import (
    Ambassador,
    Conversation,
    InboundMessage,
    Person,
    Request,
    storable_id,
)

FILTER_OPTIONS = (
    "person",
    "ambassador",
    "trade",
    "department",
    "state",
    "since",
    "until",
    "outcome",
)


@dataclass(frozen=True)
class LogFilter:
    """Which requests to show; None means "any". Dates bound `created_at`, inclusive, as
    days of the configured time zone (see clock.day_bounds)."""

    person: str | None = None
    ambassador: str | None = None
    trade: str | None = None  # folded
    department: str | None = None
    state: str | None = None
    since: date | None = None
    until: date | None = None
    outcome: str | None = None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise MailflowError(f"--{option} {text!r}: expected a date YYYY-MM-DD") from None


def make_filter(known_outcomes: Sequence[str] = OUTCOMES, **options: str | None) -> LogFilter:
    """Check and normalise the command-line filters (emails and codes are case-insensitive)."""
    given = {k: v.strip() for k, v in options.items() if v is not None and v.strip()}
    if "state" in given and given["state"] not in TRANSITIONS:
        raise MailflowError(f"--state {given['state']!r}: one of {', '.join(TRANSITIONS)}")
    if "outcome" in given and given["outcome"] not in known_outcomes:
        raise MailflowError(f"--outcome {given['outcome']!r}: one of {', '.join(known_outcomes)}")
    since = _day("since", given["since"]) if "since" in given else None
    until = _day("until", given["until"]) if "until" in given else None
    if since and until and since > until:
        raise MailflowError(f"--since {since} is after --until {until}")
    return LogFilter(
        person=given["person"].lower() if "person" in given else None,
        ambassador=given["ambassador"].lower() if "ambassador" in given else None,
        trade=fold(given["trade"]) if "trade" in given else None,
        department=given["department"].upper() if "department" in given else None,
        state=given.get("state"),
        since=since,
        until=until,
        outcome=given.get("outcome"),
    )


def recorded_outcomes() -> list[str]:
    """The outcomes this database holds (an older mailflow may have named others)."""
    query = InboundMessage.select(InboundMessage.outcome).distinct()
    return [o for (o,) in query.where(InboundMessage.outcome.is_null(False)).tuples()]


def trade_matches(request: Request, needle: str) -> bool:
    """Code ROME by prefix, labels by accent- and case-insensitive words."""
    if request.code_rome and fold(request.code_rome).startswith(needle):
        return True
    wanted = words(needle)
    for label in (request.rome_label, request.trade_text):
        if label and (needle in fold(label) or (wanted and wanted in words(label))):
            return True
    return False


def matching_requests(request_id: int | None, f: LogFilter, zone: tzinfo = UTC) -> list[Request]:
    """The requests `f` selects; its dates are days of `zone`, as the coordinator means them."""
    query = Request.select().order_by(Request.id)
    if request_id is not None:
        if not storable_id(request_id):
            return []  # no such request (and a number too large for the driver)
        query = query.where(Request.id == request_id)
    if f.person:
        people = Person.select(Person.id).where(fn.LOWER(Person.email) == f.person)
        query = query.where(Request.person.in_(people))
    if f.ambassador:
        offered = (
            Conversation.select(Conversation.request)
            .join(Ambassador)
            .where(fn.LOWER(Ambassador.email) == f.ambassador)
        )
        query = query.where(Request.id.in_(offered))
    if f.department:
        query = query.where(fn.UPPER(Request.department) == f.department)
    if f.state:
        query = query.where(Request.state == f.state)
    start, end = day_bounds(f.since, f.until, zone)
    if start is not None:
        query = query.where(Request.created_at >= start)
    if end is not None:
        query = query.where(Request.created_at < end)
    if f.outcome:
        having = InboundMessage.select(InboundMessage.request).where(
            InboundMessage.outcome == f.outcome
        )
        query = query.where(Request.id.in_(having))
    rows = list(query)
    return [r for r in rows if trade_matches(r, f.trade)] if f.trade else rows
