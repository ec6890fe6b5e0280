"""`mailflow log --actions`: what was done to the whole programme, outside any request.

Imports, exports, erasures, purges, schema upgrades and quarantine decisions belong to no
request's timeline; they are events of their own, chosen by kind and by day, and listed
apart so that the request log stays about requests.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, date, tzinfo
from functools import reduce
from typing import Any

from peewee import fn

from mailflow.clock import day_bounds, utc_iso
from mailflow.errors import MailflowError
from mailflow.review.log_render import local_time, zone_line
from mailflow.store.models import Event

CONSOLE = "web-"  # the console's events: listed here even when linked to a request


def _listed() -> object:
    """Events listed as actions: outside any request, or the console's."""
    return Event.request.is_null() | (fn.SUBSTR(Event.kind, 1, len(CONSOLE)) == CONSOLE)


def action_kinds(given: str | None) -> tuple[str, ...]:
    """`--kind privacy,import` -> the kinds wanted; each one is a kind recorded outside any
    request or the first word of some (`privacy` for privacy-export, privacy-forget, ...),
    so a typo is named instead of listing nothing."""
    if not given:
        return ()
    wanted = tuple(k.strip().lower() for k in given.split(",") if k.strip())
    recorded = sorted(k for (k,) in Event.select(Event.kind).where(_listed()).distinct().tuples())
    for kind in wanted:
        if not any(r == kind or r.startswith(f"{kind}-") for r in recorded):
            known = ", ".join(recorded) or "none yet"
            raise MailflowError(f"--kind {kind!r}: no such action recorded (recorded: {known})")
    return wanted


def actions(
    since: date | None = None,
    until: date | None = None,
    kinds: Sequence[str] = (),
    zone: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """Every event outside any request, oldest first: what coordinators and the daemon did
    to the whole programme (imports, exports, erasures, purges, newsletters, schema
    upgrades, quarantine decisions, ...), with the message or mail it concerns if any;
    only of `kinds` (a kind, or the first word of kinds: see action_kinds) when given;
    `since` and `until` are days of `zone`."""
    query = Event.select().where(_listed())
    if kinds:
        query = query.where(
            reduce(
                operator.or_,
                [
                    (Event.kind == k) | (fn.SUBSTR(Event.kind, 1, len(k) + 1) == f"{k}-")
                    for k in kinds
                ],
            )
        )
    start, end = day_bounds(since, until, zone)
    if start is not None:
        query = query.where(Event.at >= start)
    if end is not None:
        query = query.where(Event.at < end)
    found = []
    for e in query.order_by(Event.at, Event.id):
        entry: dict[str, Any] = {"at": utc_iso(e.at), "id": e.id, "kind": e.kind, "cause": e.cause}
        for name in ("request", "inbound", "outbound", "conversation"):
            if getattr(e, f"{name}_id") is not None:
                entry[name] = getattr(e, f"{name}_id")
        found.append(entry)
    return found


def render_actions(
    rows: list[dict[str, Any]],
    dated: bool = False,
    kinds: Sequence[str] = (),
    zone: tzinfo = UTC,
) -> str:
    """The actions for people: times on `zone`'s clock, which the first line names."""
    if not rows and kinds:
        return f"No action of kind {', '.join(kinds)} recorded in these dates.\n"
    if not rows:
        return "No action recorded in these dates.\n" if dated else "No action recorded yet.\n"
    lines = [zone_line(zone), "Actions outside any request:"]
    for r in rows:
        about = [
            f"{k} #{r[k]}" for k in ("request", "inbound", "outbound", "conversation") if k in r
        ]
        where = f" [{', '.join(about)}]" if about else ""
        lines.append(f"  {local_time(r['at'], zone)}  {r['kind'].upper()} {r['cause']}{where}")
    return "\n".join(lines) + "\n"
