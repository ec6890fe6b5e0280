"""The ambassador directory as a table: each one's load, activity and availability.

Coordinators look after the directory with it: who is overloaded, who never answers, whose
address bounces, who paused, is away or left.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from peewee import JOIN, Case, fn

from mailflow.clock import local, stamp, wall_iso, zone_name
from mailflow.store.directory import NAME, ambassador_fields
from mailflow.store.models import Ambassador, Conversation

# The columns of the table, before the counts (the CSV's order: a contract).
ENTRY_FIELDS = ("id", "email", NAME, "kind", "title", "code_rome", "department", "city", "capacity")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def availability(a: Ambassador, now: datetime, zone: tzinfo = UTC) -> str:
    """One word (and a date) for whether the ambassador gets new requests right now; an
    absence shows its end in `zone`: the first day back (absent_until is its midnight); a
    departure its day in `zone` too."""
    if a.left_at is not None:
        return f"left {local(a.left_at, zone):%Y-%m-%d}"
    if not a.active:
        return "inactive"
    if a.bounce_state == "failing":
        return "bouncing"
    if a.paused:
        return "paused"
    if a.absent_until is not None and a.absent_until > now:
        return f"absent until {local(a.absent_until, zone):%Y-%m-%d}"
    return "available"


def directory_rows(zone: tzinfo = UTC) -> list[dict[str, Any]]:
    now = stamp()
    open_count = fn.SUM(Case(None, [(Conversation.state == "open", 1)], 0))
    answered = Conversation.ambassador_answered_at.is_null(False)
    answered_count = fn.SUM(Case(None, [(answered, 1)], 0))
    query = (
        Ambassador.select(
            Ambassador,
            open_count.alias("open_count"),
            answered_count.alias("answered_count"),
            fn.COUNT(Conversation.id).alias("offered_count"),
        )
        .join(Conversation, JOIN.LEFT_OUTER, on=(Conversation.ambassador == Ambassador.id))
        .group_by(Ambassador.id)
        .order_by(Ambassador.department, Ambassador.last_name, Ambassador.first_name, Ambassador.id)
    )
    return [
        {
            **ambassador_fields(a, ENTRY_FIELDS),
            "open": int(a.open_count or 0),
            "offered": int(a.offered_count or 0),
            "answered": int(a.answered_count or 0),
            **ambassador_fields(a, ("active", "paused")),
            "absent_until": _iso(a.absent_until),
            "left_at": _iso(a.left_at),
            "bounce_state": a.bounce_state,
            "bounced_at": _iso(a.bounced_at),
            "last_contacted_at": _iso(a.last_contacted_at),
            "availability": availability(a, now, zone),
        }
        for a in query
    ]


def render_directory(rows: list[dict[str, Any]], zone: tzinfo = UTC) -> str:
    """The table for people: last contacts on `zone`'s clock, named on the first line (the
    rows, also the `--json` output, keep UTC)."""
    if not rows:
        return "The directory is empty: import ambassadors with `mailflow ambassadors import FILE`."
    header = (
        "id",
        "name",
        "email",
        "kind",
        "title",
        "rome",
        "dept",
        "city",
        "open/cap",
        "answered",
        "last contacted",
        "bounce",
        "status",
    )
    table = [header] + [
        (
            str(r["id"]),
            r["name"],
            r["email"],
            r["kind"],
            r["title"],
            r["code_rome"] or "-",
            r["department"],
            r["city"],
            f"{r['open']}/{r['capacity']}",
            f"{r['answered']}/{r['offered']}",
            wall_iso(r["last_contacted_at"], zone, "%Y-%m-%d %H:%M") or "-",
            r["bounce_state"],
            r["availability"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    return "\n".join([f"Times in {zone_name(zone)}", *lines])
