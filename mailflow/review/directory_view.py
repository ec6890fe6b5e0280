"""The ambassador directory as a table: each one's load, activity and availability.

Coordinators look after the directory with it: who is overloaded, who never answers, whose
address bounces, who paused, is away or left.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from peewee import JOIN, Case, fn

from mailflow.clock import local, local_today, stamp, wall_iso, zone_name
from mailflow.core.charter import CharterRules, Standing, check_valid
from mailflow.store.directory import NAME, ambassador_fields
from mailflow.store.models import Ambassador, CharterSignature, Conversation

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


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def charter_columns(
    a: Ambassador, rows: list[CharterSignature], rules: CharterRules | None, today: date
) -> dict[str, Any]:
    """What the ambassador signed (the version in force or not), and their honorability
    check: stored as it is, and `charter` / `honorability` in words for the table."""
    version = rules.version if rules is not None else None
    current = next((r for r in rows if r.version == version), None)
    accepted = [r for r in rows if r.accepted_at is not None]
    last = max(accepted, key=lambda r: r.accepted_at) if accepted else None
    signed = current is not None and current.accepted_at is not None
    if signed:
        said = f"{version} ({current.how} {current.accepted_at:%Y-%m-%d})"
    elif current is not None and current.asked_at is not None:
        reminded = f", {current.reminders_sent} reminder(s)" if current.reminders_sent else ""
        said = f"not signed: {version} asked {current.asked_at:%Y-%m-%d}{reminded}"
    else:
        said = f"not signed: {version} not asked yet" if version else "-"
    if not signed and last is not None:
        said += f" (signed {last.version})"
    standing = Standing(checked_on=a.honorability_on, valid_until=a.honorability_until)
    if a.honorability_until is None:
        check = "-"
    elif check_valid(standing, today):
        check = f"valid until {a.honorability_until:%Y-%m-%d}"
    else:
        check = f"not valid (until {a.honorability_until:%Y-%m-%d})"
    return {
        "charter_version": version,
        "charter_signed": signed,
        "charter_signed_at": _iso(current.accepted_at) if signed else None,
        "charter_how": current.how if signed else None,
        "charter_asked_at": _iso(current.asked_at) if current else None,
        "charter_reminders": current.reminders_sent if current else 0,
        "charter_last_signed": last.version if last else None,
        "charter": said,
        "honorability_by": a.honorability_by,
        "honorability_on": _day(a.honorability_on),
        "honorability_until": _day(a.honorability_until),
        "honorability": check,
    }


def directory_rows(zone: tzinfo = UTC, charter: CharterRules | None = None) -> list[dict[str, Any]]:
    """Every entry with its counts; with `charter` (rules/charter.toml), what each signed."""
    now = stamp()
    today = local_today(zone)
    signatures: dict[int, list[CharterSignature]] = {}
    for s in CharterSignature.select().order_by(CharterSignature.id):
        signatures.setdefault(s.ambassador_id, []).append(s)
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
            "availability": _availability(a, now, zone, charter, signatures.get(a.id, [])),
            **charter_columns(a, signatures.get(a.id, []), charter, today),
        }
        for a in query
    ]


def _availability(
    a: Ambassador,
    now: datetime,
    zone: tzinfo,
    charter: CharterRules | None,
    rows: list[CharterSignature],
) -> str:
    """availability, and "charter not signed" for an available one the policy keeps from
    every new request (rules/charter.toml `required`)."""
    word = availability(a, now, zone)
    if word != "available" or charter is None or not charter.required:
        return word
    signed = any(r.version == charter.version and r.accepted_at is not None for r in rows)
    return word if signed else "charter not signed"


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
        "charter",
        "honorability",
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
            r["charter"],
            r["honorability"],
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
